// The chunk scheduler: turns time-stamped action chunks into a smooth target at any instant.
//
// A chunk's step i is due at observationTimeNs + i * stepPeriodNs. Each accepted chunk becomes a layer: a spline
// through all of its steps (resampling from the policy's step rate to any control rate), evaluated at the time it
// is asked for, so the steps already past on arrival (the measured inference latency) are never executed.
// Layers stack: the target is the bottom layer blended with the ones above, each with a weight that rises over
// its transition window. Weights are C2 (a jerk-limited S-curve), so a hand-over adds no jump in position,
// velocity or acceleration, only a bounded jerk of about 32 * disagreement / duration^3. When the layer below
// runs out mid-fade, its disagreement with the new layer is carried on (C2) instead of cutting the fade short.
// Nothing here allocates per tick; submit() may grow buffers the first time a longer chunk arrives.
import { PiecewiseTrajectory, SplineScratch, appendUniformSpline, quinticHermite, sCurveInto, type InterpolationKind } from "./interpolation.js";
import type { ActionChunk, CommandSource, SampleState } from "./types.js";

export type TransitionMode = "replace" | "crossfade" | "temporal-ensemble" | "prefix-hold";
export const TRANSITION_MODES: readonly TransitionMode[] = ["replace", "crossfade", "temporal-ensemble", "prefix-hold"];

/**
 * The smoothest mode in bench/runtime/smoothness.ts: NORA-like chunk sequences, 200-800 ms inference delays,
 * commands at 500 Hz. On the main case (10 steps at 5 Hz) the max jerk over the max jerk of the chunks themselves
 * was crossfade 2.8, prefix-hold 4.8, replace 8500, temporal-ensemble 8500 (the last two jump at every arrival and
 * lean on the safety stage's acceleration limit); within 150 ms of an arrival vs elsewhere, crossfade 1.10.
 * It is also the smoothest in every other scenario of the bench.
 */
export const DEFAULT_TRANSITION_MODE: TransitionMode = "crossfade";

export interface SchedulerOptions {
  /** Command dimension: arm joints + gripper. */
  dim: number;
  mode: TransitionMode;
  /** crossfade: policy steps over which the old trajectory hands over to the new chunk (default 4). */
  crossfadeSteps?: number;
  /**
   * crossfade (and prefix-hold's soft mask): shortest hand-over (default 1 s) whatever the step rate. The jerk a
   * crossfade adds is about 32 * disagreement / duration^3, so 4 steps at 50 Hz (80 ms) would be a jolt; the
   * smoothness bench shows 1 s keeps it near the chunks' own jerk at the cost of about 0.3 mrad more tracking error.
   */
  crossfadeMinNs?: number;
  /** temporal-ensemble: ACT weights exp(-k i), i = how many older chunks also predict that instant (default 0.01). */
  ensembleDecayPerStep?: number;
  /** Resampling between a chunk's steps (default cubic: a not-a-knot spline; linear gives a velocity kink at every step). */
  interpolation?: InterpolationKind;
  /**
   * When nothing is left to execute of a chunk (1-step chunks, or all steps past on arrival) its last step is
   * approached over max(one step period, this) (default 40 ms), then held.
   */
  minRampNs?: number;
}

export interface SchedulerStats {
  chunksAccepted: number;
  chunksRejected: number;
  /** Steps of the newest chunk already past on arrival (never executed). */
  stepsSkipped: number;
  /** Measured inference latency of the newest chunk: arrival - observation (ns). */
  lastLatencyNs: number;
  /** Why the last rejected chunk was rejected ("" if none was). */
  lastRejection: string;
}

/** How a layer's weight over the layers below it rises during its transition window. */
const Shape = {
  /** Full weight at once (replace). */
  Step: 0,
  /** The jerk-limited S-curve (sCurveInto): C2 at both ends, smallest peak jerk. */
  Smooth: 1,
  /** Real-Time Chunking's soft mask: old weight c (e^c - 1) / (e - 1), with c = 1 - sCurve(x) so it stays C2. */
  SoftMask: 2,
} as const;
type Shape = (typeof Shape)[keyof typeof Shape];

