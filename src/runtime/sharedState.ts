// State shared between the slow side (main thread) and the fast loop (worker thread).
//
// Every slot is a SharedArrayBuffer written by exactly one side and guarded by a sequence counter
// (a seqlock): the writer bumps an Int32 to odd, writes, bumps it to even; a reader copies the data
// and retries when it saw an odd value or the value changed while it copied. No locks, no queues,
// no allocation on either side per read or write.
//
// Who writes what:
//   sensors  - whoever owns the arm backend (the fast worker for the embedded arm, a main-thread bridge otherwise)
//   chunk    - the slow executor          latent  - the slow executor (for the RDP decoder)
//   command  - the fast loop              status  - the fast loop (and its timing runner, same thread)
//   control  - the main thread (emergency stop, policy on/off, shutdown)
//   teleop   - the main thread's teleop endpoint (mode observe / takeover, the operator's joint target)
import type { ActionChunk, SampleState, SensorSnapshot } from "./types.js";
import { SafetyReason, type SafetyReasonName } from "./types.js";

export interface SharedLayout {
  /** Command dimension (arm joints + gripper). */
  dim: number;
  /** Number of tactile taxels in the sensor slot. */
  tactileCount: number;
  /** Largest chunk the chunk slot holds (steps). */
  maxChunkSteps: number;
  /** Float32 entries in the latent slot (0: no latent slot in use). */
  latentSize: number;
}

/** Everything a worker needs to attach to the same state: structured-clonable (postMessage / workerData). */
export interface SharedRuntimeBuffers {
  layout: SharedLayout;
  sensors: SharedArrayBuffer;
  chunk: SharedArrayBuffer;
  latent: SharedArrayBuffer;
  command: SharedArrayBuffer;
  status: SharedArrayBuffer;
  control: SharedArrayBuffer;
  teleop: SharedArrayBuffer;
}

/** Who produced a command: the policy's chunks, an operator's teleop target, or a teleop hold (no fresh target). */
export type CommandSourceKind = "policy" | "teleop" | "teleop-hold";

/** Who drives the arm: the policy (clients only watch) or an operator who took over. */
export type TeleopMode = "observe" | "takeover";

/**
 * The teleop slot (preallocate with SharedRuntimeState.createTeleopTarget). In takeover the fast loop drives the
 * arm along `positions + velocities * (t - targetTimeNs)` until velocityUntilNs (then to rest, see TELEOP_STOP_NS
 * in fastLoop.ts), approached smoothly from the current command, through the same reactive and safety stages as
 * the policy; without a target, or once `watchdogNs` has passed since the last one, it holds (the safety stage
 * brakes to rest).
 */
export interface TeleopTarget {
  mode: TeleopMode;
  /** Increments with every mode change, so a hand-back and a new takeover between two ticks are both seen. */
  modeSequence: number;
  /** A target was written since the current takeover began. */
  hasTarget: boolean;
  /** Increments with every target written (never reset). */
  targetSequence: number;
  /** Monotonic time the target was written (ns). */
  targetTimeNs: number;
  /** Hold once the target is older than this (ns). */
  watchdogNs: number;
  /** The target moves with `velocities` until this instant (ns), then comes to rest. */
  velocityUntilNs: number;
  /** Joint positions (rad) and gripper width (m): length dim. */
  positions: Float64Array;
  /** Per second; zero for a fixed target. */
  velocities: Float64Array;
}

/** One published command of the fast loop (preallocate with SharedRuntimeState.createCommandRecord). */
export interface CommandRecord {
  /** Monotonic time the command was sent. */
  timeNs: number;
  /** Time stamp of the sensor sample the command was computed from (0: none yet). */
  sensorTimeNs: number;
  sampleState: SampleState;
  /** SafetyReason bit set of what the safety stage changed. */
  safetyReasons: number;
  /** Sequence of the chunk the scheduler was playing (0: none). */
  chunkSequence: number;
  /** Index of the fast-loop tick that produced it. */
  tick: number;
  /** Who produced the command (missing: the policy). */
  source?: CommandSourceKind;
  /** Sequence of the teleop target it came from (0 or missing: none). */
  teleopSequence?: number;
  /** The safe command sent to the backend. */
  command: Float64Array;
  /** What the scheduler + reactive step proposed before safety. */
  target: Float64Array;
}

/** The newest latent of the slow side (preallocate with SharedRuntimeState.createLatentSample). */
export interface LatentSample {
  latent: Float32Array;
  /** Valid entries of `latent`. */
  length: number;
  sequence: number;
  observationTimeNs: number;
  arrivalTimeNs: number;
}

