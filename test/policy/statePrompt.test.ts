import { describe, expect, it } from "vitest";
import { parseVlaConfig, StatePrompt } from "../../src/policy/vla.js";
import type { Observation } from "../../src/runtime/slowExecutor.js";

function observation(positions: number[], wrench: number[]): Observation {
  return {
    timeNs: 0,
    positions: Float64Array.from(positions),
    velocities: new Float64Array(positions.length),
    wrench: Float64Array.from(wrench),
    tactile: new Float64Array(4),
    instruction: "wipe the marked area",
  };
}

// Two joints then two wrench values; the last has no range (a value that never changed in the data).
const stats = { q01: [-1, 0, -10, 5], q99: [1, 2, 10, 5] };

describe("StatePrompt", () => {
  it("writes each value as its bin over [q01, q99], clipped, with a fixed width", () => {
    const prompt = new StatePrompt({ sources: ["positions", "wrench"], bins: 256 }, stats);
    // -1 -> bin 0; 0.5 of [0, 2] -> n = -0.5 -> bin 64; +10 N -> n = 1 -> the top bin 255; zero range -> n = 0 -> 128.
    expect(prompt.bins(observation([-1, 0.5], [10, 7]))).toEqual([0, 64, 255, 128]);
    // Past the range clips to the ends.
    expect(prompt.bins(observation([-3, 9], [-50, 0]))).toEqual([0, 255, 0, 128]);
    expect(prompt.instruction("wipe the marked area", observation([0, 1], [-5, 5]))).toBe("wipe the marked area\nState: 128 128 064 128;");
    // Ten bins need one digit.
    const coarse = new StatePrompt({ sources: ["positions", "wrench"], bins: 10 }, stats);
    expect(coarse.instruction("go", observation([0.99, 2], [0, 0]))).toBe("go\nState: 9 9 5 5;");
  });

  it("refuses a state of the wrong width or with a value that is not finite, in one line", () => {
    const prompt = new StatePrompt({ sources: ["positions", "wrench"], bins: 256 }, stats);
    expect(() => prompt.bins(observation([0, 0, 0], [0, 0]))).toThrow(/^vla state: expected 4 values \(positions \+ wrench\), got more from "wrench"$/);
    expect(() => prompt.bins(observation([0], [0, 0]))).toThrow(/^vla state: expected 4 values \(positions \+ wrench\), got 3$/);
    expect(() => prompt.bins(observation([0, NaN], [0, 0]))).toThrow(/^vla state: expected finite values, got NaN in positions\[1\]$/);
    expect(() => new StatePrompt({ sources: ["positions"], bins: 256 }, { ...stats, mask: [true, false, true, true] })).toThrow(/no mask/);
  });

  it("is read from vla_config.json's prompt.state, which needs the chunk section", () => {
    const chunk = { steps: 10, dim: 7, stepPeriodS: 0.1, fastTokenizer: "fast_tokenizer", normStats: "norm_stats.json", actionSpace: "ee-delta" };
    expect(parseVlaConfig({ prompt: { state: { sources: ["positions", "wrench"] } }, chunk }).state).toEqual({ sources: ["positions", "wrench"], bins: 256 });
    expect(parseVlaConfig({ chunk }).state).toBeUndefined();
    expect(() => parseVlaConfig({ prompt: { state: { sources: ["positions"] } } })).toThrow(/prompt.state needs a "chunk" section/);
    expect(() => parseVlaConfig({ prompt: { state: { sources: ["joints"] } }, chunk })).toThrow(/expected prompt.state.sources to be a non-empty list of positions \| velocities \| wrench \| tactile, got \["joints"\]/);
    expect(() => parseVlaConfig({ prompt: { state: { sources: ["wrench"], bins: 1 } }, chunk })).toThrow(/expected prompt.state.bins to be an integer in \[2, 10000\], got 1/);
    expect(() => parseVlaConfig({ prompt: { state: "positions" }, chunk })).toThrow(/expected prompt.state to be an object/);
  });
});
