// A scripted expert for the wipe task. From an observation (joint positions, wrist wrench, tactile, time) and
// the public task spec (marked area, force band; never the surface height) it plans the next action chunk of
// absolute joint targets + gripper width at the policy step rate:
//   approach  -> straight line to a hover point above the start of the wipe path (safe height),
//   descend   -> straight down at constant speed until the pad feels the surface,
//   settle    -> press in place until the force is in the band,
//   wipe      -> boustrophedon over the area; the pressing depth is corrected from the measured force
//                (an integral controller on depth: the sponge makes force roughly proportional to depth),
//   lift      -> straight up to the hover height, then hold.
// The plan is indexed by time (step i of a chunk is due at observation time + i * step period), so it stays
// consistent however often the caller replans. Given the same seed and observations it returns the same chunks.
import type { ArmDescription } from "../kinematics/description.js";
import { commandDim } from "../kinematics/description.js";
import { ArmKinematics } from "../kinematics/kinematics.js";
import type { ActionChunk, SensorSnapshot } from "../runtime/types.js";
import { seededRandom, type WipeEpisodeMetrics, type WipeTaskSpec } from "./task.js";

export type WipeExpertPhase = "approach" | "descend" | "settle" | "wipe" | "lift" | "done";

/** What the expert reads from the arm: a SensorSnapshot has all of it. */
export type WipeObservation = Pick<SensorSnapshot, "timeNs" | "positions" | "wrench" | "tactile">;

export interface WipeExpertOptions {
  /** Time between chunk steps (s); default 0.1 (10 Hz). */
  stepPeriodS?: number;
  /** Steps per chunk; default 10. */
  chunkSteps?: number;
  /** Varies the start corner, lane direction and wipe speed (deterministically). Default 0. */
  seed?: number;
  /** false: lanes always along the longer side, starting at the area corner nearest the tool's first position, so
   * the path follows from what a camera sees (demonstrations for a policy that cannot know the seed). Default true. */
  variedPath?: boolean;
  /** Pad speed along the lanes (m/s); default 0.06 (+-10 % with the seed). */
  wipeSpeedMPerS?: number;
  /** Speed when moving in free air (m/s); default 0.15. */
  approachSpeedMPerS?: number;
  /** Descent speed while feeling for the surface (m/s); default 0.04. */
  descentSpeedMPerS?: number;
  /** Height of the tool centre above the table while approaching and after lifting (m); default 0.24. */
  hoverHeightM?: number;
  /** Side of the (square) pad the tool carries (m); default 0.056 (4 taxels at 14 mm). */
  padSizeM?: number;
  /** Fraction of the pad width that neighbouring lanes overlap; default 0.3. */
  laneOverlap?: number;
  /** How far the pad centre path reaches past the pad-inside edge of the area (m); default 0.012. */
  edgeOverhangM?: number;
  /** Depth correction per newton of force error per step (m/N); default 2.5e-4. */
  forceGainMPerN?: number;
  /** Prior on the contact stiffness of the sponge in series with the arm (N/m), used once to jump from first touch
   * to the depth of the target force; default 1200. The integral correction takes it from there. */
  contactStiffnessNPerM?: number;
  /** Normal force that counts as touching the surface (N); default 1. */
  contactForceN?: number;
  /** Gripper width to hold (m); default 0.06. */
  gripperWidthM?: number;
  /** Longest settle before wiping starts anyway (s); default 1.5. */
  maxSettleS?: number;
}

interface Resolved extends Required<WipeExpertOptions> {}

const DEFAULTS: Resolved = {
  stepPeriodS: 0.1,
  chunkSteps: 10,
  seed: 0,
  variedPath: true,
  wipeSpeedMPerS: 0.06,
  approachSpeedMPerS: 0.15,
  descentSpeedMPerS: 0.04,
  hoverHeightM: 0.24,
  padSizeM: 0.056,
  laneOverlap: 0.3,
  edgeOverhangM: 0.012,
  forceGainMPerN: 2.5e-4,
  contactStiffnessNPerM: 1200,
  contactForceN: 1,
  gripperWidthM: 0.06,
  maxSettleS: 1.5,
};

