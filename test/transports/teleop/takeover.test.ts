// The fast loop's side of teleop: takeover, operator targets through the reactive and safety stages, the
// watchdog hold, hand-back to the policy, and smoothness on the real loop with the embedded MuJoCo arm.
import { describe, expect, it } from "vitest";
import { commandDim } from "../../../src/kinematics/description.js";
import { buildFastLoop, createBuiltinRegistry, FastLoop, type FastLoopSafety, type VelocityAwareCommandSource } from "../../../src/runtime/fastLoop.js";
import { registerEmbeddedArm } from "../../../src/runtime/fastWorker.js";
import { SharedRuntimeState, type TeleopTarget } from "../../../src/runtime/sharedState.js";
import { SafetyReason, type ActionChunk, type ArmBackend, type ReactiveStep, type SafetyReasonName, type SampleState, type SensorSnapshot } from "../../../src/runtime/types.js";
import { TeleopController } from "../../../src/transports/teleop/controller.js";
import type { InterventionEvent } from "../../../src/transports/teleop/protocol.js";
import { arm, DIM, READY } from "./helpers.js";

const PERIOD_NS = 2e6;
const MS = 1e6;

class FakeArm implements ArmBackend {
  readonly name = "fake-arm";
  readonly dim = DIM;
  timeNs = 0;
  readonly positions = Float64Array.from(READY);
  readSensors(into: SensorSnapshot): boolean {
    into.timeNs = this.timeNs;
    into.positions.set(this.positions);
    return true;
  }
  sendCommand(command: Float64Array): void {
    this.positions.set(command); // a perfect servo
  }
  close(): void {}
}

class RecordingScheduler implements VelocityAwareCommandSource {
  readonly submits: { sequence: number; current: number[] }[] = [];
  resets = 0;
  private value: number[] | null = null;
  submit(chunk: ActionChunk, _nowNs: number, current: Float64Array): boolean {
    this.submits.push({ sequence: chunk.sequence, current: Array.from(current) });
    this.value = Array.from(chunk.actions.subarray(0, DIM));
    return true;
  }
  sample(_nowNs: number, out: Float64Array): SampleState {
    if (!this.value) return "empty";
    out.set(this.value);
    return "ok";
  }
  reset(): void {
    this.resets++;
    this.value = null;
  }
}

/** Passes everything through; records the sample state it was given. */
class PassSafety implements FastLoopSafety {
  readonly states: SampleState[] = [];
  readonly lastVelocity = new Float64Array(DIM);
  apply(_n: number, proposed: Float64Array, state: SampleState, _s: SensorSnapshot, out: Float64Array): number {
    this.states.push(state);
    out.set(proposed);
    return 0;
  }
  emergencyStop(): void {}
  resetEmergencyStop(): void {}
  counts(): Record<SafetyReasonName, number> {
    return {} as Record<SafetyReasonName, number>;
  }
}

class OffsetReactive implements ReactiveStep {
  readonly name = "offset";
  newChunks = 0;
  step(_now: number, target: Float64Array): void {
    target[0] += 0.001;
  }
  onNewChunk(): void {
    this.newChunks++;
  }
}

function chunkAt(sequence: number, value: number, observationTimeNs: number): ActionChunk {
  return { actions: new Float64Array(4 * DIM).fill(value), steps: 4, dim: DIM, stepPeriodNs: 100 * MS, observationTimeNs, arrivalTimeNs: observationTimeNs, sequence };
}

