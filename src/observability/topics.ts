// What a recording (and the live view) holds: topics, their ROS 2 types, and the clock that turns the runtime's
// monotonic nanoseconds into the wall-clock stamps ROS headers carry (and back, exactly, for replay).

/** Every channel of a recording: topic name and ROS 2 type. */
export const TOPICS = {
  jointStates: { topic: "/joint_states", type: "sensor_msgs/msg/JointState" },
  wrench: { topic: "/wrench", type: "geometry_msgs/msg/WrenchStamped" },
  tactile: { topic: "/tactile", type: "vla_runtime/msg/TactileArray" },
  tactileExact: { topic: "/tactile/exact", type: "vla_runtime/msg/TactileForces" },
  image: { topic: "/camera/image", type: "sensor_msgs/msg/Image" },
  command: { topic: "/command", type: "vla_runtime/msg/JointCommand" },
  chunk: { topic: "/policy/chunk", type: "vla_runtime/msg/ActionChunk" },
  latent: { topic: "/policy/latent", type: "vla_runtime/msg/ActionLatent" },
  policyCall: { topic: "/policy/call", type: "vla_runtime/msg/PolicyCall" },
  policyStatus: { topic: "/policy/status", type: "vla_runtime/msg/PolicyStatus" },
  instruction: { topic: "/instruction", type: "std_msgs/msg/String" },
  safety: { topic: "/safety/events", type: "vla_runtime/msg/SafetyEvent" },
  teleop: { topic: "/teleop/events", type: "vla_runtime/msg/TeleopEvent" },
  control: { topic: "/runtime/control", type: "vla_runtime/msg/ControlState" },
  robotDescription: { topic: "/robot_description", type: "std_msgs/msg/String" },
  tf: { topic: "/tf", type: "tf2_msgs/msg/TFMessage" },
} as const;

export type ChannelKey = keyof typeof TOPICS;
export const CHANNEL_KEYS = Object.keys(TOPICS) as ChannelKey[];

/** Name of the MCAP metadata record that describes the run (see RecordingInfo). */
export const RECORDING_METADATA_NAME = "vla_runtime.recording";

export interface RosTime {
  sec: number;
  nanosec: number;
}

/**
 * Runtime monotonic ns <-> wall-clock ns. The offset is fixed for the whole recording, so converting a stamp back
 * gives the runtime time exactly (integer nanoseconds; the runtime's own clock reads are integers).
 */
export class RecordingClock {
  constructor(readonly wallOffsetNs: bigint) {}

  /** For a run on the real monotonic clock: wall now minus monotonic now. */
  static forRealtime(monotonicNowNs: number, wallNowNs: bigint = BigInt(Date.now()) * 1_000_000n): RecordingClock {
    return new RecordingClock(wallNowNs - BigInt(Math.round(monotonicNowNs)));
  }

  /** For a simulated clock starting at 0: simulated time 0 is the wall time the recording started. */
  static forSimulation(wallStartNs: bigint = BigInt(Date.now()) * 1_000_000n): RecordingClock {
    return new RecordingClock(wallStartNs);
  }

  wallNs(runtimeNs: number): bigint {
    return BigInt(Math.round(runtimeNs)) + this.wallOffsetNs;
  }

  stamp(runtimeNs: number): RosTime {
    return wallToStamp(this.wallNs(runtimeNs));
  }

  runtimeNsOfWall(wallNs: bigint): number {
    return Number(wallNs - this.wallOffsetNs);
  }

  runtimeNsOfStamp(stamp: RosTime): number {
    return this.runtimeNsOfWall(stampToWall(stamp));
  }
}

export function wallToStamp(wallNs: bigint): RosTime {
  const sec = wallNs / 1_000_000_000n;
  return { sec: Number(sec), nanosec: Number(wallNs - sec * 1_000_000_000n) };
}

export function stampToWall(stamp: RosTime): bigint {
  return BigInt(stamp.sec) * 1_000_000_000n + BigInt(stamp.nanosec);
}

/** Header of every message, as @foxglove/rosmsg2-serialization expects it. */
export interface RosHeader {
  stamp: RosTime;
  frame_id: string;
}
