import { describe, expect, it } from "vitest";
import { boustrophedonPath, runExpertEpisode, WipeExpert } from "../../src/sim/expert.js";
import { MujocoArm, READY_POSITIONS_VLA_ARM6 } from "../../src/sim/mujocoArm.js";
import { publicSpec, resolveWipeTask, sampleWipeTask } from "../../src/sim/task.js";
import { ArmKinematics } from "../../src/kinematics/kinematics.js";
import { bundledArm, makeSnapshot } from "./helpers.js";

const arm = bundledArm();

describe("boustrophedon path", () => {
  it("brings every point of the area under the pad", () => {
    const spec = { areaCenterXyM: [0.45, -0.05] as [number, number], areaSizeXyM: [0.19, 0.13] as [number, number] };
    const pad = 0.056;
    for (const alongX of [true, false]) {
      const points = boustrophedonPath(spec, pad, 0.3, 0.012, alongX, true, false);
      // Densely sample the polyline, then check each area point lies inside the square pad at some sample.
      const samples: [number, number][] = [];
      for (let i = 1; i < points.length; i++) {
        for (let k = 0; k <= 100; k++) {
          const u = k / 100;
          samples.push([points[i - 1][0] + u * (points[i][0] - points[i - 1][0]), points[i - 1][1] + u * (points[i][1] - points[i - 1][1])]);
        }
      }
      for (let gx = 0; gx <= 20; gx++) {
        for (let gy = 0; gy <= 20; gy++) {
          const x = spec.areaCenterXyM[0] + (gx / 20 - 0.5) * spec.areaSizeXyM[0];
          const y = spec.areaCenterXyM[1] + (gy / 20 - 0.5) * spec.areaSizeXyM[1];
          const covered = samples.some(([sx, sy]) => Math.abs(sx - x) <= pad / 2 + 1e-9 && Math.abs(sy - y) <= pad / 2 + 1e-9);
          expect(covered, `(${x.toFixed(3)}, ${y.toFixed(3)}) along ${alongX ? "x" : "y"}`).toBe(true);
        }
      }
      // Lanes alternate direction: consecutive lanes start at opposite ends.
      const a = alongX ? 0 : 1;
      expect(Math.sign(points[1][a] - points[0][a])).toBe(-Math.sign(points[3][a] - points[2][a]));
    }
  });
});

