import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { loadArmDescription } from "../../src/kinematics/description.js";
import { ArmKinematics } from "../../src/kinematics/kinematics.js";
import { armToolKinematics, ComplianceReactiveStep, PassthroughReactiveStep, type ToolKinematics } from "../../src/runtime/reactive.js";
import type { SensorSnapshot } from "../../src/runtime/types.js";

const arm = loadArmDescription(fileURLToPath(new URL("../../sim/arm/description.json", import.meta.url)));

/** A Cartesian gantry: joints 0..2 are x, y, z of the tool (J = I), the tool frame is turned `yawRad` about z. */
function gantry(yawRad = 0): ToolKinematics {
  const c = Math.cos(yawRad), s = Math.sin(yawRad);
  return {
    jointCount: 3,
    toolRotation: (_q, R) => R.set([c, -s, 0, s, c, 0, 0, 0, 1]),
    positionJacobian: (_q, J) => J.set([1, 0, 0, 0, 1, 0, 0, 0, 1]),
  };
}

function sensors(dim: number, wrench: number[], tactile: number[] = [0, 0]): SensorSnapshot {
  return { timeNs: 0, positions: new Float64Array(dim), velocities: new Float64Array(dim), wrench: Float64Array.from(wrench), tactile: Float64Array.from(tactile) };
}

/** Run `ticks` steps of 2 ms on a fresh target each time; returns the last corrected target. */
function settle(step: ComplianceReactiveStep, s: SensorSnapshot, dim: number, ticks = 2000): Float64Array {
  let target = new Float64Array(dim);
  for (let k = 0; k < ticks; k++) {
    target = new Float64Array(dim);
    step.step(k * 2e6, target, s);
  }
  return target;
}

describe("PassthroughReactiveStep", () => {
  it("leaves the target as it is", () => {
    const t = Float64Array.from([1, 2, 3]);
    new PassthroughReactiveStep().step(0, t, sensors(3, [50, 0, 0, 0, 0, 0]));
    expect([...t]).toEqual([1, 2, 3]);
  });
});

