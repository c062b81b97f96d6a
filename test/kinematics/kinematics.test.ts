import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { multiply, rotationMatrix } from "mathjs";
import { describe, expect, it } from "vitest";
import type { ArmDescription } from "../../src/kinematics/description.js";
import { ArmKinematics, rotationError, rpyToMatrix } from "../../src/kinematics/kinematics.js";

const arm = JSON.parse(readFileSync(fileURLToPath(new URL("../../sim/arm/description.json", import.meta.url)), "utf8")) as ArmDescription;
const kinematics = new ArmKinematics(arm);
const n = arm.joints.length;

/** A small deterministic PRNG for random joint configurations. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

function randomQ(random: () => number, shrink = 0.8): Float64Array {
  return Float64Array.from(arm.joints, (j) => {
    const mid = (j.lowerRad + j.upperRad) / 2;
    return mid + (random() - 0.5) * shrink * (j.upperRad - j.lowerRad);
  });
}

type M4 = number[][];
const translation = (x: number, y: number, z: number): M4 => [[1, 0, 0, x], [0, 1, 0, y], [0, 0, 1, z], [0, 0, 0, 1]];
const rotation4 = (R: number[][]): M4 => [[...R[0], 0], [...R[1], 0], [...R[2], 0], [0, 0, 0, 1]];
const rot = (angle: number, axis: number[]) => rotationMatrix(angle, axis) as unknown as number[][];
const rpy = (r: number, p: number, y: number): M4 => rotation4(multiply(multiply(rot(y, [0, 0, 1]), rot(p, [0, 1, 0])), rot(r, [1, 0, 0])) as number[][]);

/** Forward kinematics the slow, independent way: a product of 4x4 homogeneous transforms in mathjs. */
function referenceForward(q: ArrayLike<number>): { position: number[]; rotation: number[] } {
  let T: M4 = translation(...arm.baseXyzM);
  arm.joints.forEach((j, i) => {
    T = multiply(T, translation(...j.originXyzM)) as M4;
    T = multiply(T, rpy(...j.originRpyRad)) as M4;
    T = multiply(T, rotation4(rot(q[i], j.axis))) as M4;
  });
  T = multiply(multiply(T, translation(...arm.toolXyzM)), rpy(...arm.toolRpyRad)) as M4;
  return { position: [T[0][3], T[1][3], T[2][3]], rotation: [0, 1, 2].flatMap((r) => T[r].slice(0, 3)) };
}

function pose(q: ArrayLike<number>) {
  const p = new Float64Array(3);
  const R = new Float64Array(9);
  kinematics.forward(q, p, R);
  return { p, R };
}

describe("ArmKinematics.forward", () => {
  it("at zero puts the tool straight above the base, unrotated (all offsets of this arm are along z)", () => {
    const { p, R } = pose(new Float64Array(n));
    const height = arm.baseXyzM[2] + arm.joints.reduce((z, j) => z + j.originXyzM[2], 0) + arm.toolXyzM[2];
    expect(p[0]).toBeCloseTo(0, 12);
    expect(p[1]).toBeCloseTo(0, 12);
    expect(p[2]).toBeCloseTo(height, 12);
    expect(Array.from(R)).toEqual([1, 0, 0, 0, 1, 0, 0, 0, 1]);
  });

  it("agrees with a product of homogeneous transforms for random configurations", () => {
    const random = prng(7);
    for (let k = 0; k < 25; k++) {
      const q = randomQ(random, 1);
      const { p, R } = pose(q);
      const ref = referenceForward(q);
      for (let i = 0; i < 3; i++) expect(p[i]).toBeCloseTo(ref.position[i], 12);
      for (let i = 0; i < 9; i++) expect(R[i]).toBeCloseTo(ref.rotation[i], 12);
    }
  });

  it("rotates about the joint axes: the first joint turns the whole arm about z", () => {
    const q = new Float64Array(n);
    q[1] = 0.7; // lean forward so the tool is off the z axis
    const a = pose(q).p;
    q[0] = Math.PI / 2;
    const b = pose(q).p;
    expect(b[0]).toBeCloseTo(-a[1], 12);
    expect(b[1]).toBeCloseTo(a[0], 12);
    expect(b[2]).toBeCloseTo(a[2], 12);
  });

  it("rejects too few joint positions", () => {
    expect(() => kinematics.forward([0, 0], new Float64Array(3), new Float64Array(9))).toThrow(/expected 6 joint positions, got 2/);
  });
});

