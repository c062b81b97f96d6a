// BEAST action tokenizer (B-spline Encoded Action Sequence Tokenizer, Zhou et al. 2025).
//
// A chunk [seqLen x numDof] is fitted per DoF with a clamped uniform B-spline (degree 4 by default,
// `numBasis` control points); the optional gripper (last DoF) uses a degree-0, piecewise constant
// spline. Weights are DoF-major [dof][basis]. Discrete tokens quantize each weight between its own
// bounds into `vocabSize` bins and are ordered control-point-major (c0 of every DoF, then c1, ...).
//
// Chunk continuity: a clamped spline starts exactly at its first control point, so fixing c0 of every
// joint DoF to the last executed action makes consecutive chunks C0-continuous. Fitting then solves
// for the remaining weights with c0 fixed (constrained least squares) and decoding substitutes c0.
// (The public ports of the reference never apply this constraint.)

import { ClampedUniformBSpline, SparseBasisGrid, splineFitOperator, type SplineFitOperator } from "./bspline.js";

export interface BeastConfig {
  numDof: number;
  numBasis: number;
  seqLen: number;
  /** Spline degree of the joint DoFs; default 4. */
  degree?: number;
  /** Bins per weight; default 256. */
  vocabSize?: number;
  /** The last DoF is a gripper fitted with a degree-0 (piecewise constant) spline. */
  gripperZeroOrder?: boolean;
  /** Chunk length in seconds; the default grid is linspace(0, duration, seqLen). Default 1. */
  duration?: number;
  /** Lower weight bounds, one per weight, DoF-major. Default -1 (the reference class default). */
  wMin?: ArrayLike<number>;
  /** Upper weight bounds, one per weight, DoF-major. Default +1. */
  wMax?: ArrayLike<number>;
  /** Ridge term of the normal equations; default 1e-9 (the reference training code; the hub port uses 1e-4). */
  regularization?: number;
}

export interface InitialPositionOption {
  /**
   * The last executed action: numDof values (the gripper entry is ignored when gripperZeroOrder) or
   * just the joint DoFs. Fixes control point 0 of every joint DoF.
   */
  initialPosition?: ArrayLike<number>;
}

/** Bounds grow from +-0.02 to the running min/max of the fitted training weights (reference practice). */
const INITIAL_BOUND = 0.02;
const DEFAULT_REGULARIZATION = 1e-9;

export class BeastTokenizer {
  readonly numDof: number;
  readonly numBasis: number;
  readonly seqLen: number;
  readonly degree: number;
  readonly vocabSize: number;
  readonly gripperZeroOrder: boolean;
  readonly durationS: number;
  readonly regularization: number;
  /** DoFs fitted with the degree-`degree` spline (all but the zero-order gripper). */
  readonly jointDof: number;
  /** numBasis * numDof. */
  readonly tokensPerChunk: number;
  /** Weight bounds, DoF-major (copies of the config's; treat as read-only). */
  readonly wMin: Float64Array;
  readonly wMax: Float64Array;

  private readonly jointSpline: ClampedUniformBSpline;
  private readonly gripperSpline: ClampedUniformBSpline | null;
  private readonly jointFit: SplineFitOperator;
  private readonly jointFitFixedFirst: SplineFitOperator;
  private readonly gripperFit: SplineFitOperator | null;
  private readonly defaultJointGrid: SparseBasisGrid;
  private readonly defaultGripperGrid: SparseBasisGrid | null;
  private readonly customJointGrid: SparseBasisGrid;
  private readonly customGripperGrid: SparseBasisGrid | null;
  /** Times (s) the custom grids were built for; compared by value so a reused, refilled array is safe. */
  private customTimes = new Float64Array(0);
  private customCount = -1;
  private customPhases = new Float64Array(0);
  // Scratch buffers reused by every call.
  private readonly actionsScratch: Float64Array;
  private readonly weightsScratch: Float64Array;
  /** tokenSlot[k]: DoF-major weight index of control-point-major token k. */
  private readonly tokenSlot: Int32Array;
  /** wMax - wMin per weight. */
  private readonly wRange: Float64Array;

