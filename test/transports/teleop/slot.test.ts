// The teleop slot of the shared state, and the rotation helpers of pose teleop.
import { describe, expect, it } from "vitest";
import { SharedRuntimeState } from "../../../src/runtime/sharedState.js";
import { mapHandToTool, matrixToQuaternion, mul3, quaternionToMatrix, transpose3 } from "../../../src/transports/teleop/poseMath.js";
import { DIM, makeState } from "./helpers.js";

describe("teleop slot", () => {
  it("round-trips mode, target and velocity; the version changes with every write", () => {
    const state = makeState();
    const into = state.createTeleopTarget();
    expect(state.readTeleop(into)).toBe(0); // never written: observe
    const t = state.createTeleopTarget();
    t.mode = "takeover";
    t.modeSequence = 3;
    t.hasTarget = true;
    t.targetSequence = 17;
    t.targetTimeNs = 5e9;
    t.watchdogNs = 250e6;
    t.velocityUntilNs = 5.1e9;
    t.positions.set([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.07]);
    t.velocities.set([1, 0, 0, 0, 0, 0, -0.01]);
    state.writeTeleop(t);
    const v1 = state.teleopVersion();
    expect(state.readTeleop(into)).toBe(v1);
    expect({ ...into, positions: Array.from(into.positions), velocities: Array.from(into.velocities) }).toEqual({
      ...t,
      positions: Array.from(t.positions),
      velocities: Array.from(t.velocities),
    });
    t.mode = "observe";
    state.writeTeleop(t);
    expect(state.teleopVersion()).not.toBe(v1);
    state.readTeleop(into);
    expect(into.mode).toBe("observe");
    // The worker side attaches to the same memory and sees the same slot.
    const other = SharedRuntimeState.attach(state.buffers);
    const seen = other.createTeleopTarget();
    other.readTeleop(seen);
    expect(seen.targetSequence).toBe(17);
  });

  it("refuses a wrong length or a non-finite target, and a missing teleop buffer on attach", () => {
    const state = makeState();
    const t = state.createTeleopTarget();
    t.hasTarget = true;
    t.positions[2] = NaN;
    expect(() => state.writeTeleop(t)).toThrow(/expected a finite teleop target, got position NaN \/ velocity 0 at index 2/);
    t.positions = new Float64Array(3);
    expect(() => state.writeTeleop(t)).toThrow(new RegExp(`expected a teleop target with ${DIM} positions and velocities, got 3 and ${DIM}`));
    expect(() => SharedRuntimeState.attach({ ...state.buffers, teleop: new SharedArrayBuffer(8) })).toThrow(/buffers\.teleop to be a SharedArrayBuffer of \d+ bytes, got 8 bytes/);
  });

  it("carries the command's source and teleop sequence in the command slot", () => {
    const state = makeState();
    const r = state.createCommandRecord();
    r.source = "teleop-hold";
    r.teleopSequence = 9;
    state.writeCommand(r);
    const back = state.createCommandRecord();
    state.readCommand(back);
    expect(back.source).toBe("teleop-hold");
    expect(back.teleopSequence).toBe(9);
  });
});

describe("pose math", () => {
  it("converts quaternions and matrices both ways", () => {
    for (const q of [
      [1, 0, 0, 0],
      [0, 1, 0, 0],
      [0.5, 0.5, 0.5, 0.5],
      [0.1, -0.7, 0.2, 0.677],
      [0.02, 0.01, -0.03, 0.9993],
    ]) {
      const n = Math.hypot(...q);
      const unit = q.map((x) => x / n);
      const m = quaternionToMatrix(unit[0], unit[1], unit[2], unit[3]);
      const back = matrixToQuaternion(m);
      const sign = Math.sign(unit[0]) || 1;
      for (let i = 0; i < 4; i++) expect(back[i]).toBeCloseTo(sign * unit[i], 12);
      const identity = mul3(m, transpose3(m));
      for (let i = 0; i < 9; i++) expect(identity[i]).toBeCloseTo(i % 4 === 0 ? 1 : 0, 12);
    }
    expect(() => quaternionToMatrix(0, 0, 0, 0)).toThrow(/non-zero quaternion/);
  });

  it("maps a hand motion with the TactAR formula", () => {
    const robotRotation = quaternionToMatrix(0, 1, 0, 0); // tool pointing down
    const handRotation = quaternionToMatrix(Math.cos(0.2), Math.sin(0.2), 0, 0);
    const anchor = { handPositionM: [1, 2, 3] as [number, number, number], handRotation, robotPositionM: [0.4, 0, 0.3] as [number, number, number], robotRotation };
    const identity = Float64Array.from([1, 0, 0, 0, 1, 0, 0, 0, 1]);
    const same = mapHandToTool(anchor, [1, 2, 3], handRotation, 2, identity);
    expect(same.positionM).toEqual([0.4, 0, 0.3]);
    for (let i = 0; i < 9; i++) expect(same.rotation[i]).toBeCloseTo(robotRotation[i], 12);
    const moved = mapHandToTool(anchor, [1.1, 2, 2.95], quaternionToMatrix(Math.cos(0.2), Math.sin(0.2), 0, 0), 2, identity);
    expect(moved.positionM[0]).toBeCloseTo(0.6, 12);
    expect(moved.positionM[2]).toBeCloseTo(0.2, 12);
  });
});