/** Tool pointing straight down with its x axis along world -x (the bundled arm's ready orientation). */
export const PAD_DOWN_ROTATION = Object.freeze([-1, 0, 0, 0, 1, 0, 0, 0, -1]);

/** Deepest the expert presses below where it first felt the surface, and highest it backs off above it (m). */
const MAX_DEPTH_M = 0.035;
const MAX_BACKOFF_M = 0.01;
/** Lowest hover height the approach may fall back to when the full height is out of reach (m). */
const MIN_HOVER_M = 0.16;

function optionError(field: string, expected: string, got: unknown): never {
  throw new Error(`wipe expert: ${field} must be ${expected}, got ${typeof got === "number" ? got : JSON.stringify(got)}`);
}

/** The options with the defaults filled in, each checked (a one-line error names the first bad one). */
export function resolveWipeExpertOptions(options: WipeExpertOptions): Resolved {
  const o = { ...DEFAULTS, ...options };
  const positive: (keyof Resolved)[] = [
    "stepPeriodS", "wipeSpeedMPerS", "approachSpeedMPerS", "descentSpeedMPerS", "hoverHeightM", "padSizeM",
    "forceGainMPerN", "contactStiffnessNPerM", "contactForceN", "maxSettleS",
  ];
  for (const k of positive) if (typeof o[k] !== "number" || !Number.isFinite(o[k]) || (o[k] as number) <= 0) optionError(k, "a positive number", o[k]);
  if (!Number.isInteger(o.chunkSteps) || o.chunkSteps < 1 || o.chunkSteps > 1000) optionError("chunkSteps", "an integer in [1, 1000]", o.chunkSteps);
  if (!(o.laneOverlap >= 0 && o.laneOverlap < 0.9)) optionError("laneOverlap", "a number in [0, 0.9)", o.laneOverlap);
  if (!Number.isFinite(o.edgeOverhangM) || Math.abs(o.edgeOverhangM) > o.padSizeM / 2) optionError("edgeOverhangM", `a number within +-padSizeM/2`, o.edgeOverhangM);
  if (!Number.isFinite(o.seed)) optionError("seed", "a finite number", o.seed);
  if (typeof o.variedPath !== "boolean") optionError("variedPath", "a boolean", o.variedPath);
  if (!Number.isFinite(o.gripperWidthM) || o.gripperWidthM < 0) optionError("gripperWidthM", "a non-negative number (m)", o.gripperWidthM);
  return o;
}

/** A polyline in the table plane with arc-length lookup. */
export class WipePath {
  readonly xs: Float64Array;
  readonly ys: Float64Array;
  readonly cumulative: Float64Array;
  readonly lengthM: number;

  constructor(points: [number, number][]) {
    this.xs = Float64Array.from(points.map((p) => p[0]));
    this.ys = Float64Array.from(points.map((p) => p[1]));
    this.cumulative = new Float64Array(points.length);
    for (let i = 1; i < points.length; i++) {
      this.cumulative[i] = this.cumulative[i - 1] + Math.hypot(this.xs[i] - this.xs[i - 1], this.ys[i] - this.ys[i - 1]);
    }
    this.lengthM = this.cumulative[points.length - 1];
  }

  /** Point at arc length s (clamped to the path) into out[0..1]. */
  at(s: number, out: Float64Array): void {
    const n = this.xs.length;
    if (s <= 0 || n === 1) {
      out[0] = this.xs[0];
      out[1] = this.ys[0];
      return;
    }
    if (s >= this.lengthM) {
      out[0] = this.xs[n - 1];
      out[1] = this.ys[n - 1];
      return;
    }
    let i = 1;
    while (this.cumulative[i] < s) i++;
    const seg = this.cumulative[i] - this.cumulative[i - 1];
    const u = seg > 0 ? (s - this.cumulative[i - 1]) / seg : 0;
    out[0] = this.xs[i - 1] + u * (this.xs[i] - this.xs[i - 1]);
    out[1] = this.ys[i - 1] + u * (this.ys[i] - this.ys[i - 1]);
  }
}