  constructor(config: BeastConfig) {
    const c = checkConfig(config);
    this.numDof = c.numDof;
    this.numBasis = c.numBasis;
    this.seqLen = c.seqLen;
    this.degree = c.degree;
    this.vocabSize = c.vocabSize;
    this.gripperZeroOrder = c.gripperZeroOrder;
    this.durationS = c.durationS;
    this.regularization = c.regularization;
    this.jointDof = c.numDof - (c.gripperZeroOrder ? 1 : 0);
    this.tokensPerChunk = c.numDof * c.numBasis;
    this.wMin = c.wMin;
    this.wMax = c.wMax;

    this.jointSpline = new ClampedUniformBSpline(this.numBasis, this.degree);
    this.gripperSpline = this.gripperZeroOrder ? new ClampedUniformBSpline(this.numBasis, 0) : null;

    const phases = new Float64Array(this.seqLen);
    for (let i = 0; i < this.seqLen; i++) phases[i] = i / (this.seqLen - 1);
    const jointBasis = this.jointSpline.denseMatrix(phases);
    this.jointFit = splineFitOperator(jointBasis, this.seqLen, this.numBasis, this.regularization, false);
    this.jointFitFixedFirst = splineFitOperator(jointBasis, this.seqLen, this.numBasis, this.regularization, true);
    this.gripperFit = this.gripperSpline
      ? splineFitOperator(this.gripperSpline.denseMatrix(phases), this.seqLen, this.numBasis, this.regularization, false)
      : null;

    this.defaultJointGrid = new SparseBasisGrid(this.jointSpline, this.seqLen);
    this.defaultJointGrid.fill(phases, this.seqLen);
    this.customJointGrid = new SparseBasisGrid(this.jointSpline, 0);
    if (this.gripperSpline) {
      this.defaultGripperGrid = new SparseBasisGrid(this.gripperSpline, this.seqLen);
      this.defaultGripperGrid.fill(phases, this.seqLen);
      this.customGripperGrid = new SparseBasisGrid(this.gripperSpline, 0);
    } else {
      this.defaultGripperGrid = null;
      this.customGripperGrid = null;
    }
    this.actionsScratch = new Float64Array(this.seqLen * this.numDof);
    this.weightsScratch = new Float64Array(this.tokensPerChunk);
    this.tokenSlot = new Int32Array(this.tokensPerChunk);
    for (let k = 0; k < this.tokensPerChunk; k++) this.tokenSlot[k] = (k % this.numDof) * this.numBasis + Math.floor(k / this.numDof);
    this.wRange = new Float64Array(this.tokensPerChunk);
    for (let i = 0; i < this.tokensPerChunk; i++) this.wRange[i] = this.wMax[i] - this.wMin[i];
  }

  /**
   * Weight bounds from training chunks: start at +-0.02 and widen to the min/max of every weight
   * fitted (unconstrained) from `chunks`.
   */
  static fitBounds(chunks: number[][][], config: BeastConfig): { wMin: Float64Array; wMax: Float64Array } {
    if (!Array.isArray(chunks)) throw new Error(`BEAST fitBounds: expected an array of chunks, got ${chunks === null ? "null" : typeof chunks}`);
    const tokenizer = new BeastTokenizer({ ...config, wMin: undefined, wMax: undefined });
    const n = tokenizer.tokensPerChunk;
    const wMin = new Float64Array(n).fill(-INITIAL_BOUND);
    const wMax = new Float64Array(n).fill(INITIAL_BOUND);
    for (let c = 0; c < chunks.length; c++) {
      tokenizer.readChunk(chunks[c], `fitBounds chunk ${c}`);
      tokenizer.fitLoaded(undefined);
      const w = tokenizer.weightsScratch;
      for (let i = 0; i < n; i++) {
        if (w[i] < wMin[i]) wMin[i] = w[i];
        if (w[i] > wMax[i]) wMax[i] = w[i];
      }
    }
    return { wMin, wMax };
  }

  /** Least-squares spline weights, DoF-major [numDof * numBasis]. */
  fitWeights(chunk: number[][], options: InitialPositionOption = {}): Float64Array {
    this.readChunk(chunk, "fitWeights");
    this.fitLoaded(this.checkInitialPosition(options.initialPosition, "fitWeights"));
    return Float64Array.from(this.weightsScratch);
  }