class Layer {
  readonly trajectory: PiecewiseTrajectory;
  /** Last instant this layer may be evaluated at (ns); Infinity for a hold. */
  validUntilNs = 0;
  fadeStartNs = 0;
  fadeEndNs = 0;
  shape: Shape = Shape.Step;
  /** A constant target approached over a ramp (nothing of its chunk was left to play). */
  isRamp = false;
  /**
   * End of what lies below this layer (ns). Past it, "below" is this layer plus the disagreement below - this
   * layer, continued from its value, rate and curvature at that instant and settled to a constant (extension).
   */
  belowUntilNs = Infinity;
  /** Per dim: disagreement D, D', D'' at belowUntilNs. */
  readonly extension: Float64Array;
  /** Weight and its first two time derivatives (per second) from the last weightAt(). */
  w = 0;
  dw = 0;
  ddw = 0;
  private readonly curve = new Float64Array(3);

  constructor(dim: number) {
    this.trajectory = new PiecewiseTrajectory(dim, 16);
    this.extension = new Float64Array(3 * dim);
  }

  /** Weight of this layer over the composite below it at time t (and dw, ddw). */
  weightAt(tNs: number): number {
    this.dw = 0;
    this.ddw = 0;
    if (tNs >= this.fadeEndNs) return (this.w = 1);
    if (tNs <= this.fadeStartNs) return (this.w = 0);
    const T = (this.fadeEndNs - this.fadeStartNs) * 1e-9;
    const curve = this.curve;
    sCurveInto((tNs - this.fadeStartNs) / (this.fadeEndNs - this.fadeStartNs), curve);
    const s = curve[0];
    const ds = curve[1] / T;
    const dds = curve[2] / (T * T);
    if (this.shape === Shape.Smooth) {
      this.dw = ds;
      this.ddw = dds;
      return (this.w = s);
    }
    if (this.shape === Shape.SoftMask) {
      // old weight m(c) = c (e^c - 1) / (e - 1) with c = 1 - s; w = 1 - m.
      const c = 1 - s;
      const ec = Math.exp(c);
      const norm = Math.E - 1;
      const m = (c * (ec - 1)) / norm;
      const dm = (ec - 1 + c * ec) / norm;
      const ddm = (2 * ec + c * ec) / norm;
      this.dw = dm * ds; // dw/dt = -dm/dc * dc/dt, dc/dt = -ds
      this.ddw = dm * dds - ddm * ds * ds;
      return (this.w = 1 - m);
    }
    return (this.w = 1);
  }

  /** The disagreement extension at time t (> belowUntilNs) for dim d: value, rate, curvature into out[0..2]. */
  extensionAt(tNs: number, d: number, out: Float64Array): void {
    const e = this.extension;
    const D = e[3 * d], dD = e[3 * d + 1], ddD = e[3 * d + 2];
    const T = EXTENSION_SETTLE_S;
    let s = ((tNs - this.belowUntilNs) * 1e-9) / T;
    if (s > 1) s = 1;
    // Rate follows a cubic Hermite from (D', D'') to (0, 0): C2 where the extension starts, constant after T.
    const s2 = s * s, s3 = s2 * s, s4 = s3 * s;
    out[0] = D + T * (dD * (s - s3 + 0.5 * s4) + T * ddD * (0.25 * s4 - (2 / 3) * s3 + 0.5 * s2));
    out[1] = dD * (2 * s3 - 3 * s2 + 1) + T * ddD * (s3 - 2 * s2 + s);
    out[2] = (dD * (6 * s2 - 6 * s)) / T + ddD * (3 * s2 - 4 * s + 1);
  }
}

/** How long the disagreement extension takes to settle to a constant. */
const EXTENSION_SETTLE_S = 0.3;
/** Deepest stack kept: transitions in progress at once (more only when chunks arrive faster than they fade). */
const MAX_LAYERS = 32;
/** A hold that starts moving comes to rest over this long (the safety stage enforces the real limits). */
const HOLD_SETTLE_S = 0.25;

