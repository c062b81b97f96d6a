// The fast executor end to end: the real worker (bundled from the sources, as the build would ship it), the
// main-thread bridge, crash / stall handling, the timing runner, and the embedded MuJoCo arm inside the worker.
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build } from "rolldown";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadArmDescription } from "../../src/kinematics/description.js";
import { FastExecutor, SharedMemoryBridge } from "../../src/runtime/fastExecutor.js";
import { FastLoop } from "../../src/runtime/fastLoop.js";
import { runAtRate, type FastWorkerConfig } from "../../src/runtime/fastWorker.js";
import { PassthroughReactiveStep } from "../../src/runtime/reactive.js";
import { SharedRuntimeState } from "../../src/runtime/sharedState.js";
import { SlowExecutor, type SlowPolicy } from "../../src/runtime/slowExecutor.js";
import { SafetyReason, type ArmBackend, type SafetyReasonName, type SampleState, type SensorSnapshot } from "../../src/runtime/types.js";

const arm = loadArmDescription(fileURLToPath(new URL("../../sim/arm/description.json", import.meta.url)));
const DIM = 7;
const READY = [0, 0.3702, 0.7752, 1.9962, 0, 0, 0.06];
const cacheDir = fileURLToPath(new URL(`../../node_modules/.cache/vla-runtime-tests/fastWorker-${process.pid}/`, import.meta.url));
const workerUrl = pathToFileURL(`${cacheDir}fastWorker.mjs`);
const pluginUrl = pathToFileURL(`${cacheDir}testPlugin.mjs`);

beforeAll(async () => {
  mkdirSync(cacheDir, { recursive: true });
  await build({
    input: fileURLToPath(new URL("../../src/runtime/fastWorker.ts", import.meta.url)),
    platform: "node",
    logLevel: "silent",
    // Packages stay imports resolved from node_modules (the simulator finds its .wasm next to its own file).
    external: (id) => !id.startsWith(".") && !id.startsWith("/") && !id.startsWith("\0"),
    output: { dir: cacheDir, format: "esm", entryFileNames: "fastWorker.mjs" },
  });
  // A plugin, as a later package would ship one: reactive steps that crash or stall the loop on purpose.
  writeFileSync(
    fileURLToPath(pluginUrl),
    `export function registerFastParts(registry) {
      registry.registerReactive("explode", (config) => {
        let steps = 0;
        return { name: "explode", onNewChunk() {}, step() { if (++steps === config.afterSteps) throw new Error("reactive step exploded at step " + steps + "\\n  at a stack frame"); } };
      });
      registry.registerReactive("stall", (config) => {
        let steps = 0;
        return { name: "stall", onNewChunk() {}, step() { if (++steps === config.afterSteps) { const until = Date.now() + config.stallMs; while (Date.now() < until); } } };
      });
    }\n`,
  );
});

afterAll(() => rmSync(cacheDir, { recursive: true, force: true }));

/** A main-thread arm that follows every command exactly (a perfect position controller). */
class FollowingArm implements ArmBackend {
  readonly name = "following";
  readonly dim = DIM;
  readonly positions = Float64Array.from(READY);
  commands = 0;
  readonly wrench = new Float64Array(6);
  readSensors(into: SensorSnapshot): boolean {
    into.timeNs = Number(process.hrtime.bigint());
    into.positions.set(this.positions);
    into.wrench.set(this.wrench);
    return true;
  }
  sendCommand(command: Float64Array): void {
    this.commands++;
    this.positions.set(command);
  }
  close(): void {}
}

function config(overrides: Partial<FastWorkerConfig> = {}): FastWorkerConfig {
  return {
    rateHz: 500,
    arm,
    backend: { kind: "shared-memory" },
    reactive: { kind: "compliance" },
    scheduler: {},
    safety: { sensorMaxAgeNs: 50e6 },
    ...overrides,
  };
}

