// Reading a recording back: the MCAP records (with the library's streaming reader, so a file cut short by a crash
// reads up to its last complete chunk), every message decoded with its ROS 2 schema, and the runtime's timeline
// rebuilt from them (sensor samples, commands, chunks, control changes...) on the runtime's own clock.
import { readFile } from "node:fs/promises";
import { McapStreamReader } from "@mcap/core";
import type { SampleState } from "../runtime/types.js";
import type { RecordingInfo } from "./recorder.js";
import { RosCodec } from "./rosCodec.js";
import { RECORDING_STATS_METADATA_NAME } from "./mcapSink.js";
import { RECORDING_METADATA_NAME, RecordingClock, TOPICS, type RosTime } from "./topics.js";

export interface RawMessage {
  topic: string;
  /** The channel's schema name, e.g. "sensor_msgs/msg/JointState". */
  schemaName: string;
  logTimeNs: bigint;
  sequence: number;
  data: Uint8Array;
}

export interface McapContents {
  /** The file ended with a valid footer (false: cut short, e.g. by a crash; everything before the cut is here). */
  complete: boolean;
  messages: RawMessage[];
  metadata: Map<string, Map<string, string>>;
  /** Schema text by schema name. */
  schemas: Map<string, { encoding: string; text: string }>;
  channels: { topic: string; schemaName: string; messageEncoding: string }[];
  /** Why reading stopped early (a corrupt record), or null. */
  error: string | null;
}

/** Every record of an MCAP file, tolerating a truncated tail. */
export async function readMcap(path: string): Promise<McapContents> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw new Error(`recording: cannot read ${path}: ${error instanceof Error ? error.message : String(error)}`);
  }
  return parseMcap(bytes, path);
}

export function parseMcap(bytes: Uint8Array, name = "recording"): McapContents {
  const reader = new McapStreamReader({ validateCrcs: true });
  const decoder = new TextDecoder();
  const result: McapContents = { complete: false, messages: [], metadata: new Map(), schemas: new Map(), channels: [], error: null };
  const schemaById = new Map<number, string>();
  const channelById = new Map<number, { topic: string; schemaName: string }>();
  try {
    reader.append(bytes);
    for (let record = reader.nextRecord(); record !== undefined; record = reader.nextRecord()) {
      switch (record.type) {
        case "Schema":
          schemaById.set(record.id, record.name);
          result.schemas.set(record.name, { encoding: record.encoding, text: decoder.decode(record.data) });
          break;
        case "Channel":
          if (!channelById.has(record.id)) {
            const schemaName = schemaById.get(record.schemaId) ?? "";
            channelById.set(record.id, { topic: record.topic, schemaName });
            result.channels.push({ topic: record.topic, schemaName, messageEncoding: record.messageEncoding });
          }
          break;
        case "Message": {
          const channel = channelById.get(record.channelId)!;
          result.messages.push({ topic: channel.topic, schemaName: channel.schemaName, logTimeNs: record.logTime, sequence: record.sequence, data: record.data });
          break;
        }
        case "Metadata":
          result.metadata.set(record.name, record.metadata);
          break;
        default:
          break;
      }
    }
    result.complete = reader.done();
  } catch (error) {
    result.error = `${name}: reading stopped at a corrupt record: ${error instanceof Error ? error.message : String(error)}`;
  }
  if (!bytes.subarray(0, 8).every((b, i) => b === [0x89, 0x4d, 0x43, 0x41, 0x50, 0x30, 0x0d, 0x0a][i])) {
    throw new Error(`recording: ${name} is not an MCAP file (expected the MCAP magic bytes at the start)`);
  }
  return result;
}

// ---------------------------------------------------------------------------------------------------------------
// The runtime's timeline

export interface RecordedSensorSample {
  timeNs: number;
  positions: Float64Array;
  velocities: Float64Array;
  /** fx fy fz tx ty tz; zeros when the file has no wrench for this stamp. */
  wrench: Float64Array;
  tactile: Float64Array;
}

export interface RecordedCommand {
  tick: number;
  timeNs: number;
  sensorTimeNs: number;
  sampleState: SampleState;
  safetyReasons: number;
  chunkSequence: number;
  command: Float64Array;
  target: Float64Array;
}

export interface RecordedChunk {
  /** Runtime time the recorder saw the chunk in the slot (before the tick at this time, in lockstep). */
  seenAtNs: number;
  sequence: number;
  steps: number;
  dim: number;
  stepPeriodNs: number;
  observationTimeNs: number;
  arrivalTimeNs: number;
  actions: Float64Array;
}

export interface RecordedLatent {
  seenAtNs: number;
  sequence: number;
  observationTimeNs: number;
  arrivalTimeNs: number;
  latent: Float32Array;
}

export interface RecordedControl {
  timeNs: number;
  emergencyStopRequests: number;
  emergencyStopResets: number;
  policyEnabled: boolean;
}

export interface RecordedPolicyCall {
  timeNs: number;
  call: number;
  observationTimeNs: number;
  inferenceWallMs: number;
  outputKind: string;
  tokens: number[];
  error: string;
}