/**
 * Boustrophedon lanes over the area for a square pad: lanes run along `alongX ? x : y`, spaced by the pad width
 * minus the overlap, starting from the corner picked by (flipAlong, flipAcross).
 */
export function boustrophedonPath(
  spec: Pick<WipeTaskSpec, "areaCenterXyM" | "areaSizeXyM">,
  padSizeM: number,
  laneOverlap: number,
  edgeOverhangM: number,
  alongX: boolean,
  flipAlong: boolean,
  flipAcross: boolean,
): [number, number][] {
  const [cx, cy] = spec.areaCenterXyM;
  const along = alongX ? spec.areaSizeXyM[0] : spec.areaSizeXyM[1];
  const across = alongX ? spec.areaSizeXyM[1] : spec.areaSizeXyM[0];
  // Pad-centre range that keeps the pad over the area, widened by the overhang (clamped to the centre line).
  const reach = (size: number) => Math.max(0, size / 2 - padSizeM / 2 + edgeOverhangM);
  const alongReach = reach(along);
  const acrossReach = reach(across);
  const spacing = padSizeM * (1 - laneOverlap);
  const lanes = acrossReach === 0 ? 1 : Math.ceil((2 * acrossReach) / spacing) + 1;
  const points: [number, number][] = [];
  for (let l = 0; l < lanes; l++) {
    const u = lanes === 1 ? 0 : -acrossReach + (2 * acrossReach * l) / (lanes - 1);
    const acrossOffset = flipAcross ? -u : u;
    const forward = l % 2 === 0 ? !flipAlong : flipAlong;
    const a0 = forward ? -alongReach : alongReach;
    for (const a of [a0, -a0]) {
      points.push(alongX ? [cx + a, cy + acrossOffset] : [cx + acrossOffset, cy + a]);
    }
  }
  return points;
}

/** Lanes along the longer side from the corner nearest the tool's x/y (of the four start corners). */
export function nearestCornerPath(
  spec: Pick<WipeTaskSpec, "areaCenterXyM" | "areaSizeXyM">,
  padSizeM: number,
  laneOverlap: number,
  edgeOverhangM: number,
  toolXyM: ArrayLike<number>,
): WipePath {
  const alongX = spec.areaSizeXyM[0] >= spec.areaSizeXyM[1];
  let best: [number, number][] = [];
  let bestDistanceM = Infinity;
  for (const flipAlong of [false, true]) {
    for (const flipAcross of [false, true]) {
      const points = boustrophedonPath(spec, padSizeM, laneOverlap, edgeOverhangM, alongX, flipAlong, flipAcross);
      const d = Math.hypot(points[0][0] - toolXyM[0], points[0][1] - toolXyM[1]);
      if (d < bestDistanceM - 1e-9) {
        bestDistanceM = d;
        best = points;
      }
    }
  }
  return new WipePath(best);
}

/**
 * Highest tool height (m) at hover[0..1], at most `hoverHeightM`, the arm reaches with the pad down: far from the
 * base the full height is out of reach (never below MIN_HOVER_M, above any surface this task samples).
 */
export function reachableHoverHeightM(kinematics: ArmKinematics, hover: Float64Array, hoverHeightM: number, q: ArrayLike<number>): number {
  const point = Float64Array.of(hover[0], hover[1], hoverHeightM);
  for (let z = hoverHeightM; z >= MIN_HOVER_M - 1e-9; z -= 0.01) {
    point[2] = z;
    const r = kinematics.solve({ positionM: point, rotation: PAD_DOWN_ROTATION }, q, { maxIterations: 60 });
    if (r.positionErrorM < 1e-3 && r.rotationErrorRad < 1e-2) break;
  }
  return point[2];
}

