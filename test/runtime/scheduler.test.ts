import { describe, expect, it } from "vitest";
import { runSmoothnessBench } from "../../bench/runtime/smoothness.js";
import { ChunkScheduler, DEFAULT_TRANSITION_MODE, type TransitionMode } from "../../src/runtime/scheduler.js";
import type { ActionChunk } from "../../src/runtime/types.js";

const MS = 1e6;
const S = 1e9;
const TICK = 2 * MS; // 500 Hz

/** A chunk whose step i holds value(observation time + i * step). */
function chunkOf(dim: number, observationNs: number, stepNs: number, steps: number, value: (tS: number, d: number) => number, arrivalNs = observationNs): ActionChunk {
  const actions = new Float64Array(steps * dim);
  for (let i = 0; i < steps; i++) for (let d = 0; d < dim; d++) actions[i * dim + d] = value((observationNs + i * stepNs) / S, d);
  return { actions, steps, dim, stepPeriodNs: stepNs, observationTimeNs: observationNs, arrivalTimeNs: arrivalNs, sequence: 1 };
}

/** Samples at 500 Hz from fromNs to toNs (dim 1). */
function play(scheduler: ChunkScheduler, fromNs: number, toNs: number, submits: { atNs: number; chunk: ActionChunk }[] = []): number[] {
  const out = new Float64Array(scheduler.dim);
  const samples: number[] = [];
  const pending = [...submits];
  for (let t = fromNs; t <= toNs + 1; t += TICK) {
    while (pending.length > 0 && pending[0].atNs <= t) scheduler.submit(pending.shift()!.chunk, t, out);
    scheduler.sample(t, out);
    samples.push(out[0]);
  }
  return samples;
}

function maxJerk(samples: number[], from = 3): number {
  let max = 0;
  for (let k = Math.max(3, from); k < samples.length; k++) {
    max = Math.max(max, Math.abs(samples[k] - 3 * samples[k - 1] + 3 * samples[k - 2] - samples[k - 3]) / (TICK / S) ** 3);
  }
  return max;
}

const f = (tS: number) => 0.3 * Math.sin(2 * Math.PI * 0.25 * tS);