export interface RecordedEvent {
  timeNs: number;
  kind: string;
  detail: string;
}

export interface Recording {
  path: string;
  complete: boolean;
  readError: string | null;
  info: RecordingInfo;
  clock: RecordingClock;
  sensors: RecordedSensorSample[];
  commands: RecordedCommand[];
  chunks: RecordedChunk[];
  latents: RecordedLatent[];
  controls: RecordedControl[];
  policyCalls: RecordedPolicyCall[];
  safetyEvents: (RecordedEvent & { reasons: number })[];
  teleopEvents: RecordedEvent[];
  instructions: RecordedEvent[];
  /** Messages the recorder could not write (from the stats record; null when the file was cut before it). */
  droppedMessages: number | null;
  /** Messages that did not decode with their schema (skipped), and the first reason. */
  undecodable: number;
  firstDecodeError: string | null;
  /** Messages per topic. */
  counts: Record<string, number>;
}

interface Header {
  stamp: RosTime;
}

const SAMPLE_STATES: SampleState[] = ["ok", "empty", "exhausted"];

/** Read and decode a recording written by the recorder. */
export async function loadRecording(path: string): Promise<Recording> {
  return decodeRecording(await readMcap(path), path);
}

export function decodeRecording(contents: McapContents, path = "recording"): Recording {
  const meta = contents.metadata.get(RECORDING_METADATA_NAME);
  if (!meta?.get("info") || !meta.get("wall_offset_ns")) {
    throw new Error(`recording: ${path} has no "${RECORDING_METADATA_NAME}" metadata record (expected a file written by the vla-runtime recorder)`);
  }
  const info = JSON.parse(meta.get("info")!) as RecordingInfo;
  const clock = new RecordingClock(BigInt(meta.get("wall_offset_ns")!));
  const codecs = new Map<string, RosCodec>();
  const codec = (schemaName: string) => {
    let c = codecs.get(schemaName);
    if (!c) {
      const schema = contents.schemas.get(schemaName);
      if (!schema || schema.encoding !== "ros2msg") throw new Error(`recording: ${path} has no ros2msg schema for "${schemaName}"`);
      c = new RosCodec(schemaName, schema.text);
      codecs.set(schemaName, c);
    }
    return c;
  };
  const rec: Recording = {
    path,
    complete: contents.complete,
    readError: contents.error,
    info,
    clock,
    sensors: [],
    commands: [],
    chunks: [],
    latents: [],
    controls: [],
    policyCalls: [],
    safetyEvents: [],
    teleopEvents: [],
    instructions: [],
    droppedMessages: null,
    undecodable: 0,
    firstDecodeError: null,
    counts: {},
  };
  const stats = contents.metadata.get(RECORDING_STATS_METADATA_NAME);
  if (stats?.get("messages_dropped") !== undefined) rec.droppedMessages = Number(stats.get("messages_dropped"));

  const dim = info.jointNames.length;
  const taxels = info.tactile.rows * info.tactile.cols;
  const samples = new Map<number, RecordedSensorSample>();
  const sampleAt = (timeNs: number) => {
    let s = samples.get(timeNs);
    if (!s) {
      s = { timeNs, positions: new Float64Array(dim), velocities: new Float64Array(dim), wrench: new Float64Array(6), tactile: new Float64Array(taxels) };
      samples.set(timeNs, s);
    }
    return s;
  };
  const runtimeNs = (h: Header) => clock.runtimeNsOfStamp(h.stamp);
  const exactTactile = new Set<number>();
  const f64 = (v: ArrayLike<number>, n: number, what: string) => {
    if (v.length !== n) throw new Error(`recording: ${path}: expected ${n} values in ${what}, got ${v.length}`);
    return Float64Array.from(v);
  };

  for (const m of contents.messages) {
    rec.counts[m.topic] = (rec.counts[m.topic] ?? 0) + 1;
    const logNs = clock.runtimeNsOfWall(m.logTimeNs);
    try {
      decodeInto(m, logNs);
    } catch (error) {
      rec.undecodable++;
      rec.firstDecodeError ??= `${m.topic} #${m.sequence}: ${error instanceof Error ? error.message : String(error)}`;
    }
  }
  rec.sensors = [...samples.values()].sort((a, b) => a.timeNs - b.timeNs);
  rec.commands.sort((a, b) => a.tick - b.tick);
  return rec;

  function decodeInto(m: RawMessage, logNs: number): void {
    switch (m.topic) {
      case TOPICS.jointStates.topic: {
        const msg = codec(m.schemaName).decode<{ header: Header; position: ArrayLike<number>; velocity: ArrayLike<number> }>(m.data);
        const s = sampleAt(runtimeNs(msg.header));
        s.positions = f64(msg.position, dim, "/joint_states position");
        s.velocities = f64(msg.velocity, dim, "/joint_states velocity");
        break;
      }
      case TOPICS.wrench.topic: {
        const msg = codec(m.schemaName).decode<{ header: Header; wrench: { force: Vec; torque: Vec } }>(m.data);
        const { force: f, torque: t } = msg.wrench;
        sampleAt(runtimeNs(msg.header)).wrench = Float64Array.of(f.x, f.y, f.z, t.x, t.y, t.z);
        break;
      }
      case TOPICS.tactile.topic: {
        const msg = codec(m.schemaName).decode<{ header: Header; forces: ArrayLike<number> }>(m.data);
        const s = sampleAt(runtimeNs(msg.header));
        if (!exactTactile.has(s.timeNs)) s.tactile = f64(msg.forces, taxels, "/tactile forces");
        break;
      }
      case TOPICS.tactileExact.topic: {
        // The float64 forces the runtime used, where TactileArray's float32 could not hold them: they win.
        const msg = codec(m.schemaName).decode<{ header: Header; forces: ArrayLike<number> }>(m.data);
        const s = sampleAt(runtimeNs(msg.header));
        s.tactile = f64(msg.forces, taxels, "/tactile/exact forces");
        exactTactile.add(s.timeNs);
        break;
      }
      case TOPICS.command.topic: {
        const msg = codec(m.schemaName).decode<{
          tick: bigint;
          time_ns: number;
          sensor_time_ns: number;
          sample_state: number;
          safety_reasons: number;
          chunk_sequence: number;
          position: ArrayLike<number>;
          target: ArrayLike<number>;
        }>(m.data);
        rec.commands.push({
          tick: Number(msg.tick),
          timeNs: msg.time_ns,
          sensorTimeNs: msg.sensor_time_ns,
          sampleState: SAMPLE_STATES[msg.sample_state] ?? "empty",
          safetyReasons: msg.safety_reasons,
          chunkSequence: msg.chunk_sequence,
          command: f64(msg.position, dim, "/command position"),
          target: f64(msg.target, dim, "/command target"),
        });
        break;
      }
      case TOPICS.chunk.topic: {
        const msg = codec(m.schemaName).decode<{
          header: Header;
          observation_stamp: RosTime;
          chunk_sequence: bigint;
          steps: number;
          dim: number;
          step_period: RosTime;
          actions: ArrayLike<number>;
        }>(m.data);
        rec.chunks.push({
          seenAtNs: logNs,
          sequence: Number(msg.chunk_sequence),
          steps: msg.steps,
          dim: msg.dim,
          stepPeriodNs: msg.step_period.sec * 1e9 + msg.step_period.nanosec,
          observationTimeNs: clock.runtimeNsOfStamp(msg.observation_stamp),
          arrivalTimeNs: runtimeNs(msg.header),
          actions: f64(msg.actions, msg.steps * msg.dim, "/policy/chunk actions"),
        });
        break;
      }
      case TOPICS.latent.topic: {
        const msg = codec(m.schemaName).decode<{ sequence: number; observation_time_ns: number; arrival_time_ns: number; latent: ArrayLike<number> }>(m.data);
        rec.latents.push({ seenAtNs: logNs, sequence: msg.sequence, observationTimeNs: msg.observation_time_ns, arrivalTimeNs: msg.arrival_time_ns, latent: Float32Array.from(msg.latent) });
        break;
      }
      case TOPICS.control.topic: {
        const msg = codec(m.schemaName).decode<{ time_ns: number; emergency_stop_requests: number; emergency_stop_resets: number; policy_enabled: boolean }>(m.data);
        rec.controls.push({ timeNs: msg.time_ns, emergencyStopRequests: msg.emergency_stop_requests, emergencyStopResets: msg.emergency_stop_resets, policyEnabled: msg.policy_enabled });
        break;
      }
      case TOPICS.policyCall.topic: {
        const msg = codec(m.schemaName).decode<{ call: number; observation_time_ns: number; inference_wall_ms: number; output_kind: string; tokens: ArrayLike<number>; error: string }>(m.data);
        rec.policyCalls.push({
          timeNs: logNs,
          call: msg.call,
          observationTimeNs: msg.observation_time_ns,
          inferenceWallMs: msg.inference_wall_ms,
          outputKind: msg.output_kind,
          tokens: Array.from(msg.tokens),
          error: msg.error,
        });
        break;
      }
      case TOPICS.safety.topic: {
        const msg = codec(m.schemaName).decode<{ reasons: number; reason_names: string[] }>(m.data);
        rec.safetyEvents.push({ timeNs: logNs, kind: "safety", detail: msg.reason_names.join(","), reasons: msg.reasons });
        break;
      }
      case TOPICS.teleop.topic: {
        const msg = codec(m.schemaName).decode<{ kind: string; client: string; detail: string }>(m.data);
        rec.teleopEvents.push({ timeNs: logNs, kind: msg.kind, detail: [msg.client, msg.detail].filter((s) => s).join(": ") });
        break;
      }
      case TOPICS.instruction.topic: {
        const msg = codec(m.schemaName).decode<{ data: string }>(m.data);
        rec.instructions.push({ timeNs: logNs, kind: "instruction", detail: msg.data });
        break;
      }
      default:
        break;
    }
  }
}

interface Vec {
  x: number;
  y: number;
  z: number;
}
