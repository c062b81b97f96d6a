import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { loadArmDescription, type ArmDescription } from "../../src/kinematics/description.js";
import { ArmKinematics } from "../../src/kinematics/kinematics.js";
import { SafetyStage, type SafetyOptions } from "../../src/runtime/safety.js";
import { SafetyReason, type SampleState, type SensorSnapshot } from "../../src/runtime/types.js";

const arm: ArmDescription = loadArmDescription(fileURLToPath(new URL("../../sim/arm/description.json", import.meta.url)));
const PERIOD_NS = 2e6;
const DT = PERIOD_NS * 1e-9;
const HOME = [0, 0, 1.5, 1.0, 0, 0, 0.04];
const V_MAX = [...arm.joints.map((j) => j.maxVelocityRadPerS), arm.gripper.maxVelocityMPerS];
const A_MAX = [...arm.joints.map((j) => j.maxAccelerationRadPerS2), arm.gripper.maxAccelerationMPerS2];

function stage(options: Partial<SafetyOptions> = {}): SafetyStage {
  const s = new SafetyStage({ arm, controlPeriodNs: PERIOD_NS, sensorMaxAgeNs: 50e6, ...options });
  s.holdAt(HOME);
  return s;
}

function sensors(): SensorSnapshot {
  return { timeNs: 0, positions: Float64Array.from(HOME), velocities: new Float64Array(7), wrench: new Float64Array(6), tactile: new Float64Array(0) };
}

/** Runs ticks 1..n at 500 Hz with fresh sensors; proposal(k) gives the target; returns the commands (row per tick). */
function drive(safety: SafetyStage, n: number, proposal: (k: number) => ArrayLike<number>, state: (k: number) => SampleState = () => "ok", first = 1) {
  const snap = sensors();
  const out = new Float64Array(7);
  const commands: Float64Array[] = [];
  const reasons: number[] = [];
  for (let k = first; k < first + n; k++) {
    const now = k * PERIOD_NS;
    snap.timeNs = now;
    reasons.push(safety.apply(now, Float64Array.from(proposal(k)), state(k), snap, out));
    commands.push(Float64Array.from(out));
  }
  return { commands, reasons };
}

/**
 * Largest |first|, |second|, |third| difference rates of dim d over `commands`, which follow `start` (held at
 * rest before them). With restFirst false, only differences inside `commands` count.
 */
function rates(commands: Float64Array[], start: ArrayLike<number>, d: number, restFirst = true) {
  const x = [...(restFirst ? [start[d], start[d], start[d]] : []), ...commands.map((c) => c[d])];
  let v = 0, a = 0, j = 0;
  for (let k = 1; k < x.length; k++) {
    v = Math.max(v, Math.abs(x[k] - x[k - 1]) / DT);
    if (k >= 2) a = Math.max(a, Math.abs(x[k] - 2 * x[k - 1] + x[k - 2]) / DT ** 2);
    if (k >= 3) j = Math.max(j, Math.abs(x[k] - 3 * x[k - 1] + 3 * x[k - 2] - x[k - 3]) / DT ** 3);
  }
  return { v, a, j };
}

const any = (reasons: number[], bit: number) => reasons.some((r) => (r & bit) !== 0);