describe("ChunkScheduler: alignment and resampling", () => {
  it("is empty before the first chunk and leaves out untouched", () => {
    const scheduler = new ChunkScheduler({ dim: 2, mode: "crossfade" });
    const out = Float64Array.of(7, 8);
    expect(scheduler.sample(5 * S, out)).toBe("empty");
    expect(Array.from(out)).toEqual([7, 8]);
  });

  it("aligns a late chunk to now: steps already past are skipped, the target is the chunk at now", () => {
    const scheduler = new ChunkScheduler({ dim: 2, mode: "replace" });
    const line = (tS: number, d: number) => (d === 0 ? 0.2 + 0.5 * tS : -1 + 0.1 * tS);
    const chunk = chunkOf(2, 1 * S, 100 * MS, 10, line, 1.34 * S);
    expect(scheduler.submit(chunk, 1.35 * S, new Float64Array(2))).toBe(true);
    expect(scheduler.stats.stepsSkipped).toBe(4); // steps due at 1.0, 1.1, 1.2, 1.3 s
    expect(scheduler.stats.lastLatencyNs).toBe(340 * MS);
    const out = new Float64Array(2);
    expect(scheduler.sample(1.35 * S, out)).toBe("ok");
    expect(out[0]).toBeCloseTo(line(1.35, 0), 12);
    expect(out[1]).toBeCloseTo(line(1.35, 1), 12);
    expect(scheduler.sample(1.9 * S, out)).toBe("ok");
    expect(out[0]).toBeCloseTo(line(1.9, 0), 12);
    // Past the last step: exhausted, holding the last step.
    expect(scheduler.sample(1.9 * S + TICK, out)).toBe("exhausted");
    expect(out[0]).toBeCloseTo(line(1.9, 0), 12);
    expect(scheduler.activeUntilNs).toBe(1.9 * S);
  });

  it("ramps to a 1-step chunk over one step period (from rest, no jump), then holds it", () => {
    const scheduler = new ChunkScheduler({ dim: 2, mode: "replace" });
    const now = 10 * S;
    const chunk = chunkOf(2, now - 300 * MS, 200 * MS, 1, (_t, d) => (d === 0 ? 1 : -1));
    scheduler.submit(chunk, now, Float64Array.of(0, 0));
    expect(scheduler.stats.stepsSkipped).toBe(1);
    const out = new Float64Array(2);
    scheduler.sample(now, out);
    expect(Array.from(out)).toEqual([0, 0]);
    scheduler.sample(now + TICK, out);
    expect(Math.abs(out[0]) / (TICK / S)).toBeLessThan(0.01); // starts at rest
    scheduler.sample(now + 100 * MS, out);
    expect(out[0]).toBeCloseTo(0.5, 12);
    expect(out[1]).toBeCloseTo(-0.5, 12);
    expect(scheduler.sample(now + 200 * MS, out)).toBe("ok");
    expect(Array.from(out)).toEqual([1, -1]);
    expect(scheduler.sample(now + 200 * MS + TICK, out)).toBe("exhausted");
    expect(Array.from(out)).toEqual([1, -1]);
  });

  it("uses linear pieces between steps when asked", () => {
    const scheduler = new ChunkScheduler({ dim: 1, mode: "replace", interpolation: "linear" });
    const chunk = chunkOf(1, 0, 100 * MS, 4, (t) => (Math.round(t * 10) % 2 === 0 ? 0 : 1));
    scheduler.submit(chunk, 10 * MS, new Float64Array(1));
    const out = new Float64Array(1);
    scheduler.sample(150 * MS, out);
    expect(out[0]).toBeCloseTo(0.5, 12);
    scheduler.sample(125 * MS, out);
    expect(out[0]).toBeCloseTo(0.75, 12);
  });

  it("reset() drops everything", () => {
    const scheduler = new ChunkScheduler({ dim: 1, mode: "crossfade" });
    scheduler.submit(chunkOf(1, 0, 100 * MS, 10, f), 0, new Float64Array(1));
    scheduler.reset();
    expect(scheduler.sample(0.5 * S, new Float64Array(1))).toBe("empty");
  });
});