  /** Discrete tokens, control-point-major [numBasis * numDof], each in [0, vocabSize). */
  encode(chunk: number[][], options: InitialPositionOption = {}): number[] {
    this.readChunk(chunk, "encode");
    this.fitLoaded(this.checkInitialPosition(options.initialPosition, "encode"));
    const tokens = new Array<number>(this.tokensPerChunk);
    this.weightsToTokens(this.weightsScratch, tokens);
    return tokens;
  }

  /** Weights normalized to [-1, 1] by the bounds (not clamped, as in the reference), DoF-major. */
  encodeContinuous(chunk: number[][], options: InitialPositionOption = {}): Float32Array {
    this.readChunk(chunk, "encodeContinuous");
    this.fitLoaded(this.checkInitialPosition(options.initialPosition, "encodeContinuous"));
    const out = new Float32Array(this.tokensPerChunk);
    for (let i = 0; i < this.tokensPerChunk; i++) {
      out[i] = (2 * (this.weightsScratch[i] - this.wMin[i])) / (this.wMax[i] - this.wMin[i]) - 1;
    }
    return out;
  }

  /**
   * Decodes tokens at `timesS` (seconds, default linspace(0, durationS, seqLen)); rows are time steps.
   * Times outside [0, durationS] hold the end values.
   */
  decode(tokens: ArrayLike<number>, timesS?: ArrayLike<number>, options: InitialPositionOption = {}): number[][] {
    const count = timesS === undefined ? this.seqLen : timesS.length;
    const out = new Float64Array(count * this.numDof);
    this.tokensToWeightsChecked(tokens, "decode");
    this.evaluate(timesS, out, options.initialPosition, "decode");
    return toRows(out, count, this.numDof);
  }

  /**
   * Hot path: decodes into `out` (row-major [times x numDof], at least that long) without allocating.
   * The default grid's basis is precomputed; the last custom grid's basis is cached.
   */
  decodeInto(tokens: ArrayLike<number>, out: Float64Array, timesS?: Float64Array, options?: InitialPositionOption): void {
    this.tokensToWeightsChecked(tokens, "decodeInto");
    this.evaluate(timesS, out, options?.initialPosition, "decodeInto");
  }

  /** Decodes normalized weights (DoF-major, as from encodeContinuous). */
  decodeContinuous(values: ArrayLike<number>, timesS?: ArrayLike<number>, options: InitialPositionOption = {}): number[][] {
    const count = timesS === undefined ? this.seqLen : timesS.length;
    const out = new Float64Array(count * this.numDof);
    this.continuousToWeightsChecked(values, "decodeContinuous");
    this.evaluate(timesS, out, options.initialPosition, "decodeContinuous");
    return toRows(out, count, this.numDof);
  }

  /** Like decodeContinuous, into a preallocated row-major buffer without allocating. */
  decodeContinuousInto(values: ArrayLike<number>, out: Float64Array, timesS?: Float64Array, options?: InitialPositionOption): void {
    this.continuousToWeightsChecked(values, "decodeContinuousInto");
    this.evaluate(timesS, out, options?.initialPosition, "decodeContinuousInto");
  }

  /** Clamps DoF-major weights to their bounds and quantizes them into control-point-major tokens. */
  weightsToTokens(weights: ArrayLike<number>): number[];
  weightsToTokens<T extends number[] | Int32Array | Uint16Array>(weights: ArrayLike<number>, out: T): T;
  weightsToTokens(weights: ArrayLike<number>, out: number[] | Int32Array | Uint16Array = new Array<number>(this.tokensPerChunk)): number[] | Int32Array | Uint16Array {
    this.checkLength(weights.length, this.tokensPerChunk, "weightsToTokens", "weights");
    const nb = this.numBasis;
    const top = this.vocabSize - 1;
    for (let d = 0; d < this.numDof; d++) {
      for (let b = 0; b < nb; b++) {
        const i = d * nb + b;
        const w = weights[i];
        if (Number.isNaN(w)) throw new Error(`BEAST weightsToTokens: weight ${i} is NaN`);
        const lo = this.wMin[i];
        const hi = this.wMax[i];
        const clamped = w < lo ? lo : w > hi ? hi : w;
        // Half-to-even, as torch.round in the reference: ties land on the same token.
        out[b * this.numDof + d] = roundHalfEven(((clamped - lo) / (hi - lo)) * top);
      }
    }
    return out;
  }