describe("ArmKinematics.jacobian", () => {
  it("matches finite differences of the tool pose (linear and angular rows)", () => {
    const random = prng(11);
    const J = new Float64Array(6 * n);
    const h = 1e-6;
    const w = new Float64Array(3);
    for (let k = 0; k < 10; k++) {
      const q = randomQ(random);
      kinematics.jacobian(q, J);
      for (let i = 0; i < n; i++) {
        const plus = Float64Array.from(q);
        const minus = Float64Array.from(q);
        plus[i] += h;
        minus[i] -= h;
        const a = pose(plus);
        const b = pose(minus);
        for (let r = 0; r < 3; r++) expect(J[r * n + i]).toBeCloseTo((a.p[r] - b.p[r]) / (2 * h), 6);
        rotationError(a.R, b.R, w); // rotation from minus to plus, in the world frame
        for (let r = 0; r < 3; r++) expect(J[(3 + r) * n + i]).toBeCloseTo(w[r] / (2 * h), 6);
      }
    }
  });
});

describe("rotationError", () => {
  it("recovers axis * angle, also at and near a half turn", () => {
    const out = new Float64Array(3);
    const identity = Float64Array.of(1, 0, 0, 0, 1, 0, 0, 0, 1);
    const axis = [1, 2, -2].map((x) => x / 3);
    for (const angle of [1e-9, 0.3, 2.5, Math.PI - 1e-6, Math.PI]) {
      const R = (rotationMatrix(angle, axis) as unknown as number[][]).flat();
      const got = rotationError(R, identity, out);
      expect(got).toBeCloseTo(angle, 6);
      const sign = angle === Math.PI ? Math.sign(out[0]) : 1; // at exactly pi both signs are the same rotation
      for (let k = 0; k < 3; k++) expect(sign * out[k]).toBeCloseTo(angle * axis[k], 5);
    }
  });
});