// ---------------------------------------------------------------------------------------------
// Seqlock primitive

/** Byte offset of the data behind a slot's sequence word (8 keeps Float64 data aligned). */
const DATA_OFFSET_BYTES = 8;
/** A reader that keeps catching the writer mid-write gives up for this call and tries again next time. */
const MAX_READ_ATTEMPTS = 32;

class SeqSlot {
  readonly seq: Int32Array;
  readonly f64: Float64Array;

  constructor(readonly buffer: SharedArrayBuffer, f64Length: number) {
    this.seq = new Int32Array(buffer, 0, 2);
    this.f64 = new Float64Array(buffer, DATA_OFFSET_BYTES, f64Length);
  }

  static bytes(f64Length: number, extraBytes = 0): number {
    return DATA_OFFSET_BYTES + f64Length * 8 + extraBytes;
  }

  beginWrite(): void {
    Atomics.add(this.seq, 0, 1); // odd: a write is in progress
  }

  endWrite(): void {
    Atomics.add(this.seq, 0, 1); // even again: the data is consistent
  }

  /** Current sequence value: 0 = never written; changes with every completed write. */
  version(): number {
    return Atomics.load(this.seq, 0);
  }
}

// ---------------------------------------------------------------------------------------------
// Histograms of durations (period error, sensor-to-command latency), kept in the status slot

/** Bins: 2 us wide up to 1 ms, 50 us wide up to 10 ms, then one overflow bin. */
const FINE_BIN_NS = 2_000;
const FINE_LIMIT_NS = 1_000_000;
const COARSE_BIN_NS = 50_000;
const COARSE_LIMIT_NS = 10_000_000;
const FINE_BINS = FINE_LIMIT_NS / FINE_BIN_NS;
const COARSE_BINS = (COARSE_LIMIT_NS - FINE_LIMIT_NS) / COARSE_BIN_NS;
export const DURATION_HISTOGRAM_BINS = FINE_BINS + COARSE_BINS + 1;

export function durationBinIndex(durationNs: number): number {
  if (!(durationNs > 0)) return 0;
  if (durationNs < FINE_LIMIT_NS) return Math.floor(durationNs / FINE_BIN_NS);
  if (durationNs < COARSE_LIMIT_NS) return FINE_BINS + Math.floor((durationNs - FINE_LIMIT_NS) / COARSE_BIN_NS);
  return DURATION_HISTOGRAM_BINS - 1;
}

/** Upper edge of a bin in ns (Infinity for the overflow bin). */
export function durationBinUpperNs(index: number): number {
  if (index < FINE_BINS) return (index + 1) * FINE_BIN_NS;
  if (index < FINE_BINS + COARSE_BINS) return FINE_LIMIT_NS + (index - FINE_BINS + 1) * COARSE_BIN_NS;
  return Infinity;
}

/**
 * Quantile of a duration histogram, reported as the upper edge of the bin that holds it (a bound, never an
 * underestimate); `maxNs` caps it so the overflow bin still gives a finite answer. NaN for an empty histogram.
 */
export function durationQuantileNs(bins: ArrayLike<number>, q: number, maxNs = Infinity): number {
  let total = 0;
  for (let i = 0; i < bins.length; i++) total += bins[i];
  if (total === 0) return NaN;
  const rank = Math.max(1, Math.ceil(q * total));
  let seen = 0;
  for (let i = 0; i < bins.length; i++) {
    seen += bins[i];
    if (seen >= rank) return Math.min(durationBinUpperNs(i), maxNs);
  }
  return maxNs;
}

// ---------------------------------------------------------------------------------------------
// Status slot layout (all Float64, written by the fast side)

const SAFETY_REASON_NAMES = Object.keys(SafetyReason) as SafetyReasonName[];

/** Scalar fields of the status slot, in order. */
const STATUS_FIELDS = [
  "ticks",
  "overruns",
  "chunksAccepted",
  "chunksRejected",
  "ticksWithoutSensors",
  "lastTickTimeNs",
  "lastTickWorkNs",
  "maxTickWorkNs",
  "periodErrorCount",
  "periodErrorSumNs",
  "periodErrorMaxNs",
  "wakeLatenessMaxNs",
  "latencyCount",
  "latencySumNs",
  "latencyMaxNs",
  "rateHz",
  "startTimeNs",
  "lastChunkSequence",
  "spinMarginNs",
  "teleopTicks",
  "teleopHoldTicks",
  "teleopModeChanges",
  "teleopTargetSequence",
  "teleopTargetAppliedNs",
] as const;
export type StatusField = (typeof STATUS_FIELDS)[number];