describe("ChunkScheduler: transitions", () => {
  // Chunk A follows f from 0 s; chunk B (observed at 0.9 s, arriving at 1.2 s) disagrees by an offset and a slope.
  const disagreement = (tS: number) => 0.02 + 0.05 * (tS - 0.9);
  const chunkA = () => chunkOf(1, 0, 100 * MS, 20, f);
  const chunkB = () => chunkOf(1, 0.9 * S, 100 * MS, 20, (t) => f(t) + disagreement(t), 1.2 * S);
  const run = (mode: TransitionMode) => {
    const scheduler = new ChunkScheduler({ dim: 1, mode });
    const samples = play(scheduler, 0, 2.8 * S, [
      { atNs: 0, chunk: chunkA() },
      { atNs: 1.2 * S, chunk: chunkB() },
    ]);
    return { scheduler, samples, index: (tNs: number) => Math.round(tNs / TICK) };
  };

  it("crossfade: continuous at the switch, the new chunk exactly once the fade is over, jerk bounded", () => {
    const alone = play(new ChunkScheduler({ dim: 1, mode: "crossfade" }), 0, 2.8 * S, [{ atNs: 0, chunk: chunkA() }]);
    const { samples, index } = run("crossfade");
    // Identical to A alone up to and including the arrival tick (the new weight starts at 0).
    for (let k = 0; k <= index(1.2 * S); k++) expect(samples[k]).toBeCloseTo(alone[k], 12);
    // Fade lasts max(4 steps, 1 s): from 2.2 s on the output is chunk B (its spline, i.e. f + disagreement closely).
    for (let t = 2.2 * S; t <= 2.7 * S; t += 50 * MS) expect(samples[index(t)]).toBeCloseTo(f(t / S) + disagreement(t / S), 4);
    // Jerk: what the chunk has (0.3 (pi/2)^3 = 1.16) plus the fade's |w''' D + 3 w'' D' + 3 w' D''| <= 32 D + 24 D'
    // for T = 1 s (D <= 0.085, D' = 0.05). A is over at 1.9 s, mid-fade: its disagreement is carried on smoothly.
    const bound = 1.2 + 32 * 0.085 + 24 * 0.05;
    expect(maxJerk(samples, index(1.2 * S))).toBeLessThan(bound);
  });

  it("replace: switches to the new chunk at once (a jump the safety stage has to absorb)", () => {
    const { samples, index } = run("replace");
    const k = index(1.2 * S);
    expect(samples[k]).toBeCloseTo(f(1.2) + disagreement(1.2), 4);
    expect(Math.abs(samples[k] - samples[k - 1])).toBeGreaterThan(0.02);
    expect(maxJerk(samples, k)).toBeGreaterThan(1e6);
  });

  it("temporal-ensemble: ACT's weighted average of every chunk covering the instant", () => {
    const scheduler = new ChunkScheduler({ dim: 1, mode: "temporal-ensemble", ensembleDecayPerStep: 0.5 });
    const out = new Float64Array(1);
    scheduler.submit(chunkOf(1, 0, 100 * MS, 10, () => 1), 0, out); // covers 0 .. 0.9 s
    scheduler.submit(chunkOf(1, 0.2 * S, 100 * MS, 10, () => 3, 0.3 * S), 0.3 * S, out); // 0.3 .. 1.1 s
    scheduler.sample(0.5 * S, out);
    const w = Math.exp(-0.5);
    expect(out[0]).toBeCloseTo((1 + 3 * w) / (1 + w), 12);
    scheduler.sample(1.0 * S, out);
    expect(out[0]).toBeCloseTo(3, 12);
  });

  it("prefix-hold: the old trajectory runs unchanged to the new chunk's next step, then hands over", () => {
    const alone = play(new ChunkScheduler({ dim: 1, mode: "prefix-hold" }), 0, 2.8 * S, [{ atNs: 0, chunk: chunkA() }]);
    const scheduler = new ChunkScheduler({ dim: 1, mode: "prefix-hold" });
    const late = chunkOf(1, 0.93 * S, 100 * MS, 20, (t) => f(t) + 0.05, 1.25 * S); // steps at 1.03, 1.13, 1.23, 1.33 s...
    const samples = play(scheduler, 0, 2.8 * S, [
      { atNs: 0, chunk: chunkA() },
      { atNs: 1.25 * S, chunk: late },
    ]);
    const index = (tNs: number) => Math.round(tNs / TICK);
    for (let k = index(1.25 * S); k < index(1.33 * S); k++) expect(samples[k]).toBe(alone[k]);
    expect(samples[index(1.4 * S)]).not.toBeCloseTo(alone[index(1.4 * S)], 6);
    // Soft mask from 1.33 s to max(old end 1.9 s, 1.33 s + 1 s) = 2.33 s; then the new chunk.
    expect(samples[index(2.5 * S)]).toBeCloseTo(f(2.5) + 0.05, 4);
    expect(maxJerk(samples, index(1.25 * S))).toBeLessThan(10);
  });

  it("starts a first chunk from the current command and its velocity, without a jump", () => {
    const scheduler = new ChunkScheduler({ dim: 1, mode: "crossfade" });
    const out = Float64Array.of(0.5);
    scheduler.submit(chunkOf(1, 0, 100 * MS, 20, f), 0, out, [0.8]);
    const a = new Float64Array(1), b = new Float64Array(1);
    scheduler.sample(0, a);
    scheduler.sample(TICK, b);
    expect(a[0]).toBe(0.5);
    expect((b[0] - a[0]) / (TICK / S)).toBeCloseTo(0.8, 2);
  });
});