function rig() {
  const state = SharedRuntimeState.create({ dim: DIM, tactileCount: 0, maxChunkSteps: 16, latentSize: 0 });
  const backend = new FakeArm();
  const scheduler = new RecordingScheduler();
  const safety = new PassSafety();
  const reactive = new OffsetReactive();
  const loop = new FastLoop({ state, backend, scheduler, reactive, safety, publishSensors: true });
  const slot = state.createTeleopTarget();
  let now = 1e9;
  const tick = (n = 1) => {
    for (let i = 0; i < n; i++) {
      now += PERIOD_NS;
      backend.timeNs = now;
      loop.tick(now);
    }
  };
  const setMode = (mode: "observe" | "takeover") => {
    slot.mode = mode;
    slot.modeSequence++;
    slot.hasTarget = false;
    slot.watchdogNs = 2000 * MS;
    state.writeTeleop(slot);
  };
  const setTarget = (positions: ArrayLike<number>, velocities?: ArrayLike<number>, durationNs = 0) => {
    slot.positions.set(positions);
    slot.velocities.fill(0);
    if (velocities) slot.velocities.set(velocities);
    slot.hasTarget = true;
    slot.targetSequence++;
    slot.targetTimeNs = now;
    slot.velocityUntilNs = now + durationNs;
    state.writeTeleop(slot);
  };
  return { state, backend, scheduler, safety, reactive, loop, slot, tick, setMode, setTarget, now: () => now };
}

