// One tick of the fast executor: sensors -> new chunk? -> scheduler sample -> reactive step -> safety -> backend.
// In teleop takeover the operator's targets (the teleop slot) stand in for the policy's chunks: a tracking filter
// (TeleopTargetFilter) turns them into a smooth path from the current command and velocity, then the same reactive
// step and safety stage apply.
// Pure and thread-agnostic: the fast worker runs it against the wall clock, a lockstep simulation can run it on
// the main thread with simulated time. Preallocated: a tick creates no objects or arrays (V8 may still box a
// double it hands to a part it does not inline; test/runtime/fastLoop.test.ts measures both).
import { commandDim, type ArmDescription } from "../kinematics/description.js";
import type { InterpolationKind } from "./interpolation.js";
import { armToolKinematics, ComplianceReactiveStep, PassthroughReactiveStep, type ComplianceOptions } from "./reactive.js";
import { SafetyStage, type SafetyStageOptions } from "./safety.js";
import { ChunkScheduler, DEFAULT_TRANSITION_MODE, type TransitionMode } from "./scheduler.js";
import type { CommandRecord, CommandSourceKind, SharedRuntimeState, StatusWriter, TeleopTarget } from "./sharedState.js";
import type { ActionChunk, ArmBackend, CommandSource, ReactiveStep, SafetyGate, SampleState, SensorSnapshot } from "./types.js";

/** A backend whose state advances with time (a simulator): the loop moves it to the tick's time before reading it. */
export interface SteppedArmBackend extends ArmBackend {
  advanceTo?(nowNs: number): void;
}

/** A CommandSource whose submit may also take the current velocity and report whether it took the chunk (ChunkScheduler does both). */
export interface VelocityAwareCommandSource extends CommandSource {
  submit(chunk: ActionChunk, nowNs: number, currentCommand: Float64Array, currentVelocity?: ArrayLike<number>): boolean | void;
}

/** The safety stage as the loop uses it; holdAt seeds the hold position, lastVelocity feeds chunk blending. */
export type FastLoopSafety = SafetyGate & { holdAt?(positions: Float64Array): void; readonly lastVelocity?: ArrayLike<number> };

export interface FastLoopParts {
  state: SharedRuntimeState;
  /** Where commands go and sensors come from (for the shared-memory backend: the sensor slot). */
  backend: SteppedArmBackend;
  scheduler: VelocityAwareCommandSource;
  reactive: ReactiveStep;
  /** Always applied: nothing reaches the backend without passing it. */
  safety: FastLoopSafety;
  /** The backend is the sensor source (it lives with the loop): copy every sample into the sensor slot. */
  publishSensors: boolean;
  /** Bandwidth of the teleop tracking filter (rad/s; default TELEOP_BANDWIDTH_RAD_PER_S). */
  teleopBandwidthRadPerS?: number;
}

/**
 * Bandwidth of the teleop tracking filter. A stream of targets (a staircase at 30-100 Hz, each step carrying the
 * stream's velocity) becomes a path whose acceleration stays a few rad/s^2: at a new sample the acceleration
 * changes by about omega^2 * (prediction error) + 2 omega * (velocity change); a fixed target (a jog) is reached
 * without overshoot in about 6.6 / omega (0.26 s).
 */
export const TELEOP_BANDWIDTH_RAD_PER_S = 25;
/**
 * A moving target (a twist, or a pose stream with its velocity) runs at its velocity until velocityUntilNs, then
 * comes to rest over this long at constant deceleration (v * TELEOP_STOP_NS / 2 further), so neither the end of a
 * twist nor the end of a stream is a velocity step.
 */
export const TELEOP_STOP_NS = 60e6;
/** Integration step of the filter: ticks longer than this are split (stability needs omega * step << 1). */
const TELEOP_FILTER_STEP_S = 0.002;
/** A gap longer than this between two ticks is not integrated across (a stall): the filter continues from there. */
const TELEOP_FILTER_MAX_GAP_S = 0.05;

/**
 * Critically damped second-order tracking of the teleop slot's reference with velocity feed-forward:
 * x'' = omega^2 (p_ref - x) + 2 omega (v_ref - x'). It starts from the current command and velocity, so a takeover
 * or a resumed stream continues the arm's motion; a moving reference is tracked without lag. Allocation-free.
 */
export class TeleopTargetFilter {
  readonly position: Float64Array;
  readonly velocity: Float64Array;
  private activeState = false;
  private lastNs = 0;

