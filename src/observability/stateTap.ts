// Reads the runtime's shared slots from the main thread and hands what changed to the recorder: the sensor sample
// and command the fast loop published, a new chunk or latent, changed control flags, the slow executor's counters.
// Reading a slot is a seqlock copy: the fast loop never waits for it and never knows it is being recorded.
//
// Lockstep: call poll(t) right before every tick at time t (and once after the last): it then sees exactly the
// previous tick's sample and command, and every chunk and control change the tick at t is about to take.
// Real time: start(periodMs) polls on a timer; a tick whose command was overwritten before the poll is counted as
// missed (the recorder's commandsMissed), never waited for. /policy/status is assembled every statusPeriodNs.
import { monotonicNowNs } from "../runtime/clock.js";
import { durationQuantileNs, type CommandRecord, type LatentSample, type SharedRuntimeState } from "../runtime/sharedState.js";
import type { SlowExecutorStats } from "../runtime/slowExecutor.js";
import { SafetyReason, type ActionChunk, type SensorSnapshot } from "../runtime/types.js";
import type { Recorder } from "./recorder.js";

export interface StateTapOptions {
  state: SharedRuntimeState;
  recorder: Recorder;
  /** The slow executor's counters (recorded on /policy/status when they change). */
  slowStats?: () => SlowExecutorStats;
  policyName?: string;
  /** Record /policy/status this often (runtime ns; default 500 ms). */
  statusPeriodNs?: number;
  /** Clock for real-time polling (default: the monotonic clock). */
  nowNs?: () => number;
}

export class SharedStateTap {
  private readonly state: SharedRuntimeState;
  private readonly recorder: Recorder;
  private readonly sensors: SensorSnapshot;
  private readonly command: CommandRecord;
  private readonly chunk: ActionChunk;
  private readonly latent: LatentSample;
  private readonly nowNs: () => number;
  private seenSensors = 0;
  private seenCommand = 0;
  private seenChunk = 0;
  private seenLatent = 0;
  private seenEstopRequests = -1;
  private seenEstopResets = -1;
  private seenPolicyEnabled: boolean | null = null;
  private lastStatusNs: number | null = null;
  private statusBase = { ticks: 0, chunks: 0, commands: 0 };
  private readonly statusPeriodNs: number;
  private timer: NodeJS.Timeout | null = null;
  private polls = 0;

  constructor(private readonly options: StateTapOptions) {
    this.state = options.state;
    this.recorder = options.recorder;
    this.sensors = this.state.createSensorSnapshot();
    this.command = this.state.createCommandRecord();
    const capacity = this.state.layout.maxChunkSteps * this.state.layout.dim;
    this.chunk = { actions: new Float64Array(capacity), steps: 0, dim: 0, stepPeriodNs: 0, observationTimeNs: 0, arrivalTimeNs: 0, sequence: 0 };
    this.latent = this.state.createLatentSample();
    this.nowNs = options.nowNs ?? monotonicNowNs;
    this.statusPeriodNs = options.statusPeriodNs ?? 500e6;
  }

  get pollCount(): number {
    return this.polls;
  }

  /** Record whatever changed in the slots since the last poll; `nowNs` stamps chunks and control changes. */
  poll(nowNs: number = this.nowNs()): void {
    this.polls++;
    const st = this.state;
    // Control flags first: in lockstep they apply from the tick about to run.
    const requests = st.emergencyStopRequests();
    const resets = st.emergencyStopResets();
    const enabled = st.policyEnabled();
    if (requests !== this.seenEstopRequests || resets !== this.seenEstopResets || enabled !== this.seenPolicyEnabled) {
      this.seenEstopRequests = requests;
      this.seenEstopResets = resets;
      this.seenPolicyEnabled = enabled;
      this.recorder.control(nowNs, requests, resets, enabled);
    }
    const sensorsVersion = st.sensorsVersion();
    if (sensorsVersion !== this.seenSensors && st.readSensors(this.sensors)) {
      this.seenSensors = sensorsVersion;
      this.recorder.sensors(this.sensors);
    }
    const commandVersion = st.commandVersion();
    if (commandVersion !== this.seenCommand) {
      const read = st.readCommand(this.command);
      if (read !== 0) {
        this.seenCommand = read;
        this.recorder.command(this.command);
      }
    }
    const chunkVersion = st.chunkVersion();
    if (chunkVersion !== this.seenChunk && (chunkVersion & 1) === 0) {
      const read = st.readChunk(this.chunk);
      if (read !== 0) {
        this.seenChunk = read;
        this.recorder.chunk(this.chunk, nowNs);
      }
    }
    if (st.layout.latentSize > 0) {
      const latentVersion = st.latentVersion();
      if (latentVersion !== this.seenLatent && (latentVersion & 1) === 0) {
        const read = st.readLatent(this.latent);
        if (read !== 0) {
          this.seenLatent = read;
          const l = this.latent;
          this.recorder.latent(l.latent.slice(0, l.length), l.sequence, l.observationTimeNs, l.arrivalTimeNs, nowNs);
        }
      }
    }
    if (this.lastStatusNs === null || nowNs - this.lastStatusNs >= this.statusPeriodNs) this.recordStatus(nowNs);
  }

  /** /policy/status from the status slot, the slow executor's counters and the control flags; rates over the period. */
  private recordStatus(nowNs: number): void {
    const fast = this.state.readStatus();
    const slow = this.options.slowStats?.() ?? null;
    const dtS = this.lastStatusNs === null ? NaN : (nowNs - this.lastStatusNs) / 1e9;
    const rate = (now: number, before: number) => (dtS > 0 ? (now - before) / dtS : 0);
    const commands = this.recorder.stats().messages.command;
    const p99 = (bins: Float64Array, max: number) => {
      const v = durationQuantileNs(bins, 0.99, max) / 1e3;
      return Number.isFinite(v) ? v : 0;
    };
    this.recorder.policyStatus(
      {
        state: "active",
        policy: this.options.policyName ?? "policy",
        policyEnabled: this.state.policyEnabled(),
        emergencyStopLatched: (this.command.safetyReasons & SafetyReason.EmergencyStop) !== 0,
        controlRateHz: rate(fast.ticks, this.statusBase.ticks),
        policyRateHz: rate(slow?.chunksPublished ?? 0, this.statusBase.chunks),
        commandRateHz: rate(commands, this.statusBase.commands),
        periodErrorP99Us: p99(fast.periodErrorHistogram, fast.periodErrorMaxNs),
        sensorToCommandP99Us: p99(fast.latencyHistogram, fast.latencyMaxNs),
        fast,
        slow,
      },
      nowNs,
    );
    this.lastStatusNs = nowNs;
    this.statusBase = { ticks: fast.ticks, chunks: slow?.chunksPublished ?? 0, commands };
  }

  /** Real time: poll every `periodMs` on the main thread's event loop. */
  start(periodMs = 1): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.poll(), Math.max(1, periodMs));
  }

  /** Stop polling (after one last poll, so the final command and sample are in). */
  stop(finalNowNs?: number): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    const now = finalNowNs ?? this.nowNs();
    this.poll(now);
    if (this.lastStatusNs !== now) this.recordStatus(now);
  }
}
