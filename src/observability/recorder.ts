// The recorder: turns what the runtime sees and does into ROS 2 messages (CDR) on the channels of topics.ts and hands
// them to its sinks: an MCAP file and/or the live Foxglove view. It runs on the main thread (the fast loop never calls
// it); every message is encoded once and fanned out. A sink that cannot keep up drops and the drop is counted here.
import type { ArmDescription } from "../kinematics/description.js";
import type { FastLoopConfig } from "../runtime/fastLoop.js";
import type { CommandRecord, FastStatusSnapshot } from "../runtime/sharedState.js";
import type { ImageFrame, Observation, PolicyOutput, SlowExecutorStats, SlowPolicy } from "../runtime/slowExecutor.js";
import { SafetyReason, type ActionChunk, type SafetyReasonName, type SensorSnapshot } from "../runtime/types.js";
import { codecFor } from "./rosCodec.js";
import { CHANNEL_KEYS, RecordingClock, TOPICS, type ChannelKey, type RosHeader } from "./topics.js";
import { ArmTransforms, armUrdf } from "./urdf.js";

/** Where encoded messages go (the MCAP file, the live view). */
export interface RecordingSink {
  readonly name: string;
  /** Announce a channel before its first message. */
  addChannel(key: ChannelKey, topic: string, type: string, schema: string): void;
  /** Skip encoding for this sink (e.g. a live view throttling a 500 Hz topic); default: wants everything. */
  wants?(key: ChannelKey, runtimeNs: number): boolean;
  /** Returns false when the message was dropped (buffer full, disk error). */
  write(key: ChannelKey, logTimeNs: bigint, data: Uint8Array, runtimeNs: number): boolean;
  /** Bytes waiting for the disk (a lockstep run waits for the sink when this grows too large). */
  backlogBytes?(): number;
  /** Resolves when the backlog has reached the disk. */
  drained?(): Promise<void>;
  /** Once, at start: what the run is (written as MCAP metadata). */
  describe?(info: RecordingInfo, wallOffsetNs: bigint): void;
  close(): Promise<void>;
}

/** What a recording is of: stored in the file (MCAP metadata) so replay and report need nothing else. */
export interface RecordingInfo {
  mode: "lockstep" | "realtime";
  arm: ArmDescription;
  /** Joint names then the gripper's: the order of every position vector. */
  jointNames: string[];
  tactile: { rows: number; cols: number; pitchM: number };
  /** The fast loop's configuration (replay rebuilds the loop from it, with its own backend). */
  fastLoop?: FastLoopConfig;
  policyName?: string;
  /** Free-form: seed, instruction, package version... */
  notes?: Record<string, string | number | boolean>;
}

export interface RecorderOptions {
  info: RecordingInfo;
  clock: RecordingClock;
  sinks: RecordingSink[];
  /** Publish /tf for the measured joints at most this often (ns of runtime time; default 20 ms, 0: never). */
  tfPeriodNs?: number;
}

export interface RecorderStats {
  messages: Record<ChannelKey, number>;
  dropped: Record<ChannelKey, number>;
  /** Fast-loop ticks whose command the recorder never saw (a main-thread poller slower than the loop). */
  commandsMissed: number;
  /** Inputs that were malformed (wrong shapes, non-finite stamps) and not recorded. */
  rejected: number;
  lastError: string | null;
}

/** What /policy/status is made of (the state tap assembles it from the status slot and the slow executor). */
export interface PolicyStatusInput {
  state: string;
  policy: string;
  policyEnabled: boolean;
  emergencyStopLatched: boolean;
  controlRateHz: number;
  policyRateHz: number;
  commandRateHz: number;
  periodErrorP99Us: number;
  sensorToCommandP99Us: number;
  fast: FastStatusSnapshot;
  slow: SlowExecutorStats | null;
  sensorMessagesRejected?: number;
}

export interface TeleopEventInput {
  /** Runtime monotonic time (ns). */
  timeNs: number;
  kind: string;
  client?: string;
  detail?: string;
}

