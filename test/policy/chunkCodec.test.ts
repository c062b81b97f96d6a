import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { loadArmDescription } from "../../src/kinematics/description.js";
import { ArmKinematics } from "../../src/kinematics/kinematics.js";
import { actionConverter } from "../../src/policy/chunkCodec.js";
import type { Observation } from "../../src/runtime/slowExecutor.js";

const arm = loadArmDescription(fileURLToPath(new URL("../../sim/arm/description.json", import.meta.url)));
const kinematics = new ArmKinematics(arm);
const MEASURED = [0.1, 0.2, 1.4, 0.9, -0.2, 0.3, 0.05];
const PLANNED = [0.12, 0.19, 1.42, 0.9, -0.2, 0.31, 0.05];

function observation(planned?: number[]): Observation {
  const o: Observation = {
    timeNs: 0,
    positions: Float64Array.from(MEASURED),
    velocities: new Float64Array(7),
    wrench: new Float64Array(6),
    tactile: new Float64Array(16),
    instruction: "wipe",
  };
  if (planned) o.plannedPositions = Float64Array.from(planned);
  return o;
}

describe("actionConverter delta origin", () => {
  const deltas = Float64Array.from([0.01, 0, 0, 0, 0, -0.02, 0.06, 0.01, 0, 0, 0, 0, -0.02, 0.06]);

  it("measured (the default) starts joint deltas at the observed positions, even with a plan at hand", () => {
    const out = actionConverter(null, "joint-delta", kinematics)(deltas, 2, 7, observation(PLANNED));
    if (out instanceof Error) throw out;
    expect(out[0]).toBeCloseTo(MEASURED[0] + 0.01, 12);
    expect(out[7 + 5]).toBeCloseTo(MEASURED[5] - 0.04, 12);
  });

  it("plan starts them where the previous chunk put the arm, and falls back to the measured positions without one", () => {
    const convert = actionConverter(null, "joint-delta", kinematics, "plan");
    const fromPlan = convert(deltas, 2, 7, observation(PLANNED));
    const fromMeasured = convert(deltas, 2, 7, observation());
    if (fromPlan instanceof Error || fromMeasured instanceof Error) throw new Error("conversion failed");
    expect(fromPlan[0]).toBeCloseTo(PLANNED[0] + 0.01, 12);
    expect(fromPlan[7 + 5]).toBeCloseTo(PLANNED[5] - 0.04, 12);
    expect(fromMeasured[0]).toBeCloseTo(MEASURED[0] + 0.01, 12);
  });

  it("plan applies to ee-delta: zero deltas hold the planned tool pose", () => {
    const still = Float64Array.from([0, 0, 0, 0, 0, 0, 0.06]);
    const out = actionConverter(null, "ee-delta", kinematics, "plan")(still, 1, 7, observation(PLANNED));
    if (out instanceof Error) throw out;
    const want = new Float64Array(3);
    const got = new Float64Array(3);
    kinematics.forward(PLANNED, want, new Float64Array(9));
    kinematics.forward(out.subarray(0, 6), got, new Float64Array(9));
    expect(Math.hypot(got[0] - want[0], got[1] - want[1], got[2] - want[2])).toBeLessThan(2e-4);
  });
});
