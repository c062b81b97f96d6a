import { describe, expect, it } from "vitest";
import { publicSpec, resolveWipeTask, sampleWipeTask, WipeMetrics, type WipeTask } from "../../src/sim/task.js";

describe("wipe task options", () => {
  it("fills defaults and keeps given values", () => {
    const task = resolveWipeTask({ surfaceHeightM: 0.1, forceBandN: [4, 12] });
    expect(task.surfaceHeightM).toBe(0.1);
    expect(task.forceBandN).toEqual([4, 12]);
    expect(task.areaSizeXyM).toHaveLength(2);
    expect(task.perturbations).toEqual([]);
  });

  it.each([
    [{ surfaceHeightM: -0.2 }, /surfaceHeightM must be a number in \[0, 0.3\] m, got -0.2/],
    [{ forceBandN: [15, 5] as [number, number] }, /forceBandN must be \[low, high\] with low < high, got \[15,5\]/],
    [{ areaSizeXyM: [0.1] as unknown as [number, number] }, /areaSizeXyM must be a pair/],
    [{ areaCenterXyM: [2, 0] as [number, number] }, /areaCenterXyM\[0\] must be a number/],
    [{ friction: Number.NaN }, /friction must be a number in \[0.01, 2\] , got NaN|friction must be a number in \[0.01, 2\], got NaN/],
    [{ bogus: 1 } as unknown as WipeTask, /option "bogus" must be one of/],
    [{ perturbations: [{ kind: "earthquake", atS: 1 }] } as unknown as WipeTask, /perturbations\[0\]\.kind must be one of/],
    [{ perturbations: [{ kind: "push", atS: 1, forceN: [1, 2], durationS: 0.1 }] } as unknown as WipeTask, /perturbations\[0\]\.forceN must be/],
  ])("rejects %j with a one-line message", (options, message) => {
    let error: unknown;
    try {
      resolveWipeTask(options as Partial<WipeTask>);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(Error);
    const text = (error as Error).message;
    expect(text).toMatch(message);
    expect(text).not.toContain("\n");
  });

  it("samples deterministically from the seed, within the documented ranges", () => {
    const a = sampleWipeTask(7, { perturbations: true });
    const b = sampleWipeTask(7, { perturbations: true });
    expect(a).toEqual(b);
    const seen = new Set<number>();
    for (let seed = 0; seed < 50; seed++) {
      const t = sampleWipeTask(seed);
      seen.add(t.surfaceHeightM);
      expect(t.surfaceHeightM).toBeGreaterThanOrEqual(0.04);
      expect(t.surfaceHeightM).toBeLessThanOrEqual(0.14);
      expect(t.forceBandN[1] - t.forceBandN[0]).toBeGreaterThanOrEqual(8);
      expect(Math.abs(t.areaCenterXyM[1])).toBeLessThanOrEqual(0.12);
    }
    expect(seen.size).toBeGreaterThan(30);
    expect(a.perturbations.map((p) => p.kind).sort()).toEqual(["friction", "push", "surfaceHeightShift"]);
  });

  it("hides the surface height and friction from the public spec", () => {
    const spec = publicSpec(sampleWipeTask(3));
    expect(Object.keys(spec).sort()).toEqual(["areaCenterXyM", "areaSizeXyM", "coverageThreshold", "forceBandN", "timeLimitS"]);
  });
});

describe("wipe metrics", () => {
  // A 0.1 x 0.1 m area centred at (0.5, 0) with 1 cm cells: cell (i, j) has its centre at (0.455 + 0.01 i, -0.045 + 0.01 j).
  const task = resolveWipeTask({ areaCenterXyM: [0.5, 0], areaSizeXyM: [0.1, 0.1], forceBandN: [5, 15], coverageThreshold: 0.5, timeLimitS: 10 });
  const cellCentre = (i: number, j: number): [number, number] => [0.455 + 0.01 * i, -0.045 + 0.01 * j];
  const xy = new Float64Array(2);
  const force = new Float64Array(1);

  it("no contact: no coverage, no contact time, no violations", () => {
    const m = new WipeMetrics(task, 0.014);
    [xy[0], xy[1]] = cellCentre(3, 3);
    force[0] = 0;
    for (let k = 0; k < 100; k++) m.update(0.002, k * 0.002, 0, xy, force);
    const s = m.summary();
    expect(s.coverage).toBe(0);
    expect(s.contactTimeS).toBe(0);
    expect(s.forceBandViolationCount).toBe(0);
    expect(s.success).toBe(false);
    expect(s.elapsedS).toBeCloseTo(0.2, 9);
  });

  it("marks the cells under a touching taxel only while the force is in the band", () => {
    const m = new WipeMetrics(task, 0.014);
    [xy[0], xy[1]] = cellCentre(2, 7);
    force[0] = 8;
    m.update(0.002, 0, 8, xy, force);
    // The footprint is +-7 mm: the neighbouring centres 10 mm away are outside it.
    expect(m.isWiped(2, 7)).toBe(true);
    expect(m.isWiped(1, 7)).toBe(false);
    expect(m.isWiped(3, 7)).toBe(false);
    expect(m.coverage()).toBeCloseTo(1 / 100, 12);
    [xy[0], xy[1]] = cellCentre(5, 5);
    m.update(0.002, 0.002, 30, xy, force); // too hard: counts as a violation, cleans nothing
    m.update(0.002, 0.004, 2, xy, force); // too light
    expect(m.isWiped(5, 5)).toBe(false);
    const s = m.summary();
    expect(s.peakForceN).toBe(30);
    expect(s.forceBandViolationTimeS).toBeCloseTo(0.004, 12);
    expect(s.inBandTimeS).toBeCloseTo(0.002, 12);
  });

  it("a taxel between cells covers every cell centre under its footprint", () => {
    const m = new WipeMetrics(task, 0.02);
    const [cx, cy] = cellCentre(4, 4);
    // Footprint +-10 mm. Along x: centres cx and cx + 0.01 are 5 mm away (in), cx - 0.01 and cx + 0.02 15 mm (out).
    // Along y: cy is 2 mm away and cy + 0.01 8 mm (in), cy - 0.01 12 mm (out).
    xy[0] = cx + 0.005;
    xy[1] = cy + 0.002;
    force[0] = 1;
    m.update(0.002, 0, 10, xy, force);
    expect([m.isWiped(3, 4), m.isWiped(4, 4), m.isWiped(5, 4), m.isWiped(6, 4)]).toEqual([false, true, true, false]);
    expect([m.isWiped(4, 3), m.isWiped(4, 5), m.isWiped(5, 5)]).toEqual([false, true, true]);
    expect(m.coverage()).toBeCloseTo(4 / 100, 12);
  });

  it("counts a violation event only when it outlasts the grace time", () => {
    const m = new WipeMetrics(resolveWipeTask({ ...task, violationGraceS: 0.05 }), 0.014);
    force[0] = 1;
    let t = 0;
    const run = (n: number, forceN: number) => {
      for (let k = 0; k < n; k++) m.update(0.002, (t += 0.002), forceN, xy, force);
    };
    run(10, 20); // 20 ms over the band: a transient
    run(10, 10);
    expect(m.summary().forceBandViolationCount).toBe(0);
    run(40, 20); // 80 ms over the band: one event
    run(10, 10);
    run(40, 2); // 80 ms too light while touching: another
    run(10, 0); // lifted off: not in contact, not a violation
    const s = m.summary();
    expect(s.forceBandViolationCount).toBe(2);
    expect(s.forceBandViolationTimeS).toBeCloseTo(0.02 + 0.08 + 0.08, 9);
    expect(s.contactTimeS).toBeCloseTo((10 + 10 + 40 + 10 + 40) * 0.002, 9);
  });

  it("records success and completion time when coverage reaches the threshold within the limit", () => {
    const m = new WipeMetrics(task, 0.014);
    force[0] = 9;
    let t = 0;
    for (let j = 0; j < 10; j++) {
      for (let i = 0; i < 10; i++) {
        [xy[0], xy[1]] = cellCentre(i, j);
        t += 0.002;
        m.update(0.002, t, 9, xy, force);
      }
    }
    const s = m.summary();
    expect(s.coverage).toBe(1);
    expect(s.success).toBe(true);
    // The 50th cell (threshold 0.5) was wiped at step 50.
    expect(s.completionTimeS).toBeCloseTo(0.1, 9);
    expect(m.done(t)).toBe(true);
  });
});