describe("SafetyStage: limits", () => {
  it("passes a smooth trajectory within every limit untouched", () => {
    const safety = stage({ workspace: { minM: [-0.9, -0.9, -0.05], maxM: [0.9, 0.9, 1.2] } });
    const target = (k: number) => HOME.map((q, d) => q + (d < 6 ? 0.1 : 0.01) * (1 - Math.cos(2 * Math.PI * 0.5 * k * DT)));
    const { commands, reasons } = drive(safety, 2000, target);
    expect(reasons.every((r) => r === 0)).toBe(true);
    commands.forEach((c, i) => expect(Array.from(c)).toEqual(target(i + 1)));
    expect(Object.values(safety.counts()).every((n) => n === 0)).toBe(true);
  });

  it("never commands past a joint or gripper limit, and stops at it", () => {
    const safety = stage();
    const target = [3.5, 0, 1.5, 1.0, 0, 0, 0.3]; // joint 0 limit 2.9, gripper 0.08
    const { commands, reasons } = drive(safety, 3000, () => target);
    for (const c of commands) {
      expect(c[0]).toBeLessThanOrEqual(2.9);
      expect(c[6]).toBeLessThanOrEqual(0.08);
    }
    const last = commands[commands.length - 1];
    expect(last[0]).toBeCloseTo(2.9, 9);
    expect(last[6]).toBeCloseTo(0.08, 9);
    expect(rates(commands.slice(-3), last, 0).v).toBeLessThan(1e-9);
    expect(rates(commands, HOME, 0).a).toBeLessThanOrEqual(A_MAX[0] * 1.05); // braking at the limit stays within limits
    expect(any(reasons, SafetyReason.PositionLimit)).toBe(true);
    expect(safety.counts().PositionLimit).toBeGreaterThan(0);
  });

  it("cannot be pushed past the velocity or acceleration limits, and converges without ringing", () => {
    const safety = stage();
    const target = [1, -1, 0.5, 2, -1.5, 1.2, 0.0];
    const { commands, reasons } = drive(safety, 2500, () => target);
    for (let d = 0; d < 7; d++) {
      const r = rates(commands, HOME, d);
      expect(r.v).toBeLessThanOrEqual(V_MAX[d] * (1 + 1e-9));
      expect(r.a).toBeLessThanOrEqual(A_MAX[d] * (1 + 1e-6));
      expect(commands[commands.length - 1][d]).toBeCloseTo(target[d], 9);
      const overshoot = Math.max(...commands.map((c) => (target[d] - HOME[d]) * (c[d] - target[d])));
      expect(overshoot).toBeLessThan(1e-3 * Math.abs(target[d] - HOME[d]) + 1e-9);
    }
    expect(any(reasons, SafetyReason.VelocityLimit)).toBe(true);
    expect(any(reasons, SafetyReason.AccelerationLimit)).toBe(true);
  });

  it("keeps velocity limits against a target that jumps back and forth every tick", () => {
    const safety = stage();
    const { commands } = drive(safety, 1000, (k) => HOME.map((q, d) => q + (k % 2 === 0 ? 0.5 : -0.5) * (d < 6 ? 1 : 0.05)));
    for (let d = 0; d < 7; d++) {
      expect(rates(commands, HOME, d).v).toBeLessThanOrEqual(V_MAX[d] * (1 + 1e-9));
      expect(rates(commands, HOME, d).a).toBeLessThanOrEqual(A_MAX[d] * (1 + 1e-6));
    }
  });

  it("limits the step per tick when the loop stalls (the elapsed time would allow a big jump)", () => {
    const safety = stage();
    const out = new Float64Array(7);
    const snap = sensors();
    const target = Float64Array.from(HOME.map((q, d) => q + (d < 6 ? 0.5 : 0)));
    snap.timeNs = PERIOD_NS;
    safety.apply(PERIOD_NS, target, "ok", snap, out);
    snap.timeNs = 40 * PERIOD_NS; // 78 ms without a tick
    const reasons = safety.apply(40 * PERIOD_NS, target, "ok", snap, out);
    expect(reasons & SafetyReason.MaxStep).not.toBe(0);
    const before = safety.lastCommand[0] - out[0]; // 0: lastCommand is out now
    expect(before).toBe(0);
    const maxStep = 1.5 * V_MAX[0] * DT;
    expect(out[0] - HOME[0]).toBeLessThanOrEqual(2 * maxStep + 1e-12); // two ticks at most maxStep each
  });

  it("honours a tighter maxStepPerTick", () => {
    const safety = stage({ maxStepPerTick: 0.001 });
    const { commands, reasons } = drive(safety, 500, () => HOME.map((q, d) => (d < 6 ? q + 1 : q)));
    expect(rates(commands, HOME, 1).v * DT).toBeLessThanOrEqual(0.001 + 1e-12);
    expect(any(reasons, SafetyReason.MaxStep)).toBe(true);
  });
});