  /** Control-point-major tokens to DoF-major weights (bin values, no initial-position substitution). */
  tokensToWeights(tokens: ArrayLike<number>, out: Float64Array = new Float64Array(this.tokensPerChunk)): Float64Array {
    this.tokensToWeightsChecked(tokens, "tokensToWeights");
    out.set(this.weightsScratch);
    return out;
  }

  // ---- internals -------------------------------------------------------------------------------

  private readChunk(chunk: number[][], where: string): void {
    if (!Array.isArray(chunk) || chunk.length !== this.seqLen) {
      throw new Error(`BEAST ${where}: expected a chunk of ${this.seqLen} steps x ${this.numDof} DoF, got ${describeShape(chunk)}`);
    }
    const a = this.actionsScratch;
    const D = this.numDof;
    for (let t = 0; t < this.seqLen; t++) {
      const row = chunk[t];
      if (row == null || row.length !== D) {
        throw new Error(`BEAST ${where}: expected ${D} values in step ${t}, got ${row == null ? String(row) : row.length}`);
      }
      for (let d = 0; d < D; d++) {
        const v = row[d];
        if (typeof v !== "number" || !Number.isFinite(v)) {
          throw new Error(`BEAST ${where}: expected a finite number at step ${t}, DoF ${d}, got ${String(v)}`);
        }
        a[t * D + d] = v;
      }
    }
  }

  /** Fits the chunk in actionsScratch into weightsScratch. */
  private fitLoaded(initialPosition: ArrayLike<number> | undefined): void {
    const a = this.actionsScratch;
    const w = this.weightsScratch;
    const D = this.numDof;
    const nb = this.numBasis;
    const T = this.seqLen;
    for (let d = 0; d < D; d++) {
      const isJoint = d < this.jointDof;
      const fixed = isJoint && initialPosition !== undefined;
      const op = !isJoint ? (this.gripperFit as SplineFitOperator) : fixed ? this.jointFitFixedFirst : this.jointFit;
      const solve = op.solve;
      const response = op.firstResponse;
      const offset = d * nb + (fixed ? 1 : 0);
      const c0 = fixed ? (initialPosition as ArrayLike<number>)[d] : 0;
      if (fixed) w[d * nb] = c0;
      for (let r = 0; r < op.unknowns; r++) {
        let sum = 0;
        const row = r * T;
        for (let t = 0, at = d; t < T; t++, at += D) sum += solve[row + t] * a[at];
        w[offset + r] = sum - response[r] * c0;
      }
    }
  }

  private tokensToWeightsChecked(tokens: ArrayLike<number>, where: string): void {
    this.checkLength(tokens?.length, this.tokensPerChunk, where, "tokens");
    const top = this.vocabSize - 1;
    const slot = this.tokenSlot;
    const w = this.weightsScratch;
    const lo = this.wMin;
    const range = this.wRange;
    for (let k = 0; k < slot.length; k++) {
      const token = tokens[k];
      // (token | 0) === token: an integer in int32 range (rejects NaN, fractions, non-numbers).
      if ((token | 0) !== token || token < 0 || token > top) {
        throw new Error(`BEAST ${where}: expected integer tokens in [0, ${this.vocabSize}), got ${String(token)} at index ${k}`);
      }
      const i = slot[k];
      w[i] = lo[i] + (token / top) * range[i];
    }
  }

  private continuousToWeightsChecked(values: ArrayLike<number>, where: string): void {
    this.checkLength(values?.length, this.tokensPerChunk, where, "values");
    for (let i = 0; i < this.tokensPerChunk; i++) {
      const v = values[i];
      if (typeof v !== "number" || !Number.isFinite(v)) {
        throw new Error(`BEAST ${where}: expected finite values, got ${String(v)} at index ${i}`);
      }
      this.weightsScratch[i] = ((v + 1) / 2) * (this.wMax[i] - this.wMin[i]) + this.wMin[i];
    }
  }

