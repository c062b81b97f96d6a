// One-line error reporting that a flood of bad input cannot turn into a flood of log lines: each kind of
// problem is reported the first time, then when its count reaches 10, 100, 1000, ...

export class RateLimitedReporter {
  private readonly counts = new Map<string, number>();
  constructor(private readonly sink: ((message: string) => void) | undefined) {}

  report(kind: string, message: string): void {
    const n = (this.counts.get(kind) ?? 0) + 1;
    this.counts.set(kind, n);
    if (!this.sink) return;
    if (n === 1) this.sink(message);
    else if (isPowerOfTen(n)) this.sink(`${message} (${n} so far)`);
  }

  /** Would the next report of this kind be printed? (Lets a caller skip building an expensive message.) */
  wouldPrint(kind: string): boolean {
    const n = (this.counts.get(kind) ?? 0) + 1;
    return this.sink !== undefined && (n === 1 || isPowerOfTen(n));
  }

  count(kind: string): number {
    return this.counts.get(kind) ?? 0;
  }
}

function isPowerOfTen(n: number): boolean {
  while (n >= 10 && n % 10 === 0) n /= 10;
  return n === 1;
}