describe("FastLoop teleop takeover", () => {
  it("holds at takeover, drives to the operator's target through reactive + safety, drops policy chunks, then hands back", () => {
    const r = rig();
    r.state.writeChunk(chunkAt(1, 0.2, r.now()));
    r.tick(5);
    expect(r.scheduler.submits.map((s) => s.sequence)).toEqual([1]);
    expect(r.loop.lastCommandSource).toBe("policy");

    r.setMode("takeover");
    r.tick();
    expect(r.loop.inTakeover).toBe(true);
    expect(r.scheduler.resets).toBe(1);
    expect(r.reactive.newChunks).toBe(2); // the chunk, then the change of driver
    expect(r.safety.states.at(-1)).toBe("empty"); // no target yet: the safety stage holds
    expect(r.loop.lastCommandSource).toBe("teleop-hold");

    const goal = [0.3, 0.5, 0.9, 1.8, 0.1, -0.1, 0.03];
    r.setTarget(goal);
    r.tick();
    expect(r.safety.states.at(-1)).toBe("ok");
    expect(r.loop.lastCommandSource).toBe("teleop");
    r.tick(500); // 1 s: the tracking filter has settled
    const cmd = Array.from(r.loop.lastCommand);
    expect(cmd[0]).toBeCloseTo(goal[0] + 0.001, 6); // the reactive step still applies
    for (let i = 1; i < DIM; i++) expect(cmd[i]).toBeCloseTo(goal[i], 6);
    const record = r.state.createCommandRecord();
    r.state.readCommand(record);
    expect(record.source).toBe("teleop");
    expect(record.teleopSequence).toBe(1);

    // Policy chunks during the takeover are dropped, not queued for later.
    r.state.writeChunk(chunkAt(2, 0.9, r.now()));
    r.tick(3);
    expect(r.scheduler.submits.map((s) => s.sequence)).toEqual([1]);

    r.setMode("observe");
    r.tick();
    expect(r.loop.inTakeover).toBe(false);
    expect(r.scheduler.resets).toBe(2);
    expect(r.loop.lastCommandSource).toBe("policy");
    // The policy's next chunk starts from the current command (less the reactive offset): no jump.
    r.state.writeChunk(chunkAt(3, 0.1, r.now()));
    r.tick();
    const submitted = r.scheduler.submits.at(-1)!;
    expect(submitted.sequence).toBe(3);
    expect(submitted.current[0]).toBeCloseTo(goal[0], 6);
    for (let i = 1; i < DIM; i++) expect(submitted.current[i]).toBeCloseTo(goal[i], 6);
    const status = r.state.readStatus();
    expect(status.teleopModeChanges).toBe(2);
    expect(status.teleopTargetSequence).toBe(1);
    expect(status.teleopTicks).toBe(505);
  });

  it("approaches a new target smoothly from the current command, without overshoot, not in one step", () => {
    const r = rig();
    r.setMode("takeover");
    r.tick(2);
    const start = r.loop.lastCommand[1];
    r.setTarget(Float64Array.from(READY, (v, i) => (i === 1 ? v + 0.1 : v)));
    const path: number[] = [];
    for (let k = 0; k < 400; k++) {
      r.tick();
      path.push(r.loop.lastCommand[1] - start);
    }
    expect(path[0]).toBeLessThan(0.001); // starts gently
    for (let k = 1; k < path.length; k++) expect(path[k]).toBeGreaterThanOrEqual(path[k - 1] - 1e-12);
    expect(Math.max(...path)).toBeLessThanOrEqual(0.1 + 1e-12); // critically damped: no overshoot
    expect(path[150]).toBeGreaterThan(0.09); // most of the way after 0.3 s
    expect(path.at(-1)).toBeCloseTo(0.1, 6);
  });

  it("moves a velocity target until its end, then brings it to rest and holds it", () => {
    const r = rig();
    r.setMode("takeover");
    r.tick(2);
    const v = [0.5, 0, 0, 0, 0, 0, 0];
    r.setTarget(READY, v, 400 * MS);
    r.tick(150); // 300 ms: the filter has caught up with the moving reference
    const t = r.now();
    const a = r.loop.lastCommand[0];
    r.tick(5);
    expect((r.loop.lastCommand[0] - a) / ((r.now() - t) * 1e-9)).toBeCloseTo(0.5, 2);
    r.tick(500);
    // 400 ms at 0.5 rad/s, then a 60 ms stop at constant deceleration (another 15 mrad), then held.
    const end = READY[0] + 0.001 + 0.5 * (0.4 + 0.03);
    expect(r.loop.lastCommand[0]).toBeCloseTo(end, 6);
    r.tick(10);
    expect(r.loop.lastCommand[0]).toBeCloseTo(end, 6);
    expect(r.loop.lastCommandSource).toBe("teleop");
  });

  it("holds once the target is older than the watchdog (still in takeover), and resumes from the hold", () => {
    const r = rig();
    r.setMode("takeover");
    r.slot.watchdogNs = 100 * MS;
    r.setTarget(Float64Array.from(READY, (x, i) => (i === 2 ? x + 0.05 : x)));
    r.tick(49); // 98 ms
    expect(r.loop.lastCommandSource).toBe("teleop");
    r.tick(2); // 102 ms > watchdog 100 ms
    expect(r.loop.lastCommandSource).toBe("teleop-hold");
    expect(r.safety.states.at(-1)).toBe("empty");
    expect(r.loop.inTakeover).toBe(true);
    const holds = r.state.readStatus().teleopHoldTicks;
    r.tick(10);
    expect(r.state.readStatus().teleopHoldTicks).toBe(holds + 10);
    r.setTarget(READY);
    r.tick();
    expect(r.loop.lastCommandSource).toBe("teleop");
  });

  it("a loop started during a takeover keeps obeying it", () => {
    const r = rig();
    r.setMode("takeover");
    const loop2 = new FastLoop({ state: r.state, backend: r.backend, scheduler: new RecordingScheduler(), reactive: new OffsetReactive(), safety: new PassSafety(), publishSensors: true });
    expect(loop2.inTakeover).toBe(true);
    r.state.writeChunk(chunkAt(7, 0.5, 1e9));
    loop2.tick(1e9 + PERIOD_NS);
    expect(loop2.lastCommandSource).toBe("teleop-hold");
  });

  it("allocates nothing of its own per tick in takeover (with allocation-free parts)", () => {
    const state = SharedRuntimeState.create({ dim: DIM, tactileCount: 0, maxChunkSteps: 16, latentSize: 0 });
    const free: VelocityAwareCommandSource = { submit: () => true, sample: (_n: number, out: Float64Array): SampleState => ((out[0] = 0.5), "ok"), reset() {} };
    const safety: FastLoopSafety = {
      apply(_n: number, proposed: Float64Array, _s: SampleState, _x: SensorSnapshot, out: Float64Array) {
        for (let i = 0; i < DIM; i++) out[i] = proposed[i];
        return 0;
      },
      emergencyStop() {},
      resetEmergencyStop() {},
      counts: () => ({}) as Record<SafetyReasonName, number>,
    };
    const backend: ArmBackend = { name: "slot", dim: DIM, readSensors: (s) => state.readSensors(s), sendCommand() {}, close() {} };
    const loop = new FastLoop({ state, backend, scheduler: free, reactive: new OffsetReactive(), safety, publishSensors: false });
    const sensors = state.createSensorSnapshot();
    const slot: TeleopTarget = state.createTeleopTarget();
    slot.mode = "takeover";
    slot.modeSequence = 1;
    slot.hasTarget = true;
    slot.watchdogNs = 1e12;
    const clock = new Float64Array([1e9]);
    const run = (ticks: number) => {
      let now = clock[0];
      for (let k = 0; k < ticks; k++) {
        now += PERIOD_NS;
        sensors.timeNs = now;
        state.writeSensors(sensors);
        if (k % 10 === 0) {
          slot.targetSequence++; // a new operator target every 10 ticks (50 Hz)
          slot.targetTimeNs = now;
          state.writeTeleop(slot);
        }
        loop.tick(now);
      }
      clock[0] = now;
    };
    run(20_000);
    expect(loop.lastCommandSource).toBe("teleop");
    expect(steadyBytesPerTick(run, { windows: 5, ticksPerWindow: 10_000, discardCollected: false })).toBeLessThanOrEqual(24);
  });
});

