// Runtime state -> vla_runtime/ActionChunk, vla_runtime/PolicyStatus and diagnostic_msgs/DiagnosticArray. Pure
// translations (main thread, a few per second): times are converted from the runtime's monotonic clock to the
// node's ROS clock at the edge.
import type { builtin_interfaces, diagnostic_msgs, vla_runtime } from "rclnodejs";
import { durationQuantileNs, type FastStatusSnapshot } from "../../runtime/sharedState.js";
import type { SlowExecutorStats } from "../../runtime/slowExecutor.js";
import type { ActionChunk, SafetyReasonName } from "../../runtime/types.js";
import { durationMsg } from "./commandOutputs.js";

/** Converts monotonic nanoseconds to ROS time, given one simultaneous reading of both clocks. */
export interface ClockPair {
  rosNowNs: bigint;
  monotonicNowNs: number;
}

export function rosTimeOf(monotonicNs: number, clocks: ClockPair): builtin_interfaces.msg.Time {
  const ageNs = BigInt(Math.round(clocks.monotonicNowNs - monotonicNs));
  let ns = clocks.rosNowNs - ageNs;
  if (ns < 0n) ns = 0n;
  return { sec: Number(ns / 1_000_000_000n), nanosec: Number(ns % 1_000_000_000n) };
}

export function actionChunkMessage(
  chunk: ActionChunk,
  names: readonly string[],
  policy: string,
  inferenceMs: number,
  clocks: ClockPair,
): vla_runtime.msg.ActionChunk {
  const n = chunk.steps * chunk.dim;
  return {
    header: { stamp: rosTimeOf(chunk.arrivalTimeNs, clocks), frame_id: "" },
    observation_stamp: rosTimeOf(chunk.observationTimeNs, clocks),
    chunk_sequence: BigInt(chunk.sequence),
    steps: chunk.steps,
    dim: chunk.dim,
    step_period: durationMsg(chunk.stepPeriodNs),
    names: [...names],
    actions: chunk.actions.slice(0, n),
    policy,
    inference_ms: Number.isFinite(inferenceMs) ? inferenceMs : 0,
  };
}

/** What the node adds to the runtime's own counters. */
export interface NodeStatusExtras {
  state: string;
  policyEnabled: boolean;
  emergencyStopLatched: boolean;
  policy: string;
  /** Rates over the last status period (Hz). */
  controlRateHz: number;
  policyRateHz: number;
  commandRateHz: number;
  sensorMessagesRejected: number;
  lastError: string | null;
}

const SAFETY_ORDER: SafetyReasonName[] = ["NonFinite", "PositionLimit", "VelocityLimit", "AccelerationLimit", "MaxStep", "Workspace", "StaleSensors", "PolicyLate", "EmergencyStop", "ForceLimit"];

export function policyStatusMessage(
  status: FastStatusSnapshot | null,
  slow: SlowExecutorStats | null,
  extras: NodeStatusExtras,
  stamp: builtin_interfaces.msg.Time,
): vla_runtime.msg.PolicyStatus {
  const count = (v: number | undefined) => BigInt(Math.max(0, Math.trunc(v ?? 0)));
  const p99Us = (hist: Float64Array | undefined, maxNs: number | undefined) => {
    if (!hist) return 0;
    const q = durationQuantileNs(hist, 0.99, maxNs ?? Infinity) / 1e3;
    return Number.isFinite(q) ? q : 0;
  };
  const failures = slow?.failures;
  const reasons = status ? SAFETY_ORDER.filter((r) => r in status.safetyCounts) : [];
  return {
    header: { stamp, frame_id: "" },
    state: extras.state,
    policy_enabled: extras.policyEnabled,
    emergency_stop_latched: extras.emergencyStopLatched,
    policy: extras.policy,
    control_rate_hz: extras.controlRateHz,
    policy_rate_hz: extras.policyRateHz,
    command_rate_hz: extras.commandRateHz,
    last_inference_ms: slow && Number.isFinite(slow.lastInferenceMs) ? slow.lastInferenceMs : 0,
    period_error_p99_us: p99Us(status?.periodErrorHistogram, status?.periodErrorMaxNs),
    sensor_to_command_p99_us: p99Us(status?.latencyHistogram, status?.latencyMaxNs),
    ticks: count(status?.ticks),
    overruns: count(status?.overruns),
    chunks_published: count(slow?.chunksPublished),
    chunks_accepted: count(status?.chunksAccepted),
    chunks_rejected: count(status?.chunksRejected),
    policy_failures: count(failures ? failures.threw + failures.timedOut + failures.malformed + failures.convert : 0),
    decode_failures: count(failures?.decode),
    sensor_messages_rejected: count(extras.sensorMessagesRejected),
    safety_reasons: reasons,
    safety_counts: reasons.map((r) => count(status?.safetyCounts[r])),
    last_error: extras.lastError ?? "",
  };
}