/** Normal force on the pad: the taxel total when there is a tactile array, else the wrench's push-back along tool z. */
export function padNormalForceN(observation: Pick<SensorSnapshot, "wrench" | "tactile">): number {
  const tactile = observation.tactile;
  if (tactile && tactile.length > 0) {
    let s = 0;
    for (let i = 0; i < tactile.length; i++) s += tactile[i];
    return s;
  }
  return observation.wrench && observation.wrench.length >= 3 ? Math.max(0, -observation.wrench[2]) : 0;
}

/**
 * A chunk of absolute joint targets + gripper width, row-major into `out`, with the pad pointing down at the tool
 * positions `targetAt(step, into)` gives, each step solved from the one before (the first from `seed`). A step the
 * solver cannot reach within 2 mm keeps the previous step's joints (a hold, which is always safe). Returns how many
 * steps did.
 */
export function padDownChunk(
  kinematics: ArmKinematics,
  seed: ArrayLike<number>,
  steps: number,
  gripperWidthM: number,
  targetAt: (step: number, into: Float64Array) => void,
  out: Float64Array,
): number {
  const joints = kinematics.jointCount;
  const q = Float64Array.from({ length: joints }, (_, i) => seed[i]);
  const target = new Float64Array(3);
  let unreachable = 0;
  for (let step = 0; step < steps; step++) {
    targetAt(step, target);
    const result = kinematics.solve({ positionM: target, rotation: PAD_DOWN_ROTATION }, q, { maxIterations: 50 });
    if (result.ok || result.positionErrorM < 2e-3) q.set(result.q);
    else unreachable++;
    const row = step * (joints + 1);
    for (let i = 0; i < joints; i++) out[row + i] = q[i];
    out[row + joints] = gripperWidthM;
  }
  return unreachable;
}

export class WipeExpert {
  readonly dim: number;
  readonly chunkSteps: number;
  readonly stepPeriodNs: number;
  private readonly o: Resolved;
  private readonly kinematics: ArmKinematics;
  private readonly jointCount: number;
  private path: WipePath;
  private readonly wipeSpeed: number;
  private readonly targetForceN: number;

  private phaseName: WipeExpertPhase = "approach";
  private phaseStartS = 0;
  private startTimeNs = Number.NaN;
  private readonly approachFrom = new Float64Array(3);
  private readonly hover = new Float64Array(3);
  private surfaceZ = Number.NaN;
  private pressZ = Number.NaN;
  private lastForceN = 0;
  private ikFailures = 0;
  private readonly tcp = new Float64Array(3);
  private readonly rot = new Float64Array(9);
  private readonly xy = new Float64Array(2);

  constructor(
    arm: ArmDescription,
    readonly spec: WipeTaskSpec,
    options: WipeExpertOptions = {},
  ) {
    this.o = resolveWipeExpertOptions(options);
    this.kinematics = new ArmKinematics(arm);
    this.jointCount = arm.joints.length;
    this.dim = commandDim(arm);
    this.chunkSteps = this.o.chunkSteps;
    this.stepPeriodNs = Math.round(this.o.stepPeriodS * 1e9);
    const rand = seededRandom(this.o.seed);
    // Lanes along the longer side (fewer turns) unless the seed flips it for variety on near-square areas.
    const longerIsX = spec.areaSizeXyM[0] >= spec.areaSizeXyM[1];
    const nearlySquare = Math.abs(spec.areaSizeXyM[0] - spec.areaSizeXyM[1]) < 0.02;
    const alongX = nearlySquare ? rand() < 0.5 : longerIsX;
    this.path = new WipePath(boustrophedonPath(spec, this.o.padSizeM, this.o.laneOverlap, this.o.edgeOverhangM, this.o.variedPath ? alongX : longerIsX, rand() < 0.5, rand() < 0.5));
    this.wipeSpeed = this.o.wipeSpeedMPerS * (0.9 + 0.2 * rand());
    this.targetForceN = (spec.forceBandN[0] + spec.forceBandN[1]) / 2;
  }

  get phase(): WipeExpertPhase {
    return this.phaseName;
  }