const STATUS_INDEX = Object.fromEntries(STATUS_FIELDS.map((name, i) => [name, i])) as Record<StatusField, number>;
const STATUS_SAFETY_OFFSET = STATUS_FIELDS.length;
const STATUS_PERIOD_HIST_OFFSET = STATUS_SAFETY_OFFSET + SAFETY_REASON_NAMES.length;
const STATUS_LATENCY_HIST_OFFSET = STATUS_PERIOD_HIST_OFFSET + DURATION_HISTOGRAM_BINS;
const STATUS_LENGTH = STATUS_LATENCY_HIST_OFFSET + DURATION_HISTOGRAM_BINS;

/** A copy of the status slot for monitoring (allocates: main-thread use, not per tick). */
export interface FastStatusSnapshot extends Record<StatusField, number> {
  /** Incremented by the fast side once per tick; read without the seqlock. */
  heartbeat: number;
  safetyCounts: Record<SafetyReasonName, number>;
  periodErrorHistogram: Float64Array;
  latencyHistogram: Float64Array;
}

/**
 * The fast side's counters, kept in a private Float64Array and published to the status slot with one
 * seqlock write (so a reader always sees one tick's consistent set). Allocation-free.
 */
export class StatusWriter {
  private readonly local = new Float64Array(STATUS_LENGTH);

  constructor(private readonly slot: SeqSlot, private readonly heartbeatCell: Int32Array) {}

  add(field: StatusField, delta: number): void {
    this.local[STATUS_INDEX[field]] += delta;
  }

  set(field: StatusField, value: number): void {
    this.local[STATUS_INDEX[field]] = value;
  }

  get(field: StatusField): number {
    return this.local[STATUS_INDEX[field]];
  }

  max(field: StatusField, value: number): void {
    const i = STATUS_INDEX[field];
    if (value > this.local[i]) this.local[i] = value;
  }

  /** Count every reason bit set in `reasons`. */
  countSafety(reasons: number): void {
    if (reasons === 0) return;
    for (let i = 0; i < SAFETY_REASON_NAMES.length; i++) {
      if (reasons & (1 << i)) this.local[STATUS_SAFETY_OFFSET + i] += 1;
    }
  }

  recordPeriodError(errorNs: number): void {
    this.local[STATUS_PERIOD_HIST_OFFSET + durationBinIndex(errorNs)] += 1;
    this.local[STATUS_INDEX.periodErrorCount] += 1;
    this.local[STATUS_INDEX.periodErrorSumNs] += errorNs;
    this.max("periodErrorMaxNs", errorNs);
  }

  recordLatency(latencyNs: number): void {
    this.local[STATUS_LATENCY_HIST_OFFSET + durationBinIndex(latencyNs)] += 1;
    this.local[STATUS_INDEX.latencyCount] += 1;
    this.local[STATUS_INDEX.latencySumNs] += latencyNs;
    this.max("latencyMaxNs", latencyNs);
  }

  /** Clear the timing statistics (period error, lateness, latency, work time), e.g. after a warm-up. */
  resetTiming(): void {
    for (const f of ["periodErrorCount", "periodErrorSumNs", "periodErrorMaxNs", "wakeLatenessMaxNs", "latencyCount", "latencySumNs", "latencyMaxNs", "maxTickWorkNs", "overruns"] as const) {
      this.local[STATUS_INDEX[f]] = 0;
    }
    this.local.fill(0, STATUS_PERIOD_HIST_OFFSET, STATUS_LENGTH);
  }

  publish(): void {
    const dst = this.slot.f64;
    const src = this.local;
    this.slot.beginWrite();
    for (let i = 0; i < STATUS_LENGTH; i++) dst[i] = src[i];
    this.slot.endWrite();
  }

  beat(): void {
    Atomics.add(this.heartbeatCell, 0, 1);
  }
}

// ---------------------------------------------------------------------------------------------
// Control slot (Int32, written by the main thread, read by the fast side)

const CONTROL_ESTOP_REQUESTS = 0; // counter: every request increments it, so none is lost between two ticks
const CONTROL_ESTOP_RESETS = 1; // counter
const CONTROL_POLICY_ENABLED = 2; // 0 / 1
const CONTROL_SHUTDOWN = 3; // 0 / 1
const CONTROL_TIMING_RESETS = 4; // counter: ask the fast side to clear its timing statistics
const CONTROL_LENGTH = 8;

