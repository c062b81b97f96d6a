// Smooth resampling of action chunks: a piecewise-polynomial trajectory that the control loop evaluates at any
// instant, the quintic Hermite junction that joins two trajectories without a jump in position, velocity or
// acceleration, and the not-a-knot cubic spline that passes through a chunk's steps. Pure and allocation-free
// once built: evaluation runs every control tick.

/** Coefficients stored per segment and dimension: every segment is kept as a quintic (cubic pieces pad with zeros). */
export const SEGMENT_COEFFS = 6;

export type InterpolationKind = "cubic" | "linear";

/** 6x^5 - 15x^4 + 10x^3 on [0, 1], clamped outside: zero first and second derivative at both ends. */
export function smootherstep(x: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  return x * x * x * (x * (6 * x - 15) + 10);
}

/**
 * The C2 step from 0 to 1 with the smallest peak third derivative: the third derivative is +32, -32, +32 over the
 * quarters [0, 1/4], [1/4, 3/4], [3/4, 1] (a jerk-limited S-curve). Its peak jerk is 32 against smootherstep's 60,
 * which is what a crossfade's jerk is made of. Writes value, first and second derivative (per unit x) into out.
 */
export function sCurveInto(x: number, out: Float64Array): void {
  if (x <= 0) {
    out[0] = 0;
    out[1] = 0;
    out[2] = 0;
  } else if (x >= 1) {
    out[0] = 1;
    out[1] = 0;
    out[2] = 0;
  } else if (x < 0.25) {
    out[0] = (16 / 3) * x * x * x;
    out[1] = 16 * x * x;
    out[2] = 32 * x;
  } else if (x <= 0.75) {
    const u = x - 0.25;
    out[0] = 1 / 12 + u + 4 * u * u - (16 / 3) * u * u * u;
    out[1] = 1 + 8 * u - 16 * u * u;
    out[2] = 8 - 32 * u;
  } else {
    const r = 1 - x;
    out[0] = 1 - (16 / 3) * r * r * r;
    out[1] = 16 * r * r;
    out[2] = -32 * r;
  }
}

/**
 * Quintic in local time tau in [0, durationS] that starts at (p0, v0, a0) and ends at (p1, v1, a1).
 * Writes c0..c5 of p(tau) = sum c_k tau^k into out[offset..offset+5].
 */
export function quinticHermite(
  p0: number,
  v0: number,
  a0: number,
  p1: number,
  v1: number,
  a1: number,
  durationS: number,
  out: Float64Array,
  offset: number,
): void {
  const T = durationS;
  const T2 = T * T;
  const T3 = T2 * T;
  const dp = p1 - p0;
  out[offset] = p0;
  out[offset + 1] = v0;
  out[offset + 2] = 0.5 * a0;
  out[offset + 3] = (20 * dp - (8 * v1 + 12 * v0) * T - (3 * a0 - a1) * T2) / (2 * T3);
  out[offset + 4] = (-30 * dp + (14 * v1 + 16 * v0) * T + (3 * a0 - 2 * a1) * T2) / (2 * T3 * T);
  out[offset + 5] = (12 * dp - 6 * (v1 + v0) * T - (a0 - a1) * T2) / (2 * T3 * T2);
}

/**
 * A trajectory in `dim` dimensions made of polynomial segments that follow each other in time. Times are seconds
 * relative to `originNs` so that the polynomials stay well conditioned. Building it may grow its buffers;
 * evaluating it never allocates.
 */
export class PiecewiseTrajectory {
  readonly dim: number;
  /** Monotonic time (ns) of local time zero. */
  originNs = 0;
  segmentCount = 0;
  /** boundariesS[i] .. boundariesS[i+1] is segment i, local seconds. */
  boundariesS: Float64Array;
  /** [segment][dim][SEGMENT_COEFFS], polynomial in time since the segment start. */
  coefficients: Float64Array;
  private cursor = 0;

  constructor(dim: number, capacitySegments = 8) {
    if (!Number.isInteger(dim) || dim < 1) throw new Error(`trajectory: expected a positive integer dim, got ${dim}`);
    this.dim = dim;
    this.boundariesS = new Float64Array(capacitySegments + 1);
    this.coefficients = new Float64Array(capacitySegments * dim * SEGMENT_COEFFS);
  }