  constructor(
    readonly dim: number,
    readonly omegaRadPerS: number = TELEOP_BANDWIDTH_RAD_PER_S,
  ) {
    if (!(omegaRadPerS > 0 && omegaRadPerS * TELEOP_FILTER_STEP_S < 0.5)) {
      throw new Error(`fast loop: expected a teleop bandwidth in (0, ${0.5 / TELEOP_FILTER_STEP_S}) rad/s, got ${omegaRadPerS}`);
    }
    this.position = new Float64Array(dim);
    this.velocity = new Float64Array(dim);
  }

  get active(): boolean {
    return this.activeState;
  }

  /** Begin at `position` moving at `velocity` (per second; omitted: at rest) at time `nowNs`. */
  start(nowNs: number, position: ArrayLike<number>, velocity?: ArrayLike<number>): void {
    for (let i = 0; i < this.dim; i++) {
      this.position[i] = position[i];
      this.velocity[i] = velocity ? velocity[i] : 0;
    }
    this.lastNs = nowNs;
    this.activeState = true;
  }

  reset(): void {
    this.activeState = false;
  }

  /** Advance to `nowNs` towards the slot's reference; the filtered target into `out`. */
  step(nowNs: number, t: TeleopTarget, out: Float64Array): void {
    let dtS = (nowNs - this.lastNs) * 1e-9;
    this.lastNs = nowNs;
    if (!(dtS > 0)) dtS = 0;
    if (dtS > TELEOP_FILTER_MAX_GAP_S) dtS = TELEOP_FILTER_STEP_S;
    // The reference at now: along the velocity until velocityUntilNs, then a constant deceleration to rest.
    let ageS = (nowNs - t.targetTimeNs) * 1e-9;
    if (!(ageS > 0)) ageS = 0;
    let spanS = (t.velocityUntilNs - t.targetTimeNs) * 1e-9;
    if (!(spanS > 0)) spanS = 0;
    const stopS = TELEOP_STOP_NS * 1e-9;
    let travelS = ageS;
    let speed = 1;
    if (ageS > spanS) {
      let tau = ageS - spanS;
      if (tau > stopS) tau = stopS;
      travelS = spanS + tau - (tau * tau) / (2 * stopS);
      speed = 1 - tau / stopS;
    }
    const w = this.omegaRadPerS;
    const w2 = w * w;
    const n = dtS > 0 ? Math.ceil(dtS / TELEOP_FILTER_STEP_S) : 0;
    const h = n > 0 ? dtS / n : 0;
    for (let i = 0; i < this.dim; i++) {
      const pRef = t.positions[i] + t.velocities[i] * travelS;
      const vRef = t.velocities[i] * speed;
      let x = this.position[i];
      let v = this.velocity[i];
      for (let k = 0; k < n; k++) {
        v += (w2 * (pRef - x) + 2 * w * (vRef - v)) * h; // semi-implicit Euler: velocity first
        x += v * h;
      }
      this.position[i] = x;
      this.velocity[i] = v;
      out[i] = x;
    }
  }
}

/** Chunks the loop rotates through, so a scheduler that keeps references to the previous chunks still sees them intact. */
const CHUNK_RING = 4;

export class FastLoop {
  readonly state: SharedRuntimeState;
  readonly status: StatusWriter;
  private readonly backend: SteppedArmBackend;
  private readonly scheduler: VelocityAwareCommandSource;
  private readonly reactive: ReactiveStep;
  private readonly safety: FastLoopSafety;
  private readonly publishSensors: boolean;
  private readonly dim: number;

  private readonly sensors: SensorSnapshot;
  private readonly target: Float64Array;
  private readonly command: Float64Array;
  /** The last safe command without the reactive step's offset: what the policy's trajectory continues from. */
  private readonly policyCommand: Float64Array;
  private readonly reactiveOffset: Float64Array;
  /** Where a chunk that starts from rest-or-motion begins: the last command advanced to the tick's time. */
  private readonly chunkStart: Float64Array;
  private readonly record: CommandRecord;
  /** Chunks (and their buffers) the loop rotates through; a submitted chunk stays intact for CHUNK_RING - 1 more chunks. */
  private readonly chunks: ActionChunk[];
  private readonly chunkBuffers: Float64Array[];
  /** Exact-length views of the chunk buffers, made once per (buffer, step count) and reused. */
  private readonly chunkViews: Map<number, Float64Array>[];
  private chunkRingIndex = 0;