describe("SafetyStage: holds", () => {
  it("never lets a NaN or Infinity through", () => {
    const safety = stage();
    const bad = [NaN, Infinity, -Infinity];
    const { commands, reasons } = drive(safety, 1500, (k) =>
      HOME.map((q, d) => (k % 7 === 0 && d === k % 7 ? bad[k % 3] : k % 11 === 3 ? NaN : q + 0.2 * Math.sin(k * DT))),
    );
    for (const c of commands) for (const x of c) expect(Number.isFinite(x)).toBe(true);
    expect(any(reasons, SafetyReason.NonFinite)).toBe(true);
    for (let d = 0; d < 7; d++) expect(rates(commands, HOME, d).v).toBeLessThanOrEqual(V_MAX[d] * (1 + 1e-9));
  });

  it("holds exactly where it is when the command is non-finite at rest", () => {
    const safety = stage();
    const { commands, reasons } = drive(safety, 100, () => HOME.map(() => NaN));
    for (const c of commands) expect(Array.from(c)).toEqual(HOME);
    expect(reasons.every((r) => r === SafetyReason.NonFinite)).toBe(true);
    expect(safety.counts().NonFinite).toBe(100);
  });

  it("holds when the sensors are stale (watchdog), including a NaN sensor time", () => {
    const safety = stage();
    const out = new Float64Array(7);
    const snap = sensors();
    const target = Float64Array.from(HOME.map((q) => q + 0.3));
    snap.timeNs = 0;
    for (let k = 1; k <= 100; k++) {
      const reasons = safety.apply(k * PERIOD_NS + 60e6, target, "ok", snap, out); // sensors 60+ ms old
      expect(reasons & SafetyReason.StaleSensors).not.toBe(0);
      expect(Array.from(out)).toEqual(HOME);
    }
    snap.timeNs = NaN;
    expect(safety.apply(200 * PERIOD_NS, target, "ok", snap, out) & SafetyReason.StaleSensors).not.toBe(0);
    snap.timeNs = 201 * PERIOD_NS;
    expect(safety.apply(201 * PERIOD_NS, target, "ok", snap, out) & SafetyReason.StaleSensors).toBe(0);
    expect(out[0]).toBeGreaterThan(HOME[0]); // moves again once the sensors are fresh
  });

  it("stays put while the scheduler has nothing (empty), without counting an intervention", () => {
    const safety = stage();
    const { commands, reasons } = drive(safety, 50, () => HOME.map((q) => q + 1), () => "empty");
    for (const c of commands) expect(Array.from(c)).toEqual(HOME);
    expect(reasons.every((r) => r === 0)).toBe(true);
  });

  for (const [name, accelerationRadPerS2] of [
    ["cruising", 0],
    ["still accelerating", 1.5],
  ] as const) {
    it(`when the policy is late (exhausted) while ${name}: decelerates to a hold within limits, no jerk spike`, () => {
      const safety = stage();
      const v0 = 0.8;
      const path = (k: number) => HOME.map((q, d) => (d === 1 || d === 3 ? q + v0 * k * DT + 0.5 * accelerationRadPerS2 * (k * DT) ** 2 : q));
      const moving = 300;
      const { commands, reasons } = drive(safety, 1000, (k) => path(Math.min(k, moving)), (k) => (k <= moving ? "ok" : "exhausted"));
      const braking = commands.slice(moving - 3);
      for (const d of [1, 3]) {
        const r = rates(braking, HOME, d, false);
        expect(r.a).toBeLessThanOrEqual(A_MAX[d] * (1 + 1e-6));
        expect(r.j).toBeLessThanOrEqual(20 * A_MAX[d] * 1.05); // the brake's jerk budget: no single-tick spike
        const end = commands.length - 1;
        expect(Math.abs(commands[end][d] - commands[end - 1][d])).toBeLessThan(1e-12); // at rest
        expect(commands[end][d]).toBeGreaterThan(path(moving)[d]); // it finished the motion, then stopped
      }
      expect(reasons.slice(moving).every((r) => (r & SafetyReason.PolicyLate) !== 0)).toBe(true);
      expect(safety.counts().PolicyLate).toBe(1000 - moving);
    });
  }
});