  /** Internal state for logs and tests. */
  diagnostics(): { phase: WipeExpertPhase; surfaceZM: number; pressZM: number; forceN: number; ikFailures: number; pathLengthM: number; pathStartXyM: [number, number]; wipeSpeedMPerS: number } {
    return {
      pathStartXyM: [this.path.xs[0], this.path.ys[0]],
      phase: this.phaseName,
      surfaceZM: this.surfaceZ,
      pressZM: this.pressZ,
      forceN: this.lastForceN,
      ikFailures: this.ikFailures,
      pathLengthM: this.path.lengthM,
      wipeSpeedMPerS: this.wipeSpeed,
    };
  }

  /** Seconds the whole plan takes once wiping starts (path + lift), for sizing time limits. */
  wipeDurationS(): number {
    return this.path.lengthM / this.wipeSpeed;
  }

  reset(): void {
    this.phaseName = "approach";
    this.startTimeNs = Number.NaN;
    this.surfaceZ = Number.NaN;
    this.pressZ = Number.NaN;
    this.lastForceN = 0;
    this.ikFailures = 0;
  }

  /** Plan a chunk and wrap it as an ActionChunk (allocates: once per policy step). */
  planChunk(observation: WipeObservation, sequence = 0, arrivalTimeNs = observation.timeNs): ActionChunk {
    const actions = this.plan(observation);
    return {
      actions,
      steps: this.chunkSteps,
      dim: this.dim,
      stepPeriodNs: this.stepPeriodNs,
      observationTimeNs: observation.timeNs,
      arrivalTimeNs,
      sequence,
    };
  }

  /** Next chunk, row-major [chunkSteps * dim]: step i is due at observation.timeNs + i * stepPeriodNs. */
  plan(observation: WipeObservation, out: Float64Array = new Float64Array(this.chunkSteps * this.dim)): Float64Array {
    this.checkObservation(observation, out);
    const first = Number.isNaN(this.startTimeNs);
    if (first) this.startTimeNs = observation.timeNs;
    const nowS = (observation.timeNs - this.startTimeNs) * 1e-9;
    const q = observation.positions;
    this.kinematics.forward(q, this.tcp, this.rot);
    if (first) this.startApproach(nowS, q);
    const forceN = padNormalForceN(observation);
    this.lastForceN = forceN;
    this.advancePhase(nowS, forceN);

    this.ikFailures += padDownChunk(this.kinematics, q, this.chunkSteps, this.o.gripperWidthM, (step, target) => this.toolTargetAt(nowS + step * this.o.stepPeriodS, target), out);
    return out;
  }

  private checkObservation(observation: WipeObservation, out: Float64Array): void {
    if (!observation || !Number.isFinite(observation.timeNs)) throw new Error(`wipe expert: observation.timeNs must be a finite number, got ${observation?.timeNs}`);
    if (!observation.positions || observation.positions.length < this.jointCount) {
      throw new Error(`wipe expert: observation.positions must hold ${this.jointCount} joint positions, got ${observation.positions?.length}`);
    }
    for (let i = 0; i < this.jointCount; i++) {
      if (!Number.isFinite(observation.positions[i])) throw new Error(`wipe expert: observation.positions[${i}] must be finite, got ${observation.positions[i]}`);
    }
    if (out.length < this.chunkSteps * this.dim) throw new Error(`wipe expert: output buffer must hold ${this.chunkSteps * this.dim} numbers, got ${out.length}`);
  }

  private enter(phase: WipeExpertPhase, nowS: number): void {
    this.phaseName = phase;
    this.phaseStartS = nowS;
  }

  private approachDurationS(): number {
    const d = Math.hypot(this.hover[0] - this.approachFrom[0], this.hover[1] - this.approachFrom[1], this.hover[2] - this.approachFrom[2]);
    return d / this.o.approachSpeedMPerS;
  }

