// Shared benchmark plumbing: timing, a table for people and JSON for machines.
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { formatTable, type TableRow } from "../../src/cli/table.js";

/** Median wall time in microseconds of `fn`, measured in batches after a warm-up. */
export function medianMicros(fn: () => void, options: { warmup?: number; batches?: number; perBatch?: number } = {}): number {
  const warmup = options.warmup ?? 2000;
  const batches = options.batches ?? 31;
  const perBatch = options.perBatch ?? 50;
  // At least `warmup` calls and 300 ms of them, so V8 has optimized (and re-optimized after a shape change) the
  // code under test before anything is timed.
  const warmupUntil = process.hrtime.bigint() + 300_000_000n;
  for (let i = 0; i < warmup || process.hrtime.bigint() < warmupUntil; i++) fn();
  const samples: number[] = [];
  for (let b = 0; b < batches; b++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < perBatch; i++) fn();
    samples.push(Number(process.hrtime.bigint() - start) / 1000 / perBatch);
  }
  return quantile(samples, 0.5);
}

export function quantile(values: ArrayLike<number>, q: number): number {
  const sorted = Array.from(values).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

export type Row = TableRow;

export function printTable(title: string, rows: Row[]): void {
  if (rows.length > 0) console.log(`\n${formatTable(title, rows)}`);
}

/** The folder holding package.json above this file, whether it runs from the sources or from dist/. */
export function findRepoRoot(start = dirname(fileURLToPath(import.meta.url))): string {
  let dir = start;
  while (!existsSync(join(dir, "package.json"))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${start}`);
    dir = parent;
  }
  return dir;
}

/** Results go to bench/results/<name>.json in the source tree. */
export function writeResults(name: string, data: object): string {
  const path = join(findRepoRoot(), "bench", "results", `${name}.json`);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, JSON.stringify({ name, date: new Date().toISOString(), node: process.version, ...data }, null, 2) + "\n");
  return path;
}