  /** Forget every segment and restart at `originNs` with room for `segments` segments. */
  reset(originNs: number, segments: number): void {
    const needed = segments * this.dim * SEGMENT_COEFFS;
    if (this.coefficients.length < needed) {
      this.coefficients = new Float64Array(needed * 2);
      this.boundariesS = new Float64Array(segments * 2 + 1);
    }
    this.originNs = originNs;
    this.segmentCount = 0;
    this.cursor = 0;
    this.boundariesS[0] = 0;
  }

  /** Open the next segment ending at `endS` (local seconds); returns its index. Fill its coefficients with coefficientOffset(). */
  appendSegment(endS: number): number {
    const index = this.segmentCount;
    const needed = (index + 1) * this.dim * SEGMENT_COEFFS;
    if (this.coefficients.length < needed) {
      const grown = new Float64Array(needed * 2);
      grown.set(this.coefficients);
      this.coefficients = grown;
      const grownBounds = new Float64Array(Math.max((index + 1) * 2 + 1, this.boundariesS.length));
      grownBounds.set(this.boundariesS);
      this.boundariesS = grownBounds;
    }
    this.coefficients.fill(0, index * this.dim * SEGMENT_COEFFS, needed);
    this.boundariesS[index + 1] = endS;
    this.segmentCount = index + 1;
    return index;
  }

  coefficientOffset(segment: number, d: number): number {
    return (segment * this.dim + d) * SEGMENT_COEFFS;
  }

  get startS(): number {
    return this.boundariesS[0];
  }

  get endS(): number {
    return this.boundariesS[this.segmentCount];
  }

  /** Absolute monotonic time (ns) of the end of the last segment. */
  get endNs(): number {
    return this.originNs + this.endS * 1e9;
  }

  /**
   * Position (and optionally velocity, acceleration) at absolute time `timeNs`, clamped to the trajectory's span.
   * Outputs are written at `outOffset`.
   */
  evaluate(timeNs: number, outPos: Float64Array, outVel?: Float64Array, outAcc?: Float64Array, outOffset = 0): void {
    if (this.segmentCount === 0) throw new Error("trajectory: evaluate() called on an empty trajectory");
    let t = (timeNs - this.originNs) * 1e-9;
    const bounds = this.boundariesS;
    const last = this.segmentCount - 1;
    if (t <= bounds[0]) t = bounds[0];
    if (t >= bounds[last + 1]) t = bounds[last + 1];
    let s = this.cursor;
    if (s > last || t < bounds[s]) s = 0;
    while (s < last && t > bounds[s + 1]) s++;
    this.cursor = s;
    const tau = t - bounds[s];
    const c = this.coefficients;
    for (let d = 0; d < this.dim; d++) {
      const o = (s * this.dim + d) * SEGMENT_COEFFS;
      const c0 = c[o], c1 = c[o + 1], c2 = c[o + 2], c3 = c[o + 3], c4 = c[o + 4], c5 = c[o + 5];
      outPos[outOffset + d] = c0 + tau * (c1 + tau * (c2 + tau * (c3 + tau * (c4 + tau * c5))));
      if (outVel) outVel[outOffset + d] = c1 + tau * (2 * c2 + tau * (3 * c3 + tau * (4 * c4 + tau * 5 * c5)));
      if (outAcc) outAcc[outOffset + d] = 2 * c2 + tau * (6 * c3 + tau * (12 * c4 + tau * 20 * c5));
    }
  }
}

/** Scratch space for appendUniformSpline (Thomas algorithm and second derivatives), sized by knot count. */
export class SplineScratch {
  secondDerivatives = new Float64Array(0);
  private diagonal = new Float64Array(0);
  private rhs = new Float64Array(0);

  ensure(knots: number): void {
    if (this.secondDerivatives.length >= knots) return;
    this.secondDerivatives = new Float64Array(knots * 2);
    this.diagonal = new Float64Array(knots * 2);
    this.rhs = new Float64Array(knots * 2);
  }

