import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { loadArmDescription } from "../../src/kinematics/description.js";
import { ArmKinematics, matrixToRpy as matrixToRpyInto, rotationError, rpyToMatrix } from "../../src/kinematics/kinematics.js";
import { deltaOriginState, jointChunkToEeDeltas, PLAN_ORIGIN_MAX_GAP_RAD, toJointChunk, type ActionSpace } from "../../src/runtime/actionSpace.js";

const arm = loadArmDescription(fileURLToPath(new URL("../../sim/arm/description.json", import.meta.url)));
const kinematics = new ArmKinematics(arm);
const STATE = [0.1, 0.2, 1.4, 0.9, -0.2, 0.3, 0.05];

/** Rotation matrix (row-major) -> fixed-axis roll, pitch, yaw with R = Rz(yaw) Ry(pitch) Rx(roll). */
function matrixToRpy(R: ArrayLike<number>): [number, number, number] {
  return Array.from(matrixToRpyInto(R, new Float64Array(3))) as [number, number, number];
}

function pose(q: ArrayLike<number>) {
  const p = new Float64Array(3);
  const R = new Float64Array(9);
  kinematics.forward(q, p, R);
  return { p, R };
}

describe("toJointChunk", () => {
  it("joint-absolute copies rows, from a flat array or from rows", () => {
    const rows = [
      [0, 0.1, 1.2, 0.8, 0, 0.2, 0.01],
      [0.05, 0.15, 1.25, 0.85, 0.05, 0.25, 0.02],
    ];
    const flat = toJointChunk(Float64Array.from(rows.flat()), 2, "joint-absolute", STATE, kinematics);
    const fromRows = toJointChunk(rows, 2, "joint-absolute", STATE, kinematics);
    expect(Array.from(flat)).toEqual(rows.flat());
    expect(Array.from(fromRows)).toEqual(rows.flat());
  });

  it("joint-delta accumulates joint deltas on the state; the gripper stays absolute", () => {
    const deltas = [
      [0.01, -0.02, 0, 0.03, 0, 0, 0.07],
      [0.01, -0.02, 0.05, 0, 0, -0.1, 0.0],
      [0.02, 0, 0, 0, 0.01, 0, 0.04],
    ];
    const out = toJointChunk(deltas, 3, "joint-delta", STATE, kinematics);
    for (let j = 0; j < 6; j++) {
      let q = STATE[j];
      for (let i = 0; i < 3; i++) {
        q += deltas[i][j];
        expect(out[i * 7 + j]).toBeCloseTo(q, 14);
      }
    }
    expect([out[6], out[13], out[20]]).toEqual([0.07, 0.0, 0.04]);
  });

  it("ee-delta: the joint targets put the tool on the accumulated poses (base-frame deltas, solved step by step)", () => {
    // Build deltas from a known joint path, then check the result reproduces its tool poses.
    const path = Array.from({ length: 6 }, (_, i) => STATE.map((q, d) => (d < 6 ? q + 0.03 * i * Math.sin(d + 1) : 0.02 * i)));
    const deltas: number[][] = [];
    let previous = pose(STATE);
    for (const q of path) {
      const next = pose(q);
      // Rd = R_next * R_prev^T (rotation applied in the base frame).
      const Rd = new Float64Array(9);
      for (let r = 0; r < 3; r++) {
        for (let c = 0; c < 3; c++) {
          Rd[r * 3 + c] = next.R[r * 3] * previous.R[c * 3] + next.R[r * 3 + 1] * previous.R[c * 3 + 1] + next.R[r * 3 + 2] * previous.R[c * 3 + 2];
        }
      }
      deltas.push([next.p[0] - previous.p[0], next.p[1] - previous.p[1], next.p[2] - previous.p[2], ...matrixToRpy(Rd), q[6]]);
      previous = next;
    }
    const out = toJointChunk(deltas, deltas.length, "ee-delta", STATE, kinematics);
    const w = new Float64Array(3);
    path.forEach((q, i) => {
      const want = pose(q);
      const got = pose(out.subarray(i * 7, i * 7 + 6));
      expect(Math.hypot(got.p[0] - want.p[0], got.p[1] - want.p[1], got.p[2] - want.p[2])).toBeLessThan(2e-4);
      // Each step's IK holds on to the previous joints (no drift at singular poses): about 1 % of a step's rotation is
      // left short, and the next step builds on the orientation reached.
      expect(rotationError(want.R, got.R, w)).toBeLessThan(3e-3);
      expect(out[i * 7 + 6]).toBe(q[6]);
    });
  });

  it("jointChunkToEeDeltas is the inverse: it gives the deltas built by hand, and toJointChunk maps them back", () => {
    const path = Array.from({ length: 6 }, (_, i) => STATE.map((q, d) => (d < 6 ? q - 0.02 * i * Math.cos(d + 2) : 0.01 * i)));
    const eeDeltas = jointChunkToEeDeltas(Float64Array.from(path.flat()), path.length, STATE, kinematics);
    let previous = pose(STATE);
    path.forEach((q, i) => {
      const next = pose(q);
      for (let a = 0; a < 3; a++) expect(eeDeltas[i * 7 + a]).toBeCloseTo(next.p[a] - previous.p[a], 12);
      // R(droll, dpitch, dyaw) * R_prev must be R_next.
      const Rd = new Float64Array(9);
      rpyToMatrix(eeDeltas[i * 7 + 3], eeDeltas[i * 7 + 4], eeDeltas[i * 7 + 5], Rd);
      const R = new Float64Array(9);
      for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) R[r * 3 + c] = Rd[r * 3] * previous.R[c] + Rd[r * 3 + 1] * previous.R[3 + c] + Rd[r * 3 + 2] * previous.R[6 + c];
      expect(rotationError(next.R, R, new Float64Array(3))).toBeLessThan(1e-7);
      expect(eeDeltas[i * 7 + 6]).toBe(q[6]);
      previous = next;
    });
    const back = toJointChunk(eeDeltas, path.length, "ee-delta", STATE, kinematics);
    path.forEach((q, i) => {
      const want = pose(q);
      const got = pose(back.subarray(i * 7, i * 7 + 6));
      expect(Math.hypot(got.p[0] - want.p[0], got.p[1] - want.p[1], got.p[2] - want.p[2])).toBeLessThan(2e-4);
    });
    expect(() => jointChunkToEeDeltas(new Float64Array(13), 2, STATE, kinematics)).toThrow(/joint chunk of 2 x 7 values, got 13/);
  });

  it("matrixToRpy inverts rpyToMatrix", () => {
    const R = new Float64Array(9);
    for (const rpy of [[0.3, -0.4, 1.2], [-2.5, 1.1, -0.2], [0, 0, 0]]) {
      rpyToMatrix(rpy[0], rpy[1], rpy[2], R);
      const got = matrixToRpyInto(R, new Float64Array(3));
      for (let k = 0; k < 3; k++) expect(got[k]).toBeCloseTo(rpy[k], 12);
    }
  });

  it("ee-delta keeps the joints moving smoothly at a singular pose, with rotation noise in every step", () => {
    // Pressing with wrist_2 at 0: wrist_1 and wrist_3 turn about parallel axes and roll about x is out of reach
    // there. A VLA's chunk slides the pad 6 mm a step along y and carries milliradians of rotation noise; the plain
    // IK answered that with wrist swings of up to half a radian a step (and the pad dug into the table between them).
    const start = [0.05, 0.5, 1.5, 1.4, 0, -0.3, 0.04];
    const noise = [0.0017, -0.0009, 0.002, -0.0014, 0.0006, -0.002, 0.0011, 0.0019, -0.0003, 0.0008];
    const deltas = noise.map((n, i) => [0.0005 * Math.sin(i), 0.006, -0.0002, n, -n / 2, noise[(i + 3) % 10], 0.04]);
    const out = toJointChunk(deltas, deltas.length, "ee-delta", start, kinematics);
    const planned = pose(start).p;
    let previous = start;
    deltas.forEach((d, i) => {
      const q = out.subarray(i * 7, i * 7 + 6);
      const largest = Math.max(...Array.from(q, (x, j) => Math.abs(x - previous[j])));
      expect(largest, `step ${i}`).toBeLessThan(0.05);
      for (let a = 0; a < 3; a++) planned[a] += d[a];
      const got = pose(q).p;
      expect(Math.hypot(got[0] - planned[0], got[1] - planned[1], got[2] - planned[2]), `step ${i}`).toBeLessThan(1e-3);
      previous = Array.from(q);
    });
  });

  it("ee-delta throws a clear error when IK cannot reach a step", () => {
    const deltas = [[0, 0, 0, 0, 0, 0, 0], [2, 0, 0, 0, 0, 0, 0]];
    expect(() => toJointChunk(deltas, 2, "ee-delta", STATE, kinematics)).toThrow(/ee-delta step 1 of 2: IK could not reach/);
  });

  it("ee-delta takes a step the solver reaches to within 2 mm, and refuses one further out", () => {
    // Stretch the tool out along its reach (base x) until strict IK (0.1 mm) first fails: just past the workspace edge.
    const p = new Float64Array(3);
    const R = new Float64Array(9);
    kinematics.forward(STATE, p, R);
    const reaches = (dx: number) => kinematics.solve({ positionM: [p[0] + dx, p[1], p[2]], rotation: R }, STATE, { maxIterations: 200, positionTolM: 1e-4, rotationTolRad: 1e-3 });
    let inside = 0;
    let outside = 2;
    for (let k = 0; k < 40; k++) {
      const mid = (inside + outside) / 2;
      if (reaches(mid).ok) inside = mid;
      else outside = mid;
    }
    const edge = outside + 5e-4; // 0.5 mm past the edge: strict IK fails, the best solution is a near miss
    const miss = reaches(edge);
    expect(miss.ok).toBe(false);
    expect(miss.positionErrorM).toBeLessThan(2e-3);
    const chunk = toJointChunk([[edge, 0, 0, 0, 0, 0, 0.05]], 1, "ee-delta", STATE, kinematics);
    const got = new Float64Array(3);
    kinematics.forward(chunk.subarray(0, 6), got, new Float64Array(9));
    expect(Math.hypot(got[0] - p[0] - edge, got[1] - p[1], got[2] - p[2])).toBeLessThan(2e-3);
    expect(() => toJointChunk([[outside + 0.05, 0, 0, 0, 0, 0, 0.05]], 1, "ee-delta", STATE, kinematics)).toThrow(/ee-delta step 0 of 1: IK could not reach/);
  });

  it("writes into a given buffer", () => {
    const out = new Float64Array(20).fill(-1);
    const result = toJointChunk([STATE], 1, "joint-absolute", STATE, kinematics, out);
    expect(result).toBe(out);
    expect(Array.from(out.subarray(0, 7))).toEqual(STATE);
    expect(out[7]).toBe(-1);
  });

  const bad: [string, () => unknown, RegExp][] = [
    ["an unknown space", () => toJointChunk([STATE], 1, "cartesian" as ActionSpace, STATE, kinematics), /expected joint-absolute \| joint-delta \| ee-delta, got cartesian/],
    ["a wrong flat length", () => toJointChunk(new Float64Array(13), 2, "joint-absolute", STATE, kinematics), /2 x 7 = 14 values, got 13/],
    ["a wrong row count", () => toJointChunk([STATE], 2, "joint-delta", STATE, kinematics), /expected 2 rows, got 1/],
    ["a wrong row width", () => toJointChunk([[1, 2, 3]], 1, "ee-delta", STATE, kinematics), /rows of 7 values, got 3 at step 0/],
    ["a NaN action", () => toJointChunk([[0, 0, NaN, 0, 0, 0, 0]], 1, "joint-absolute", STATE, kinematics), /finite actions, got NaN at step 0, index 2/],
    ["a short state", () => toJointChunk([STATE], 1, "joint-delta", [0, 0], kinematics), /at least 6 joint positions, got 2/],
    ["a small output buffer", () => toJointChunk([STATE], 1, "joint-absolute", STATE, kinematics, new Float64Array(3)), /output buffer of 7 numbers, got 3/],
    ["zero steps", () => toJointChunk([], 0, "joint-absolute", STATE, kinematics), /steps >= 1/],
  ];
  for (const [name, call, message] of bad) {
    it(`rejects ${name}`, () => expect(call).toThrow(message));
  }
});

describe("deltaOriginState", () => {
  const measured = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.02];
  it("measured: always the measured positions", () => {
    expect(deltaOriginState("measured", measured, [0.11, 0.2, 0.3, 0.4, 0.5, 0.6, 0.02], 6)).toBe(measured);
  });
  it("plan: the planned positions while they stay within the gap of the measured ones", () => {
    const planned = measured.map((q) => q + PLAN_ORIGIN_MAX_GAP_RAD * 0.9);
    expect(deltaOriginState("plan", measured, planned, 6)).toBe(planned);
  });
  it("plan: the measured positions with no plan, a short plan, a plan too far away or a NaN in it", () => {
    expect(deltaOriginState("plan", measured, undefined, 6)).toBe(measured);
    expect(deltaOriginState("plan", measured, [0.1, 0.2], 6)).toBe(measured);
    expect(deltaOriginState("plan", measured, measured.map((q, j) => (j === 4 ? q + PLAN_ORIGIN_MAX_GAP_RAD * 1.1 : q)), 6)).toBe(measured);
    expect(deltaOriginState("plan", measured, measured.map((q, j) => (j === 2 ? NaN : q)), 6)).toBe(measured);
  });
});
