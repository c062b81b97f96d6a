import { describe, expect, it } from "vitest";
import { HybridWaiter, monotonicNowNs } from "../../src/runtime/clock.js";

describe("monotonicNowNs", () => {
  it("is the process's monotonic clock in ns and never goes back", () => {
    const before = Number(process.hrtime.bigint());
    const a = monotonicNowNs();
    const after = Number(process.hrtime.bigint());
    expect(a).toBeGreaterThanOrEqual(before);
    expect(a).toBeLessThanOrEqual(after);
    let last = a;
    for (let i = 0; i < 10_000; i++) {
      const t = monotonicNowNs();
      expect(t).toBeGreaterThanOrEqual(last);
      last = t;
    }
  });
});

describe("HybridWaiter", () => {
  it("never returns before the deadline (real clock)", () => {
    const waiter = new HybridWaiter();
    for (const aheadNs of [0, 50_000, 400_000, 3_000_000]) {
      const deadline = monotonicNowNs() + aheadNs;
      const woke = waiter.waitUntil(deadline);
      expect(woke).toBeGreaterThanOrEqual(deadline);
      expect(monotonicNowNs()).toBeGreaterThanOrEqual(deadline);
    }
  });

  it("returns at once for a deadline in the past", () => {
    const waiter = new HybridWaiter();
    const now = monotonicNowNs();
    const woke = waiter.waitUntil(now - 1e6);
    expect(woke).toBeGreaterThanOrEqual(now);
    expect(waiter.lastWait.oversleepNs).toBe(0); // no sleep was attempted
  });

  it("adapts its spin margin to the 99th percentile of how late the sleep wakes, within bounds", () => {
    // Scripted clock: per wait, the first read is "now", the read after the sleep is `late` past the planned
    // wake-up (deadline - margin), the next read is the deadline itself.
    let script: number[] = [];
    const clock = () => script.shift() ?? 0;
    const waiter = new HybridWaiter({ nowNs: clock, minSpinNs: 50_000, maxSpinNs: 400_000, initialSpinNs: 100_000 });
    let t = 0;
    const waitWith = (lateNs: number) => {
      const deadline = t + 1_000_000;
      const plannedWake = deadline - waiter.spinMarginNs;
      script = [t, plannedWake + lateNs, deadline];
      expect(waiter.waitUntil(deadline)).toBeGreaterThanOrEqual(deadline);
      expect(waiter.lastWait.oversleepNs).toBe(lateNs);
      t = deadline;
    };
    expect(waiter.spinMarginNs).toBe(100_000);
    for (let i = 0; i < 80; i++) waitWith(300_000); // always 300 us late: the margin climbs to cover it
    expect(waiter.spinMarginNs).toBeGreaterThanOrEqual(300_000);
    expect(waiter.spinMarginNs).toBeLessThanOrEqual(400_000);
    const high = waiter.spinMarginNs;
    for (let i = 0; i < 99; i++) waitWith(10_000); // punctual: it comes down, slowly (a 99th percentile)
    expect(waiter.spinMarginNs).toBeLessThan(high);
    expect(waiter.spinMarginNs).toBeGreaterThan(high - 10_000);
    const before = waiter.spinMarginNs;
    waitWith(5_000_000); // one multi-millisecond hiccup moves it by one 5 us step only
    expect(waiter.spinMarginNs - before).toBeCloseTo(5_000, 6);
  });

  it("rejects inconsistent bounds", () => {
    expect(() => new HybridWaiter({ minSpinNs: 10, maxSpinNs: 5 })).toThrow(/minSpinNs <= maxSpinNs, got 10 and 5/);
  });
});
