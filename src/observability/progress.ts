// A progress bar with an estimate of the time left, for long commands (eval, bench, replay, training scripts).
// On a terminal it redraws one line in place (at most every minIntervalMs); into a file or a pipe it prints a plain
// line at each quarter and at most every lineIntervalMs otherwise, so logs stay readable.

export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface ProgressOptions {
  /** Units of work in all (> 0). */
  total: number;
  label?: string;
  /** What a unit is called ("ticks", "episodes"). */
  unit?: string;
  /** Default: process.stderr (progress is not output). */
  stream?: ProgressStream;
  /** Clock in ms (tests inject one). Default: performance.now. */
  nowMs?: () => number;
  /** Terminal: redraw at most this often (default 100 ms). */
  minIntervalMs?: number;
  /** Not a terminal: print a line at most this often between the quarter marks (default 10 s). */
  lineIntervalMs?: number;
  /** Characters of the bar (default 24). */
  barWidth?: number;
}

/** "0.4 s", "12 s", "3m 05s", "1h 02m". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "--";
  if (seconds < 10) return `${seconds.toFixed(1)} s`;
  if (seconds < 60) return `${Math.round(seconds)} s`;
  const s = Math.round(seconds);
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, "0")}s`;
  const m = Math.round(s / 60);
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, "0")}m`;
}

export class ProgressBar {
  private readonly total: number;
  private readonly stream: ProgressStream;
  private readonly nowMs: () => number;
  private readonly startMs: number;
  private readonly tty: boolean;
  private done = 0;
  private lastDrawMs = -Infinity;
  private lastLineMs: number;
  private lastQuarter = 0;
  private lastLength = 0;
  private finished = false;

  constructor(private readonly options: ProgressOptions) {
    if (!(Number.isFinite(options.total) && options.total > 0)) throw new Error(`progress: expected a total > 0, got ${String(options.total)}`);
    this.total = options.total;
    this.stream = options.stream ?? process.stderr;
    this.nowMs = options.nowMs ?? (() => performance.now());
    this.startMs = this.nowMs();
    this.lastLineMs = this.startMs;
    this.tty = this.stream.isTTY === true;
  }

  /** Fraction done, 0..1. */
  get fraction(): number {
    return Math.min(1, this.done / this.total);
  }

  /** Seconds left at the average rate so far (NaN before any progress). */
  secondsLeft(): number {
    if (this.done <= 0) return NaN;
    const elapsedS = (this.nowMs() - this.startMs) / 1000;
    return (elapsedS * (this.total - Math.min(this.done, this.total))) / this.done;
  }

  update(done: number, detail = ""): void {
    if (this.finished) return;
    this.done = Math.max(0, Number.isFinite(done) ? done : 0);
    const now = this.nowMs();
    if (this.tty) {
      if (now - this.lastDrawMs < (this.options.minIntervalMs ?? 100)) return;
      this.lastDrawMs = now;
      this.draw(this.render(detail));
    } else {
      const quarter = Math.floor(this.fraction * 4);
      if (quarter > this.lastQuarter || now - this.lastLineMs >= (this.options.lineIntervalMs ?? 10_000)) {
        this.lastQuarter = Math.max(this.lastQuarter, quarter);
        this.lastLineMs = now;
        if (this.fraction < 1) this.stream.write(this.render(detail) + "\n");
      }
    }
  }

  increment(n = 1, detail = ""): void {
    this.update(this.done + n, detail);
  }

  /** The final state, on its own line. */
  finish(detail = ""): void {
    if (this.finished) return;
    this.done = Math.max(this.done, this.total);
    const line = this.render(detail, true);
    if (this.tty) {
      this.draw(line);
      this.stream.write("\n");
    } else {
      this.stream.write(line + "\n");
    }
    this.finished = true;
  }

  /** The progress line (no newline). */
  render(detail = "", final = false): string {
    const width = this.options.barWidth ?? 24;
    const filled = Math.round(this.fraction * width);
    const elapsedS = (this.nowMs() - this.startMs) / 1000;
    const unit = this.options.unit ? ` ${this.options.unit}` : "";
    const label = this.options.label ? `${this.options.label} ` : "";
    const count = `${Math.min(this.done, this.total)}/${this.total}${unit}`;
    const time = final ? `done in ${formatDuration(elapsedS)}` : `${formatDuration(elapsedS)} elapsed, ${Number.isNaN(this.secondsLeft()) ? "--" : `about ${formatDuration(this.secondsLeft())}`} left`;
    const text = `${label}[${"#".repeat(filled)}${".".repeat(width - filled)}] ${(100 * this.fraction).toFixed(0).padStart(3)}% ${count}, ${time}${detail ? `  ${detail}` : ""}`;
    const columns = this.stream.columns;
    return this.tty && columns && text.length > columns - 1 ? text.slice(0, columns - 1) : text;
  }

  private draw(line: string): void {
    const pad = this.lastLength > line.length ? " ".repeat(this.lastLength - line.length) : "";
    this.stream.write(`\r${line}${pad}`);
    this.lastLength = line.length;
  }
}