  private tickCount = 0;
  private seenChunkVersion = 0;
  private seenEstopRequests: number;
  private seenEstopResets: number;
  private policyWasEnabled: boolean;
  private sensorsSeen = false;
  private commandSent = false;
  private lastUsedSensorTimeNs = NaN;
  private freshSensorTime = NaN;
  private lastState: SampleState = "empty";
  private lastReasons = 0;
  private playingChunkSequence = 0;
  /** The teleop slot as last read (copied only when its version changes). */
  private readonly teleop: TeleopTarget;
  private seenTeleopVersion = 0;
  private seenTeleopModeSequence = 0;
  private takeover = false;
  private appliedTeleopSequence = 0;
  private lastSource: CommandSourceKind = "policy";
  private readonly teleopFilter: TeleopTargetFilter;
  /** Time of the previous tick (the instant the last command belongs to). */
  private lastTickNs = NaN;

  constructor(parts: FastLoopParts) {
    const dim = parts.state.layout.dim;
    if (parts.backend.dim !== dim) {
      throw new Error(`fast loop: expected a backend of dim ${dim} (the shared layout), got "${parts.backend.name}" with dim ${parts.backend.dim}`);
    }
    this.state = parts.state;
    this.status = parts.state.statusWriterForFastSide();
    this.backend = parts.backend;
    this.scheduler = parts.scheduler;
    this.reactive = parts.reactive;
    this.safety = parts.safety;
    this.publishSensors = parts.publishSensors;
    this.dim = dim;
    this.sensors = parts.state.createSensorSnapshot();
    this.target = new Float64Array(dim);
    this.command = new Float64Array(dim);
    this.policyCommand = new Float64Array(dim);
    this.reactiveOffset = new Float64Array(dim);
    this.chunkStart = new Float64Array(dim);
    this.record = parts.state.createCommandRecord();
    const capacity = parts.state.layout.maxChunkSteps * dim;
    this.chunkBuffers = Array.from({ length: CHUNK_RING }, () => new Float64Array(capacity));
    this.chunkViews = Array.from({ length: CHUNK_RING }, () => new Map<number, Float64Array>());
    this.chunks = this.chunkBuffers.map((actions) => ({ actions, steps: 0, dim, stepPeriodNs: 0, observationTimeNs: 0, arrivalTimeNs: 0, sequence: 0 }));
    // Start from what is in the slots now: an old chunk or old e-stop requests do not replay into a new loop.
    this.seenChunkVersion = parts.state.chunkVersion();
    this.seenEstopRequests = parts.state.emergencyStopRequests();
    this.seenEstopResets = parts.state.emergencyStopResets();
    this.policyWasEnabled = parts.state.policyEnabled();
    this.teleopFilter = new TeleopTargetFilter(dim, parts.teleopBandwidthRadPerS);
    // A loop (re)started during a takeover keeps obeying it: the operator, not the policy, drives.
    this.teleop = parts.state.createTeleopTarget();
    const teleopVersion = parts.state.readTeleop(this.teleop);
    if (teleopVersion !== 0) {
      this.seenTeleopVersion = teleopVersion;
      this.seenTeleopModeSequence = this.teleop.modeSequence;
      this.takeover = this.teleop.mode === "takeover";
    }
  }

  get ticks(): number {
    return this.tickCount;
  }

  /** Scheduler state of the last tick. */
  get lastSampleState(): SampleState {
    return this.lastState;
  }

  /** SafetyReason bits of the last tick. */
  get lastSafetyReasons(): number {
    return this.lastReasons;
  }

  /** Time stamp of a sensor sample this tick used for the first time (NaN when the sample was not new). */
  get freshSensorTimeNs(): number {
    return this.freshSensorTime;
  }

  /** The last command sent (live view; do not modify). */
  get lastCommand(): Float64Array {
    return this.command;
  }

  /** Who produced the last command. */
  get lastCommandSource(): CommandSourceKind {
    return this.lastSource;
  }

  /** An operator has taken over (teleop slot in mode "takeover"). */
  get inTakeover(): boolean {
    return this.takeover;
  }

  /** True once the loop has sent a command (it never sends before the first sensor sample). */
  get hasSentCommand(): boolean {
    return this.commandSent;
  }

