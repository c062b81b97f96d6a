// One tick of the fast executor: sensors -> new chunk? -> scheduler sample -> reactive step -> safety -> backend.
// Pure and thread-agnostic: the fast worker runs it against the wall clock, a lockstep simulation can run it on
// the main thread with simulated time. Preallocated: a tick creates no objects or arrays (V8 may still box a
// double it hands to a part it does not inline; test/runtime/fastLoop.test.ts measures both).
import { commandDim, type ArmDescription } from "../kinematics/description.js";
import type { InterpolationKind } from "./interpolation.js";
import { armToolKinematics, ComplianceReactiveStep, PassthroughReactiveStep, type ComplianceOptions } from "./reactive.js";
import { SafetyStage, type SafetyStageOptions } from "./safety.js";
import { ChunkScheduler, DEFAULT_TRANSITION_MODE, type TransitionMode } from "./scheduler.js";
import type { CommandRecord, SharedRuntimeState, StatusWriter } from "./sharedState.js";
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
    this.takeNewChunk(nowNs, policyEnabled, hold);

    const target = this.target;
    for (let i = 0; i < this.dim; i++) target[i] = hold[i];
    const sampleState: SampleState = policyEnabled ? this.scheduler.sample(nowNs, target) : "empty";
    const offset = this.reactiveOffset;
    for (let i = 0; i < this.dim; i++) offset[i] = target[i];
    this.reactive.step(nowNs, target, this.sensors);
    for (let i = 0; i < this.dim; i++) offset[i] = target[i] - offset[i];

    const reasons = this.safety.apply(nowNs, target, sampleState, this.sensors, this.command);
    for (let i = 0; i < this.dim; i++) this.policyCommand[i] = this.command[i] - offset[i];
    this.backend.sendCommand(this.command, nowNs);
    this.commandSent = true;
    this.lastState = sampleState;
    this.lastReasons = reasons;
    status.countSafety(reasons);

    const r = this.record;
    r.timeNs = nowNs;
    r.sensorTimeNs = this.sensors.timeNs;
    r.sampleState = sampleState;
    r.safetyReasons = reasons;
    r.chunkSequence = this.playingChunkSequence;
    r.tick = this.tickCount;
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
    }
    if (requests !== this.seenEstopRequests) {
      this.seenEstopRequests = requests;
      this.safety.emergencyStop();
    }
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
    const accepted = this.scheduler.submit(chunk, nowNs, current, velocity);
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