  private advancePhase(nowS: number, forceN: number): void {
    const [low, high] = this.spec.forceBandN;
    switch (this.phaseName) {
      case "approach":
        if (nowS - this.phaseStartS >= this.approachDurationS() + 0.3) this.enter("descend", nowS);
        break;
      case "descend":
        if (forceN >= this.o.contactForceN) {
          // The surface is about where the tool is now (the sponge is only a few mm in); go straight to the depth
          // the stiffness prior gives for the target force instead of creeping through the low end of the band.
          this.surfaceZ = this.tcp[2] + forceN / this.o.contactStiffnessNPerM;
          this.pressZ = this.surfaceZ - this.targetForceN / this.o.contactStiffnessNPerM;
          this.enter("settle", nowS);
        }
        break;
      case "settle":
        this.correctDepth(forceN);
        if ((forceN >= low && forceN <= high) || nowS - this.phaseStartS >= this.o.maxSettleS) this.enter("wipe", nowS);
        break;
      case "wipe":
        this.correctDepth(forceN);
        if ((nowS - this.phaseStartS) * this.wipeSpeed >= this.path.lengthM) {
          this.approachFrom.set(this.tcp);
          this.enter("lift", nowS);
        }
        break;
      case "lift":
        if (nowS - this.phaseStartS >= (this.hover[2] - this.approachFrom[2]) / this.o.approachSpeedMPerS + 0.3) this.enter("done", nowS);
        break;
      case "done":
        break;
    }
  }

  private startApproach(nowS: number, q: ArrayLike<number>): void {
    this.approachFrom.set(this.tcp);
    if (!this.o.variedPath) this.path = nearestCornerPath(this.spec, this.o.padSizeM, this.o.laneOverlap, this.o.edgeOverhangM, this.tcp);
    this.path.at(0, this.xy);
    this.hover[0] = this.xy[0];
    this.hover[1] = this.xy[1];
    this.hover[2] = reachableHoverHeightM(this.kinematics, this.hover, this.o.hoverHeightM, q);
    this.phaseStartS = nowS;
  }

  /** Integral force control on depth, clamped around where the surface was first felt. */
  private correctDepth(forceN: number): void {
    this.pressZ -= this.o.forceGainMPerN * (this.targetForceN - forceN);
    this.pressZ = Math.min(this.surfaceZ + MAX_BACKOFF_M, Math.max(this.surfaceZ - MAX_DEPTH_M, this.pressZ));
  }

  /** Where the tool centre should be at expert time t (s), given the current phase. */
  private toolTargetAt(t: number, out: Float64Array): void {
    const since = Math.max(0, t - this.phaseStartS);
    switch (this.phaseName) {
      case "approach": {
        const T = this.approachDurationS();
        const u = T > 0 ? Math.min(1, since / T) : 1;
        // Smoothstep: zero velocity at both ends of the free-air move.
        const s = u * u * (3 - 2 * u);
        for (let k = 0; k < 3; k++) out[k] = this.approachFrom[k] + s * (this.hover[k] - this.approachFrom[k]);
        return;
      }
      case "descend":
        out[0] = this.hover[0];
        out[1] = this.hover[1];
        out[2] = this.hover[2] - this.o.descentSpeedMPerS * since;
        return;
      case "settle":
        this.path.at(0, this.xy);
        out[0] = this.xy[0];
        out[1] = this.xy[1];
        out[2] = this.pressZ;
        return;
      case "wipe":
        this.path.at(since * this.wipeSpeed, this.xy);
        out[0] = this.xy[0];
        out[1] = this.xy[1];
        out[2] = this.pressZ;
        return;
      case "lift":
      case "done":
        out[0] = this.approachFrom[0];
        out[1] = this.approachFrom[1];
        // Back up to the height the approach used (reachable here or nearby).
        out[2] = this.phaseName === "done" ? this.hover[2] : Math.min(this.hover[2], this.approachFrom[2] + this.o.approachSpeedMPerS * since);
        return;
    }
  }
}

/** What an expert rollout drives: the scripted WipeExpert or the state-labelling one. */
export interface ChunkExpert {
  readonly dim: number;
  readonly chunkSteps: number;
  readonly stepPeriodNs: number;
  readonly spec: WipeTaskSpec;
  readonly phase: WipeExpertPhase;
  /** Next chunk from this observation, row-major [chunkSteps * dim]: step i is due at observation.timeNs + i * step period. */
  plan(observation: WipeObservation, out?: Float64Array): Float64Array;
}