export class ChunkScheduler implements CommandSource {
  readonly dim: number;
  readonly mode: TransitionMode;
  readonly crossfadeSteps: number;
  readonly crossfadeMinNs: number;
  readonly ensembleDecayPerStep: number;
  readonly interpolation: InterpolationKind;
  readonly minRampNs: number;
  readonly stats: SchedulerStats = { chunksAccepted: 0, chunksRejected: 0, stepsSkipped: 0, lastLatencyNs: 0, lastRejection: "" };

  /** Live layers, bottom first: layers[0 .. depth-1]. The array is a pool; entries past depth are spare. */
  private readonly layers: Layer[] = [];
  private depth = 0;
  private lastObservationNs = -Infinity;
  private readonly spline = new SplineScratch();
  private readonly scratchA: Float64Array;
  private readonly scratchB: Float64Array;
  private readonly scratchC: Float64Array;
  private readonly scratchExt = new Float64Array(3);
  private readonly velScratch: Float64Array;
  private readonly accScratch: Float64Array;
  private readonly belowPos: Float64Array;
  private readonly belowVel: Float64Array;
  private readonly belowAcc: Float64Array;

  constructor(options: SchedulerOptions) {
    const dim = options?.dim;
    if (!Number.isInteger(dim) || dim < 1) throw new Error(`scheduler: expected a positive integer dim, got ${String(dim)}`);
    if (!TRANSITION_MODES.includes(options.mode)) {
      throw new Error(`scheduler: expected mode ${TRANSITION_MODES.join(" | ")}, got ${String(options.mode)}`);
    }
    const positive = (name: string, value: number, allowZero: boolean) => {
      if (!Number.isFinite(value) || value < 0 || (!allowZero && value === 0)) {
        throw new Error(`scheduler: expected ${name} ${allowZero ? ">= 0" : "> 0"}, got ${value}`);
      }
      return value;
    };
    this.crossfadeSteps = positive("crossfadeSteps", options.crossfadeSteps ?? 4, false);
    this.crossfadeMinNs = positive("crossfadeMinNs", options.crossfadeMinNs ?? 1e9, true);
    this.ensembleDecayPerStep = positive("ensembleDecayPerStep", options.ensembleDecayPerStep ?? 0.01, true);
    this.minRampNs = positive("minRampNs", options.minRampNs ?? 40e6, true);
    const interpolation = options.interpolation ?? "cubic";
    if (interpolation !== "cubic" && interpolation !== "linear") {
      throw new Error(`scheduler: expected interpolation "cubic" or "linear", got ${String(interpolation)}`);
    }
    this.dim = dim;
    this.mode = options.mode;
    this.interpolation = interpolation;
    this.scratchA = new Float64Array(dim);
    this.scratchB = new Float64Array(dim);
    this.scratchC = new Float64Array(dim);
    this.velScratch = new Float64Array(dim);
    this.accScratch = new Float64Array(dim);
    this.belowPos = new Float64Array(dim);
    this.belowVel = new Float64Array(dim);
    this.belowAcc = new Float64Array(dim);
  }

  /** Last instant (monotonic ns) the newest chunk covers; -Infinity with no chunk. */
  get activeUntilNs(): number {
    return this.depth > 0 ? this.layers[this.depth - 1].validUntilNs : -Infinity;
  }

  /** Layers being blended right now (diagnostics). */
  get layerCount(): number {
    return this.depth;
  }