const SAMPLE_STATE_CODES: Record<SampleState, number> = { ok: 0, empty: 1, exhausted: 2 };
const SAMPLE_STATES: readonly SampleState[] = ["ok", "empty", "exhausted"];
const SOURCE_CODES: Record<CommandSourceKind, number> = { policy: 0, teleop: 1, "teleop-hold": 2 };
const SOURCES: readonly CommandSourceKind[] = ["policy", "teleop", "teleop-hold"];

const SENSOR_HEADER = 1; // timeNs
const CHUNK_HEADER = 6; // sequence, steps, dim, stepPeriodNs, observationTimeNs, arrivalTimeNs
const LATENT_HEADER = 4; // sequence, observationTimeNs, arrivalTimeNs, length
const COMMAND_HEADER = 8; // timeNs, sensorTimeNs, sampleState, safetyReasons, chunkSequence, tick, source, teleopSequence
const TELEOP_HEADER = 7; // mode, modeSequence, hasTarget, targetSequence, targetTimeNs, watchdogNs, velocityUntilNs
const WRENCH_SIZE = 6;

function sensorLength(l: SharedLayout): number {
  return SENSOR_HEADER + 2 * l.dim + WRENCH_SIZE + l.tactileCount;
}

function checkLayout(layout: SharedLayout): void {
  const check = (name: keyof SharedLayout, min: number, max: number) => {
    const v = layout[name];
    if (!Number.isInteger(v) || v < min || v > max) {
      throw new Error(`shared state: expected ${name} to be an integer in [${min}, ${max}], got ${String(v)}`);
    }
  };
  check("dim", 1, 64);
  check("tactileCount", 0, 4096);
  check("maxChunkSteps", 1, 4096);
  check("latentSize", 0, 1 << 20);
}

/** The runtime's shared memory, seen from either thread. */
export class SharedRuntimeState {
  readonly layout: Readonly<SharedLayout>;
  readonly buffers: SharedRuntimeBuffers;
  private readonly sensors: SeqSlot;
  private readonly chunk: SeqSlot;
  private readonly latentHeader: SeqSlot;
  private readonly latentData: Float32Array;
  private readonly command: SeqSlot;
  private readonly status: SeqSlot;
  private readonly statusHeartbeat: Int32Array;
  private readonly control: Int32Array;
  private readonly teleop: SeqSlot;
  private statusWriter: StatusWriter | null = null;

  private constructor(buffers: SharedRuntimeBuffers) {
    const l = buffers.layout;
    this.layout = Object.freeze({ ...l });
    this.buffers = buffers;
    this.sensors = new SeqSlot(buffers.sensors, sensorLength(l));
    this.chunk = new SeqSlot(buffers.chunk, CHUNK_HEADER + l.maxChunkSteps * l.dim);
    this.latentHeader = new SeqSlot(buffers.latent, LATENT_HEADER);
    this.latentData = new Float32Array(buffers.latent, SeqSlot.bytes(LATENT_HEADER), l.latentSize);
    this.command = new SeqSlot(buffers.command, COMMAND_HEADER + 2 * l.dim);
    this.status = new SeqSlot(buffers.status, STATUS_LENGTH);
    this.statusHeartbeat = new Int32Array(buffers.status, 4, 1); // second word of the status header
    this.control = new Int32Array(buffers.control, 0, CONTROL_LENGTH);
    this.teleop = new SeqSlot(buffers.teleop, TELEOP_HEADER + 2 * l.dim);
  }

  /** Allocate fresh shared memory (main thread). The policy starts enabled. */
  static create(layout: SharedLayout): SharedRuntimeState {
    checkLayout(layout);
    const l = { dim: layout.dim, tactileCount: layout.tactileCount, maxChunkSteps: layout.maxChunkSteps, latentSize: layout.latentSize };
    const state = new SharedRuntimeState({
      layout: l,
      sensors: new SharedArrayBuffer(SeqSlot.bytes(sensorLength(l))),
      chunk: new SharedArrayBuffer(SeqSlot.bytes(CHUNK_HEADER + l.maxChunkSteps * l.dim)),
      latent: new SharedArrayBuffer(SeqSlot.bytes(LATENT_HEADER, 4 * l.latentSize)),
      command: new SharedArrayBuffer(SeqSlot.bytes(COMMAND_HEADER + 2 * l.dim)),
      status: new SharedArrayBuffer(SeqSlot.bytes(STATUS_LENGTH)),
      control: new SharedArrayBuffer(4 * CONTROL_LENGTH),
      teleop: new SharedArrayBuffer(SeqSlot.bytes(TELEOP_HEADER + 2 * l.dim)),
    });
    state.setPolicyEnabled(true);
    return state;
  }

