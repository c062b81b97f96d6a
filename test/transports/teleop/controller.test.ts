import { describe, expect, it } from "vitest";
import { ArmKinematics } from "../../../src/kinematics/kinematics.js";
import { TeleopController, type TeleopControllerOptions } from "../../../src/transports/teleop/controller.js";
import { matrixToQuaternion, quaternionToMatrix } from "../../../src/transports/teleop/poseMath.js";
import type { InterventionEvent, TeleopReply } from "../../../src/transports/teleop/protocol.js";
import { arm, DIM, makeState, READY, writeSensors } from "./helpers.js";

const MS = 1e6;
const kin = new ArmKinematics(arm);
const alice = { id: "a1", name: "alice" };
const bob = { id: "b2", name: "bob" };

function setup(options: Partial<TeleopControllerOptions> = {}) {
  const clock = { now: 1e9 };
  const state = makeState();
  writeSensors(state, READY);
  const controller = new TeleopController({ state, arm, nowNs: () => clock.now, ...options });
  const events: InterventionEvent[] = [];
  controller.onIntervention((e) => events.push(e));
  const slot = state.createTeleopTarget();
  const read = () => (state.readTeleop(slot), slot);
  return { clock, state, controller, events, read };
}

function tool(q: ArrayLike<number>) {
  const p = new Float64Array(3);
  const r = new Float64Array(9);
  kin.forward(q, p, r);
  return { p, r };
}

const error = (reply: TeleopReply | null) => (reply?.type === "error" ? reply : null);