  /**
   * Take a new chunk at `nowNs`. While a chunk is being executed the new one is blended with the scheduler's own
   * target (reactive corrections are added after the scheduler, so they must not be blended in); with nothing
   * running it starts from `currentCommand`, moving at `currentVelocity` if given (else at rest).
   * Returns false, counts, and records why in stats.lastRejection for a chunk it cannot use.
   */
  submit(chunk: ActionChunk, nowNs: number, currentCommand: Float64Array, currentVelocity?: ArrayLike<number>): boolean {
    this.prune(nowNs);
    const running = this.depth > 0 && nowNs <= this.layers[this.depth - 1].validUntilNs;
    const problem = this.check(chunk, nowNs, currentCommand, currentVelocity, running);
    if (problem !== null) {
      this.stats.chunksRejected++;
      this.stats.lastRejection = problem;
      return false;
    }
    const stepNs = chunk.stepPeriodNs;
    const arrivalNs = Number.isFinite(chunk.arrivalTimeNs) ? chunk.arrivalTimeNs : nowNs;
    this.stats.lastLatencyNs = arrivalNs - chunk.observationTimeNs;
    const past = Math.ceil((nowNs - chunk.observationTimeNs) / stepNs); // steps due strictly before now
    this.stats.stepsSkipped = Math.min(chunk.steps, Math.max(0, past));

    if (this.mode === "temporal-ensemble") {
      if (!running) this.depth = 0;
    } else if (!running) {
      this.depth = 0;
      this.pushHold(nowNs, currentCommand, currentVelocity);
    }
    const oldUntilNs = this.depth > 0 ? this.layers[this.depth - 1].validUntilNs : -Infinity;
    const layer = this.nextLayer();
    this.fillLayer(layer, chunk, nowNs);
    this.setTransition(layer, chunk, nowNs, oldUntilNs);
    layer.belowUntilNs = Infinity;
    if (this.mode !== "temporal-ensemble" && Number.isFinite(oldUntilNs) && layer.fadeEndNs > oldUntilNs) {
      this.captureExtension(layer, oldUntilNs);
    }
    this.lastObservationNs = chunk.observationTimeNs;
    this.stats.chunksAccepted++;
    return true;
  }

  /** Target at `nowNs` into `out`. "empty" leaves `out` untouched; "exhausted" writes the last target. No allocation. */
  sample(nowNs: number, out: Float64Array): SampleState {
    this.prune(nowNs);
    if (this.depth === 0) return "empty";
    const top = this.layers[this.depth - 1];
    const exhausted = nowNs > top.validUntilNs;
    const t = exhausted ? top.validUntilNs : nowNs;
    if (this.mode === "temporal-ensemble") this.ensembleAt(t, out);
    else this.compositeAt(t, out);
    return exhausted ? "exhausted" : "ok";
  }

  /** Drop every layer (takeover, emergency stop): the next chunk starts from the command it is given. */
  reset(): void {
    this.depth = 0;
    this.lastObservationNs = -Infinity;
  }

  /**
   * Bottom-up blend: x = L0; x += w_i (L_i - x), with position, velocity and acceleration when asked. Starts at the
   * highest layer that needs nothing below it: one at full weight, or one whose "below" has ended (then its
   * disagreement extension stands in for it).
   */
  private compositeAt(tNs: number, out: Float64Array, outVel?: Float64Array, outAcc?: Float64Array): void {
    const dim = this.dim;
    let start = this.depth - 1;
    while (start > 0) {
      const layer = this.layers[start];
      if (layer.weightAt(tNs) >= 1 || tNs > layer.belowUntilNs) break;
      start--;
    }
    const L = this.scratchA, dL = this.scratchB, ddL = this.scratchC, ext = this.scratchExt;
    const x = out;
    const dx = outVel ?? this.velScratch;
    const ddx = outAcc ?? this.accScratch;
    const first = this.layers[start];
    first.trajectory.evaluate(tNs, x, dx, ddx);
    const w0 = first.weightAt(tNs);
    if (w0 < 1 && tNs > first.belowUntilNs) {
      // x = L + (1 - w) E: the layer plus what is left of the disagreement below it.
      for (let d = 0; d < dim; d++) {
        first.extensionAt(tNs, d, ext);
        const w = first.w, dw = first.dw, ddw = first.ddw;
        x[d] += (1 - w) * ext[0];
        dx[d] += (1 - w) * ext[1] - dw * ext[0];
        ddx[d] += (1 - w) * ext[2] - 2 * dw * ext[1] - ddw * ext[0];
      }
    }
    for (let i = start + 1; i < this.depth; i++) {
      const layer = this.layers[i];
      const w = layer.weightAt(tNs);
      if (w <= 0) continue;
      const dw = layer.dw, ddw = layer.ddw;
      layer.trajectory.evaluate(tNs, L, dL, ddL);
      for (let d = 0; d < dim; d++) {
        const e = L[d] - x[d], de = dL[d] - dx[d], dde = ddL[d] - ddx[d];
        x[d] += w * e;
        ddx[d] += ddw * e + 2 * dw * de + w * dde;
        dx[d] += dw * e + w * de;
      }
    }
  }