const SAMPLE_STATE_CODE = { ok: 0, empty: 1, exhausted: 2 } as const;
const REASON_NAMES = Object.keys(SafetyReason) as SafetyReasonName[];

export function safetyReasonNames(bits: number): string[] {
  return REASON_NAMES.filter((name) => (bits & SafetyReason[name]) !== 0);
}

const zeroCounts = () => Object.fromEntries(CHANNEL_KEYS.map((k) => [k, 0])) as Record<ChannelKey, number>;

export class Recorder {
  readonly clock: RecordingClock;
  readonly info: RecordingInfo;
  private readonly sinks: RecordingSink[];
  private readonly transforms: ArmTransforms;
  private readonly tfPeriodNs: number;
  private readonly s: RecorderStats = { messages: zeroCounts(), dropped: zeroCounts(), commandsMissed: 0, rejected: 0, lastError: null };
  private lastTick = 0;
  private lastSafetyReasons = 0;
  private lastTfNs = -Infinity;
  private lastSensorNs = NaN;
  private policyCalls = 0;
  /** Wall-clock inference time of recent policy calls by observation time (for ActionChunk.inference_ms). */
  private readonly inferenceMsByObservation = new Map<number, number>();
  private closed = false;

  constructor(options: RecorderOptions) {
    const info = options.info;
    const dim = info.arm.joints.length + 1;
    if (info.jointNames.length !== dim) {
      throw new Error(`recorder: expected ${dim} joint names (joints + gripper), got ${info.jointNames.length}`);
    }
    this.info = info;
    this.clock = options.clock;
    this.sinks = options.sinks;
    this.tfPeriodNs = options.tfPeriodNs ?? 20e6;
    this.transforms = new ArmTransforms(info.arm);
    for (const sink of this.sinks) {
      sink.describe?.(info, this.clock.wallOffsetNs);
      for (const key of CHANNEL_KEYS) sink.addChannel(key, TOPICS[key].topic, TOPICS[key].type, codecFor(TOPICS[key].type).schema);
    }
  }

  stats(): RecorderStats {
    return { ...this.s, messages: { ...this.s.messages }, dropped: { ...this.s.dropped } };
  }

  /** Messages dropped on every channel together. */
  droppedTotal(): number {
    return Object.values(this.s.dropped).reduce((a, b) => a + b, 0);
  }

  /** The URDF on /robot_description (a 3-D view needs it once; call at start). */
  robotDescription(timeNs: number): void {
    this.emit("robotDescription", timeNs, () => ({ data: armUrdf(this.info.arm) }));
  }

  /** One sensor sample: /joint_states, /wrench, /tactile (all with the sample's stamp), and /tf now and then. */
  sensors(s: SensorSnapshot): void {
    const dim = this.info.jointNames.length;
    const taxels = this.info.tactile.rows * this.info.tactile.cols;
    if (!Number.isFinite(s.timeNs) || s.positions.length !== dim || s.velocities.length !== dim || s.wrench.length !== 6 || s.tactile.length !== taxels) {
      return this.reject(
        `recorder: expected a sensor sample with a finite time, ${dim} positions/velocities, 6 wrench and ${taxels} tactile values; ` +
          `got time ${s.timeNs}, ${s.positions.length}/${s.velocities.length}, ${s.wrench.length}, ${s.tactile.length}`,
      );
    }
    if (s.timeNs === this.lastSensorNs) return; // the same sample read twice
    this.lastSensorNs = s.timeNs;
    const t = s.timeNs;
    this.emit("jointStates", t, () => ({ header: this.header(t, ""), name: this.info.jointNames, position: s.positions, velocity: s.velocities, effort: [] }));
    this.emit("wrench", t, () => ({
      header: this.header(t, "tool"),
      wrench: { force: { x: s.wrench[0], y: s.wrench[1], z: s.wrench[2] }, torque: { x: s.wrench[3], y: s.wrench[4], z: s.wrench[5] } },
    }));
    const tac = this.info.tactile;
    const forces32 = Float32Array.from(s.tactile);
    this.emit("tactile", t, () => ({ header: this.header(t, "tactile"), layout: 0, rows: tac.rows, cols: tac.cols, pitch_m: tac.pitchM, forces: forces32, displacements_m: [] }));
    // TactileArray carries float32; a sample that float32 cannot hold exactly goes in full as well (replay needs it).
    let exact = true;
    for (let i = 0; i < forces32.length; i++) if (forces32[i] !== s.tactile[i] && !(s.tactile[i] !== s.tactile[i])) exact = false;
    if (!exact) this.emit("tactileExact", t, () => ({ header: this.header(t, "tactile"), forces: s.tactile }));
    if (this.tfPeriodNs > 0 && t - this.lastTfNs >= this.tfPeriodNs) {
      this.lastTfNs = t;
      this.emit("tf", t, () => ({
        transforms: this.transforms.transforms(s.positions).map((f) => ({
          header: this.header(t, f.parent),
          child_frame_id: f.child,
          transform: { translation: f.translation, rotation: f.rotation },
        })),
      }));
    }
  }