  tick(nowNs: number): void {
    this.tickCount++;
    const status = this.status;
    status.add("ticks", 1);
    status.set("lastTickTimeNs", nowNs);
    this.handleControlFlags();

    // Sensors. A failed read keeps the previous sample, whose age the safety stage judges.
    this.backend.advanceTo?.(nowNs);
    const haveSample = this.backend.readSensors(this.sensors);
    this.freshSensorTime = NaN;
    if (haveSample) {
      if (this.publishSensors) this.state.writeSensors(this.sensors);
      if (this.sensors.timeNs !== this.lastUsedSensorTimeNs) {
        this.freshSensorTime = this.sensors.timeNs;
        this.lastUsedSensorTimeNs = this.sensors.timeNs;
      }
      if (!this.sensorsSeen) {
        this.sensorsSeen = true;
        this.safety.holdAt?.(this.sensors.positions);
      }
    } else {
      status.add("ticksWithoutSensors", 1);
    }
    if (!this.sensorsSeen) {
      // Nothing is known about where the arm is: send nothing (a bridge holds when the command slot is silent).
      status.beat();
      status.publish();
      return;
    }

    const policyEnabled = this.state.policyEnabled();
    if (this.policyWasEnabled && !policyEnabled) {
      this.scheduler.reset();
      this.playingChunkSequence = 0;
    }
    this.policyWasEnabled = policyEnabled;
    // What the arm is being sent now, less the reactive offset (the reactive step adds its own again every tick,
    // so holding the full command would add the offset up tick after tick), or the measured position before the
    // first command. A new chunk blends from it, and it is the hold value when the scheduler has nothing ("empty").
    const hold = this.commandSent ? this.policyCommand : this.sensors.positions;
    const takeover = this.updateTeleopMode();
    // During a takeover the policy's chunks are dropped (not replayed at the hand-back: they are stale by then).
    this.takeNewChunk(nowNs, policyEnabled && !takeover, hold);

    const target = this.target;
    for (let i = 0; i < this.dim; i++) target[i] = hold[i];
    let sampleState: SampleState;
    let source: CommandSourceKind = "policy";
    let teleopSequence = 0;
    if (takeover) {
      sampleState = this.teleopTarget(nowNs, target, hold);
      if (sampleState === "ok") {
        source = "teleop";
        teleopSequence = this.teleop.targetSequence;
      } else {
        source = "teleop-hold";
        status.add("teleopHoldTicks", 1);
      }
      status.add("teleopTicks", 1);
    } else {
      sampleState = policyEnabled ? this.scheduler.sample(nowNs, target) : "empty";
    }
    const offset = this.reactiveOffset;
    for (let i = 0; i < this.dim; i++) offset[i] = target[i];
    this.reactive.step(nowNs, target, this.sensors);
    for (let i = 0; i < this.dim; i++) offset[i] = target[i] - offset[i];

    const reasons = this.safety.apply(nowNs, target, sampleState, this.sensors, this.command);
    for (let i = 0; i < this.dim; i++) this.policyCommand[i] = this.command[i] - offset[i];
    this.backend.sendCommand(this.command, nowNs);
    this.commandSent = true;
    this.lastTickNs = nowNs;
    this.lastState = sampleState;
    this.lastReasons = reasons;
    this.lastSource = source;
    status.countSafety(reasons);

    const r = this.record;
    r.timeNs = nowNs;
    r.sensorTimeNs = this.sensors.timeNs;
    r.sampleState = sampleState;
    r.safetyReasons = reasons;
    r.chunkSequence = this.playingChunkSequence;
    r.tick = this.tickCount;
    r.source = source;
    r.teleopSequence = teleopSequence;
    for (let i = 0; i < this.dim; i++) {
      r.command[i] = this.command[i];
      r.target[i] = target[i];
    }
    this.state.writeCommand(r);
    status.beat();
    status.publish();
  }

  private handleControlFlags(): void {
    const requests = this.state.emergencyStopRequests();
    const resets = this.state.emergencyStopResets();
    // Both changed since the last tick: the order is unknown, so the stop wins (reset first, then latch).
    if (resets !== this.seenEstopResets) {
      this.seenEstopResets = resets;
      this.safety.resetEmergencyStop();
      // The arm was frozen: a teleop target resumes from there, not from where the filter kept going.
      this.teleopFilter.reset();
    }
    if (requests !== this.seenEstopRequests) {
      this.seenEstopRequests = requests;
      this.safety.emergencyStop();
    }
  }

