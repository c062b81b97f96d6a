// The assembled runtime with a backend on the main thread (the way ROS 2 and Gazebo arms connect): the real worker,
// the bridge, the slow executor and the MuJoCo arm stepped to the wall clock on this thread.
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { loadArmDescription } from "../../src/kinematics/description.js";
import { monotonicNowNs } from "../../src/runtime/clock.js";
import { Runtime } from "../../src/runtime/runtime.js";
import type { PolicyOutput, SlowPolicy } from "../../src/runtime/slowExecutor.js";
import type { ArmBackend, SensorSnapshot } from "../../src/runtime/types.js";
import { MujocoArm, READY_POSITIONS_VLA_ARM6 } from "../../src/sim/mujocoArm.js";
import { bundleSourceModule } from "../helpers/bundle.js";

const arm = loadArmDescription(fileURLToPath(new URL("../../sim/arm/description.json", import.meta.url)));

/** The simulator as a main-thread backend: physics advances to the wall clock whenever the bridge touches it. */
function wallClockArm(sim: MujocoArm): ArmBackend {
  return {
    name: "mujoco-main-thread",
    dim: sim.dim,
    readSensors(into: SensorSnapshot) {
      sim.stepTo(monotonicNowNs());
      return sim.readSensors(into);
    },
    sendCommand: (command, timeNs) => sim.sendCommand(command, timeNs),
    close: () => sim.close(),
  };
}

/** Always asks for the same pose: shoulder_pan turned by 0.2 rad from the ready pose. */
const TARGET = [0.2, ...READY_POSITIONS_VLA_ARM6.slice(1)];
const holdPosePolicy: SlowPolicy = {
  name: "hold-pose",
  async infer(): Promise<PolicyOutput> {
    const steps = 5;
    const actions = new Float64Array(steps * 7);
    for (let i = 0; i < steps; i++) actions.set(TARGET, i * 7);
    return { kind: "actions", actions, steps, dim: 7 };
  },
};

describe("Runtime with a main-thread backend", () => {
  it("moves the arm through the bridge and stops cleanly, holding the last safe command", async () => {
    const workerUrl = await bundleSourceModule("runtime/fastWorker.ts", "fastWorker");
    const sim = await MujocoArm.create({ arm, task: { surfaceHeightM: 0.05 }, timeOriginNs: monotonicNowNs() });
    const backend = wallClockArm(sim);
    const runtime = await Runtime.start({
      arm,
      fast: { rateHz: 500, reactive: { kind: "passthrough" }, scheduler: {}, safety: { sensorMaxAgeNs: 100e6 } },
      backend: { kind: "main-thread", backend },
      tactileCount: sim.tactileCount,
      slow: { policy: holdPosePolicy, inputs: () => ({ instruction: "turn" }), stepPeriodNs: 100e6, rateHz: 5, timeoutMs: 500 },
      workerUrl,
    });
    await new Promise((resolve) => setTimeout(resolve, 2500));
    const report = await runtime.stop();
    const sample: SensorSnapshot = { timeNs: 0, positions: new Float64Array(7), velocities: new Float64Array(7), wrench: new Float64Array(6), tactile: new Float64Array(sim.tactileCount) };
    backend.readSensors(sample);
    sim.close();
    expect(report.slow.chunksPublished).toBeGreaterThan(5);
    expect(report.status.chunksAccepted).toBeGreaterThan(5);
    expect(runtime.bridge?.commandsForwarded).toBeGreaterThan(200);
    // The shoulder turned most of the way to the target within the velocity and acceleration limits.
    expect(sample.positions[0]).toBeGreaterThan(0.15);
    expect(report.status.safetyCounts.NonFinite).toBe(0);
  });
});