  /** ACT temporal ensembling: average of every chunk that covers t, weights exp(-k i) with i = 0 for the oldest. */
  private ensembleAt(tNs: number, out: Float64Array): void {
    const tmp = this.scratchA;
    let rank = 0;
    let total = 0;
    out.fill(0, 0, this.dim);
    for (let i = 0; i < this.depth; i++) {
      const layer = this.layers[i];
      if (tNs > layer.validUntilNs || tNs < layer.fadeStartNs) continue;
      const w = Math.exp(-this.ensembleDecayPerStep * rank++);
      layer.trajectory.evaluate(tNs, tmp);
      for (let d = 0; d < this.dim; d++) out[d] += w * tmp[d];
      total += w;
    }
    if (total === 0) {
      this.layers[this.depth - 1].trajectory.evaluate(tNs, out); // nothing covers t: the newest chunk's end
      return;
    }
    for (let d = 0; d < this.dim; d++) out[d] /= total;
  }

  /** Drop layers that no longer contribute: below one at full weight, or (ensemble) past their end. */
  private prune(nowNs: number): void {
    if (this.depth === 0) return;
    if (this.mode === "temporal-ensemble") {
      let kept = 0;
      for (let i = 0; i < this.depth; i++) {
        const layer = this.layers[i];
        // Keep the newest even when it has run out: it is what "exhausted" holds.
        if (layer.validUntilNs >= nowNs || i === this.depth - 1) {
          this.layers[i] = this.layers[kept];
          this.layers[kept++] = layer;
        }
      }
      this.depth = kept;
      return;
    }
    // Nothing below a layer at full weight, or below one whose "below" has ended, is needed again.
    let keep = this.depth - 1;
    while (keep > 0 && this.layers[keep].fadeEndNs > nowNs && this.layers[keep].belowUntilNs >= nowNs) keep--;
    if (keep > 0) this.dropBottom(keep);
  }

  /** Remove the `count` bottom layers (their objects go back to the pool). */
  private dropBottom(count: number): void {
    for (let k = 0; k < count; k++) {
      const spare = this.layers[0];
      for (let i = 0; i + 1 < this.layers.length; i++) this.layers[i] = this.layers[i + 1];
      this.layers[this.layers.length - 1] = spare;
    }
    this.depth -= count;
  }

  private nextLayer(): Layer {
    if (this.depth === MAX_LAYERS) this.dropBottom(1); // only when chunks arrive faster than they can fade in
    if (this.layers.length === this.depth) this.layers.push(new Layer(this.dim));
    return this.layers[this.depth++];
  }

  /** Bottom layer when nothing runs: rest at `position`, or settle smoothly from `velocity` to rest. */
  private pushHold(nowNs: number, position: Float64Array, velocity: ArrayLike<number> | undefined): void {
    const layer = this.nextLayer();
    const traj = layer.trajectory;
    traj.reset(nowNs, 1);
    const segment = traj.appendSegment(HOLD_SETTLE_S);
    for (let d = 0; d < this.dim; d++) {
      const v0 = velocity ? velocity[d] : 0;
      // Velocity falls smoothly to zero: the quintic from (p, v0, 0) to (p + v0 T / 2, 0, 0).
      quinticHermite(position[d], v0, 0, position[d] + 0.5 * v0 * HOLD_SETTLE_S, 0, 0, HOLD_SETTLE_S, traj.coefficients, traj.coefficientOffset(segment, d));
    }
    layer.validUntilNs = Infinity;
    layer.isRamp = false;
    layer.fadeStartNs = -Infinity;
    layer.fadeEndNs = -Infinity;
    layer.shape = Shape.Step;
  }