describe("SafetyStage: emergency stop", () => {
  it("latches at the position of the moment of the stop; only an explicit reset clears it", () => {
    const safety = stage();
    const target = (k: number) => HOME.map((q) => q + 0.5 * Math.sin(k * DT));
    const before = drive(safety, 200, target);
    const frozen = Array.from(before.commands[before.commands.length - 1]);
    safety.emergencyStop();
    expect(safety.emergencyStopped).toBe(true);
    // Fresh sensors, "ok" targets, time passing (also a long gap), holdAt from a takeover: still latched.
    const during = drive(safety, 1000, target, () => "ok", 201);
    safety.holdAt(HOME);
    const later = drive(safety, 100, target, () => "ok", 100_000);
    for (const c of [...during.commands, ...later.commands]) expect(Array.from(c)).toEqual(frozen);
    expect([...during.reasons, ...later.reasons].every((r) => r === SafetyReason.EmergencyStop)).toBe(true);
    expect(safety.counts().EmergencyStop).toBe(1100);
    safety.resetEmergencyStop();
    expect(safety.emergencyStopped).toBe(false);
    const after = drive(safety, 200, () => HOME, () => "ok", 200_000);
    expect(Array.from(after.commands[0])).not.toEqual(HOME);
    expect(after.reasons.some((r) => (r & SafetyReason.EmergencyStop) !== 0)).toBe(false);
  });

  it("an emergency stop before the first tick holds the measured position", () => {
    const safety = new SafetyStage({ arm, controlPeriodNs: PERIOD_NS, sensorMaxAgeNs: 50e6 });
    safety.emergencyStop();
    const { commands } = drive(safety, 10, () => HOME.map((q) => q + 1));
    for (const c of commands) expect(Array.from(c)).toEqual(HOME); // sensors() reports HOME
  });
});

describe("SafetyStage: workspace", () => {
  it("holds the last safe command when the tool would leave the box, and moves on when the target comes back", () => {
    const kinematics = new ArmKinematics(arm);
    const tool = new Float64Array(3);
    const rot = new Float64Array(9);
    kinematics.forward(HOME, tool, rot);
    const minM: [number, number, number] = [tool[0] - 0.05, tool[1] - 0.05, tool[2] - 0.05];
    const maxM: [number, number, number] = [tool[0] + 0.05, tool[1] + 0.05, tool[2] + 0.05];
    const safety = stage({ workspace: { minM, maxM } });
    const away = HOME.map((q, d) => (d === 1 ? q + 0.4 : q));
    const { commands, reasons } = drive(safety, 1000, () => away);
    for (const c of commands) {
      kinematics.forward(c, tool, rot);
      for (let k = 0; k < 3; k++) {
        expect(tool[k]).toBeGreaterThanOrEqual(minM[k] - 1e-12);
        expect(tool[k]).toBeLessThanOrEqual(maxM[k] + 1e-12);
      }
    }
    expect(any(reasons, SafetyReason.Workspace)).toBe(true);
    const stuck = commands[commands.length - 1];
    expect(stuck[1]).toBeGreaterThan(HOME[1]); // it went as far as the box allows
    const back = drive(safety, 500, () => HOME, () => "ok", 2000);
    expect(back.commands[back.commands.length - 1][1]).toBeCloseTo(HOME[1], 9);
  });
});

