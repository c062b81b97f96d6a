import { describe, expect, it } from "vitest";
import { ArmKinematics } from "../../src/kinematics/kinematics.js";
import { runExpertEpisode } from "../../src/sim/expert.js";
import { MujocoArm, READY_POSITIONS_VLA_ARM6 } from "../../src/sim/mujocoArm.js";
import { WipeStateExpert } from "../../src/sim/stateExpert.js";
import { publicSpec, sampleWipeTask } from "../../src/sim/task.js";
import { bundledArm, makeSnapshot } from "./helpers.js";

const arm = bundledArm();
const kinematics = new ArmKinematics(arm);
const spec = publicSpec(sampleWipeTask(7));
const toolOf = (q: ArrayLike<number>) => {
  const p = new Float64Array(3);
  kinematics.forward(q, p, new Float64Array(9));
  return p;
};

/** A state with the pad at (x, y, z), pointing down, pressed with `forceN` spread over the 16 taxels. */
function stateAt(x: number, y: number, z: number, forceN: number) {
  const snap = makeSnapshot(7, 16);
  const solved = kinematics.solve({ positionM: Float64Array.of(x, y, z), rotation: [-1, 0, 0, 0, 1, 0, 0, 0, -1] }, READY_POSITIONS_VLA_ARM6, { maxIterations: 200 });
  snap.positions.set(solved.q);
  snap.tactile.fill(forceN / 16);
  return snap;
}

describe("WipeStateExpert", () => {
  it("rejects a broken state with a one-line message", () => {
    const expert = new WipeStateExpert(arm, spec);
    const snap = makeSnapshot(7, 16);
    snap.positions[1] = Number.NaN;
    expect(() => expert.plan(snap)).toThrow(/^wipe state expert: state\.positions\[1\] must be finite, got NaN$/);
    expect(() => new WipeStateExpert(arm, spec, { wipeSpeedMPerS: 0 })).toThrow(/wipeSpeedMPerS must be a positive number, got 0/);
  });

  it("from the ready pose: approaches the path start; pressed too hard on the path: lifts and wipes on", () => {
    const expert = new WipeStateExpert(arm, spec);
    const ready = makeSnapshot(7, 16);
    ready.positions.set(READY_POSITIONS_VLA_ARM6);
    const first = expert.plan(ready);
    expect(expert.phase).toBe("approach");
    const start = toolOf(READY_POSITIONS_VLA_ARM6);
    const end = toolOf(first.subarray(9 * 7, 9 * 7 + 6));
    expect(Math.hypot(end[0] - start[0], end[1] - start[1], end[2] - start[2])).toBeGreaterThan(0.05);

    // Pressing at 25 N (band midpoint well below) at the path start: the chunk rises by about the force error
    // over the stiffness prior and moves along the first lane at the wipe speed.
    const [low, high] = spec.forceBandN;
    const startXy = new Float64Array(2);
    expert.pathAt(0, startXy);
    const pressed = stateAt(startXy[0], startXy[1], 0.1, 25);
    const chunk = expert.plan(pressed);
    expect(expert.phase).toBe("wipe");
    const last = toolOf(chunk.subarray(9 * 7, 9 * 7 + 6));
    const riseM = Math.min(0.012, (25 - (low + high) / 2) / 1200);
    expect(last[2] - 0.1).toBeCloseTo(riseM, 3);
    const along = new Float64Array(2);
    expert.pathAt(0.06 * 0.9, along);
    expect(Math.hypot(last[0] - along[0], last[1] - along[1])).toBeLessThan(0.003);

    // Contact lost after wiping began: straight down where the wipe was, never back to approaching.
    const lifted = stateAt(startXy[0], startXy[1], 0.13, 0);
    const down = expert.plan(lifted);
    expect(expert.phase).toBe("descend");
    expect(toolOf(down.subarray(9 * 7, 9 * 7 + 6))[2]).toBeLessThan(0.13 - 0.03);
  });

  it("off the path after wiping began (over the platform's edge, pressing on the table): back up, over the path, then down", () => {
    const expert = new WipeStateExpert(arm, spec);
    const startXy = new Float64Array(2);
    const ready = makeSnapshot(7, 16);
    ready.positions.set(READY_POSITIONS_VLA_ARM6);
    expert.plan(ready);
    expert.pathAt(0, startXy);
    expert.plan(stateAt(startXy[0], startXy[1], 0.1, 12)); // wiping at the path start, pad at 0.1 m
    // 8 cm away and 8 cm lower, pressing at 26 N: the pad went over the edge of the platform.
    const away = [startXy[0] + 0.08, startXy[1]] as const;
    const chunk = expert.plan(stateAt(away[0], away[1], 0.02, 26));
    expect(expert.phase).toBe("approach");
    const first = toolOf(chunk.subarray(1 * 7, 1 * 7 + 6));
    const last = toolOf(chunk.subarray(9 * 7, 9 * 7 + 6));
    expect(first[2]).toBeGreaterThan(0.02);
    expect(Math.hypot(last[0] - startXy[0], last[1] - startXy[1])).toBeLessThan(Math.hypot(away[0] - startXy[0], away[1] - startXy[1]) - 0.05);
    // It goes towards 3 cm above where it last pressed, never lower than it is.
    expect(last[2]).toBeGreaterThan(0.1);
    expect(last[2]).toBeLessThanOrEqual(0.13 + 1e-3);
  });

  it.each([1001, 1002])("wipes the area closed loop from its own states with perturbations (seed %i)", async (seed) => {
    const task = sampleWipeTask(seed, { perturbations: true });
    const sim = await MujocoArm.create({ arm, task });
    try {
      const expert = new WipeStateExpert(arm, publicSpec(task));
      const result = runExpertEpisode(sim, expert, { replanPeriodS: 0.2 });
      expect(result.metrics.success).toBe(true);
      expect(result.finalPhase).toBe("done");
      expect(expert.progress().progressM).toBeGreaterThan(expert.progress().pathLengthM - 0.005);
    } finally {
      sim.close();
    }
  });
});
