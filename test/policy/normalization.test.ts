import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadNormStats, normalizeInto, parseNormStats, unnormalizeInto, type NormStats } from "../../src/policy/normalization.js";

const dir = mkdtempSync(join(tmpdir(), "norm-stats-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, content: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, typeof content === "string" ? content : JSON.stringify(content));
  return path;
}

// Shaped like OpenVLA's / NORA's dataset_statistics (values made up).
const bridge = {
  action: {
    mean: [0, 0, 0, 0, 0, 0, 0.5],
    std: [0.01, 0.01, 0.01, 0.03, 0.03, 0.05, 0.5],
    q01: [-0.03, -0.04, -0.03, -0.1, -0.1, -0.2, 0],
    q99: [0.03, 0.04, 0.05, 0.1, 0.1, 0.2, 1],
    mask: [true, true, true, true, true, true, false],
  },
  proprio: { q01: [0], q99: [1] },
  num_transitions: 100,
};

describe("unnormalizeInto / normalizeInto", () => {
  const stats: NormStats = { q01: [-1, 0, 2], q99: [1, 4, 2], mask: [true, true, false] };

  it("maps [-1, 1] onto [q01, q99] per dimension and leaves masked dimensions as they are", () => {
    const normalized = Float64Array.of(-1, -1, 0.3, 1, 1, -0.7, 0, 0.5, 9);
    const out = new Float64Array(9);
    unnormalizeInto(normalized, 3, stats, out);
    expect(Array.from(out)).toEqual([-1, 0, 0.3, 1, 4, -0.7, 0, 3, 9]);
  });

  it("normalizeInto inverts it, clipping to [-1, 1] unless told not to", () => {
    const raw = Float64Array.of(0.5, 1, 0.25, 3, 8, -4);
    const out = new Float64Array(6);
    normalizeInto(raw, 3, stats, out);
    expect(Array.from(out)).toEqual([0.5, -0.5, 0.25, 1, 1, -4]);
    normalizeInto(raw, 3, stats, out, { clip: false });
    expect(out[3]).toBe(3);
    expect(out[4]).toBe(3);
    const back = new Float64Array(6);
    unnormalizeInto(out, 3, stats, back);
    for (let k = 0; k < 6; k++) expect(back[k]).toBeCloseTo(raw[k], 12);
  });

  it("maps a zero-range dimension to 0 (and back to q01)", () => {
    const s: NormStats = { q01: [5], q99: [5] };
    const out = new Float64Array(1);
    normalizeInto(Float64Array.of(7), 1, s, out);
    expect(out[0]).toBe(0);
    unnormalizeInto(out, 1, s, out);
    expect(out[0]).toBe(5);
  });

  it("rejects mismatched shapes", () => {
    expect(() => unnormalizeInto(new Float64Array(6), 2, stats, new Float64Array(6))).toThrow(/statistics for 2 dimensions, got 3/);
    expect(() => unnormalizeInto(new Float64Array(7), 3, stats, new Float64Array(7))).toThrow(/multiple of 3 values, got 7/);
    expect(() => unnormalizeInto(new Float64Array(6), 3, stats, new Float64Array(3))).toThrow(/output of at least 6 values, got 3/);
    expect(() => normalizeInto(new Float64Array(6), 0, stats, new Float64Array(6))).toThrow(/positive integer dim/);
  });
});

describe("loadNormStats", () => {
  it("reads an OpenVLA-style file with several robots by key", () => {
    const path = file("multi.json", { bridge_orig: bridge, fractal: { action: { q01: [0, 0], q99: [1, 1] } } });
    const stats = loadNormStats(path, "bridge_orig");
    expect(stats.q01).toEqual(bridge.action.q01);
    expect(stats.q99).toEqual(bridge.action.q99);
    expect(stats.mask).toEqual(bridge.action.mask);
    expect(() => loadNormStats(path)).toThrow(/statistics for 2 robots \(bridge_orig, fractal\): choose one with a key/);
    expect(() => loadNormStats(path, "widowx")).toThrow(/expected an entry "widowx", got keys bridge_orig, fractal/);
  });

  it("picks the only robot without a key; an empty key counts as none", () => {
    const path = file("single.json", { bridge_orig: bridge });
    expect(loadNormStats(path).q99).toEqual(bridge.action.q99);
    expect(loadNormStats(path, "").q99).toEqual(bridge.action.q99);
  });

  it("reads openpi's layout, {action: ...} and flat files", () => {
    const openpi = file("openpi.json", { norm_stats: { state: { q01: [0], q99: [1] }, actions: { mean: [0, 0], std: [1, 1], q01: [-2, -3], q99: [2, 3] } } });
    expect(loadNormStats(openpi)).toEqual({ q01: [-2, -3], q99: [2, 3] });
    expect(loadNormStats(openpi, "actions")).toEqual({ q01: [-2, -3], q99: [2, 3] });
    expect(loadNormStats(file("action.json", { action: { q01: [1], q99: [2], mask: [false] } }))).toEqual({ q01: [1], q99: [2], mask: [false] });
    expect(loadNormStats(file("flat.json", { q01: [1, 2], q99: [3, 4] }))).toEqual({ q01: [1, 2], q99: [3, 4] });
  });

  it("reads the state statistics (a prompt's state) when asked: per robot, or openpi's norm_stats.state", () => {
    const perRobot = file("state.json", { arm: { action: { q01: [0], q99: [1] }, state: { q01: [-2, 0], q99: [2, 5] } } });
    expect(loadNormStats(perRobot, "arm", "state")).toEqual({ q01: [-2, 0], q99: [2, 5] });
    expect(loadNormStats(perRobot, "arm")).toEqual({ q01: [0], q99: [1] });
    const openpi = file("openpi-state.json", { norm_stats: { state: { q01: [0], q99: [1] }, actions: { q01: [-2], q99: [2] } } });
    expect(loadNormStats(openpi, undefined, "state")).toEqual({ q01: [0], q99: [1] });
    // A flat file or an action-only entry has no state statistics.
    expect(() => loadNormStats(file("flat-state.json", { q01: [1], q99: [2] }), undefined, "state")).toThrow(/expected q01\/q99 state statistics \(under "state", or per robot\), found none/);
    expect(() => loadNormStats(file("no-state.json", { arm: { action: { q01: [0], q99: [1] } } }), "arm", "state")).toThrow(/entry "arm" has no q01\/q99 state statistics/);
  });

  it("explains what is wrong with a bad file", () => {
    expect(() => loadNormStats(join(dir, "missing.json"))).toThrow(/cannot read .*missing\.json/);
    expect(() => loadNormStats(file("broken.json", "{ nope"))).toThrow(/expected JSON, got a parse error/);
    expect(() => loadNormStats(file("array.json", [1, 2]))).toThrow(/expected a JSON object, got an array/);
    expect(() => loadNormStats(file("none.json", { foo: 1 }))).toThrow(/found none/);
    expect(() => loadNormStats(file("lengths.json", { q01: [0, 0], q99: [1] }))).toThrow(/same length, got 2 and 1/);
    expect(() => loadNormStats(file("nan.json", { q01: [0, "x"], q99: [1, 1] }))).toThrow(/q01 to be a non-empty array of finite numbers/);
    expect(() => loadNormStats(file("mask.json", { q01: [0], q99: [1], mask: [1] }))).toThrow(/mask to be 1 booleans/);
  });

  it("parseNormStats returns copies, not views of the parsed JSON", () => {
    const json = { q01: [0], q99: [1], mask: [true] };
    const stats = parseNormStats(json);
    json.q01[0] = 42;
    json.mask[0] = false;
    expect(stats).toEqual({ q01: [0], q99: [1], mask: [true] });
  });
});