describe("ChunkScheduler: bad input", () => {
  const good = () => chunkOf(2, 0, 100 * MS, 5, () => 0);
  const cases: [string, (c: ActionChunk) => ActionChunk, number, RegExp][] = [
    ["wrong dim", (c) => ({ ...c, dim: 3 }), 1 * S, /expected dim 2, got 3/],
    ["short actions", (c) => ({ ...c, actions: new Float64Array(3) }), 1 * S, /length steps\*dim = 10, got length 3/],
    ["zero steps", (c) => ({ ...c, steps: 0 }), 1 * S, /steps >= 1/],
    ["zero step period", (c) => ({ ...c, stepPeriodNs: 0 }), 1 * S, /stepPeriodNs > 0/],
    ["NaN action", (c) => ({ ...c, actions: Float64Array.of(0, 0, 0, NaN, 0, 0, 0, 0, 0, 0) }), 1 * S, /finite actions, got NaN at step 1, dim 1/],
    ["observation in the future", (c) => ({ ...c, observationTimeNs: 2 * S }), 1 * S, /after now/],
  ];
  for (const [name, mutate, nowNs, message] of cases) {
    it(`rejects ${name} with a clear reason and keeps running`, () => {
      const scheduler = new ChunkScheduler({ dim: 2, mode: "crossfade" });
      scheduler.submit(chunkOf(2, 0, 100 * MS, 20, () => 0.25), 0, new Float64Array(2));
      expect(scheduler.submit(mutate(good()), nowNs, new Float64Array(2))).toBe(false);
      expect(scheduler.stats.chunksRejected).toBe(1);
      expect(scheduler.stats.chunksAccepted).toBe(1);
      expect(scheduler.stats.lastRejection).toMatch(message);
      const out = new Float64Array(2);
      expect(scheduler.sample(1.2 * S, out)).toBe("ok");
      expect(out[0]).toBeCloseTo(0.25, 12);
    });
  }

  it("rejects a chunk older than the one in use, and a non-finite current command when starting", () => {
    const scheduler = new ChunkScheduler({ dim: 2, mode: "crossfade" });
    expect(scheduler.submit(good(), 0, Float64Array.of(NaN, 0))).toBe(false);
    expect(scheduler.stats.lastRejection).toMatch(/finite currentCommand/);
    scheduler.submit(chunkOf(2, 0.5 * S, 100 * MS, 5, () => 0), 0.6 * S, new Float64Array(2));
    expect(scheduler.submit(chunkOf(2, 0.4 * S, 100 * MS, 5, () => 0), 0.7 * S, new Float64Array(2))).toBe(false);
    expect(scheduler.stats.lastRejection).toMatch(/older than the chunk in use/);
  });

  it("rejects bad options", () => {
    expect(() => new ChunkScheduler({ dim: 0, mode: "replace" })).toThrow(/positive integer dim/);
    expect(() => new ChunkScheduler({ dim: 2, mode: "blend" as TransitionMode })).toThrow(/expected mode replace \| crossfade/);
    expect(() => new ChunkScheduler({ dim: 2, mode: "crossfade", crossfadeSteps: 0 })).toThrow(/crossfadeSteps > 0/);
    expect(() => new ChunkScheduler({ dim: 2, mode: "crossfade", interpolation: "spline" as "cubic" })).toThrow(/"cubic" or "linear"/);
  });
});

describe("default transition mode", () => {
  it("is the smoothest in the smoothness bench on the main scenario, with replace far above", () => {
    const { json } = runSmoothnessBench();
    const result = json as {
      mainScenario: string;
      smoothest: Record<string, string>;
      results: Record<string, Record<string, { jerkRatio: number; junctionRatio: number }>>;
    };
    const main = result.results[result.mainScenario];
    expect(result.smoothest[result.mainScenario]).toBe(DEFAULT_TRANSITION_MODE);
    expect(main[DEFAULT_TRANSITION_MODE].junctionRatio).toBeLessThanOrEqual(1.5);
    expect(main.replace.jerkRatio).toBeGreaterThan(100 * main[DEFAULT_TRANSITION_MODE].jerkRatio);
  });
});