describe("WipeExpert", () => {
  it("rejects bad options with a one-line message", () => {
    const spec = publicSpec(resolveWipeTask());
    expect(() => new WipeExpert(arm, spec, { chunkSteps: 0 })).toThrow(/wipe expert: chunkSteps must be an integer in \[1, 1000\], got 0/);
    expect(() => new WipeExpert(arm, spec, { wipeSpeedMPerS: -1 })).toThrow(/wipe expert: wipeSpeedMPerS must be a positive number, got -1/);
    const expert = new WipeExpert(arm, spec);
    const snap = makeSnapshot(7, 16);
    snap.positions[2] = Number.NaN;
    expect(() => expert.plan(snap)).toThrow(/observation\.positions\[2\] must be finite, got NaN/);
  });

  it("plans chunks of the configured shape, starting where the arm is", () => {
    const expert = new WipeExpert(arm, publicSpec(resolveWipeTask()), { chunkSteps: 20, stepPeriodS: 0.05 });
    const snap = makeSnapshot(7, 16);
    snap.positions.set(READY_POSITIONS_VLA_ARM6);
    snap.timeNs = 3e9;
    const chunk = expert.planChunk(snap, 5);
    expect(chunk.steps).toBe(20);
    expect(chunk.dim).toBe(7);
    expect(chunk.actions).toHaveLength(140);
    expect(chunk.stepPeriodNs).toBe(50_000_000);
    expect(chunk.observationTimeNs).toBe(3e9);
    expect(chunk.sequence).toBe(5);
    // Step 0 is due now: it is (within IK tolerance) the current pose; later steps move away smoothly.
    for (let i = 0; i < 6; i++) expect(chunk.actions[i]).toBeCloseTo(READY_POSITIONS_VLA_ARM6[i], 2);
    for (let s = 1; s < 20; s++) {
      for (let i = 0; i < 6; i++) expect(Math.abs(chunk.actions[s * 7 + i] - chunk.actions[(s - 1) * 7 + i])).toBeLessThan(0.05);
    }
    expect(expert.phase).toBe("approach");
  });

  it("variedPath false: lanes along the longer side from the corner nearest the tool, whatever the seed", () => {
    const spec = publicSpec(sampleWipeTask(3));
    const startFor = (seed: number, variedPath: boolean) => {
      const expert = new WipeExpert(arm, spec, { seed, variedPath });
      const snap = makeSnapshot(7, 16);
      snap.positions.set(READY_POSITIONS_VLA_ARM6);
      expert.plan(snap);
      return expert.diagnostics().pathStartXyM;
    };
    const fixed = [1, 2, 3, 4, 5, 6].map((seed) => startFor(seed, false));
    for (const start of fixed) expect(start).toEqual(fixed[0]);
    // The nearest of the four start corners to the tool at the ready pose.
    const tool = new Float64Array(3);
    new ArmKinematics(arm).forward(READY_POSITIONS_VLA_ARM6, tool, new Float64Array(9));
    const alongX = spec.areaSizeXyM[0] >= spec.areaSizeXyM[1];
    const corners = [false, true].flatMap((a) => [false, true].map((b) => boustrophedonPath(spec, 0.056, 0.3, 0.012, alongX, a, b)[0]));
    const distance = (p: number[]) => Math.hypot(p[0] - tool[0], p[1] - tool[1]);
    expect(distance(fixed[0])).toBeCloseTo(Math.min(...corners.map(distance)), 12);
    // The default varies the start with the seed.
    const varied = new Set([1, 2, 3, 4, 5, 6].map((seed) => startFor(seed, true).join(",")));
    expect(varied.size).toBeGreaterThan(1);
    expect(() => new WipeExpert(arm, spec, { variedPath: "no" as unknown as boolean })).toThrow(/variedPath must be a boolean, got "no"/);
  });

  it("does not depend on the hidden surface height before it touches", () => {
    const base = sampleWipeTask(5);
    const a = new WipeExpert(arm, publicSpec({ ...base, surfaceHeightM: 0.04 }), { seed: 1 });
    const b = new WipeExpert(arm, publicSpec({ ...base, surfaceHeightM: 0.14 }), { seed: 1 });
    const snap = makeSnapshot(7, 16);
    snap.positions.set(READY_POSITIONS_VLA_ARM6);
    expect(Array.from(a.plan(snap))).toEqual(Array.from(b.plan(snap)));
  });

  it.each([1, 2, 3])("wipes the area closed loop against the simulator with perturbations (seed %i)", async (seed) => {
    const task = sampleWipeTask(seed, { perturbations: true });
    const sim = await MujocoArm.create({ arm, task });
    try {
      const expert = new WipeExpert(arm, publicSpec(task), { seed });
      const result = runExpertEpisode(sim, expert);
      const m = result.metrics;
      expect(m.success).toBe(true);
      expect(m.coverage).toBeGreaterThanOrEqual(task.coverageThreshold);
      expect(m.completionTimeS).not.toBeNull();
      expect(m.completionTimeS!).toBeLessThan(task.timeLimitS);
      // Few force-band violations: no sustained one, and out of band for a small part of the contact time.
      expect(m.forceBandViolationCount).toBeLessThanOrEqual(1);
      expect(m.forceBandViolationTimeS).toBeLessThan(0.1 * m.contactTimeS);
      expect(m.peakForceN).toBeLessThan(2 * task.forceBandN[1]);
      expect(result.finalPhase).toBe("done");
      const d = expert.diagnostics();
      expect(d.ikFailures).toBe(0);
      // It found the hidden surface by touch (within the sponge's few mm).
      expect(Math.abs(d.surfaceZM - task.surfaceHeightM)).toBeLessThan(0.006);
      // Lifted off at the end.
      expect(sim.contactForceN()).toBe(0);
    } finally {
      sim.close();
    }
  });

  it("still succeeds when the caller replans only every half second", async () => {
    const task = sampleWipeTask(9);
    const sim = await MujocoArm.create({ arm, task });
    try {
      const result = runExpertEpisode(sim, new WipeExpert(arm, publicSpec(task), { seed: 9, chunkSteps: 10 }), { replanPeriodS: 0.5 });
      expect(result.metrics.success).toBe(true);
      expect(result.chunks).toBeLessThan(60);
    } finally {
      sim.close();
    }
  });

  it("is deterministic given the seed", async () => {
    const task = sampleWipeTask(4, { perturbations: true });
    const record = async (expertSeed: number) => {
      const sim = await MujocoArm.create({ arm, task });
      const chunks: number[] = [];
      try {
        runExpertEpisode(sim, new WipeExpert(arm, publicSpec(task), { seed: expertSeed }), {
          maxDurationS: 6,
          onChunk: (_obs, chunk) => chunks.push(...chunk),
        });
      } finally {
        sim.close();
      }
      return chunks;
    };
    const first = await record(4);
    const again = await record(4);
    expect(again).toEqual(first);
    const other = await record(5);
    expect(other).not.toEqual(first);
  });
});