  /** Evaluates the spline with weightsScratch on the grid; substitutes c0 first if asked. */
  private evaluate(timesS: ArrayLike<number> | undefined, out: Float64Array, initialPosition: ArrayLike<number> | undefined, where: string): void {
    const init = this.checkInitialPosition(initialPosition, where);
    const w = this.weightsScratch;
    const D = this.numDof;
    const nb = this.numBasis;
    if (init !== undefined) for (let d = 0; d < this.jointDof; d++) w[d * nb] = init[d];

    let joint = this.defaultJointGrid;
    let gripper = this.defaultGripperGrid;
    if (timesS !== undefined) {
      this.prepareCustomGrid(timesS, where);
      joint = this.customJointGrid;
      gripper = this.customGripperGrid;
    }
    const n = joint.count;
    if (!(out instanceof Float64Array) || out.length < n * D) {
      throw new Error(`BEAST ${where}: expected a Float64Array output of at least ${n * D} values (${n} times x ${D} DoF), got ${out instanceof Float64Array ? out.length : typeof out}`);
    }
    const width = this.degree + 1;
    const first = joint.first;
    const values = joint.values;
    const jointDof = this.jointDof;
    if (width === 5) {
      // Degree 4 (the BEAST default), unrolled: five basis values per time, loaded once for all DoFs.
      for (let i = 0; i < n; i++) {
        const base = i * 5;
        const b0 = values[base];
        const b1 = values[base + 1];
        const b2 = values[base + 2];
        const b3 = values[base + 3];
        const b4 = values[base + 4];
        const row = i * D;
        let wo = first[i];
        for (let d = 0; d < jointDof; d++, wo += nb) {
          out[row + d] = b0 * w[wo] + b1 * w[wo + 1] + b2 * w[wo + 2] + b3 * w[wo + 3] + b4 * w[wo + 4];
        }
      }
    } else {
      for (let i = 0; i < n; i++) {
        const base = i * width;
        const row = i * D;
        let wo = first[i];
        for (let d = 0; d < jointDof; d++, wo += nb) {
          let sum = 0;
          for (let k = 0; k < width; k++) sum += values[base + k] * w[wo + k];
          out[row + d] = sum;
        }
      }
    }
    if (gripper !== null) {
      // Degree 0: exactly one basis function (value 1) is active per time.
      const g = (D - 1) * nb;
      const gf = gripper.first;
      for (let i = 0; i < n; i++) out[i * D + D - 1] = w[g + gf[i]];
    }
  }

  private prepareCustomGrid(timesS: ArrayLike<number>, where: string): void {
    const n = timesS.length;
    if (n === this.customCount) {
      let same = true;
      for (let i = 0; i < n; i++) {
        if (timesS[i] !== this.customTimes[i]) {
          same = false;
          break;
        }
      }
      if (same) return;
    }
    if (n > this.customTimes.length) {
      this.customTimes = new Float64Array(n);
      this.customPhases = new Float64Array(n);
    }
    for (let i = 0; i < n; i++) {
      const t = timesS[i];
      if (typeof t !== "number" || Number.isNaN(t)) {
        this.customCount = -1;
        throw new Error(`BEAST ${where}: expected numeric times in seconds, got ${String(t)} at index ${i}`);
      }
      this.customTimes[i] = t;
      const phase = t / this.durationS;
      // Outside the chunk the trajectory holds its end value instead of dropping to zero.
      this.customPhases[i] = phase < 0 ? 0 : phase > 1 ? 1 : phase;
    }
    this.customJointGrid.fill(this.customPhases, n);
    this.customGripperGrid?.fill(this.customPhases, n);
    this.customCount = n;
  }