  /** Attach to memory created elsewhere (the worker side); checks every buffer against the layout. */
  static attach(buffers: SharedRuntimeBuffers): SharedRuntimeState {
    if (typeof buffers !== "object" || buffers === null || typeof buffers.layout !== "object") {
      throw new Error(`shared state: expected the buffers object of SharedRuntimeState.buffers, got ${typeof buffers}`);
    }
    checkLayout(buffers.layout);
    const l = buffers.layout;
    const expected: Record<Exclude<keyof SharedRuntimeBuffers, "layout">, number> = {
      sensors: SeqSlot.bytes(sensorLength(l)),
      chunk: SeqSlot.bytes(CHUNK_HEADER + l.maxChunkSteps * l.dim),
      latent: SeqSlot.bytes(LATENT_HEADER, 4 * l.latentSize),
      command: SeqSlot.bytes(COMMAND_HEADER + 2 * l.dim),
      status: SeqSlot.bytes(STATUS_LENGTH),
      control: 4 * CONTROL_LENGTH,
      teleop: SeqSlot.bytes(TELEOP_HEADER + 2 * l.dim),
    };
    for (const [name, bytes] of Object.entries(expected)) {
      const b = buffers[name as keyof typeof expected];
      if (!(b instanceof SharedArrayBuffer) || b.byteLength !== bytes) {
        const got = b instanceof SharedArrayBuffer ? `${b.byteLength} bytes` : typeof b;
        throw new Error(`shared state: expected buffers.${name} to be a SharedArrayBuffer of ${bytes} bytes, got ${got}`);
      }
    }
    return new SharedRuntimeState(buffers);
  }

  // ----- helpers to preallocate the reader-side objects -----

  createSensorSnapshot(): SensorSnapshot {
    const l = this.layout;
    return { timeNs: 0, positions: new Float64Array(l.dim), velocities: new Float64Array(l.dim), wrench: new Float64Array(WRENCH_SIZE), tactile: new Float64Array(l.tactileCount) };
  }

  createCommandRecord(): CommandRecord {
    return {
      timeNs: 0,
      sensorTimeNs: 0,
      sampleState: "empty",
      safetyReasons: 0,
      chunkSequence: 0,
      tick: 0,
      source: "policy",
      teleopSequence: 0,
      command: new Float64Array(this.layout.dim),
      target: new Float64Array(this.layout.dim),
    };
  }

  createLatentSample(): LatentSample {
    return { latent: new Float32Array(this.layout.latentSize), length: 0, sequence: 0, observationTimeNs: 0, arrivalTimeNs: 0 };
  }

  // ----- sensors (writer: the backend owner) -----

  writeSensors(s: SensorSnapshot): void {
    const l = this.layout;
    if (s.positions.length !== l.dim || s.velocities.length !== l.dim || s.wrench.length !== WRENCH_SIZE || s.tactile.length !== l.tactileCount) {
      throw new Error(
        `shared state: expected sensors with ${l.dim} positions/velocities, ${WRENCH_SIZE} wrench, ${l.tactileCount} tactile values, ` +
          `got ${s.positions.length}/${s.velocities.length}, ${s.wrench.length}, ${s.tactile.length}`,
      );
    }
    const d = this.sensors.f64;
    this.sensors.beginWrite();
    d[0] = s.timeNs;
    let o = SENSOR_HEADER;
    for (let i = 0; i < l.dim; i++) d[o++] = s.positions[i];
    for (let i = 0; i < l.dim; i++) d[o++] = s.velocities[i];
    for (let i = 0; i < WRENCH_SIZE; i++) d[o++] = s.wrench[i];
    for (let i = 0; i < l.tactileCount; i++) d[o++] = s.tactile[i];
    this.sensors.endWrite();
  }

