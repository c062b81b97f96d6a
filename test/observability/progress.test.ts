// The progress bar: time-left estimate from the average rate, redraw in place on a terminal (throttled), plain
// lines at the quarters in a log, and a final line.
import { describe, expect, it } from "vitest";
import { formatDuration, ProgressBar } from "../../src/observability/progress.js";

function fakeStream(isTTY: boolean) {
  const writes: string[] = [];
  return { writes, stream: { isTTY, columns: 200, write: (t: string) => writes.push(t) } };
}

describe("the progress bar", () => {
  it("estimates the time left from the rate so far", () => {
    let now = 0;
    const bar = new ProgressBar({ total: 1000, stream: fakeStream(false).stream, nowMs: () => now });
    expect(bar.secondsLeft()).toBeNaN();
    now = 10_000;
    bar.update(250);
    expect(bar.secondsLeft()).toBeCloseTo(30, 9); // 250 per 10 s, 750 to go
    now = 20_000;
    bar.update(800);
    expect(bar.secondsLeft()).toBeCloseTo(5, 9);
    expect(bar.render("x")).toBe("[###################.....]  80% 800/1000, 20 s elapsed, about 5.0 s left  x");
  });

  it("redraws one line in place on a terminal, at most every minIntervalMs, and ends with a newline", () => {
    let now = 0;
    const { writes, stream } = fakeStream(true);
    const bar = new ProgressBar({ total: 100, label: "replay", unit: "ticks", stream, nowMs: () => now, minIntervalMs: 100 });
    for (let i = 1; i <= 100; i++) {
      now += 10;
      bar.update(i);
    }
    expect(writes.length).toBe(10); // 1 s of updates every 10 ms, drawn every 100 ms
    expect(writes.every((w) => w.startsWith("\r") && !w.includes("\n"))).toBe(true);
    expect(writes[0]).toContain("replay [");
    expect(writes[0]).toContain(" 1/100 ticks");
    expect(writes[1]).toContain("11/100 ticks");
    bar.finish();
    expect(writes.at(-2)).toContain("100% 100/100 ticks, done in 1.0 s");
    expect(writes.at(-1)).toBe("\n");
  });

  it("prints plain lines at the quarters when not on a terminal", () => {
    let now = 0;
    const { writes, stream } = fakeStream(false);
    const bar = new ProgressBar({ total: 8, stream, nowMs: () => now });
    for (let i = 1; i <= 8; i++) {
      now += 1000;
      bar.update(i);
    }
    bar.finish();
    expect(writes.map((w) => w.match(/(\d+)%/)![1])).toEqual(["25", "50", "75", "100"]);
    expect(writes.every((w) => w.endsWith("\n") && !w.includes("\r"))).toBe(true);
  });

  it("formats durations and refuses a bad total", () => {
    expect([0.42, 12.4, 185, 3725].map(formatDuration)).toEqual(["0.4 s", "12 s", "3m 05s", "1h 02m"]);
    expect(() => new ProgressBar({ total: 0 })).toThrow("progress: expected a total > 0, got 0");
  });
});