  /** The chunk's spline (origin at its observation), or a constant at its last step when nothing of it is ahead. */
  private fillLayer(layer: Layer, chunk: ActionChunk, nowNs: number): void {
    const dim = this.dim;
    const steps = chunk.steps;
    const stepS = chunk.stepPeriodNs * 1e-9;
    const lastStepNs = chunk.observationTimeNs + (steps - 1) * chunk.stepPeriodNs;
    const traj = layer.trajectory;
    const rampNs = Math.max(chunk.stepPeriodNs, this.minRampNs);
    if (steps >= 2 && lastStepNs >= nowNs + this.minRampNs) {
      traj.reset(chunk.observationTimeNs, steps - 1);
      appendUniformSpline(traj, chunk.actions, 0, steps, stepS, this.interpolation, this.spline, this.scratchB, this.scratchC);
      layer.validUntilNs = lastStepNs;
      layer.isRamp = false;
      return;
    }
    // Nothing left to play (1-step chunks always): the last step as a constant, reached over one ramp.
    traj.reset(nowNs, 1);
    const segment = traj.appendSegment(rampNs * 1e-9);
    const last = (steps - 1) * dim;
    for (let d = 0; d < dim; d++) traj.coefficients[traj.coefficientOffset(segment, d)] = chunk.actions[last + d];
    layer.validUntilNs = nowNs + rampNs;
    layer.isRamp = true;
  }

  /**
   * The fade outlasts what is below the new layer: record the disagreement (below - new) and its first two
   * derivatives where "below" ends, so the blend can go on from there without a kink.
   */
  private captureExtension(layer: Layer, endNs: number): void {
    this.depth--; // the composite below the new layer
    this.compositeAt(endNs, this.belowPos, this.belowVel, this.belowAcc);
    this.depth++;
    layer.trajectory.evaluate(endNs, this.scratchA, this.scratchB, this.scratchC);
    for (let d = 0; d < this.dim; d++) {
      layer.extension[3 * d] = this.belowPos[d] - this.scratchA[d];
      layer.extension[3 * d + 1] = this.belowVel[d] - this.scratchB[d];
      layer.extension[3 * d + 2] = this.belowAcc[d] - this.scratchC[d];
    }
    layer.belowUntilNs = endNs;
  }

  /** The new layer's transition window and shape for the mode. */
  private setTransition(layer: Layer, chunk: ActionChunk, nowNs: number, oldUntilNs: number): void {
    const newAheadNs = layer.validUntilNs - nowNs;
    layer.fadeStartNs = nowNs;
    if (layer.isRamp && this.mode !== "temporal-ensemble") {
      // A single target is never jumped to: every mode ramps to it (and holds it after).
      layer.fadeEndNs = layer.validUntilNs;
      layer.shape = Shape.Smooth;
      return;
    }
    const fadeNs = Math.max(this.crossfadeSteps * chunk.stepPeriodNs, this.crossfadeMinNs);
    switch (this.mode) {
      case "replace":
      case "temporal-ensemble":
        layer.fadeEndNs = nowNs;
        layer.shape = Shape.Step;
        return;
      case "crossfade": {
        // The fade must finish while the new chunk lasts; past the old one's end its disagreement is extended.
        const duration = Math.min(fadeNs, newAheadNs);
        layer.fadeEndNs = nowNs + Math.max(0, duration);
        layer.shape = duration > 0 ? Shape.Smooth : Shape.Step;
        return;
      }
      case "prefix-hold": {
        // The step the arm is already heading to is committed: the old trajectory runs unchanged until the new
        // chunk's next step, then hands over along the soft mask until the old one runs out (at least fadeNs).
        const sinceObs = nowNs - chunk.observationTimeNs;
        const nextStepNs = chunk.observationTimeNs + (Math.floor(sinceObs / chunk.stepPeriodNs) + 1) * chunk.stepPeriodNs;
        const holdEndNs = Math.min(nextStepNs, oldUntilNs, layer.validUntilNs);
        const softEndNs = Math.max(Number.isFinite(oldUntilNs) ? oldUntilNs : -Infinity, holdEndNs + fadeNs);
        layer.fadeStartNs = holdEndNs;
        layer.fadeEndNs = Math.max(holdEndNs, Math.min(softEndNs, layer.validUntilNs));
        layer.shape = layer.fadeEndNs > layer.fadeStartNs ? Shape.SoftMask : Shape.Step;
        return;
      }
    }
  }