describe("SafetyStage: setup", () => {
  it("counts every reason by name", () => {
    expect(Object.keys(stage().counts()).sort()).toEqual(Object.keys(SafetyReason).sort());
  });

  it("rejects bad options and bad hold positions with clear messages", () => {
    expect(() => new SafetyStage({ arm, controlPeriodNs: 0, sensorMaxAgeNs: 1 })).toThrow(/controlPeriodNs > 0/);
    expect(() => new SafetyStage({ arm, controlPeriodNs: 1, sensorMaxAgeNs: 0 })).toThrow(/sensorMaxAgeNs > 0/);
    expect(() => stage({ workspace: { minM: [0, 0, 1], maxM: [1, 1, 0] } })).toThrow(/minM < maxM/);
    expect(() => stage({ maxStepPerTick: -1 })).toThrow(/maxStepPerTick > 0/);
    const badArm = { ...arm, joints: [{ ...arm.joints[0], maxVelocityRadPerS: 0 }] };
    expect(() => new SafetyStage({ arm: badArm, controlPeriodNs: 1, sensorMaxAgeNs: 1 })).toThrow(/joint shoulder_pan/);
    expect(() => stage().holdAt([0, 0, 0])).toThrow(/expected 7 positions, got 3/);
    expect(() => stage().holdAt([0, 0, 0, 0, 0, NaN, 0])).toThrow(/finite positions, got NaN at index 5/);
    expect(() => stage().apply(0, new Float64Array(3), "ok", sensors(), new Float64Array(7))).toThrow(/length 7/);
  });
});

describe("SafetyStage: contact force limit", () => {
  const kinematics = new ArmKinematics(arm);
  const tool = (q: ArrayLike<number>) => {
    const p = new Float64Array(3);
    kinematics.forward(q, p, new Float64Array(9));
    return p;
  };
  /** Joint targets that move the tool by `dzM` vertically from HOME (one damped least-squares solve). */
  const verticalMove = (dzM: number) => {
    const start = tool(HOME);
    const result = kinematics.solve({ positionM: [start[0], start[1], start[2] + dzM] }, HOME.slice(0, 6));
    expect(result.ok).toBe(true);
    return [...result.q, HOME[6]];
  };
  /** Sensors reporting a wrist force that pushes the tool up (world +z), expressed in the tool frame. */
  const pressed = (forceN: number) => {
    const snap = sensors();
    const rot = new Float64Array(9);
    kinematics.forward(HOME, new Float64Array(3), rot);
    for (let c = 0; c < 3; c++) snap.wrench[c] = rot[6 + c] * forceN; // f_tool = R^T * (0, 0, F)
    return snap;
  };

  function run(forceN: number, target: number[], ticks = 200) {
    const safety = stage({ maxContactForceN: 40 });
    const snap = pressed(forceN);
    const out = new Float64Array(7);
    let reasons = 0;
    for (let k = 1; k <= ticks; k++) {
      snap.timeNs = k * PERIOD_NS;
      reasons |= safety.apply(k * PERIOD_NS, Float64Array.from(target), "ok", snap, out);
    }
    return { out, reasons, counts: safety.counts() };
  }

  it("keeps the tool from pressing further into a contact above the limit", () => {
    const down = verticalMove(-0.03);
    const { out, reasons, counts } = run(60, down);
    expect(reasons & SafetyReason.ForceLimit).not.toBe(0);
    expect(counts.ForceLimit).toBeGreaterThan(100);
    // The tool did not move down (at most one tick of motion before the first stop).
    expect(tool(out)[2]).toBeGreaterThan(tool(HOME)[2] - 1e-3);
  });

  it("always lets the tool move away from the contact, and does nothing below the limit", () => {
    // (The joint-space path to a target above dips by a few tens of micrometres on the way, which the limit
    // stops; the tool still leaves the contact.)
    const up = verticalMove(0.03);
    const away = run(60, up);
    expect(tool(away.out)[2]).toBeGreaterThan(tool(HOME)[2] + 0.01);
    const light = run(20, verticalMove(-0.03));
    expect(light.reasons & SafetyReason.ForceLimit).toBe(0);
    expect(tool(light.out)[2]).toBeLessThan(tool(HOME)[2] - 0.01);
  });

  it("refuses a limit that is not a positive force", () => {
    expect(() => stage({ maxContactForceN: 0 })).toThrow(/maxContactForceN > 0/);
  });
});