  /**
   * Read the teleop slot when it changed. Any change of driver (takeover or hand-back) drops the scheduler's
   * layers: in takeover they are not used, and after a hand-back the policy's next chunk must start from the
   * current command and velocity (ChunkScheduler.submit with nothing running), not blend into a stale one.
   */
  private updateTeleopMode(): boolean {
    const version = this.state.teleopVersion();
    if (version === this.seenTeleopVersion || (version & 1) === 1) return this.takeover;
    const read = this.state.readTeleop(this.teleop);
    if (read === 0) return this.takeover; // writer kept us out: the previous copy stays, try again next tick
    this.seenTeleopVersion = read;
    if (this.teleop.modeSequence !== this.seenTeleopModeSequence) {
      this.seenTeleopModeSequence = this.teleop.modeSequence;
      this.scheduler.reset();
      this.teleopFilter.reset();
      this.playingChunkSequence = 0;
      this.reactive.onNewChunk();
      this.status.add("teleopModeChanges", 1);
    }
    this.takeover = this.teleop.mode === "takeover";
    return this.takeover;
  }

  /**
   * The operator's target at `nowNs` into `target`: "ok", or "empty" (hold: the safety stage brakes to rest)
   * when there is no target yet in this takeover or the newest is older than the watchdog. After a hold the filter
   * starts again from `current` (the last command less the reactive offset) and the last command's velocity.
   */
  private teleopTarget(nowNs: number, target: Float64Array, current: Float64Array): SampleState {
    const t = this.teleop;
    const filter = this.teleopFilter;
    if (!t.hasTarget || !(nowNs - t.targetTimeNs <= t.watchdogNs)) {
      filter.reset();
      return "empty";
    }
    if (!filter.active) {
      const since = this.lastTickNs === this.lastTickNs ? this.lastTickNs : nowNs;
      filter.start(since, current, this.commandSent ? this.safety.lastVelocity : undefined);
    }
    if (t.targetSequence !== this.appliedTeleopSequence) {
      this.appliedTeleopSequence = t.targetSequence;
      this.status.set("teleopTargetSequence", t.targetSequence);
      this.status.set("teleopTargetAppliedNs", nowNs);
    }
    filter.step(nowNs, t, target);
    return "ok";
  }

  private takeNewChunk(nowNs: number, policyEnabled: boolean, current: Float64Array): void {
    const version = this.state.chunkVersion();
    if (version === 0 || version === this.seenChunkVersion || (version & 1) === 1) return;
    if (!policyEnabled) {
      this.seenChunkVersion = version; // chunks that arrive while the policy is off are dropped, not replayed later
      return;
    }
    const slot = this.chunkRingIndex;
    const chunk = this.chunks[slot];
    chunk.actions = this.chunkBuffers[slot];
    const readVersion = this.state.readChunk(chunk);
    if (readVersion === 0) return; // writer kept us out: try again next tick
    this.seenChunkVersion = readVersion;
    if (!this.chunkIsUsable(chunk)) {
      this.status.add("chunksRejected", 1);
      return;
    }
    chunk.actions = this.viewOf(slot, chunk.steps * chunk.dim);
    this.chunkRingIndex = (slot + 1) % CHUNK_RING;
    // A scheduler that can refuse a chunk (older than the one playing, ...) says false.
    const velocity = this.commandSent ? this.safety.lastVelocity : undefined;
    // The last command belongs to the previous tick: moving (e.g. braking after a teleop hand-back), the arm is a
    // tick further along now. Starting a new chunk from the stale position would stall it for a tick.
    let start = current;
    if (velocity !== undefined && this.lastTickNs === this.lastTickNs && nowNs > this.lastTickNs) {
      const dtS = (nowNs - this.lastTickNs) * 1e-9;
      for (let i = 0; i < this.dim; i++) this.chunkStart[i] = current[i] + velocity[i] * dtS;
      start = this.chunkStart;
    }
    const accepted = this.scheduler.submit(chunk, nowNs, start, velocity);
    if (accepted === false) {
      this.status.add("chunksRejected", 1);
      return;
    }
    this.reactive.onNewChunk();
    this.playingChunkSequence = chunk.sequence;
    this.status.add("chunksAccepted", 1);
    this.status.set("lastChunkSequence", chunk.sequence);
  }