  /** One command of the fast loop (+ a /safety/events message when the set of interventions changed). */
  command(r: CommandRecord): void {
    const dim = this.info.jointNames.length;
    if (r.command.length !== dim || r.target.length !== dim || !Number.isFinite(r.timeNs)) {
      return this.reject(`recorder: expected a command record of dim ${dim} with a finite time, got dim ${r.command.length}/${r.target.length}, time ${r.timeNs}`);
    }
    if (r.tick <= this.lastTick) return; // already recorded
    if (this.lastTick > 0 && r.tick > this.lastTick + 1) this.s.commandsMissed += r.tick - this.lastTick - 1;
    this.lastTick = r.tick;
    const t = r.timeNs;
    this.emit("command", t, () => ({
      header: this.header(t, ""),
      tick: BigInt(r.tick),
      time_ns: r.timeNs,
      sensor_time_ns: r.sensorTimeNs,
      sample_state: SAMPLE_STATE_CODE[r.sampleState],
      safety_reasons: r.safetyReasons,
      chunk_sequence: r.chunkSequence,
      position: r.command,
      target: r.target,
    }));
    if (r.safetyReasons !== this.lastSafetyReasons) {
      const previous = this.lastSafetyReasons;
      this.lastSafetyReasons = r.safetyReasons;
      this.emit("safety", t, () => ({ header: this.header(t, ""), tick: BigInt(r.tick), reasons: r.safetyReasons, previous_reasons: previous, reason_names: safetyReasonNames(r.safetyReasons) }));
    }
  }

  /** A chunk as it appeared in the chunk slot; `seenAtNs` is the runtime time the recorder saw it (the log time). */
  chunk(c: ActionChunk, seenAtNs: number): void {
    const n = c.steps * c.dim;
    if (!(c.steps >= 1) || c.dim !== this.info.jointNames.length || c.actions.length < n || !Number.isFinite(seenAtNs) || !(c.stepPeriodNs > 0)) {
      return this.reject(`recorder: expected a chunk of dim ${this.info.jointNames.length} with steps x dim actions and a positive step period, got ${c.steps}x${c.dim} with ${c.actions.length} values, step ${c.stepPeriodNs} ns`);
    }
    const period = BigInt(Math.round(c.stepPeriodNs));
    this.emit(
      "chunk",
      seenAtNs,
      () => ({
        header: this.header(Number.isFinite(c.arrivalTimeNs) ? c.arrivalTimeNs : seenAtNs, ""),
        observation_stamp: this.stampOf(c.observationTimeNs),
        chunk_sequence: BigInt(c.sequence),
        steps: c.steps,
        dim: c.dim,
        step_period: { sec: Number(period / 1_000_000_000n), nanosec: Number(period % 1_000_000_000n) },
        names: this.info.jointNames,
        actions: c.actions.length === n ? c.actions : c.actions.subarray(0, n),
        policy: this.info.policyName ?? "",
        inference_ms: this.inferenceMsByObservation.get(c.observationTimeNs) ?? 0,
      }),
    );
  }