  /**
   * Not-a-knot second derivatives M[0..count-1] of the cubic spline through values[first + k*stride] at uniform
   * spacing h. With 3 knots this is the parabola through them, with 2 the line, with 1 nothing moves.
   */
  solveNotAKnot(values: Float64Array, first: number, stride: number, count: number, h: number): Float64Array {
    this.ensure(count);
    const M = this.secondDerivatives;
    if (count < 3) {
      M.fill(0, 0, count);
      return M;
    }
    const y = (k: number) => values[first + k * stride];
    const scale = 6 / (h * h);
    if (count === 3) {
      const m = (y(0) - 2 * y(1) + y(2)) / (h * h);
      M[0] = m;
      M[1] = m;
      M[2] = m;
      return M;
    }
    // Unknowns M1..M(n-2). Not-a-knot (equal jerk across the second and the second-to-last knot) gives
    // M0 = 2 M1 - M2 and M(n-1) = 2 M(n-2) - M(n-3); substituted, the first and last rows become 6 M = r.
    const n = count;
    const diag = this.diagonal;
    const rhs = this.rhs;
    const inner = n - 2; // rows for M1..M(n-2), index r = k - 1
    for (let r = 0; r < inner; r++) {
      const k = r + 1;
      rhs[r] = scale * (y(k - 1) - 2 * y(k) + y(k + 1));
      diag[r] = r === 0 || r === inner - 1 ? 6 : 4;
    }
    // Off-diagonals are 1 except the upper one of the first row and the lower one of the last row (0).
    const upper = (r: number) => (r === 0 ? 0 : 1);
    const lower = (r: number) => (r === inner - 1 ? 0 : 1);
    for (let r = 1; r < inner; r++) {
      const factor = lower(r) / diag[r - 1];
      diag[r] -= factor * upper(r - 1);
      rhs[r] -= factor * rhs[r - 1];
    }
    M[inner] = rhs[inner - 1] / diag[inner - 1];
    for (let r = inner - 2; r >= 0; r--) M[r + 1] = (rhs[r] - upper(r) * M[r + 2]) / diag[r];
    M[0] = 2 * M[1] - M[2];
    M[n - 1] = 2 * M[n - 2] - M[n - 3];
    return M;
  }
}

/**
 * Append count-1 segments through `count` knots spaced `spacingS` apart, the first at the trajectory's current end.
 * values is row-major [count][dim] starting at valuesOffset. "cubic": not-a-knot spline (continuous acceleration);
 * "linear": straight pieces. Writes the velocity and acceleration at the first knot into firstVel/firstAcc so a
 * junction can be fitted before it.
 */
export function appendUniformSpline(
  trajectory: PiecewiseTrajectory,
  values: Float64Array,
  valuesOffset: number,
  count: number,
  spacingS: number,
  kind: InterpolationKind,
  scratch: SplineScratch,
  firstVel: Float64Array,
  firstAcc: Float64Array,
): void {
  const dim = trajectory.dim;
  const startS = trajectory.endS;
  const firstSegment = trajectory.segmentCount;
  for (let k = 0; k + 1 < count; k++) trajectory.appendSegment(startS + (k + 1) * spacingS);
  const h = spacingS;
  for (let d = 0; d < dim; d++) {
    const M = kind === "cubic" ? scratch.solveNotAKnot(values, valuesOffset + d, dim, count, h) : null;
    for (let k = 0; k + 1 < count; k++) {
      const y0 = values[valuesOffset + k * dim + d];
      const y1 = values[valuesOffset + (k + 1) * dim + d];
      const o = trajectory.coefficientOffset(firstSegment + k, d);
      const c = trajectory.coefficients;
      c[o] = y0;
      if (M) {
        const m0 = M[k];
        const m1 = M[k + 1];
        c[o + 1] = (y1 - y0) / h - (h * (2 * m0 + m1)) / 6;
        c[o + 2] = 0.5 * m0;
        c[o + 3] = (m1 - m0) / (6 * h);
      } else {
        c[o + 1] = (y1 - y0) / h;
      }
    }
    if (count >= 2) {
      const o = trajectory.coefficientOffset(firstSegment, d);
      firstVel[d] = trajectory.coefficients[o + 1];
      firstAcc[d] = 2 * trajectory.coefficients[o + 2];
    } else {
      firstVel[d] = 0;
      firstAcc[d] = 0;
    }
  }
}

/**
 * A row-major chunk [steps * dim] at fractional step `u`, linear between steps, held before the first and after
 * the last, written to out[offset .. offset + dim).
 */
export function chunkLinearAt(actions: ArrayLike<number>, steps: number, dim: number, u: number, out: Float64Array, offset = 0): void {
  const s = u > 0 ? u : 0;
  const i = Math.min(Math.floor(s), steps - 1);
  const j = Math.min(i + 1, steps - 1);
  const f = i === j ? 0 : s - i;
  for (let d = 0; d < dim; d++) out[offset + d] = actions[i * dim + d] * (1 - f) + actions[j * dim + d] * f;
}