  private chunkIsUsable(chunk: ActionChunk): boolean {
    if (chunk.dim !== this.dim || !(chunk.steps >= 1) || !(chunk.stepPeriodNs > 0)) return false;
    if (!Number.isFinite(chunk.observationTimeNs)) return false;
    const a = chunk.actions;
    const n = chunk.steps * chunk.dim;
    for (let i = 0; i < n; i++) if (!Number.isFinite(a[i])) return false;
    return true;
  }

  private viewOf(slot: number, length: number): Float64Array {
    const views = this.chunkViews[slot];
    let view = views.get(length);
    if (view === undefined) {
      view = this.chunkBuffers[slot].subarray(0, length); // once per (slot, length): bounded, not per tick
      views.set(length, view);
    }
    return view;
  }
}

// ---------------------------------------------------------------------------------------------
// Building a fast loop from a serializable config (what the worker receives), with a registry of parts

/** A part chosen by `kind`; the other fields are that part's options (plain JSON: it crosses the thread boundary). */
export interface PartConfig {
  kind: string;
  [option: string]: unknown;
}

/** The backend reads the sensor slot and leaves the commands in the command slot (a main-thread bridge does the I/O). */
export interface SharedMemoryBackendConfig extends PartConfig {
  kind: "shared-memory";
}

export interface SchedulerConfig {
  mode?: TransitionMode;
  crossfadeSteps?: number;
  ensembleDecayPerStep?: number;
  interpolation?: InterpolationKind;
}

export interface SafetyConfig {
  /** Hold when the newest sensor sample is older than this (ns). Default 50 ms. */
  sensorMaxAgeNs?: number;
  workspace?: SafetyStageOptions["workspace"];
  maxStepPerTick?: SafetyStageOptions["maxStepPerTick"];
  maxContactForceN?: SafetyStageOptions["maxContactForceN"];
}

/** Everything the fast side is made of. Structured-clonable. */
export interface FastLoopConfig {
  /** Control rate (Hz), 1..1000. */
  rateHz: number;
  arm: ArmDescription;
  backend: PartConfig;
  reactive: PartConfig;
  scheduler: SchedulerConfig;
  safety: SafetyConfig;
  /**
   * Modules (URLs) to import before the parts are built; each exports
   * `registerFastParts(registry: FastPartsRegistry): void` and adds its backends / reactive steps.
   */
  plugins?: string[];
}

/** What a part factory gets besides its own options. */
export interface PartContext {
  /** The shared memory (a latent-driven reactive step such as the RDP decoder reads the latent slot from it). */
  state: SharedRuntimeState;
  arm: ArmDescription;
  dim: number;
  controlPeriodNs: number;
}

export interface BuiltBackend {
  backend: ArmBackend;
  /** The backend is the sensor source (publish its samples to the sensor slot). */
  publishSensors: boolean;
  /** The backend's own result (e.g. the simulator's task metrics), structured-clonable; sent when the loop stops. */
  report?: () => unknown;
}

export type BackendFactory = (config: PartConfig, context: PartContext) => BuiltBackend | Promise<BuiltBackend>;
export type ReactiveFactory = (config: PartConfig, context: PartContext) => ReactiveStep | Promise<ReactiveStep>;

/** Backends and reactive steps by kind. Plugins add theirs; nothing is global. */
export class FastPartsRegistry {
  private readonly backends = new Map<string, BackendFactory>();
  private readonly reactives = new Map<string, ReactiveFactory>();

  registerBackend(kind: string, factory: BackendFactory): void {
    this.backends.set(kind, factory);
  }

  registerReactive(kind: string, factory: ReactiveFactory): void {
    this.reactives.set(kind, factory);
  }

  backendKinds(): string[] {
    return [...this.backends.keys()];
  }

  reactiveKinds(): string[] {
    return [...this.reactives.keys()];
  }

  async buildBackend(config: PartConfig, context: PartContext): Promise<BuiltBackend> {
    const factory = this.backends.get(config?.kind);
    if (!factory) throw new Error(`fast loop: expected backend kind ${quoteList(this.backendKinds())}, got ${JSON.stringify(config?.kind)}`);
    return factory(config, context);
  }

  /** Every reactive step built from now on goes through `wrap` (instrumentation: recording what a step did). */
  wrapReactives(wrap: (step: ReactiveStep) => ReactiveStep): void {
    for (const [kind, factory] of this.reactives) this.reactives.set(kind, async (config, context) => wrap(await factory(config, context)));
  }