/** The part of the simulator an expert rollout needs (MujocoArm has it). */
export interface LockstepArm {
  readonly dim: number;
  readonly tactileCount: number;
  readonly timestepS: number;
  readonly simTimeS: number;
  readSensors(into: SensorSnapshot): boolean;
  sendCommand(command: Float64Array, timeNs: number): void;
  step(n?: number): void;
  metrics(): WipeEpisodeMetrics;
}

export interface ExpertRolloutOptions {
  /** Ask the expert for a new chunk this often (s); default: every chunk step. */
  replanPeriodS?: number;
  /** Stop at this sim time (s); default: the task's time limit. The episode also ends when the expert is done. */
  maxDurationS?: number;
  /** End as soon as the task reports success (default false: the expert finishes its pattern and lifts). */
  stopOnSuccess?: boolean;
  /** End the episode when this returns true (checked before every replan). */
  stopWhen?: (simTimeS: number, expert: ChunkExpert) => boolean;
  /** Called after every replan, with the observation and the chunk (e.g. to record demonstrations). */
  onChunk?: (observation: SensorSnapshot, chunk: Float64Array) => void;
}

export interface ExpertRolloutResult {
  metrics: WipeEpisodeMetrics;
  durationS: number;
  chunks: number;
  finalPhase: WipeExpertPhase;
}

/**
 * Run the expert closed loop against a lockstep simulator: replan every `replanPeriodS` from a fresh observation,
 * interpolate the chunk linearly to the physics rate and command every physics step. Time in the simulator's
 * runtime clock with origin 0 (sim time), as MujocoArm uses by default.
 */
export function runExpertEpisode(sim: LockstepArm, expert: ChunkExpert, options: ExpertRolloutOptions = {}): ExpertRolloutResult {
  const dim = sim.dim;
  if (dim !== expert.dim) throw new Error(`wipe expert rollout: the simulator has command dim ${sim.dim}, the expert ${expert.dim}`);
  const stepS = expert.stepPeriodNs * 1e-9;
  const replanS = options.replanPeriodS ?? stepS;
  if (!(replanS > 0)) throw new Error(`wipe expert rollout: replanPeriodS must be positive, got ${replanS}`);
  const snap: SensorSnapshot = {
    timeNs: 0,
    positions: new Float64Array(dim),
    velocities: new Float64Array(dim),
    wrench: new Float64Array(6),
    tactile: new Float64Array(sim.tactileCount),
  };
  const chunk = new Float64Array(expert.chunkSteps * dim);
  const command = new Float64Array(dim);
  const maxDurationS = options.maxDurationS ?? expert.spec.timeLimitS;
  let chunkStartS = 0;
  let nextReplanS = 0;
  let chunks = 0;
  for (;;) {
    const t = sim.simTimeS;
    if (t >= maxDurationS - 1e-9) break;
    if (expert.phase === "done" || (options.stopOnSuccess && sim.metrics().success)) break;
    if (t >= nextReplanS - 1e-9) {
      if (options.stopWhen?.(t, expert)) break;
      sim.readSensors(snap);
      // Plan from the sample's own time: the chunk's step 0 is due at the observation.
      expert.plan(snap, chunk);
      chunkStartS = snap.timeNs * 1e-9;
      nextReplanS += replanS;
      chunks++;
      options.onChunk?.(snap, chunk);
    }
    const u = (t - chunkStartS) / stepS;
    const i = Math.min(expert.chunkSteps - 1, Math.max(0, Math.floor(u)));
    const j = Math.min(expert.chunkSteps - 1, i + 1);
    const f = Math.min(1, Math.max(0, u - i));
    for (let k = 0; k < dim; k++) command[k] = chunk[i * dim + k] + f * (chunk[j * dim + k] - chunk[i * dim + k]);
    sim.sendCommand(command, t * 1e9);
    sim.step(1);
  }
  return { metrics: sim.metrics(), durationS: sim.simTimeS, chunks, finalPhase: expert.phase };
}
