// Monotonic time and a deadline waiter for the fast loop.
//
// Time is CLOCK_MONOTONIC in nanoseconds as a JS number, the same clock in every thread of the
// process, so a sensor stamp written by one thread and a command stamp written by another compare
// directly. Reading it costs one small array (process.hrtime); every clock read on Node allocates,
// so the waiter below keeps the number of reads per wait small.

/** Monotonic now in ns (exact as a double for ~104 days of uptime). */
export function monotonicNowNs(): number {
  const t = process.hrtime();
  return t[0] * 1e9 + t[1];
}

export interface HybridWaiterOptions {
  /** Smallest margin before a deadline that is spent spinning instead of sleeping. Default 60 us. */
  minSpinNs?: number;
  /** Largest spin margin, however late the sleeps have been. Default 500 us. */
  maxSpinNs?: number;
  /** Margin to start with, before any sleep has been observed. Default 250 us. */
  initialSpinNs?: number;
  /** Clock to use (tests inject one). Default monotonicNowNs. */
  nowNs?: () => number;
}

/** What the last waitUntil did, for the loop's statistics. */
export interface WaitReport {
  /** How late the coarse sleep woke up relative to the time it asked for (ns, >= 0 in practice). */
  oversleepNs: number;
  /** Spin margin used for this wait (ns). */
  spinNs: number;
}

/**
 * Waits until an absolute monotonic deadline: Atomics.wait (a real sleep, no CPU) for the coarse part,
 * then a spin for the last stretch, because a futex sleep wakes 0.1-0.2 ms late on a typical Linux box.
 * The spin margin adapts: it tracks the 99th percentile of how late the coarse sleep wakes (a streaming
 * quantile estimate: up by a step when a wake-up is later than the estimate, down by step/99 otherwise),
 * plus a small pad, bounded to [minSpinNs, maxSpinNs]. So 99 % of the wake-ups land in the spin phase, and
 * rare multi-millisecond hiccups (a busy or virtualized machine) do not pin the margin, and the CPU, at the top.
 */
export class HybridWaiter {
  private readonly cell = new Int32Array(new SharedArrayBuffer(4)); // private: nobody ever notifies it
  private readonly now: () => number;
  private readonly minSpinNs: number;
  private readonly maxSpinNs: number;
  /** Streaming estimate of the 99th percentile of the coarse sleep's oversleep. */
  private p99OversleepNs: number;
  private spinNs: number;
  /** Iterations of the pause loop that take about one microsecond (calibrated once). */
  private readonly pauseIterationsPerUs: number;
  readonly lastWait: WaitReport = { oversleepNs: 0, spinNs: 0 };

  constructor(options: HybridWaiterOptions = {}) {
    this.now = options.nowNs ?? monotonicNowNs;
    this.minSpinNs = options.minSpinNs ?? 60_000;
    this.maxSpinNs = options.maxSpinNs ?? 500_000;
    if (!(this.minSpinNs >= 0) || !(this.maxSpinNs >= this.minSpinNs)) {
      throw new Error(`HybridWaiter: expected 0 <= minSpinNs <= maxSpinNs, got ${this.minSpinNs} and ${this.maxSpinNs}`);
    }
    this.spinNs = clamp(options.initialSpinNs ?? 250_000, this.minSpinNs, this.maxSpinNs);
    this.p99OversleepNs = Math.max(0, this.spinNs - SPIN_PAD_NS);
    this.pauseIterationsPerUs = calibratePause();
  }

  /** Current spin margin (ns). */
  get spinMarginNs(): number {
    return this.spinNs;
  }

  /** Block the calling thread until `deadlineNs`; returns the time it woke (>= deadline unless the clock is faked). */
  waitUntil(deadlineNs: number): number {
    let now = this.now();
    const sleepUntil = deadlineNs - this.spinNs;
    const sleepNs = sleepUntil - now;
    let oversleep = 0;
    if (sleepNs > 20_000) {
      Atomics.wait(this.cell, 0, 0, sleepNs / 1e6);
      now = this.now();
      oversleep = Math.max(0, now - sleepUntil);
      this.adapt(oversleep);
    }
    this.lastWait.oversleepNs = oversleep;
    this.lastWait.spinNs = this.spinNs;
    // Spin: read the clock about once a microsecond (each read allocates a little, so not in a tight loop).
    while (now < deadlineNs) {
      const remainingUs = (deadlineNs - now) / 1000;
      pause(remainingUs < 1 ? 0 : this.pauseIterationsPerUs);
      now = this.now();
    }
    return now;
  }

  private adapt(oversleepNs: number): void {
    if (oversleepNs > this.p99OversleepNs) this.p99OversleepNs += QUANTILE_STEP_NS;
    else this.p99OversleepNs -= QUANTILE_STEP_NS / 99;
    if (this.p99OversleepNs < 0) this.p99OversleepNs = 0;
    this.spinNs = clamp(this.p99OversleepNs + SPIN_PAD_NS, this.minSpinNs, this.maxSpinNs);
  }
}

/** Step of the streaming 99th-percentile estimate of the oversleep. */
const QUANTILE_STEP_NS = 5_000;
/** Added to that estimate: the last clock read and the pause granularity. */
const SPIN_PAD_NS = 30_000;

const sink = new Float64Array(1);

/** A busy loop of `iterations` steps of arithmetic that cannot be optimized away and allocates nothing. */
function pause(iterations: number): void {
  let x = sink[0];
  for (let i = 0; i < iterations; i++) x = x * 0.999999 + 1e-9;
  sink[0] = x;
}

let calibratedIterationsPerUs = 0;

/** Measure once per thread how many pause iterations take about 1 us. */
function calibratePause(): number {
  if (calibratedIterationsPerUs > 0) return calibratedIterationsPerUs;
  const iterations = 200_000;
  pause(iterations); // warm up (compile)
  let best = Infinity;
  for (let r = 0; r < 3; r++) {
    const t0 = monotonicNowNs();
    pause(iterations);
    best = Math.min(best, monotonicNowNs() - t0);
  }
  calibratedIterationsPerUs = Math.max(1, Math.round((iterations * 1000) / Math.max(best, 1)));
  return calibratedIterationsPerUs;
}

function clamp(x: number, lo: number, hi: number): number {
  return x < lo ? lo : x > hi ? hi : x;
}