describe("TeleopController", () => {
  it("takeover -> motion -> hand-back writes the slot and emits timed events", () => {
    const { clock, controller, events, read } = setup();
    expect(error(controller.handle(alice, { type: "joints", positions: [0, 0, 0, 0, 0, 0] }))?.code).toBe("not-in-takeover");
    expect(controller.handle(alice, { type: "takeover", seq: 1 })).toMatchObject({ type: "ack", seq: 1, mode: "takeover", owner: "alice" });
    const afterTakeover = { ...read(), positions: undefined };
    expect(afterTakeover).toMatchObject({ mode: "takeover", modeSequence: 1, hasTarget: false });
    clock.now += 10 * MS;
    expect(controller.handle(alice, { type: "joints", positions: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6], gripperM: 0.02 })).toBeNull();
    const s = read();
    expect(s.hasTarget).toBe(true);
    expect(s.targetTimeNs).toBe(clock.now);
    expect(s.watchdogNs).toBe(250 * MS);
    expect(Array.from(s.positions)).toEqual([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.02]);
    clock.now += 10 * MS;
    controller.handle(alice, { type: "hand-back" });
    expect({ ...read(), positions: undefined }).toMatchObject({ mode: "observe", modeSequence: 2, hasTarget: false });
    expect(events.map((e) => [e.kind, e.client, e.timeNs])).toEqual([
      ["takeover", "alice", 1e9],
      ["hand-back", "alice", 1e9 + 20 * MS],
    ]);
  });

  it("refuses motion from a client that does not hold the takeover, and a second takeover while the owner is active", () => {
    const { clock, controller, events } = setup();
    controller.handle(alice, { type: "takeover" });
    controller.handle(alice, { type: "jog", joint: 0, delta: 0.1 });
    expect(error(controller.handle(bob, { type: "jog", joint: 0, delta: 0.1 }))).toMatchObject({ code: "not-owner", reason: "jog: alice holds the takeover" });
    expect(error(controller.handle(bob, { type: "takeover", seq: 5 }))).toMatchObject({ code: "busy", seq: 5 });
    // Once alice is silent past the watchdog, bob may take over.
    clock.now += 300 * MS;
    expect(controller.handle(bob, { type: "takeover" })).toMatchObject({ type: "ack", owner: "bob" });
    expect(events.at(-1)).toMatchObject({ kind: "takeover", client: "bob", reason: "from alice, silent for 300 ms" });
    expect(controller.stats().rejected).toMatchObject({ "not-owner": 1, busy: 1 });
  });

  it("maps hand poses TactAR-style: engaging never jumps, the tool follows the hand's motion and rotation", () => {
    const { clock, controller, read } = setup({ poseScale: 0.5 });
    const start = tool(READY);
    controller.handle(alice, { type: "takeover" });
    const hand0: [number, number, number] = [0.3, 1.4, -0.2];
    const q0: [number, number, number, number] = [0.9238795, 0, 0.3826834, 0]; // 45 degrees about y: any start works
    controller.handle(alice, { type: "pose", position: hand0, quaternion: q0, trigger: 0 });
    const engaged = read();
    for (let i = 0; i < 6; i++) expect(engaged.positions[i]).toBeCloseTo(READY[i], 3);
    expect(engaged.positions[6]).toBeCloseTo(arm.gripper.upperM, 9); // trigger 0: open
    // Move the hand 10 cm along x and turn it 0.2 rad about z (in the operator frame, here = robot frame).
    clock.now += 33 * MS;
    const turn = quaternionToMatrix(Math.cos(0.1), 0, 0, Math.sin(0.1));
    const hand = new Float64Array(9);
    const r0 = quaternionToMatrix(...q0);
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) hand[i * 3 + j] = turn[i * 3] * r0[j] + turn[i * 3 + 1] * r0[3 + j] + turn[i * 3 + 2] * r0[6 + j];
    controller.handle(alice, { type: "pose", position: [hand0[0] + 0.1, hand0[1], hand0[2]], quaternion: matrixToQuaternion(hand), trigger: 1 });
    const moved = read();
    const reached = tool(moved.positions);
    expect(reached.p[0] - start.p[0]).toBeCloseTo(0.05, 3); // scale 0.5
    expect(reached.p[1] - start.p[1]).toBeCloseTo(0, 3);
    expect(reached.p[2] - start.p[2]).toBeCloseTo(0, 3);
    // Tool rotation = Rz(0.2) * R_robot0.
    const expected = new Float64Array(9);
    const rz = quaternionToMatrix(Math.cos(0.1), 0, 0, Math.sin(0.1));
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) expected[i * 3 + j] = rz[i * 3] * start.r[j] + rz[i * 3 + 1] * start.r[3 + j] + rz[i * 3 + 2] * start.r[6 + j];
    for (let k = 0; k < 9; k++) expect(reached.r[k]).toBeCloseTo(expected[k], 2);
    expect(moved.positions[6]).toBeCloseTo(arm.gripper.lowerM, 9); // trigger 1: closed
  });

  it("applies the operator frame rotation to hand motion", () => {
    const { controller, read } = setup({ operatorFrameRpyRad: [0, 0, Math.PI / 2] });
    const start = tool(READY);
    controller.handle(alice, { type: "takeover" });
    controller.handle(alice, { type: "pose", position: [0, 0, 0], quaternion: [1, 0, 0, 0] });
    controller.handle(alice, { type: "pose", position: [0.05, 0, 0], quaternion: [1, 0, 0, 0] });
    const p = tool(read().positions).p;
    // Operator +x is robot +y under a 90 degree yaw.
    expect(p[0] - start.p[0]).toBeCloseTo(0, 3);
    expect(p[1] - start.p[1]).toBeCloseTo(0.05, 3);
  });

  it("rejects an unreachable pose and keeps the last target", () => {
    const { controller, read } = setup();
    controller.handle(alice, { type: "takeover" });
    controller.handle(alice, { type: "pose", position: [0, 0, 0], quaternion: [1, 0, 0, 0] });
    const before = Array.from(read().positions);
    const reply = error(controller.handle(alice, { type: "pose", seq: 3, position: [5, 0, 0], quaternion: [1, 0, 0, 0] }));
    expect(reply).toMatchObject({ code: "unreachable", seq: 3 });
    expect(reply!.reason).toMatch(/out of reach \(closest: \d+\.\d mm/);
    expect(Array.from(read().positions)).toEqual(before);
  });

  it("jogs from the current target, clamped to the joint limits; joints need the arm's joint count", () => {
    const { controller, read } = setup();
    controller.handle(alice, { type: "takeover" });
    controller.handle(alice, { type: "jog", joint: 1, delta: 0.1 });
    controller.handle(alice, { type: "jog", joint: 1, delta: 0.1 });
    expect(read().positions[1]).toBeCloseTo(READY[1] + 0.2, 12);
    expect(read().positions[0]).toBe(READY[0]);
    controller.handle(alice, { type: "jog", joint: 6, delta: 0.5 });
    expect(read().positions[6]).toBe(arm.gripper.upperM);
    expect(error(controller.handle(alice, { type: "jog", joint: 7, delta: 0.1 }))?.code).toBe("shape");
    expect(error(controller.handle(alice, { type: "joints", positions: [0, 0, 0] }))?.reason).toMatch(/expected 6 positions \(shoulder_pan, .*\), got 3/);
  });

  it("turns a twist into joint velocities that move the tool along it, for durationMs", () => {
    const { clock, controller, read } = setup();
    controller.handle(alice, { type: "takeover" });
    controller.handle(alice, { type: "twist", linear: [0, 0, 0.05], angular: [0, 0, 0], durationMs: 80 });
    const s = read();
    expect(s.velocityUntilNs - s.targetTimeNs).toBe(80 * MS);
    const dt = 0.01;
    const q1 = Float64Array.from(s.positions, (p, i) => p + s.velocities[i] * dt);
    const a = tool(s.positions).p;
    const b = tool(q1).p;
    expect((b[2] - a[2]) / dt).toBeCloseTo(0.05, 3);
    expect(Math.abs(b[0] - a[0]) / dt).toBeLessThan(1e-3);
    // A jog 40 ms later starts from where the moving target is then.
    clock.now += 40 * MS;
    controller.handle(alice, { type: "jog", joint: 0, delta: 0 });
    const after = read();
    for (let i = 1; i < DIM; i++) expect(after.positions[i]).toBeCloseTo(s.positions[i] + s.velocities[i] * 0.04, 12);
    expect(after.velocities.every((v) => v === 0)).toBe(true);
  });

  it("reports a watchdog hold, re-anchors the pose after it, and hands back after the takeover timeout", () => {
    const { clock, controller, events, read, state } = setup({ watchdogMs: 100, takeoverTimeoutMs: 1000 });
    controller.handle(alice, { type: "takeover" });
    controller.handle(alice, { type: "pose", position: [0, 0, 0], quaternion: [1, 0, 0, 0] });
    controller.handle(alice, { type: "pose", position: [0.03, 0, 0], quaternion: [1, 0, 0, 0] });
    clock.now += 150 * MS;
    controller.update();
    expect(events.at(-1)).toMatchObject({ kind: "watchdog-hold", client: "alice" });
    expect(read().mode).toBe("takeover");
    // The arm held somewhere (say it stopped at READY): the next pose re-anchors there instead of jumping back.
    const rec = state.createCommandRecord();
    rec.command.set(READY);
    state.writeCommand(rec);
    controller.handle(alice, { type: "pose", position: [0.5, 0.5, 0.5], quaternion: [1, 0, 0, 0] });
    for (let i = 0; i < 6; i++) expect(read().positions[i]).toBeCloseTo(READY[i], 3);
    expect(events.at(-1)!.kind).toBe("watchdog-resume");
    clock.now += 1001 * MS;
    controller.update();
    expect(events.at(-1)).toMatchObject({ kind: "hand-back", client: "runtime", reason: "timeout: no message from alice for 1000 ms" });
    expect(read().mode).toBe("observe");
  });

  it("gives a pose stream its velocity (client time stamps first), so the fast loop follows a path, not a staircase", () => {
    const { clock, controller, read } = setup();
    controller.handle(alice, { type: "takeover" });
    controller.handle(alice, { type: "pose", timeS: 10, position: [0, 0, 0], quaternion: [1, 0, 0, 0] });
    const first = Float64Array.from(read().positions);
    expect(read().velocities.every((v) => v === 0)).toBe(true);
    clock.now += 40 * MS; // arrival jitter: the client's own stamps say 33 ms
    controller.handle(alice, { type: "pose", timeS: 10.033, position: [0.002, 0, 0.001], quaternion: [1, 0, 0, 0] });
    const s = read();
    for (let i = 0; i < 6; i++) expect(s.velocities[i]).toBeCloseTo((s.positions[i] - first[i]) / 0.033, 9);
    expect(s.velocities.some((v) => Math.abs(v) > 0.01)).toBe(true);
    expect(s.velocityUntilNs - s.targetTimeNs).toBeCloseTo((0.033 + 0.05) * 1e9, 0);
    // A gap longer than a stream's (150 ms) is a new start: no velocity.
    clock.now += 300 * MS;
    controller.handle(alice, { type: "pose", timeS: 10.4, position: [0.003, 0, 0.001], quaternion: [1, 0, 0, 0] });
    expect(read().velocities.every((v) => v === 0)).toBe(true);
  });

  it("anchors the first pose of a takeover only once the arm has come to rest", () => {
    const { clock, controller, read, state } = setup();
    const rec = state.createCommandRecord();
    const command = (tick: number, pan: number) => {
      rec.tick = tick;
      rec.timeNs = clock.now;
      rec.command.set(READY);
      rec.command[0] = pan;
      state.writeCommand(rec);
      controller.update(clock.now);
    };
    command(1, 0);
    clock.now += 2 * MS;
    command(2, 0.001); // 0.5 rad/s: the hold is still braking the policy's motion
    controller.handle(alice, { type: "takeover" });
    controller.handle(alice, { type: "pose", position: [0, 0, 0], quaternion: [1, 0, 0, 0] });
    expect(read().hasTarget).toBe(false); // accepted, but not anchored yet
    clock.now += 2 * MS;
    command(3, 0.001); // at rest now
    controller.handle(alice, { type: "pose", position: [0, 0, 0], quaternion: [1, 0, 0, 0] });
    expect(read().hasTarget).toBe(true);
    expect(read().positions[0]).toBeCloseTo(0.001, 6); // anchored where the arm stopped
  });

  it("asks the fast side for an emergency stop and its reset", () => {
    const { controller, state, events } = setup();
    expect(controller.handle(bob, { type: "emergency-stop" })).toMatchObject({ type: "ack", emergencyStop: true });
    expect(state.emergencyStopRequests()).toBe(1);
    controller.handle(bob, { type: "reset-emergency-stop" });
    expect(state.emergencyStopResets()).toBe(1);
    expect(events.map((e) => e.kind)).toEqual(["emergency-stop", "emergency-stop-reset"]);
  });

  it("refuses motion before the arm has reported anything", () => {
    const state = makeState();
    const controller = new TeleopController({ state, arm });
    controller.handle(alice, { type: "takeover" });
    expect(error(controller.handle(alice, { type: "jog", joint: 0, delta: 0.1 }))?.code).toBe("no-arm-state");
  });

  it("validates its options", () => {
    const state = makeState();
    expect(() => new TeleopController({ state, arm, watchdogMs: 1 })).toThrow(/watchdogMs in \[10, 10000\], got 1/);
    expect(() => new TeleopController({ state, arm, takeoverTimeoutMs: 50 })).toThrow(/takeoverTimeoutMs 0 \(never\) or in \[watchdogMs/);
    expect(() => new TeleopController({ state, arm, poseScale: 0 })).toThrow(/poseScale/);
  });
});