describe("takeover and hand-back on the real fast loop with the embedded MuJoCo arm (lockstep)", () => {
  it("continues smoothly at takeover and at hand-back, and the tool follows the operator's hand", async () => {
    const tactileCount = 16;
    const state = SharedRuntimeState.create({ dim: commandDim(arm), tactileCount, maxChunkSteps: 64, latentSize: 0 });
    const registry = createBuiltinRegistry();
    registerEmbeddedArm(registry);
    const built = await buildFastLoop(
      {
        rateHz: 500,
        arm,
        backend: { kind: "mujoco", options: { seed: 3, timeOriginNs: 0 } },
        reactive: { kind: "passthrough" },
        scheduler: {},
        safety: { sensorMaxAgeNs: 50 * MS, workspace: { minM: [-0.9, -0.9, -0.05], maxM: [0.9, 0.9, 1.2] } },
      },
      state,
      registry,
    );
    let simNs = 0;
    const controller = new TeleopController({ state, arm, nowNs: () => simNs, watchdogMs: 250 });
    const events: InterventionEvent[] = [];
    controller.onIntervention((e) => events.push(e));
    const op = { id: "op", name: "operator" };
    const commands: Float64Array[] = [];
    const reasons: number[] = [];
    const sources: string[] = [];
    const record = state.createCommandRecord();
    // The policy: a joint-space sway around the ready pose, a 1 s chunk (10 steps) every 200 ms.
    const sway = (tS: number, d: number) => READY[d] + (d < 3 ? 0.25 * Math.sin((2 * Math.PI * tS) / 3 + d) : 0);
    let seq = 0;
    const publishChunk = () => {
      const steps = 10;
      const actions = new Float64Array(steps * DIM);
      for (let s = 0; s < steps; s++) for (let d = 0; d < DIM; d++) actions[s * DIM + d] = sway(simNs / 1e9 + s * 0.1, d);
      state.writeChunk({ actions, steps, dim: DIM, stepPeriodNs: 100 * MS, observationTimeNs: simNs, arrivalTimeNs: simNs, sequence: ++seq });
    };
    const TAKEOVER_S = 2.0;
    const HANDBACK_S = 4.5;
    const END_S = 6.5;
    // The operator's hand: still for 0.4 s after the takeover (while the arm comes to rest and the pose anchors),
    // then a circle of 4 cm radius (and a slow rise) whose speed builds up from zero, as a real hand's would.
    const handAt = (tS: number): [number, number, number] => {
      const tau = Math.max(0, tS - TAKEOVER_S - 0.4);
      const a = (Math.PI * tau * tau) / (1 + tau); // phase: starts at rest, tends to pi rad/s
      return [0.04 * Math.sin(a), 0.04 * (1 - Math.cos(a)), 0.02 * (1 - Math.cos(a / 2))];
    };
    let lastHand: [number, number, number] = [0, 0, 0];
    let anchorTool: number[] | null = null;
    try {
      for (let k = 0; simNs <= END_S * 1e9; k++) {
        simNs = k * PERIOD_NS;
        const tS = simNs / 1e9;
        if (k % 100 === 0) publishChunk(); // 5 Hz
        if (k % 20 === 0) controller.update(simNs); // the endpoint's state timer (25 Hz here)
        if (k === TAKEOVER_S * 500) controller.handle(op, { type: "takeover" });
        if (tS > TAKEOVER_S && tS < HANDBACK_S && k % 17 === 0) {
          // ~30 Hz hand poses
          lastHand = handAt(tS);
          // No trigger: the gripper keeps its width (a trigger pull is a fast gripper move the safety stage paces).
          const reply = controller.handle(op, { type: "pose", position: lastHand, quaternion: [1, 0, 0, 0] });
          expect(reply).toBeNull();
          if (anchorTool === null && controller.targetSequence > 0) {
            anchorTool = toolOf(controller.targetPositions);
          }
        }
        if (k === HANDBACK_S * 500) controller.handle(op, { type: "hand-back" });
        built.loop.tick(simNs);
        state.readCommand(record);
        commands.push(Float64Array.from(record.command));
        reasons.push(record.safetyReasons);
        sources.push(record.source ?? "policy");
      }
    } finally {
      await built.close();
    }
    expect(events.map((e) => e.kind)).toEqual(["takeover", "hand-back"]);
    const dt = PERIOD_NS * 1e-9;
    const takeoverTick = TAKEOVER_S * 500;
    const handBackTick = HANDBACK_S * 500;
    // 1. The safety stage never had to clip anything, from the policy through the takeover, the operator's stream
    //    and the hand-back to the policy's next chunks: the path is smooth by construction, not clamped into shape.
    const clipping = SafetyReason.VelocityLimit | SafetyReason.AccelerationLimit | SafetyReason.MaxStep | SafetyReason.PositionLimit | SafetyReason.Workspace;
    const clippedTicks = reasons.map((r, k) => ((r & clipping) !== 0 ? k : -1)).filter((k) => k >= 0);
    expect(clippedTicks).toEqual([]);
    // 2. No jump: per joint, the commanded acceleration stays within its limit everywhere, and around both
    //    switches it changes by less than half its limit from one tick to the next (a command that jumped, even one
    //    the safety stage could still absorb, shows a change of about twice the limit).
    const accel = (k: number, d: number) => (commands[k + 1][d] - 2 * commands[k][d] + commands[k - 1][d]) / (dt * dt);
    for (let k = 1; k < commands.length - 1; k++) {
      for (let d = 0; d < 6; d++) expect(Math.abs(accel(k, d))).toBeLessThanOrEqual(arm.joints[d].maxAccelerationRadPerS2 * 1.0001);
    }
    for (const centre of [takeoverTick, handBackTick]) {
      for (let k = centre - 1; k < centre + 150; k++) {
        for (let d = 0; d < 6; d++) {
          const step = Math.abs(accel(k, d) - accel(k - 1, d));
          expect(step, `acceleration step of joint ${d} at tick ${k}`).toBeLessThan(0.5 * arm.joints[d].maxAccelerationRadPerS2);
        }
      }
    }
    // 3. Who drove: the policy, then the hold, then the operator, then the policy again.
    expect(sources[takeoverTick - 1]).toBe("policy");
    expect(sources[takeoverTick + 1]).toBe("teleop-hold");
    expect(sources[handBackTick - 1]).toBe("teleop");
    expect(sources[handBackTick + 150]).toBe("policy");
    // 4. The tool followed the hand: at the hand-back the measured tool is displaced from the anchor by the
    //    hand's displacement (scale 1), within a few millimetres (tracking lag of a smooth path).
    expect(anchorTool).not.toBeNull();
    const toolNow = toolOf(commands[handBackTick - 1]);
    for (let a = 0; a < 3; a++) expect(Math.abs(toolNow[a] - anchorTool![a] - (lastHand[a] - 0))).toBeLessThan(0.01);
  }, 60_000);
});