describe("ComplianceReactiveStep", () => {
  const lambda = 0.02;

  it("backs the tool off along the contact force by gain * (|F| - target)", () => {
    const step = new ComplianceReactiveStep({ kinematics: gantry(), targetForceN: 10, gainMPerN: 0.001, dampingM: lambda });
    // 20 N pushing the tool up (+z): 10 N over the target -> 10 mm up, through J = I with DLS damping.
    const target = settle(step, sensors(4, [0, 0, 20, 0, 0, 0]), 4);
    const expected = 0.01 / (1 + lambda * lambda);
    expect(target[2]).toBeCloseTo(expected, 9);
    expect(target[0]).toBeCloseTo(0, 12);
    expect(target[1]).toBeCloseTo(0, 12);
    expect(step.contactForceN).toBeCloseTo(20, 12);
  });

  it("rotates the tool-frame wrench into the base frame", () => {
    const step = new ComplianceReactiveStep({ kinematics: gantry(Math.PI / 2), targetForceN: 0, gainMPerN: 0.001, dampingM: lambda });
    // Tool x axis points along base y: a tool-frame force along x moves the target along base y.
    const target = settle(step, sensors(4, [5, 0, 0, 0, 0, 0]), 4);
    expect(target[0]).toBeCloseTo(0, 9);
    expect(target[1]).toBeCloseTo(0.005 / (1 + lambda * lambda), 9);
  });

  it("follows its set point with a first-order lag, not in one jump", () => {
    const step = new ComplianceReactiveStep({ kinematics: gantry(), targetForceN: 0, gainMPerN: 0.001, filterTimeConstantS: 0.03 });
    const s = sensors(4, [0, 0, 10, 0, 0, 0]);
    const t = new Float64Array(4);
    step.step(0, t, s); // first step: no elapsed time, no correction yet
    expect(t[2]).toBe(0);
    step.step(2e6, t.fill(0), s);
    const alpha = 0.002 / (0.03 + 0.002);
    expect(step.toolOffsetM[2]).toBeCloseTo(alpha * 0.01, 12);
  });

  it("only backs off in limit mode, and leans in below the target in regulate mode", () => {
    const s = sensors(4, [0, 0, 4, 0, 0, 0]); // in contact (4 N > 1 N threshold), below the 10 N target
    const limit = settle(new ComplianceReactiveStep({ kinematics: gantry(), mode: "limit", targetForceN: 10, gainMPerN: 0.001 }), s, 4);
    expect(limit[2]).toBeCloseTo(0, 12);
    const regulate = settle(new ComplianceReactiveStep({ kinematics: gantry(), mode: "regulate", targetForceN: 10, gainMPerN: 0.001, dampingM: lambda }), s, 4);
    expect(regulate[2]).toBeCloseTo(-0.006 / (1 + lambda * lambda), 9); // against the force: 6 N short -> 6 mm in
  });

  it("relaxes to no correction when contact is lost", () => {
    const step = new ComplianceReactiveStep({ kinematics: gantry(), targetForceN: 0, gainMPerN: 0.001 });
    settle(step, sensors(4, [0, 0, 15, 0, 0, 0]), 4, 500);
    expect(step.toolOffsetM[2]).toBeGreaterThan(0.01);
    const t = new Float64Array(4);
    const free = sensors(4, [0, 0, 0.2, 0, 0, 0]); // below the contact threshold
    for (let k = 500; k < 1500; k++) step.step(k * 2e6, t.fill(0), free);
    expect(Math.abs(step.toolOffsetM[2])).toBeLessThan(1e-9);
    expect(t[2]).toBe(0);
  });

  it("bounds every correction, however large the force", () => {
    const step = new ComplianceReactiveStep({ kinematics: gantry(), targetForceN: 0, gainMPerN: 0.01, maxOffsetM: 0.02, maxJointOffsetRad: 0.015 });
    const target = settle(step, sensors(4, [1e6, 1e6, 1e6, 0, 0, 0], [1e6, 1e6]), 4);
    const offset = step.toolOffsetM;
    expect(Math.hypot(offset[0], offset[1], offset[2])).toBeLessThanOrEqual(0.02 + 1e-12);
    for (let i = 0; i < 3; i++) expect(Math.abs(target[i])).toBeLessThanOrEqual(0.015 + 1e-12);
    expect(target[3]).toBeLessThanOrEqual(0.01 + 1e-12); // gripper: maxGripOffsetM default
  });

  it("ignores a non-finite wrench instead of steering with it", () => {
    const step = new ComplianceReactiveStep({ kinematics: gantry(), targetForceN: 0 });
    const target = settle(step, sensors(4, [NaN, 0, 5, 0, 0, 0]), 4, 100);
    expect([...target]).toEqual([0, 0, 0, 0]);
  });

  it("sums the taxels and opens the gripper a little above the grip force limit", () => {
    const step = new ComplianceReactiveStep({ kinematics: gantry(), gripForceLimitN: 30, gripGainMPerN: 0.0005, maxGripOffsetM: 0.01 });
    const target = settle(step, sensors(4, [0, 0, 0, 0, 0, 0], [25, 15, -3]), 4); // negative taxel noise ignored
    expect(step.tactileTotalForceN).toBeCloseTo(40, 12);
    expect(target[3]).toBeCloseTo(0.005, 9); // (40 - 30) * 0.5 mm/N
    const below = settle(new ComplianceReactiveStep({ kinematics: gantry(), gripForceLimitN: 30 }), sensors(4, [0, 0, 0, 0, 0, 0], [10, 10]), 4);
    expect(below[3]).toBe(0);
  });

  it("rejects bad options with a one-line message", () => {
    expect(() => new ComplianceReactiveStep({ kinematics: gantry(), gainMPerN: -1 })).toThrow(/expected gainMPerN to be a non-negative finite number, got -1/);
    expect(() => new ComplianceReactiveStep({ kinematics: gantry(), mode: "push" as "limit" })).toThrow(/expected mode "regulate" or "limit"/);
  });

  it("on the real arm, the joint correction moves the tool by the commanded offset (damped least squares)", () => {
    const kin = new ArmKinematics(arm);
    const q = Float64Array.from([0.2, 0.4, 0.9, 1.6, 0.1, 0.3, 0.04]); // a well-conditioned pose, gripper last
    const R = new Float64Array(9);
    const p0 = new Float64Array(3);
    kin.forward(q, p0, R);
    // 12 N along base +z, expressed in the tool frame: f_tool = R^T f_base.
    const fBase = [0, 0, 12];
    const fTool = [0, 1, 2].map((c) => R[c] * fBase[0] + R[3 + c] * fBase[1] + R[6 + c] * fBase[2]);
    const step = new ComplianceReactiveStep({ kinematics: armToolKinematics(arm), targetForceN: 10, gainMPerN: 0.001, dampingM: 0.001 });
    const s = sensors(7, [...fTool, 0, 0, 0]);
    s.positions.set(q);
    let target = new Float64Array(7);
    for (let k = 0; k < 2000; k++) {
      target = Float64Array.from(q);
      step.step(k * 2e6, target, s);
    }
    const p1 = new Float64Array(3);
    kin.forward(target, p1, R);
    // Expect 2 mm up (2 N over target * 1 mm/N), to first order.
    expect(p1[2] - p0[2]).toBeCloseTo(0.002, 4);
    expect(Math.abs(p1[0] - p0[0])).toBeLessThan(5e-5);
    expect(Math.abs(p1[1] - p0[1])).toBeLessThan(5e-5);
    expect(target[6]).toBe(q[6]); // gripper untouched: no taxel force
  });
});