  /** Copy the newest sensor sample into `into`; false when none was ever written (or the writer kept us out). */
  readSensors(into: SensorSnapshot): boolean {
    const l = this.layout;
    const d = this.sensors.f64;
    for (let attempt = 0; attempt < MAX_READ_ATTEMPTS; attempt++) {
      const before = this.sensors.version();
      if (before === 0) return false;
      if (before & 1) continue;
      into.timeNs = d[0];
      let o = SENSOR_HEADER;
      for (let i = 0; i < l.dim; i++) into.positions[i] = d[o++];
      for (let i = 0; i < l.dim; i++) into.velocities[i] = d[o++];
      for (let i = 0; i < WRENCH_SIZE; i++) into.wrench[i] = d[o++];
      for (let i = 0; i < l.tactileCount; i++) into.tactile[i] = d[o++];
      if (this.sensors.version() === before) return true;
    }
    return false;
  }

  /** Changes with every sensor write (0: never written). */
  sensorsVersion(): number {
    return this.sensors.version();
  }

  // ----- chunk (writer: the slow executor) -----

  /** Publish a chunk; throws a one-line error when it does not fit the layout. */
  writeChunk(chunk: ActionChunk): void {
    const l = this.layout;
    if (chunk.dim !== l.dim) throw new Error(`shared state: expected a chunk of dim ${l.dim}, got dim ${chunk.dim}`);
    if (!Number.isInteger(chunk.steps) || chunk.steps < 1 || chunk.steps > l.maxChunkSteps) {
      throw new Error(`shared state: expected 1..${l.maxChunkSteps} chunk steps, got ${chunk.steps}`);
    }
    const n = chunk.steps * chunk.dim;
    if (chunk.actions.length < n) throw new Error(`shared state: expected ${n} chunk actions (${chunk.steps}x${chunk.dim}), got ${chunk.actions.length}`);
    if (!(chunk.stepPeriodNs > 0)) throw new Error(`shared state: expected a positive chunk stepPeriodNs, got ${chunk.stepPeriodNs}`);
    const d = this.chunk.f64;
    this.chunk.beginWrite();
    d[0] = chunk.sequence;
    d[1] = chunk.steps;
    d[2] = chunk.dim;
    d[3] = chunk.stepPeriodNs;
    d[4] = chunk.observationTimeNs;
    d[5] = chunk.arrivalTimeNs;
    for (let i = 0; i < n; i++) d[CHUNK_HEADER + i] = chunk.actions[i];
    this.chunk.endWrite();
  }

  /** Changes with every chunk write (0: never written). Cheap: one atomic load. */
  chunkVersion(): number {
    return this.chunk.version();
  }

  /**
   * Copy the newest chunk into `into` (whose `actions` must hold maxChunkSteps*dim values; only the first
   * steps*dim are written). Returns the slot version it read, or 0 when there is nothing consistent to read.
   */
  readChunk(into: ActionChunk): number {
    const d = this.chunk.f64;
    const capacity = this.layout.maxChunkSteps * this.layout.dim;
    for (let attempt = 0; attempt < MAX_READ_ATTEMPTS; attempt++) {
      const before = this.chunk.version();
      if (before === 0) return 0;
      if (before & 1) continue;
      const steps = d[1];
      const dim = d[2];
      const n = steps * dim;
      if (!(n >= 0 && n <= capacity && n <= into.actions.length)) continue; // torn header: retry
      into.sequence = d[0];
      into.steps = steps;
      into.dim = dim;
      into.stepPeriodNs = d[3];
      into.observationTimeNs = d[4];
      into.arrivalTimeNs = d[5];
      const a = into.actions;
      for (let i = 0; i < n; i++) a[i] = d[CHUNK_HEADER + i];
      if (this.chunk.version() === before) return before;
    }
    return 0;
  }

  // ----- latent (writer: the slow executor) -----

  writeLatent(latent: Float32Array, sequence: number, observationTimeNs: number, arrivalTimeNs: number): void {
    if (latent.length > this.layout.latentSize) {
      throw new Error(`shared state: expected a latent of at most ${this.layout.latentSize} values, got ${latent.length}`);
    }
    const h = this.latentHeader.f64;
    this.latentHeader.beginWrite();
    h[0] = sequence;
    h[1] = observationTimeNs;
    h[2] = arrivalTimeNs;
    h[3] = latent.length;
    for (let i = 0; i < latent.length; i++) this.latentData[i] = latent[i];
    this.latentHeader.endWrite();
  }

  latentVersion(): number {
    return this.latentHeader.version();
  }