import { ArmKinematics } from "../../../src/kinematics/kinematics.js";
import { steadyBytesPerTick } from "../../helpers/heap.js";
const kin = new ArmKinematics(arm);
function toolOf(q: ArrayLike<number>): number[] {
  const p = new Float64Array(3);
  kin.forward(q, p, new Float64Array(9));
  return Array.from(p);
}

// ---------- allocation measurement (as in test/runtime/fastLoop.test.ts) ----------

describe("teleop and the emergency stop", () => {
  it("freezes the arm in takeover, and after the reset the operator's target resumes from where it froze", async () => {
    const state = SharedRuntimeState.create({ dim: DIM, tactileCount: 0, maxChunkSteps: 16, latentSize: 0 });
    const { loop } = await buildFastLoop({ rateHz: 500, arm, backend: { kind: "shared-memory" }, reactive: { kind: "passthrough" }, scheduler: {}, safety: {} }, state, createBuiltinRegistry());
    const sensors = state.createSensorSnapshot();
    const rec = state.createCommandRecord();
    const slot = state.createTeleopTarget();
    let now = 1e9;
    const run = (ticks: number) => {
      for (let k = 0; k < ticks; k++) {
        now += PERIOD_NS;
        sensors.timeNs = now;
        sensors.positions.set(state.readCommand(rec) === 0 ? READY : rec.command);
        state.writeSensors(sensors);
        if (slot.hasTarget) {
          slot.targetTimeNs = now; // a live stream keeps the same target fresh
          state.writeTeleop(slot);
        }
        loop.tick(now);
      }
    };
    slot.mode = "takeover";
    slot.modeSequence = 1;
    slot.hasTarget = true;
    slot.watchdogNs = 100 * MS;
    slot.positions.set(READY);
    slot.positions[0] = 0.5; // half a radian of pan away
    run(50); // on its way
    state.requestEmergencyStop();
    run(300); // frozen while the target stays where it is
    state.readCommand(rec);
    const frozen = rec.command[0];
    expect(frozen).toBeGreaterThan(0.01);
    expect(frozen).toBeLessThan(0.4);
    expect(rec.safetyReasons & SafetyReason.EmergencyStop).toBeTruthy();
    // Seeing the arm frozen, the operator brings the target next to it, then the stop is reset.
    slot.positions[0] = frozen + 0.015;
    run(20);
    state.requestEmergencyStopReset();
    const clipping = SafetyReason.VelocityLimit | SafetyReason.AccelerationLimit | SafetyReason.MaxStep;
    let clipped = 0;
    for (let k = 0; k < 500; k++) {
      run(1);
      state.readCommand(rec);
      if ((rec.safetyReasons & clipping) !== 0) clipped++;
    }
    expect(clipped).toBe(0); // resumed smoothly from the frozen position, not from where a filter had run on to
    expect(rec.command[0]).toBeCloseTo(frozen + 0.015, 4);
  });
});