  latent(latent: Float32Array, sequence: number, observationTimeNs: number, arrivalTimeNs: number, seenAtNs: number): void {
    this.emit("latent", seenAtNs, () => ({
      header: this.header(seenAtNs, ""),
      sequence,
      observation_time_ns: observationTimeNs,
      arrival_time_ns: arrivalTimeNs,
      latent,
    }));
  }

  /** The control flags the fast loop applies from the tick at `timeNs` on. */
  control(timeNs: number, estopRequests: number, estopResets: number, policyEnabled: boolean): void {
    this.emit("control", timeNs, () => ({
      header: this.header(timeNs, ""),
      time_ns: timeNs,
      emergency_stop_requests: estopRequests,
      emergency_stop_resets: estopResets,
      policy_enabled: policyEnabled,
    }));
  }

  instruction(text: string, timeNs: number): void {
    if (typeof text !== "string") return this.reject(`recorder: expected the instruction to be a string, got ${typeof text}`);
    this.emit("instruction", timeNs, () => ({ data: text }));
  }

  image(frame: ImageFrame): void {
    const { width, height, channels, data } = frame;
    if (!Number.isInteger(width) || !Number.isInteger(height) || (channels !== 1 && channels !== 3) || data?.length !== width * height * channels) {
      return this.reject(`recorder: expected an image with width*height*channels bytes and 1 or 3 channels, got ${width}x${height}x${channels} with ${data?.length} bytes`);
    }
    this.emit("image", frame.timeNs, () => ({
      header: this.header(frame.timeNs, "camera"),
      height,
      width,
      encoding: channels === 3 ? "rgb8" : "mono8",
      is_bigendian: 0,
      step: width * channels,
      data,
    }));
  }

  teleop(event: TeleopEventInput): void {
    if (!Number.isFinite(event?.timeNs) || typeof event.kind !== "string" || event.kind.length === 0) {
      return this.reject(`recorder: expected a teleop event { timeNs, kind }, got ${JSON.stringify(event)}`);
    }
    this.emit("teleop", event.timeNs, () => ({ header: this.header(event.timeNs, ""), kind: event.kind, client: event.client ?? "", detail: event.detail ?? "" }));
  }

  /** /policy/status in the node's PolicyStatus form. */
  policyStatus(p: PolicyStatusInput, timeNs: number): void {
    const u = (v: number) => BigInt(Math.max(0, Math.round(Number.isFinite(v) ? v : 0)));
    const f = p.fast;
    const slow = p.slow;
    this.emit("policyStatus", timeNs, () => ({
      header: this.header(timeNs, ""),
      state: p.state,
      policy_enabled: p.policyEnabled,
      emergency_stop_latched: p.emergencyStopLatched,
      policy: p.policy,
      control_rate_hz: p.controlRateHz,
      policy_rate_hz: p.policyRateHz,
      command_rate_hz: p.commandRateHz,
      last_inference_ms: slow && Number.isFinite(slow.lastInferenceMs) ? slow.lastInferenceMs : 0,
      period_error_p99_us: p.periodErrorP99Us,
      sensor_to_command_p99_us: p.sensorToCommandP99Us,
      ticks: u(f.ticks),
      overruns: u(f.overruns),
      chunks_published: u(slow?.chunksPublished ?? 0),
      chunks_accepted: u(f.chunksAccepted),
      chunks_rejected: u(f.chunksRejected),
      policy_failures: u(slow ? slow.failures.noSensors + slow.failures.threw + slow.failures.timedOut + slow.failures.convert : 0),
      decode_failures: u(slow ? slow.failures.decode + slow.failures.malformed : 0),
      sensor_messages_rejected: u(p.sensorMessagesRejected ?? 0),
      safety_reasons: REASON_NAMES,
      safety_counts: REASON_NAMES.map((name) => u(f.safetyCounts[name] ?? 0)),
      last_error: (slow?.lastError ?? "").split("\n")[0].slice(0, 500),
    }));
  }