  private check(
    chunk: ActionChunk,
    nowNs: number,
    currentCommand: Float64Array,
    currentVelocity: ArrayLike<number> | undefined,
    running: boolean,
  ): string | null {
    if (chunk === null || typeof chunk !== "object") return `chunk: expected an ActionChunk object, got ${String(chunk)}`;
    if (!Number.isFinite(nowNs)) return `chunk: expected a finite nowNs, got ${nowNs}`;
    if (chunk.dim !== this.dim) return `chunk: expected dim ${this.dim}, got ${chunk.dim}`;
    if (!Number.isInteger(chunk.steps) || chunk.steps < 1) return `chunk: expected steps >= 1 (integer), got ${chunk.steps}`;
    if (!(chunk.actions instanceof Float64Array) || chunk.actions.length < chunk.steps * this.dim) {
      const got = chunk.actions instanceof Float64Array ? `length ${chunk.actions.length}` : typeof chunk.actions;
      return `chunk: expected actions as a Float64Array of length steps*dim = ${chunk.steps * this.dim}, got ${got}`;
    }
    if (!(chunk.stepPeriodNs > 0) || !Number.isFinite(chunk.stepPeriodNs)) {
      return `chunk: expected stepPeriodNs > 0, got ${chunk.stepPeriodNs}`;
    }
    if (!Number.isFinite(chunk.observationTimeNs)) return `chunk: expected a finite observationTimeNs, got ${chunk.observationTimeNs}`;
    if (chunk.observationTimeNs > nowNs) {
      return `chunk: observation time ${chunk.observationTimeNs} ns is after now (${nowNs} ns): clocks disagree`;
    }
    if (chunk.observationTimeNs < this.lastObservationNs) {
      return `chunk: observation time ${chunk.observationTimeNs} ns is older than the chunk in use (${this.lastObservationNs} ns)`;
    }
    const n = chunk.steps * this.dim;
    for (let k = 0; k < n; k++) {
      if (!Number.isFinite(chunk.actions[k])) {
        return `chunk: expected finite actions, got ${chunk.actions[k]} at step ${Math.floor(k / this.dim)}, dim ${k % this.dim}`;
      }
    }
    if (!running && this.mode !== "temporal-ensemble") {
      if (!currentCommand || currentCommand.length < this.dim) {
        return `chunk: expected currentCommand of length ${this.dim}, got ${currentCommand ? currentCommand.length : String(currentCommand)}`;
      }
      if (currentVelocity && currentVelocity.length < this.dim) {
        return `chunk: expected currentVelocity of length ${this.dim}, got ${currentVelocity.length}`;
      }
      for (let d = 0; d < this.dim; d++) {
        if (!Number.isFinite(currentCommand[d])) return `chunk: expected a finite currentCommand, got ${currentCommand[d]} at dim ${d}`;
        if (currentVelocity && !Number.isFinite(currentVelocity[d])) {
          return `chunk: expected a finite currentVelocity, got ${currentVelocity[d]} at dim ${d}`;
        }
      }
    }
    return null;
  }
}
