// Recording a run of the runtime, as the episode (or any other assembly of the runtime) wires it:
//
//   const recording = await EpisodeRecording.create({ path, liveView, mode, arm, tactile, fastLoop, ... });
//   policy = recording.wrapPolicy(policy, nowNs);          // before the slow executor is built
//   ... the shared state exists ...
//   recording.attach({ state, slowStats: () => slow.stats(), policyName });
//   lockstep:  before every tick:  const wait = recording.beforeTick(t); if (wait) await wait;
//   real time: recording.startPolling();
//   recording.instruction(text, t); recording.teleop({...});   // whenever they happen
//   const result = await recording.stop(t);
//
// The fast loop is never touched: everything is read from the shared slots on this (the main) thread.
import type { ArmDescription } from "../kinematics/description.js";
import type { FastLoopConfig } from "../runtime/fastLoop.js";
import type { SharedRuntimeState } from "../runtime/sharedState.js";
import type { SlowExecutorStats, SlowPolicy } from "../runtime/slowExecutor.js";
import type { LiveView } from "./liveView.js";
import type { McapFileWriterOptions } from "./mcapFileWriter.js";
import { McapSink } from "./mcapSink.js";
import { Recorder, type RecorderStats, type RecordingInfo, type RecordingSink, type TeleopEventInput } from "./recorder.js";
import { SharedStateTap } from "./stateTap.js";
import { RecordingClock } from "./topics.js";

export interface EpisodeRecordingOptions {
  /** MCAP file to write (omit for a live view only). */
  path?: string;
  /** A running live view to publish to as well. */
  liveView?: LiveView;
  mode: "lockstep" | "realtime";
  arm: ArmDescription;
  tactile: { rows: number; cols: number; pitchM: number };
  fastLoop?: FastLoopConfig;
  policyName?: string;
  notes?: Record<string, string | number | boolean>;
  /** Runtime time of the start (lockstep: 0; real time: the monotonic clock now). */
  startNs: number;
  /** MCAP writer tuning (chunk size, flush interval, buffer bound). */
  mcap?: Omit<McapFileWriterOptions, "path">;
  /** Lockstep: wait for the disk when this many bytes are queued (default 8 MiB), instead of dropping. */
  lockstepBacklogBytes?: number;
}

export interface EpisodeRecordingResult {
  path: string | null;
  stats: RecorderStats;
  /** Messages lost on the way to the file (0 for a clean lockstep run). */
  droppedMessages: number;
  bytesWritten: number;
  /** Why the file stopped being written (disk full...), or null. */
  writeError: string | null;
}

export class EpisodeRecording {
  readonly recorder: Recorder;
  private tap: SharedStateTap | null = null;
  private readonly file: McapSink | null;
  private readonly backlogLimit: number;

  private constructor(
    private readonly options: EpisodeRecordingOptions,
    recorder: Recorder,
    file: McapSink | null,
  ) {
    this.recorder = recorder;
    this.file = file;
    this.backlogLimit = options.lockstepBacklogBytes ?? 8 * 1024 * 1024;
  }

  static async create(options: EpisodeRecordingOptions): Promise<EpisodeRecording> {
    if (!options.path && !options.liveView) throw new Error("episode recording: expected a file path, a live view, or both");
    const sinks: RecordingSink[] = [];
    const file = options.path ? await McapSink.create({ path: options.path, ...options.mcap }) : null;
    if (file) sinks.push(file);
    if (options.liveView) sinks.push(options.liveView.sink());
    const info: RecordingInfo = {
      mode: options.mode,
      arm: options.arm,
      jointNames: [...options.arm.joints.map((j) => j.name), options.arm.gripper.name],
      tactile: options.tactile,
      fastLoop: options.fastLoop,
      policyName: options.policyName,
      notes: options.notes,
    };
    const clock = options.mode === "lockstep" ? RecordingClock.forSimulation() : RecordingClock.forRealtime(options.startNs);
    const recorder = new Recorder({ info, clock, sinks });
    recorder.robotDescription(options.startNs);
    return new EpisodeRecording(options, recorder, file);
  }

  /** Record every call of the policy on /policy/call (tokens, inference time, errors). */
  wrapPolicy(policy: SlowPolicy, nowNs: () => number): SlowPolicy {
    return this.recorder.wrapPolicy(policy, nowNs);
  }

  /** Start reading the runtime's shared slots. */
  attach(target: { state: SharedRuntimeState; slowStats?: () => SlowExecutorStats; policyName?: string; nowNs?: () => number }): void {
    if (this.tap) throw new Error("episode recording: already attached to a runtime");
    this.tap = new SharedStateTap({ recorder: this.recorder, ...target });
  }

  /**
   * Lockstep: call right before the tick at `nowNs`. Returns a promise to await when the file writer is behind
   * (a lockstep run waits for the disk rather than dropping), otherwise undefined.
   */
  beforeTick(nowNs: number): Promise<void> | undefined {
    this.requireTap().poll(nowNs);
    return this.recorder.backlogBytes() > this.backlogLimit ? this.recorder.drained() : undefined;
  }

  /** Real time: poll the slots on a timer (default every 1 ms). */
  startPolling(periodMs = 1): void {
    this.requireTap().start(periodMs);
  }

  instruction(text: string, nowNs: number): void {
    this.recorder.instruction(text, nowNs);
  }

  teleop(event: TeleopEventInput): void {
    this.recorder.teleop(event);
  }

  /** Last poll (the final command; pass the runtime time in lockstep), then close the file. */
  async stop(nowNs?: number): Promise<EpisodeRecordingResult> {
    this.tap?.stop(nowNs);
    const stats = await this.recorder.close();
    const fileStats = this.file?.stats();
    return {
      path: this.options.path ?? null,
      stats,
      droppedMessages: fileStats?.messagesDropped ?? 0,
      bytesWritten: fileStats?.bytesWritten ?? 0,
      writeError: fileStats?.writeError ?? null,
    };
  }

  private requireTap(): SharedStateTap {
    if (!this.tap) throw new Error("episode recording: attach() it to the runtime's shared state first");
    return this.tap;
  }
}