describe("ArmKinematics.solve", () => {
  const limitsOk = (q: Float64Array) => arm.joints.every((j, i) => q[i] >= j.lowerRad && q[i] <= j.upperRad);

  it("reaches reachable full poses from a perturbed seed, within the joint limits", () => {
    const random = prng(3);
    let solved = 0;
    for (let k = 0; k < 20; k++) {
      const truth = randomQ(random, 0.6);
      const target = pose(truth);
      const seed = truth.map((x) => x + (random() - 0.5) * 0.6);
      const result = kinematics.solve({ positionM: target.p, rotation: target.R }, seed);
      expect(limitsOk(result.q)).toBe(true);
      if (!result.ok) continue;
      solved++;
      const reached = pose(result.q);
      const w = new Float64Array(3);
      expect(Math.hypot(reached.p[0] - target.p[0], reached.p[1] - target.p[1], reached.p[2] - target.p[2])).toBeLessThanOrEqual(1e-4);
      expect(rotationError(target.R, reached.R, w)).toBeLessThanOrEqual(1e-3);
      expect(result.positionErrorM).toBeLessThanOrEqual(1e-4);
    }
    expect(solved).toBeGreaterThanOrEqual(19);
  });

  it("solves for position only when no rotation is given", () => {
    const q = randomQ(prng(5), 0.5);
    const target = pose(q).p;
    const result = kinematics.solve({ positionM: target }, new Float64Array(n).fill(0.1));
    expect(result.ok).toBe(true);
    expect(result.rotationErrorRad).toBe(0);
    const reached = pose(result.q).p;
    for (let k = 0; k < 3; k++) expect(reached[k]).toBeCloseTo(target[k], 4);
  });

  it("with a seed weight, stays near its seed where the arm could hold the pose many ways", () => {
    // A pressing pose with wrist_2 at 0: wrist_1 and wrist_3 turn about parallel axes (a self-motion), and roll about
    // the world x axis is out of reach right there. Asked for 6 mm along y and 3 mrad of that roll, the plain solver
    // swings the wrist by a third of a radian or more; weighted toward its seed it moves a few hundredths.
    const seed = Float64Array.from([0.05, 0.5, 1.5, 1.4, 0, -0.3]);
    const start = pose(seed);
    const roll = new Float64Array(9);
    rpyToMatrix(0.003, 0, 0, roll);
    const R = Float64Array.from({ length: 9 }, (_, k) => {
      const r = Math.floor(k / 3), c = k % 3;
      return roll[r * 3] * start.R[c] + roll[r * 3 + 1] * start.R[3 + c] + roll[r * 3 + 2] * start.R[6 + c];
    });
    const target = { positionM: [start.p[0], start.p[1] + 0.006, start.p[2]], rotation: R };
    const largestMove = (q: ArrayLike<number>) => Math.max(...Array.from(seed, (s, j) => Math.abs(q[j] - s)));
    const options = { maxIterations: 200, positionTolM: 1e-4, rotationTolRad: 1e-3 };
    expect(largestMove(kinematics.solve(target, seed, options).q)).toBeGreaterThan(0.3);
    const held = kinematics.solve(target, seed, { ...options, seedWeight: 0.02 });
    expect(largestMove(held.q)).toBeLessThan(0.05);
    expect(held.positionErrorM).toBeLessThan(1e-3);
    expect(held.rotationErrorRad).toBeLessThan(1e-2);
  });

  it("with a seed weight, still reaches reachable poses in well-conditioned configurations", () => {
    const random = prng(11);
    for (let k = 0; k < 10; k++) {
      const seed = randomQ(random, 0.5);
      const goal = seed.map((x) => x + (random() - 0.5) * 0.1);
      const target = pose(goal);
      const result = kinematics.solve({ positionM: target.p, rotation: target.R }, seed, { maxIterations: 200, seedWeight: 0.02 });
      expect(result.positionErrorM).toBeLessThan(1e-3);
      expect(result.rotationErrorRad).toBeLessThan(1e-2);
    }
  });

  it("reports failure for an unreachable target and keeps the joints in their limits", () => {
    const result = kinematics.solve({ positionM: [3, 0, 0.5] }, new Float64Array(n), { maxIterations: 50 });
    expect(result.ok).toBe(false);
    expect(result.positionErrorM).toBeGreaterThan(1.5);
    expect(result.iterations).toBeGreaterThan(0);
    expect(limitsOk(result.q)).toBe(true);
  });

  it("rejects malformed targets, seeds and options with clear messages", () => {
    expect(() => kinematics.solve({ positionM: [0, NaN, 0] }, new Float64Array(n))).toThrow(/finite target.positionM, got NaN at index 1/);
    expect(() => kinematics.solve({ positionM: [0, 0, 1], rotation: [1, 0, 0] }, new Float64Array(n))).toThrow(/rotation .* with 9 numbers/);
    expect(() => kinematics.solve({ positionM: [0, 0, 1] }, [0, 0])).toThrow(/IK seed with 6 numbers, got length 2/);
    expect(() => kinematics.solve({ positionM: [0, 0, 1] }, new Float64Array(n), { damping: 0 })).toThrow(/positive IK options/);
    expect(() => kinematics.solve({ positionM: [0, 0, 1] }, new Float64Array(n), { seedWeight: -1 })).toThrow(/seedWeight -1/);
  });
});

describe("rpyToMatrix and construction", () => {
  it("builds R = Rz(yaw) Ry(pitch) Rx(roll)", () => {
    const R = new Float64Array(9);
    rpyToMatrix(0.3, -0.5, 1.1, R);
    const ref = rpy(0.3, -0.5, 1.1);
    for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) expect(R[r * 3 + c]).toBeCloseTo(ref[r][c], 14);
  });

  it("rejects descriptions it cannot use", () => {
    expect(() => new ArmKinematics({ ...arm, joints: [] })).toThrow(/non-empty joints/);
    expect(() => new ArmKinematics({ ...arm, joints: [{ ...arm.joints[0], axis: [0, 0, 0] }] })).toThrow(/zero rotation axis/);
    expect(() => new ArmKinematics({ ...arm, joints: [{ ...arm.joints[0], lowerRad: 1, upperRad: -1 }] })).toThrow(/lowerRad < upperRad/);
  });
});