  private checkInitialPosition(p: ArrayLike<number> | undefined, where: string): ArrayLike<number> | undefined {
    if (p === undefined) return undefined;
    if (p == null || (p.length !== this.numDof && p.length !== this.jointDof)) {
      const expected = this.jointDof === this.numDof ? `${this.numDof}` : `${this.numDof} (or ${this.jointDof} joint)`;
      throw new Error(`BEAST ${where}: expected an initialPosition of ${expected} values, got ${p == null ? String(p) : p.length}`);
    }
    for (let d = 0; d < this.jointDof; d++) {
      if (typeof p[d] !== "number" || !Number.isFinite(p[d])) {
        throw new Error(`BEAST ${where}: expected a finite initialPosition, got ${String(p[d])} at DoF ${d}`);
      }
    }
    return p;
  }

  private checkLength(got: number | undefined, expected: number, where: string, what: string): void {
    if (got !== expected) {
      throw new Error(`BEAST ${where}: expected ${expected} ${what} (${this.numBasis} control points x ${this.numDof} DoF), got ${got ?? "none"}`);
    }
  }
}

interface CheckedConfig {
  numDof: number;
  numBasis: number;
  seqLen: number;
  degree: number;
  vocabSize: number;
  gripperZeroOrder: boolean;
  durationS: number;
  regularization: number;
  wMin: Float64Array;
  wMax: Float64Array;
}

function checkConfig(config: BeastConfig): CheckedConfig {
  if (config == null || typeof config !== "object") throw new Error(`BEAST config: expected an object, got ${String(config)}`);
  const int = (name: string, v: unknown, min: number): number => {
    if (typeof v !== "number" || !Number.isInteger(v) || v < min) {
      throw new Error(`BEAST config: expected ${name} to be an integer >= ${min}, got ${String(v)}`);
    }
    return v;
  };
  const numDof = int("numDof", config.numDof, 1);
  const degree = int("degree", config.degree ?? 4, 0);
  const numBasis = int("numBasis", config.numBasis, degree + 1);
  const seqLen = int("seqLen", config.seqLen, 2);
  const vocabSize = int("vocabSize", config.vocabSize ?? 256, 2);
  const durationS = config.duration ?? 1;
  if (typeof durationS !== "number" || !Number.isFinite(durationS) || durationS <= 0) {
    throw new Error(`BEAST config: expected duration (s) > 0, got ${String(durationS)}`);
  }
  const regularization = config.regularization ?? DEFAULT_REGULARIZATION;
  if (typeof regularization !== "number" || !Number.isFinite(regularization) || regularization < 0) {
    throw new Error(`BEAST config: expected regularization >= 0, got ${String(regularization)}`);
  }
  const n = numDof * numBasis;
  const bounds = (name: string, v: ArrayLike<number> | undefined, fallback: number): Float64Array => {
    if (v === undefined) return new Float64Array(n).fill(fallback);
    if (v == null || v.length !== n) {
      throw new Error(`BEAST config: expected ${name} with ${n} values (${numDof} DoF x ${numBasis} basis, DoF-major), got ${v == null ? String(v) : v.length}`);
    }
    const out = Float64Array.from(v);
    const bad = out.findIndex((x) => !Number.isFinite(x));
    if (bad >= 0) throw new Error(`BEAST config: expected finite ${name}, got ${out[bad]} at index ${bad}`);
    return out;
  };
  const wMin = bounds("wMin", config.wMin, -1);
  const wMax = bounds("wMax", config.wMax, 1);
  for (let i = 0; i < n; i++) {
    if (!(wMax[i] > wMin[i])) throw new Error(`BEAST config: expected wMax > wMin for every weight, got [${wMin[i]}, ${wMax[i]}] at index ${i}`);
  }
  return { numDof, numBasis, seqLen, degree, vocabSize, gripperZeroOrder: config.gripperZeroOrder ?? false, durationS, regularization, wMin, wMax };
}

function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

function toRows(flat: Float64Array, rows: number, cols: number): number[][] {
  const out = new Array<number[]>(rows);
  for (let i = 0; i < rows; i++) {
    const row = new Array<number>(cols);
    for (let j = 0; j < cols; j++) row[j] = flat[i * cols + j];
    out[i] = row;
  }
  return out;
}

function describeShape(chunk: unknown): string {
  if (!Array.isArray(chunk)) return chunk === null ? "null" : typeof chunk;
  const first = chunk[0];
  return `${chunk.length} steps${Array.isArray(first) ? ` x ${first.length} values` : ""}`;
}
