// One value of every interface the node uses. Outputs come from the node's own builders (so the bytes checked are
// the bytes the node sends); inputs are what a driver would publish. Values are chosen to exercise alignment
// (odd-length strings before doubles, empty sequences, nested sequences), non-ASCII text and 64-bit integers.
import { CommandOutput } from "../../../src/transports/ros2/commandOutputs.js";
import type { MessageOf, MessageTypeName } from "../../../src/transports/ros2/rcl.js";
import { actionChunkMessage, diagnosticsMessage, policyStatusMessage } from "../../../src/transports/ros2/statusMessages.js";

export interface Sample {
  label: string;
  type: string;
  value: unknown;
}

const names = ["shoulder_pan", "shoulder_lift", "elbow", "wrist_1", "wrist_2", "wrist_3", "gripper"];
const stamp = { sec: 1_767_000_123, nanosec: 987_654_321 };

function sample<T extends MessageTypeName>(label: string, type: T, value: MessageOf<T>): Sample {
  return { label, type, value };
}

export function nodeSamples(): Sample[] {
  const trajectory = new CommandOutput({ mode: "trajectory", names, gripperSeparate: false, lookaheadNs: 60e6, withVelocities: true });
  trajectory.update([0.1, -0.2, 0.3, -0.4, 0.5, -0.6, 0.04], 1_000_000);
  trajectory.build();
  trajectory.update([0.11, -0.21, 0.31, -0.41, 0.51, -0.61, 0.041], 21_000_000);
  trajectory.build();
  const forward = new CommandOutput({ mode: "forward", names, gripperSeparate: true, lookaheadNs: 0, withVelocities: false });
  forward.update([1.5, 0.25, -3.125, 2, 0, -1e-9, 0.07], 5);
  forward.build();
  const chunkActions = new Float64Array(3 * 7).map((_, i) => Math.sin(i) * 0.7);
  const status = policyStatusMessage(
    null,
    null,
    { state: "active", policyEnabled: true, emergencyStopLatched: false, policy: "scripted expert (FAST tokens)", controlRateHz: 499.7, policyRateHz: 4.9, commandRateHz: 50.1, sensorMessagesRejected: 3, lastError: "joint_states: expected finite position and velocity for elbow, got NaN and 0" },
    stamp,
  );
  status.ticks = 123_456_789_012n;
  status.safety_reasons = ["PositionLimit", "StaleSensors"];
  status.safety_counts = [5n, 18_446_744_073_709_551_615n];
  return [
    sample("joint state", "sensor_msgs/msg/JointState", {
      header: { stamp, frame_id: "base" },
      name: names,
      position: Float64Array.from([0, 0.5, -1.25, 3.14159, -2.5, 1e-7, 0.04]),
      velocity: [0.1, 0, 0, 0, 0, 0, -0.01],
      effort: [],
    }),
    sample("image", "sensor_msgs/msg/Image", {
      header: { stamp, frame_id: "camera_optical" },
      height: 2,
      width: 3,
      encoding: "rgb8",
      is_bigendian: 0,
      step: 9,
      data: Uint8Array.from({ length: 18 }, (_, i) => (i * 37) & 0xff),
    }),
    sample("compressed image", "sensor_msgs/msg/CompressedImage", { header: { stamp, frame_id: "cam" }, format: "rgb8; jpeg compressed bgr8", data: Uint8Array.of(0xff, 0xd8, 0xff, 0xe0, 0, 16) }),
    sample("wrench", "geometry_msgs/msg/WrenchStamped", { header: { stamp, frame_id: "tool0" }, wrench: { force: { x: 1.5, y: -2.25, z: 14 }, torque: { x: 0.01, y: -0.02, z: 0.5 } } }),
    sample("tactile grid", "vla_runtime/msg/TactileArray", { header: { stamp, frame_id: "fingertip" }, layout: 0, rows: 2, cols: 2, pitch_m: 0.0025, forces: [0.5, 1.25, 0, 3.5], displacements_m: [] }),
    sample("tactile markers", "vla_runtime/msg/TactileArray", { header: { stamp, frame_id: "gel" }, layout: 1, rows: 1, cols: 2, pitch_m: 0.001, forces: [], displacements_m: Float32Array.from([1e-4, -2e-4, 0, 3e-4]) }),
    sample("instruction", "std_msgs/msg/String", { data: "wipe the marked área ✓" }),
    sample("estop", "std_msgs/msg/Bool", { data: true }),
    sample("trajectory", "trajectory_msgs/msg/JointTrajectory", trajectory.trajectory),
    sample("forward", "std_msgs/msg/Float64MultiArray", forward.forward),
    sample("gripper", "std_msgs/msg/Float64MultiArray", forward.gripper),
    sample(
      "action chunk",
      "vla_runtime/msg/ActionChunk",
      actionChunkMessage({ actions: chunkActions, steps: 3, dim: 7, stepPeriodNs: 100e6, observationTimeNs: 5e9, arrivalTimeNs: 5.2e9, sequence: 42 }, names, "expert", 12.5, {
        rosNowNs: 1_767_000_000_000_000_000n,
        monotonicNowNs: 6e9,
      }),
    ),
    sample("policy status", "vla_runtime/msg/PolicyStatus", status),
    sample("diagnostics", "diagnostic_msgs/msg/DiagnosticArray", diagnosticsMessage(status, "vla_runtime", "running", ["gripper"])),
    { label: "trigger request", type: "std_srvs/srv/Trigger_Request", value: {} },
    { label: "trigger response", type: "std_srvs/srv/Trigger_Response", value: { success: false, message: "the emergency stop input still reads true" } },
    { label: "set bool request", type: "std_srvs/srv/SetBool_Request", value: { data: true } },
    { label: "set instruction request", type: "vla_runtime/srv/SetInstruction_Request", value: { instruction: "fold the towel" } },
    { label: "set instruction response", type: "vla_runtime/srv/SetInstruction_Response", value: { success: true, message: "ok" } },
  ];
}