async function until(what: string, condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const layout = { dim: DIM, tactileCount: 16, maxChunkSteps: 64, latentSize: 0 };

describe("FastExecutor with the worker", () => {
  it("runs the loop in the worker against a main-thread backend and stops cleanly", async () => {
    const state = SharedRuntimeState.create(layout);
    const backend = new FollowingArm();
    const bridge = new SharedMemoryBridge({ state, backend });
    bridge.start(1);
    const fast = await FastExecutor.start({ state, config: config(), workerUrl });
    try {
      expect(fast.health).toBe("running");
      await until("commands to reach the arm", () => backend.commands > 20);
      // A chunk that moves joint 0 by 0.2 rad over one second.
      const t0 = Number(process.hrtime.bigint());
      const steps = 10;
      const actions = new Float64Array(steps * DIM);
      for (let s = 0; s < steps; s++) for (let d = 0; d < DIM; d++) actions[s * DIM + d] = READY[d] + (d === 0 ? (0.2 * Math.min(1, (s + 1) / 8)) : 0);
      state.writeChunk({ actions, steps, dim: DIM, stepPeriodNs: 100e6, observationTimeNs: t0, arrivalTimeNs: t0, sequence: 1 });
      await until("joint 0 to arrive", () => Math.abs(backend.positions[0] - 0.2) < 2e-3, 6000);
      const status = fast.status();
      expect(status.rateHz).toBe(500);
      expect(status.chunksAccepted).toBe(1);
      expect(status.ticks).toBeGreaterThan(200);
      expect(status.periodErrorCount).toBeGreaterThan(100);
      expect(status.latencyCount).toBeGreaterThan(50); // fresh samples from the bridge reached commands
      const beat = fast.status().heartbeat;
      await until("the heartbeat to advance", () => fast.status().heartbeat > beat);
    } finally {
      await fast.stop();
      bridge.stop();
    }
    expect(fast.health).toBe("stopped");
    expect(fast.lastError).toBeNull();
    const version = state.commandVersion();
    await new Promise((r) => setTimeout(r, 30));
    expect(state.commandVersion()).toBe(version); // nothing runs any more
  });

  it("relays the emergency stop and the policy switch through shared memory", async () => {
    const state = SharedRuntimeState.create(layout);
    const backend = new FollowingArm();
    const bridge = new SharedMemoryBridge({ state, backend });
    bridge.start(1);
    const fast = await FastExecutor.start({ state, config: config({ reactive: { kind: "passthrough" } }), workerUrl });
    try {
      await until("commands", () => backend.commands > 10);
      fast.emergencyStop();
      await until("the stop to latch", () => fast.status().safetyCounts.EmergencyStop > 5);
      const rec = state.createCommandRecord();
      state.readCommand(rec);
      expect(rec.safetyReasons & SafetyReason.EmergencyStop).toBeTruthy();
      fast.resetEmergencyStop();
      const stops = fast.status().safetyCounts.EmergencyStop;
      await new Promise((r) => setTimeout(r, 50));
      expect(fast.status().safetyCounts.EmergencyStop).toBeLessThanOrEqual(stops + 1);
      fast.setPolicyEnabled(false);
      const t = Number(process.hrtime.bigint());
      state.writeChunk({ actions: new Float64Array(DIM).fill(0.1), steps: 1, dim: DIM, stepPeriodNs: 100e6, observationTimeNs: t, arrivalTimeNs: t, sequence: 1 });
      await new Promise((r) => setTimeout(r, 50));
      expect(fast.status().chunksAccepted).toBe(0); // dropped while the policy is off
    } finally {
      await fast.stop();
      bridge.stop();
    }
  });

  it("reports a crash in one line, stays up, the bridge holds, and restart() brings the loop back", async () => {
    const state = SharedRuntimeState.create(layout);
    const backend = new FollowingArm();
    const bridgeMessages: string[] = [];
    const bridge = new SharedMemoryBridge({ state, backend, staleAfterNs: 20e6, onError: (m) => bridgeMessages.push(m) });
    bridge.start(1);
    const errors: string[] = [];
    const fast = await FastExecutor.start({
      state,
      config: config({ reactive: { kind: "explode", afterSteps: 100 }, plugins: [pluginUrl.href], warmupTicks: 0 }),
      workerUrl,
      onError: (m) => errors.push(m),
    });
    try {
      await until("the crash", () => fast.health === "crashed");
      expect(fast.lastError).toBe("fast worker crashed: reactive step exploded at step 100");
      expect(errors).toEqual(["fast worker crashed: reactive step exploded at step 100"]);
      // The command slot went silent: the bridge holds the last safe command.
      await until("the bridge to hold", () => bridge.bridgeState === "holding");
      const held = Array.from(bridge.heldCommand);
      const holds = bridge.holdCount;
      await until("repeated holds", () => bridge.holdCount > holds + 5);
      expect(Array.from(backend.positions)).toEqual(held);
      expect(bridgeMessages[0]).toMatch(/^shared-memory bridge: no new command for \d+ ms, holding the last safe command$/);

      await fast.restart();
      expect(fast.health).toBe("running");
      expect(fast.startCount).toBe(2);
      await until("the bridge to forward again", () => bridge.bridgeState === "forwarding");
      await until("the second crash", () => fast.health === "crashed"); // same config: it explodes again
    } finally {
      await fast.stop();
      bridge.stop();
    }
    expect(fast.health).toBe("crashed"); // stop() after a crash keeps the crash visible
  });

  it("notices a stalled loop through the heartbeat, and its recovery", async () => {
    const state = SharedRuntimeState.create(layout);
    const bridge = new SharedMemoryBridge({ state, backend: new FollowingArm() });
    bridge.start(1);
    const errors: string[] = [];
    const fast = await FastExecutor.start({
      state,
      config: config({ reactive: { kind: "stall", afterSteps: 50, stallMs: 600 }, plugins: [pluginUrl.href], warmupTicks: 0 }),
      workerUrl,
      heartbeatTimeoutMs: 100,
      onError: (m) => errors.push(m),
    });
    try {
      await until("the stall", () => fast.health === "stalled");
      expect(fast.lastError).toMatch(/^fast worker stalled: no heartbeat for \d+ ms$/);
      await until("the recovery", () => fast.health === "running", 3000);
      expect(errors.at(-1)).toBe("fast worker heartbeat is back");
      // The stalled tick's own heartbeat ends the stall; its overruns are counted after it and published by the
      // next tick. Two ticks on, a 600 ms stall must show as skipped deadlines (~300), where a burst of catch-up
      // ticks would have counted only two or three by then.
      const ticksAtRecovery = fast.status().ticks;
      await until("two more ticks", () => fast.status().ticks >= ticksAtRecovery + 2);
      expect(fast.status().overruns).toBeGreaterThanOrEqual(250);
    } finally {
      await fast.stop();
      bridge.stop();
    }
  });

  it("rejects a config it cannot build with the worker's one-line error", async () => {
    const state = SharedRuntimeState.create(layout);
    await expect(FastExecutor.start({ state, config: config({ backend: { kind: "ros2" } }), workerUrl })).rejects.toThrow(
      /^fast worker failed to start: fast loop: expected backend kind one of "shared-memory", "mujoco", got "ros2"$/,
    );
    await expect(FastExecutor.start({ state, config: config({ plugins: ["file:///nonexistent/plugin.mjs"] }), workerUrl })).rejects.toThrow(
      /^fast worker failed to start: .*nonexistent/,
    );
    await expect(FastExecutor.start({ state, config: config(), workerUrl: new URL("file:///nonexistent/fastWorker.js") })).rejects.toThrow(
      /worker script \/nonexistent\/fastWorker\.js not found/,
    );
  });

  it("runs the embedded MuJoCo arm inside the worker, driven by the slow executor", async () => {
    const state = SharedRuntimeState.create(layout);
    const fast = await FastExecutor.start({
      state,
      config: config({ backend: { kind: "mujoco", options: { task: { surfaceHeightM: 0.1 } } } }),
      workerUrl,
    });
    // The worker owns the arm and publishes its sensors: the slow side observes through the sensor slot.
    const policy: SlowPolicy = {
      name: "nudge",
      async infer(obs) {
        const steps = 10;
        const actions = new Float64Array(steps * DIM);
        for (let s = 0; s < steps; s++) for (let d = 0; d < DIM; d++) actions[s * DIM + d] = READY[d] + (d === 0 ? 0.15 * Math.min(1, (s + 1) / 6) : 0);
        void obs;
        return { kind: "actions", actions, steps, dim: DIM };
      },
    };
    const slow = new SlowExecutor({ state, policy, inputs: () => ({ instruction: "nudge" }), stepPeriodNs: 100e6, rateHz: 5, timeoutMs: 500 });
    try {
      const sensors = state.createSensorSnapshot();
      await until("the first sensor sample", () => state.readSensors(sensors));
      expect(sensors.positions[1]).toBeCloseTo(READY[1], 2);
      expect(sensors.tactile).toHaveLength(16);
      expect((await slow.runOnce()).ok).toBe(true);
      await until("the simulated joint to follow", () => state.readSensors(sensors) && Math.abs(sensors.positions[0] - 0.15) < 0.01, 8000);
      expect(fast.status().chunksAccepted).toBe(1);
      expect(fast.health).toBe("running");
    } finally {
      await fast.stop();
    }
    expect(fast.health).toBe("stopped");
  });

  it("refuses a layout whose taxel count differs from the embedded arm's", async () => {
    const state = SharedRuntimeState.create({ ...layout, tactileCount: 4 });
    await expect(FastExecutor.start({ state, config: config({ backend: { kind: "mujoco" } }), workerUrl })).rejects.toThrow(
      /the embedded arm has 16 taxels but the shared layout has tactileCount 4/,
    );
  });
});

describe("SharedMemoryBridge", () => {
  function bridgeSetup() {
    const state = SharedRuntimeState.create(layout);
    const backend = new FollowingArm();
    let now = 0;
    const messages: string[] = [];
    const bridge = new SharedMemoryBridge({ state, backend, staleAfterNs: 10e6, nowNs: () => now, onError: (m) => messages.push(m) });
    const rec = state.createCommandRecord();
    const publish = (value: number) => {
      rec.command.fill(value);
      state.writeCommand(rec);
    };
    return { state, backend, bridge, publish, messages, advance: (ns: number) => (now += ns) };
  }

  it("sends nothing before the first command, then forwards each new one once", () => {
    const { bridge, backend, publish, advance } = bridgeSetup();
    expect(bridge.pumpCommands()).toBe("idle");
    advance(50e6);
    expect(bridge.pumpCommands()).toBe("idle");
    expect(backend.commands).toBe(0);
    publish(0.3);
    expect(bridge.pumpCommands()).toBe("forwarding");
    expect(bridge.pumpCommands()).toBe("forwarding");
    expect(backend.commands).toBe(1);
    expect(backend.positions[2]).toBe(0.3);
  });

  it("holds the last command when the slot goes silent, and says so once", () => {
    const { bridge, backend, publish, advance, messages } = bridgeSetup();
    publish(0.4);
    bridge.pumpCommands();
    advance(5e6);
    expect(bridge.pumpCommands()).toBe("forwarding");
    advance(6e6);
    expect(bridge.pumpCommands()).toBe("holding");
    backend.positions.fill(9); // whatever happened to the arm, the hold re-sends the last safe command
    advance(1e6);
    bridge.pumpCommands();
    expect(backend.positions[0]).toBe(0.4);
    expect(bridge.holdCount).toBe(2);
    expect(messages).toEqual(["shared-memory bridge: no new command for 11 ms, holding the last safe command"]);
    publish(0.5);
    expect(bridge.pumpCommands()).toBe("forwarding");
    expect(messages.at(-1)).toBe("shared-memory bridge: the fast loop is back, forwarding its commands again");
  });

  it("copies the backend's samples into the sensor slot", () => {
    const { bridge, state } = bridgeSetup();
    expect(bridge.pushSensors()).toBe(true);
    const s = state.createSensorSnapshot();
    expect(state.readSensors(s)).toBe(true);
    expect(s.positions[3]).toBeCloseTo(READY[3], 12);
  });
});

describe("runAtRate (fake clock)", () => {
  /** A loop whose ticks take the listed times (ns), on a clock that only the waiter and the work advance. */
  function harness(workNs: number[], rateHz = 500) {
    const state = SharedRuntimeState.create({ dim: DIM, tactileCount: 0, maxChunkSteps: 4, latentSize: 0 });
    let now = 1e9;
    const ticksAt: number[] = [];
    const deadlines: number[] = [];
    const safety = {
      apply: (_n: number, p: Float64Array, _s: SampleState, _x: SensorSnapshot, out: Float64Array) => (out.set(p), 0),
      emergencyStop() {},
      resetEmergencyStop() {},
      counts: () => ({}) as Record<SafetyReasonName, number>,
    };
    const backend: ArmBackend = {
      name: "clocked",
      dim: DIM,
      readSensors(into) {
        into.timeNs = now;
        return true;
      },
      sendCommand() {
        ticksAt.push(now);
        now += workNs[Math.min(ticksAt.length - 1, workNs.length - 1)]; // the tick's work takes this long
      },
      close() {},
    };
    const loop = new FastLoop({ state, backend, scheduler: { submit() {}, sample: () => "empty", reset() {} }, reactive: new PassthroughReactiveStep(), safety, publishSensors: false });
    const waiter = {
      waitUntil(deadline: number) {
        deadlines.push(deadline);
        if (now < deadline) now = deadline + 3_000; // every wake-up 3 us late
        return now;
      },
    };
    runAtRate(loop, { rateHz, waiter, nowNs: () => now, shouldStop: () => ticksAt.length >= workNs.length });
    return { state, ticksAt, deadlines };
  }

  it("keeps absolute deadlines: late wake-ups and variable work do not drift the schedule", () => {
    const work = Array.from({ length: 200 }, (_, k) => 100_000 + (k % 7) * 150_000); // 0.1 to 1.0 ms per tick
    const { deadlines, state } = harness(work);
    for (let k = 0; k < deadlines.length; k++) expect(deadlines[k] - deadlines[0]).toBe(k * 2e6);
    const status = state.readStatus();
    expect(status.overruns).toBe(0);
    expect(status.periodErrorCount).toBe(work.length - 1);
    expect(status.periodErrorMaxNs).toBe(0); // every wake is exactly 3 us late, so every period is exact
    expect(status.wakeLatenessMaxNs).toBe(3_000);
    expect(status.maxTickWorkNs).toBe(1_000_000);
  });

  it("counts an overrun; runs a slightly late tick at once, skips deadlines that are long gone", () => {
    // Tick 3 takes 2.5 ms (the next deadline passes by 0.5 ms + 3 us: run at once); tick 6 takes 7 ms (skip).
    const work = [100_000, 100_000, 100_000, 2_500_000, 100_000, 100_000, 7_000_000, 100_000, 100_000];
    const { deadlines, ticksAt, state } = harness(work);
    const start = deadlines[0];
    const slots = deadlines.map((d) => (d - start) / 2e6);
    expect(slots).toEqual([0, 1, 2, 3, 4, 5, 6, 10, 11]);
    expect(ticksAt[4] - ticksAt[3]).toBe(2_500_000); // ran right after the long tick, late
    const status = state.readStatus();
    expect(status.overruns).toBe(2 + 3); // two ticks overran; three deadlines were skipped
    expect(status.periodErrorMaxNs).toBe(ticksAt[7] - ticksAt[6] - 2e6);
  });
});