  async buildReactive(config: PartConfig, context: PartContext): Promise<ReactiveStep> {
    const factory = this.reactives.get(config?.kind);
    if (!factory) throw new Error(`fast loop: expected reactive kind ${quoteList(this.reactiveKinds())}, got ${JSON.stringify(config?.kind)}`);
    return factory(config, context);
  }
}

/** The fast side's view of the shared-memory backend: sensors come from the slot, commands stay in the command slot. */
export class SharedMemoryBackend implements ArmBackend {
  readonly name = "shared-memory";
  readonly dim: number;

  constructor(private readonly state: SharedRuntimeState) {
    this.dim = state.layout.dim;
  }

  readSensors(into: SensorSnapshot): boolean {
    return this.state.readSensors(into);
  }

  sendCommand(_command: Float64Array, _timeNs: number): void {
    // The fast loop publishes every command to the command slot; the main-thread bridge forwards it.
  }

  close(): void {}
}

/** A registry with the built-in parts: backend "shared-memory", reactive "passthrough" and "compliance". */
export function createBuiltinRegistry(): FastPartsRegistry {
  const registry = new FastPartsRegistry();
  registry.registerBackend("shared-memory", (_config, ctx) => ({ backend: new SharedMemoryBackend(ctx.state), publishSensors: false }));
  registry.registerReactive("passthrough", () => new PassthroughReactiveStep());
  registry.registerReactive("compliance", (config, ctx) => {
    const { kind: _kind, ...options } = config;
    return new ComplianceReactiveStep({ ...(options as Omit<ComplianceOptions, "kinematics">), kinematics: armToolKinematics(ctx.arm) });
  });
  return registry;
}

export interface BuiltFastLoop {
  loop: FastLoop;
  backend: ArmBackend;
  /** The backend's report (undefined when it has none). */
  report(): unknown;
  /** Close the backend. */
  close(): Promise<void>;
}

/** Check the config's shape, build every part and the loop. Throws one-line errors on bad input. */
export async function buildFastLoop(config: FastLoopConfig, state: SharedRuntimeState, registry: FastPartsRegistry): Promise<BuiltFastLoop> {
  if (typeof config !== "object" || config === null) throw new Error(`fast loop: expected a config object, got ${String(config)}`);
  if (!(config.rateHz >= 1 && config.rateHz <= 1000)) throw new Error(`fast loop: expected rateHz in [1, 1000], got ${String(config.rateHz)}`);
  if (typeof config.arm !== "object" || config.arm === null || !Array.isArray(config.arm.joints)) {
    throw new Error("fast loop: expected config.arm to be an arm description with a joints array");
  }
  const dim = commandDim(config.arm);
  if (dim !== state.layout.dim) throw new Error(`fast loop: the arm has ${dim} command entries but the shared layout has dim ${state.layout.dim}`);
  const controlPeriodNs = 1e9 / config.rateHz;
  const context: PartContext = { state, arm: config.arm, dim, controlPeriodNs };
  const scheduler = new ChunkScheduler({
    dim,
    mode: config.scheduler?.mode ?? DEFAULT_TRANSITION_MODE,
    crossfadeSteps: config.scheduler?.crossfadeSteps,
    ensembleDecayPerStep: config.scheduler?.ensembleDecayPerStep,
    interpolation: config.scheduler?.interpolation,
  });
  const safety = new SafetyStage({
    arm: config.arm,
    controlPeriodNs,
    sensorMaxAgeNs: config.safety?.sensorMaxAgeNs ?? 50e6,
    workspace: config.safety?.workspace,
    maxStepPerTick: config.safety?.maxStepPerTick,
    maxContactForceN: config.safety?.maxContactForceN,
  });
  const reactive = await registry.buildReactive(config.reactive, context);
  const { backend, publishSensors, report } = await registry.buildBackend(config.backend, context);
  try {
    const loop = new FastLoop({ state, backend, scheduler, reactive, safety, publishSensors });
    return { loop, backend, report: () => report?.(), close: async () => void (await backend.close()) };
  } catch (error) {
    await backend.close();
    throw error;
  }
}

function quoteList(kinds: string[]): string {
  return kinds.length === 0 ? "(none registered)" : `one of ${kinds.map((k) => JSON.stringify(k)).join(", ")}`;
}