  /** Copy the newest latent; returns the slot version read, or 0 when there is none. */
  readLatent(into: LatentSample): number {
    const h = this.latentHeader.f64;
    for (let attempt = 0; attempt < MAX_READ_ATTEMPTS; attempt++) {
      const before = this.latentHeader.version();
      if (before === 0) return 0;
      if (before & 1) continue;
      const length = h[3];
      if (!(length >= 0 && length <= this.layout.latentSize && length <= into.latent.length)) continue;
      into.sequence = h[0];
      into.observationTimeNs = h[1];
      into.arrivalTimeNs = h[2];
      into.length = length;
      for (let i = 0; i < length; i++) into.latent[i] = this.latentData[i];
      if (this.latentHeader.version() === before) return before;
    }
    return 0;
  }

  // ----- command (writer: the fast loop) -----

  writeCommand(r: CommandRecord): void {
    const dim = this.layout.dim;
    const d = this.command.f64;
    this.command.beginWrite();
    d[0] = r.timeNs;
    d[1] = r.sensorTimeNs;
    d[2] = SAMPLE_STATE_CODES[r.sampleState];
    d[3] = r.safetyReasons;
    d[4] = r.chunkSequence;
    d[5] = r.tick;
    d[6] = SOURCE_CODES[r.source ?? "policy"];
    d[7] = r.teleopSequence ?? 0;
    for (let i = 0; i < dim; i++) {
      d[COMMAND_HEADER + i] = r.command[i];
      d[COMMAND_HEADER + dim + i] = r.target[i];
    }
    this.command.endWrite();
  }

  /** Changes with every published command (0: none yet): a reader that sees it stop knows the fast loop stopped. */
  commandVersion(): number {
    return this.command.version();
  }

  /** Copy the newest command; returns the slot version read, or 0 when there is none. */
  readCommand(into: CommandRecord): number {
    const dim = this.layout.dim;
    const d = this.command.f64;
    for (let attempt = 0; attempt < MAX_READ_ATTEMPTS; attempt++) {
      const before = this.command.version();
      if (before === 0) return 0;
      if (before & 1) continue;
      into.timeNs = d[0];
      into.sensorTimeNs = d[1];
      into.sampleState = SAMPLE_STATES[d[2]] ?? "empty";
      into.safetyReasons = d[3];
      into.chunkSequence = d[4];
      into.tick = d[5];
      into.source = SOURCES[d[6]] ?? "policy";
      into.teleopSequence = d[7];
      for (let i = 0; i < dim; i++) {
        into.command[i] = d[COMMAND_HEADER + i];
        into.target[i] = d[COMMAND_HEADER + dim + i];
      }
      if (this.command.version() === before) return before;
    }
    return 0;
  }

  // ----- teleop (writer: the main thread's teleop endpoint; reader: the fast loop) -----

  createTeleopTarget(): TeleopTarget {
    const dim = this.layout.dim;
    return {
      mode: "observe",
      modeSequence: 0,
      hasTarget: false,
      targetSequence: 0,
      targetTimeNs: 0,
      watchdogNs: 0,
      velocityUntilNs: 0,
      positions: new Float64Array(dim),
      velocities: new Float64Array(dim),
    };
  }

  /** Publish the teleop slot; throws a one-line error on a wrong length or a non-finite target. */
  writeTeleop(t: TeleopTarget): void {
    const dim = this.layout.dim;
    if (t.positions.length !== dim || t.velocities.length !== dim) {
      throw new Error(`shared state: expected a teleop target with ${dim} positions and velocities, got ${t.positions.length} and ${t.velocities.length}`);
    }
    if (t.hasTarget) {
      for (let i = 0; i < dim; i++) {
        if (!Number.isFinite(t.positions[i]) || !Number.isFinite(t.velocities[i])) {
          throw new Error(`shared state: expected a finite teleop target, got position ${t.positions[i]} / velocity ${t.velocities[i]} at index ${i}`);
        }
      }
    }
    const d = this.teleop.f64;
    this.teleop.beginWrite();
    d[0] = t.mode === "takeover" ? 1 : 0;
    d[1] = t.modeSequence;
    d[2] = t.hasTarget ? 1 : 0;
    d[3] = t.targetSequence;
    d[4] = t.targetTimeNs;
    d[5] = t.watchdogNs;
    d[6] = t.velocityUntilNs;
    for (let i = 0; i < dim; i++) {
      d[TELEOP_HEADER + i] = t.positions[i];
      d[TELEOP_HEADER + dim + i] = t.velocities[i];
    }
    this.teleop.endWrite();
  }

