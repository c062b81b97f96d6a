// A plain-text table for people: aligned columns, numbers shortened to what a reader needs.

export type TableRow = Record<string, string | number | boolean | null>;

export function formatTable(title: string, rows: TableRow[]): string {
  if (rows.length === 0) return title;
  const columns = Object.keys(rows[0]);
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => formatCell(r[c]).length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd();
  return [title, line(columns), line(widths.map((w) => "-".repeat(w))), ...rows.map((r) => line(columns.map((c) => formatCell(r[c]))))].join("\n");
}

export function formatCell(value: TableRow[string]): string {
  if (typeof value !== "number") return String(value ?? "");
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value)) return String(value);
  return Math.abs(value) >= 100 ? value.toFixed(1) : value.toPrecision(3);
}