  /**
   * Wrap a policy so every call is recorded on /policy/call: observation time, wall-clock inference time, what it
   * answered (tokens are kept: they are the policy's raw output) or why it failed. `nowNs` is the runtime clock.
   */
  wrapPolicy(policy: SlowPolicy, nowNs: () => number): SlowPolicy {
    return {
      name: policy.name,
      infer: async (observation: Observation, signal: AbortSignal): Promise<PolicyOutput> => {
        const call = ++this.policyCalls;
        const started = performance.now();
        try {
          const output = await policy.infer(observation, signal);
          const wallMs = performance.now() - started;
          this.inferenceMsByObservation.set(observation.timeNs, wallMs);
          if (this.inferenceMsByObservation.size > 64) this.inferenceMsByObservation.delete(this.inferenceMsByObservation.keys().next().value!);
          this.policyCall(call, observation.timeNs, wallMs, output, "", nowNs());
          return output;
        } catch (error) {
          this.policyCall(call, observation.timeNs, performance.now() - started, null, error instanceof Error ? error.message : String(error), nowNs());
          throw error;
        }
      },
    };
  }

  private policyCall(call: number, observationTimeNs: number, wallMs: number, output: PolicyOutput | null, error: string, timeNs: number): void {
    const kind = output === null ? "error" : typeof output === "object" && typeof output.kind === "string" ? output.kind : "malformed";
    const tokens = output?.kind === "tokens" && Array.isArray(output.tokens) && output.tokens.every((t) => Number.isInteger(t) && Math.abs(t) < 2 ** 31) ? output.tokens : [];
    this.emit("policyCall", timeNs, () => ({
      header: this.header(timeNs, ""),
      call,
      observation_stamp: this.stampOf(observationTimeNs),
      observation_time_ns: observationTimeNs,
      inference_wall_ms: wallMs,
      output_kind: kind,
      tokens,
      error: error.split("\n")[0].slice(0, 500),
    }));
  }

  /** Bytes the sinks still have to write. */
  backlogBytes(): number {
    return this.sinks.reduce((sum, s) => sum + (s.backlogBytes?.() ?? 0), 0);
  }

  async drained(): Promise<void> {
    await Promise.all(this.sinks.map((s) => s.drained?.()));
  }

  /** Close every sink (the MCAP file gets its summary). */
  async close(): Promise<RecorderStats> {
    if (!this.closed) {
      this.closed = true;
      await Promise.all(this.sinks.map((s) => s.close()));
    }
    return this.stats();
  }

  private header(timeNs: number, frameId: string): RosHeader {
    return { stamp: this.clock.stamp(timeNs), frame_id: frameId };
  }

  private stampOf(timeNs: number) {
    return Number.isFinite(timeNs) ? this.clock.stamp(timeNs) : { sec: 0, nanosec: 0 };
  }

  /** Encode once for every sink that wants the message; count deliveries and drops. */
  private emit(key: ChannelKey, runtimeNs: number, build: () => object): void {
    if (this.closed) return;
    let data: Uint8Array | null = null;
    let logTime = 0n;
    for (const sink of this.sinks) {
      if (sink.wants && !sink.wants(key, runtimeNs)) continue;
      if (data === null) {
        try {
          data = codecFor(TOPICS[key].type).encode(build());
        } catch (error) {
          return this.reject(`recorder: could not encode ${TOPICS[key].topic}: ${error instanceof Error ? error.message : String(error)}`);
        }
        logTime = this.clock.wallNs(runtimeNs);
        this.s.messages[key]++;
      }
      if (!sink.write(key, logTime, data, runtimeNs)) this.s.dropped[key]++;
    }
  }

  private reject(message: string): void {
    this.s.rejected++;
    this.s.lastError = message;
  }
}