const LEVEL = { OK: 0, WARN: 1, ERROR: 2, STALE: 3 } as const;

/** Three statuses: the fast loop, the policy, the sensor inputs (hardware_id: the node's name). */
export function diagnosticsMessage(
  policyStatus: vla_runtime.msg.PolicyStatus,
  nodeName: string,
  fastHealth: string,
  missingJoints: readonly string[],
): diagnostic_msgs.msg.DiagnosticArray {
  const kv = (key: string, value: string | number | bigint | boolean) => ({ key, value: String(value) });
  const s = policyStatus;
  const active = s.state === "active" || s.state === "braking";
  const loopLevel = !active ? LEVEL.OK : fastHealth === "running" ? LEVEL.OK : fastHealth === "starting" ? LEVEL.WARN : LEVEL.ERROR;
  const policyLevel = s.emergency_stop_latched ? LEVEL.ERROR : !active || s.last_error === "" ? LEVEL.OK : LEVEL.WARN;
  const inputLevel = missingJoints.length > 0 ? (active ? LEVEL.ERROR : LEVEL.STALE) : s.sensor_messages_rejected > 0n ? LEVEL.WARN : LEVEL.OK;
  return {
    header: { stamp: s.header.stamp, frame_id: "" },
    status: [
      {
        level: loopLevel,
        name: `${nodeName}: fast loop`,
        message: active ? `${fastHealth}, ${s.control_rate_hz.toFixed(0)} Hz` : s.state,
        hardware_id: nodeName,
        values: [
          kv("state", s.state),
          kv("control_rate_hz", s.control_rate_hz.toFixed(1)),
          kv("ticks", s.ticks),
          kv("overruns", s.overruns),
          kv("period_error_p99_us", s.period_error_p99_us.toFixed(0)),
          kv("sensor_to_command_p99_us", s.sensor_to_command_p99_us.toFixed(0)),
          kv("command_rate_hz", s.command_rate_hz.toFixed(1)),
          ...s.safety_reasons.map((r, i) => kv(`safety_${r}`, s.safety_counts[i])),
        ],
      },
      {
        level: policyLevel,
        name: `${nodeName}: policy`,
        message: s.emergency_stop_latched ? "emergency stop latched" : s.policy_enabled ? `${s.policy} enabled` : `${s.policy} disabled`,
        hardware_id: nodeName,
        values: [
          kv("policy_rate_hz", s.policy_rate_hz.toFixed(2)),
          kv("last_inference_ms", s.last_inference_ms.toFixed(1)),
          kv("chunks_published", s.chunks_published),
          kv("chunks_accepted", s.chunks_accepted),
          kv("chunks_rejected", s.chunks_rejected),
          kv("policy_failures", s.policy_failures),
          kv("decode_failures", s.decode_failures),
          kv("last_error", s.last_error),
        ],
      },
      {
        level: inputLevel,
        name: `${nodeName}: inputs`,
        message: missingJoints.length > 0 ? `no joint state yet for ${missingJoints.join(", ")}` : `${s.sensor_messages_rejected} messages rejected`,
        hardware_id: nodeName,
        values: [kv("sensor_messages_rejected", s.sensor_messages_rejected), kv("missing_joints", missingJoints.join(","))],
      },
    ],
  };
}
