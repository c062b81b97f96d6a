// Synthetic runtime data for recorder tests: a small arm, sensor samples and commands with known values.
import { loadArmDescription, type ArmDescription } from "../../src/kinematics/description.js";
import { Recorder, type RecordingSink } from "../../src/observability/recorder.js";
import type { CommandRecord } from "../../src/runtime/sharedState.js";
import type { SensorSnapshot } from "../../src/runtime/types.js";
import { RecordingClock } from "../../src/observability/topics.js";
import { fileURLToPath } from "node:url";

export const ARM_DESCRIPTION_PATH = fileURLToPath(new URL("../../sim/arm/description.json", import.meta.url));

export function bundledArm(): ArmDescription {
  return loadArmDescription(ARM_DESCRIPTION_PATH);
}

export const TACTILE = { rows: 4, cols: 4, pitchM: 0.014 };

export function syntheticRecorder(sinks: RecordingSink[], arm: ArmDescription = bundledArm()): Recorder {
  return new Recorder({
    info: { mode: "lockstep", arm, jointNames: [...arm.joints.map((j) => j.name), arm.gripper.name], tactile: TACTILE },
    clock: RecordingClock.forSimulation(1_700_000_000_000_000_000n),
    sinks,
  });
}

/** Sample k at 2 ms: joint i at 0.1 * i + 0.001 * k, wrench fz = -k / 100, taxel j = j + k. */
export function sampleAt(k: number, dim = 7, taxels = 16): SensorSnapshot {
  return {
    timeNs: k * 2e6,
    positions: Float64Array.from({ length: dim }, (_, i) => 0.1 * i + 0.001 * k),
    velocities: Float64Array.from({ length: dim }, (_, i) => -0.01 * i),
    wrench: Float64Array.of(0.5, -0.25, -k / 100, 0.01, 0.02, 0.03),
    tactile: Float64Array.from({ length: taxels }, (_, j) => j + k),
  };
}

/** Command of tick k (1-based): position = target - 0.01, chunk sequence k / 50. */
export function commandAt(k: number, dim = 7): CommandRecord {
  const target = Float64Array.from({ length: dim }, (_, i) => 0.2 * i + 0.002 * k);
  return {
    timeNs: k * 2e6,
    sensorTimeNs: (k - 1) * 2e6,
    sampleState: k < 10 ? "empty" : "ok",
    safetyReasons: k >= 100 && k < 110 ? 16 : 0,
    chunkSequence: Math.floor(k / 50),
    tick: k,
    command: target.map((v) => v - 0.01),
    target,
  };
}
