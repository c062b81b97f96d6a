import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { DEFAULT_EVAL_CONFIGURATIONS, evaluate, wilsonInterval } from "../../src/sim/evaluate.js";

const packageRoot = fileURLToPath(new URL("../../", import.meta.url));

describe("evaluation", () => {
  it("gives the Wilson 95% interval, sound at the edges", () => {
    const [low, high] = wilsonInterval(40, 50);
    expect(low).toBeCloseTo(0.6696, 3);
    expect(high).toBeCloseTo(0.8876, 3);
    expect(wilsonInterval(0, 10)[0]).toBe(0);
    expect(wilsonInterval(0, 10)[1]).toBeGreaterThan(0.25);
    expect(wilsonInterval(10, 10)[1]).toBe(1);
    expect(wilsonInterval(10, 10)[0]).toBeLessThan(0.75);
  });

  it("runs the same seeds in each configuration and aggregates what they achieved", async () => {
    const configurations = DEFAULT_EVAL_CONFIGURATIONS.filter((c) => c.name === "expert" || c.name === "stand-in + compliance, perturbed");
    const seen: string[] = [];
    const results = await evaluate({ packageRoot, episodes: 2, firstSeed: 4, durationS: 18, configurations, onEpisode: (_d, _t, name) => seen.push(name) });
    expect(seen).toEqual(["expert", "expert", "stand-in + compliance, perturbed", "stand-in + compliance, perturbed"]);
    expect(results.map((r) => r.outcomes.map((o) => o.seed))).toEqual([[4, 5], [4, 5]]);
    for (const result of results) {
      expect(result.episodes).toBe(2);
      expect(result.successRate).toBe(result.outcomes.filter((o) => o.metrics.success).length / 2);
      expect(result.maxPeakForceN).toBe(Math.max(...result.outcomes.map((o) => o.metrics.peakForceN)));
      expect(result.outcomes.every((o) => o.metrics.contactTimeS > 1)).toBe(true);
    }
    // The expert drives the simulator directly: no decoder, no safety stage in between.
    expect(results[0].decodeFailures).toBe(0);
    expect(results[0].safetyInterventionTicks).toBe(0);
  });
});