  /** Changes with every teleop write (0: never written, i.e. observe). Cheap: one atomic load. */
  teleopVersion(): number {
    return this.teleop.version();
  }

  /** Copy the teleop slot; returns the version read, or 0 when it was never written (or the writer kept us out). */
  readTeleop(into: TeleopTarget): number {
    const dim = this.layout.dim;
    const d = this.teleop.f64;
    for (let attempt = 0; attempt < MAX_READ_ATTEMPTS; attempt++) {
      const before = this.teleop.version();
      if (before === 0) return 0;
      if (before & 1) continue;
      into.mode = d[0] === 1 ? "takeover" : "observe";
      into.modeSequence = d[1];
      into.hasTarget = d[2] === 1;
      into.targetSequence = d[3];
      into.targetTimeNs = d[4];
      into.watchdogNs = d[5];
      into.velocityUntilNs = d[6];
      for (let i = 0; i < dim; i++) {
        into.positions[i] = d[TELEOP_HEADER + i];
        into.velocities[i] = d[TELEOP_HEADER + dim + i];
      }
      if (this.teleop.version() === before) return before;
    }
    return 0;
  }

  // ----- status (writer: the fast side) -----

  /** The fast side's status writer (one per state object; only the fast side should publish through it). */
  statusWriterForFastSide(): StatusWriter {
    this.statusWriter ??= new StatusWriter(this.status, this.statusHeartbeat);
    return this.statusWriter;
  }

  heartbeat(): number {
    return Atomics.load(this.statusHeartbeat, 0);
  }

  /** A consistent copy of the status slot (allocates; for monitoring and benchmarks). */
  readStatus(): FastStatusSnapshot {
    const copy = new Float64Array(STATUS_LENGTH);
    const d = this.status.f64;
    for (let attempt = 0; attempt < 1000; attempt++) {
      const before = this.status.version();
      if (before & 1) continue;
      copy.set(d);
      if (this.status.version() === before) break;
    }
    const snapshot = { heartbeat: this.heartbeat() } as FastStatusSnapshot;
    for (const f of STATUS_FIELDS) snapshot[f] = copy[STATUS_INDEX[f]];
    snapshot.safetyCounts = Object.fromEntries(SAFETY_REASON_NAMES.map((n, i) => [n, copy[STATUS_SAFETY_OFFSET + i]])) as Record<SafetyReasonName, number>;
    snapshot.periodErrorHistogram = copy.slice(STATUS_PERIOD_HIST_OFFSET, STATUS_PERIOD_HIST_OFFSET + DURATION_HISTOGRAM_BINS);
    snapshot.latencyHistogram = copy.slice(STATUS_LATENCY_HIST_OFFSET, STATUS_LATENCY_HIST_OFFSET + DURATION_HISTOGRAM_BINS);
    return snapshot;
  }

  // ----- control (writer: the main thread; reader: the fast side) -----

  requestEmergencyStop(): void {
    Atomics.add(this.control, CONTROL_ESTOP_REQUESTS, 1);
  }

  requestEmergencyStopReset(): void {
    Atomics.add(this.control, CONTROL_ESTOP_RESETS, 1);
  }

  emergencyStopRequests(): number {
    return Atomics.load(this.control, CONTROL_ESTOP_REQUESTS);
  }

  emergencyStopResets(): number {
    return Atomics.load(this.control, CONTROL_ESTOP_RESETS);
  }

  setPolicyEnabled(enabled: boolean): void {
    Atomics.store(this.control, CONTROL_POLICY_ENABLED, enabled ? 1 : 0);
  }

  policyEnabled(): boolean {
    return Atomics.load(this.control, CONTROL_POLICY_ENABLED) === 1;
  }

  /** Ask the fast side to stop its loop (it checks every tick). */
  requestShutdown(): void {
    Atomics.store(this.control, CONTROL_SHUTDOWN, 1);
  }

  /** Clear a shutdown request, so a new fast worker can run on the same state. */
  clearShutdown(): void {
    Atomics.store(this.control, CONTROL_SHUTDOWN, 0);
  }

  shutdownRequested(): boolean {
    return Atomics.load(this.control, CONTROL_SHUTDOWN) === 1;
  }

  /** Ask the fast side to clear its timing statistics (benchmarks do this after a warm-up). */
  requestTimingReset(): void {
    Atomics.add(this.control, CONTROL_TIMING_RESETS, 1);
  }

  timingResets(): number {
    return Atomics.load(this.control, CONTROL_TIMING_RESETS);
  }
}
