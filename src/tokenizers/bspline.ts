// Clamped uniform B-splines on the phase interval [0, 1]: knots, Cox-de Boor basis values, a sparse
// basis table for a time grid, and the least-squares fitting operator used by the BEAST tokenizer.
//
// Knot layout (BEAST, Zhou et al. 2025): `degree` zeros, linspace(0, 1, numBasis + 1 - degree),
// `degree` ones. The spline passes through its first control point at phase 0 and its last at phase 1.
// At any phase only `degree + 1` basis functions are non-zero, which is what the sparse table exploits.

/** Knot vector of a clamped uniform B-spline with `numBasis` control points. */
export function clampedUniformKnots(numBasis: number, degree: number): Float64Array {
  checkSplineShape(numBasis, degree);
  const intervals = numBasis - degree;
  const knots = new Float64Array(numBasis + degree + 1);
  // i / intervals keeps 0 and 1 exact, so the clamped ends interpolate their control points exactly.
  for (let i = 0; i <= intervals; i++) knots[degree + i] = i / intervals;
  for (let i = degree + intervals + 1; i < knots.length; i++) knots[i] = 1;
  return knots;
}

function checkSplineShape(numBasis: number, degree: number): void {
  if (!Number.isInteger(degree) || degree < 0) {
    throw new Error(`B-spline: expected a non-negative integer degree, got ${degree}`);
  }
  if (!Number.isInteger(numBasis) || numBasis < degree + 1) {
    throw new Error(`B-spline: expected an integer numBasis >= degree + 1 = ${degree + 1}, got ${numBasis}`);
  }
}

export class ClampedUniformBSpline {
  readonly numBasis: number;
  readonly degree: number;
  readonly knots: Float64Array;
  private readonly intervals: number;

  constructor(numBasis: number, degree: number) {
    this.knots = clampedUniformKnots(numBasis, degree);
    this.numBasis = numBasis;
    this.degree = degree;
    this.intervals = numBasis - degree;
  }

  /**
   * Index s of the knot span [knots[s], knots[s+1]) that holds `phase` (already in [0, 1]).
   * Phase 1 belongs to the last non-empty span (the right end is closed), so the curve is defined there.
   */
  span(phase: number): number {
    const p = this.degree;
    const last = p + this.intervals - 1;
    let s = p + Math.min(Math.floor(phase * this.intervals), this.intervals - 1);
    // The floor guess can be off by one next to a knot; settle it against the stored knot values.
    while (s > p && phase < this.knots[s]) s--;
    while (s < last && phase >= this.knots[s + 1]) s++;
    return s;
  }

  /**
   * Cox-de Boor: writes the `degree + 1` basis values that may be non-zero at `phase` into
   * out[offset .. offset + degree] and returns the index of the first of those basis functions.
   */
  evaluateNonZero(phase: number, out: Float64Array, offset: number): number {
    const p = this.degree;
    const U = this.knots;
    const s = this.span(phase);
    const first = s - p;
    out[offset] = 1; // N_{s,0}
    for (let k = 1; k <= p; k++) {
      // Raise N_{s-k+1..s, k-1} (slots 0..k-1) to N_{s-k..s, k} (slots 0..k), highest slot first so
      // every slot still reads the previous degree's values.
      for (let j = k; j >= 0; j--) {
        const i = s - k + j;
        let value = 0;
        if (j > 0) {
          const den = U[i + k] - U[i];
          // (u - U_i) / den is computed as one quotient so it is exactly 1 where u hits the clamped end.
          if (den > 0) value += ((phase - U[i]) / den) * out[offset + j - 1];
        }
        if (j < k) {
          const den = U[i + k + 1] - U[i + 1];
          if (den > 0) value += ((U[i + k + 1] - phase) / den) * out[offset + j];
        }
        out[offset + j] = value;
      }
    }
    return first;
  }

  /** Dense basis matrix, row-major [phases.length x numBasis]. */
  denseMatrix(phases: ArrayLike<number>): Float64Array {
    const n = phases.length;
    const nb = this.numBasis;
    const p = this.degree;
    const matrix = new Float64Array(n * nb);
    const values = new Float64Array(p + 1);
    for (let i = 0; i < n; i++) {
      const first = this.evaluateNonZero(phases[i], values, 0);
      for (let k = 0; k <= p; k++) matrix[i * nb + first + k] = values[k];
    }
    return matrix;
  }
}

/**
 * The non-zero basis values of one spline on a time grid: for grid point i the functions
 * first[i] .. first[i] + degree have the values values[i*(degree+1) ..]. Buffers grow only when a
 * longer grid than any before arrives, never per call.
 */
export class SparseBasisGrid {
  readonly spline: ClampedUniformBSpline;
  count = 0;
  first: Int32Array;
  values: Float64Array;

  constructor(spline: ClampedUniformBSpline, capacity: number) {
    this.spline = spline;
    this.first = new Int32Array(capacity);
    this.values = new Float64Array(capacity * (spline.degree + 1));
  }

  /** Fills the table for `count` phases, each already clamped to [0, 1]. */
  fill(phases: ArrayLike<number>, count: number): void {
    const width = this.spline.degree + 1;
    if (count > this.first.length) {
      this.first = new Int32Array(count);
      this.values = new Float64Array(count * width);
    }
    for (let i = 0; i < count; i++) {
      this.first[i] = this.spline.evaluateNonZero(phases[i], this.values, i * width);
    }
    this.count = count;
  }
}

/**
 * Linear map from samples y (length numTimes) to ridge-regularized least-squares spline weights,
 * w = (B^T B + reg I)^-1 B^T y. With `fixFirst`, the first control point is a given value c0 and
 * the rest solve the same problem on y - B[:,0] c0: w[1..] = solve * y - firstResponse * c0.
 */
export interface SplineFitOperator {
  /** Number of weights solved for (numBasis, or numBasis - 1 when the first is fixed). */
  readonly unknowns: number;
  readonly numTimes: number;
  /** Row-major [unknowns x numTimes]. */
  readonly solve: Float64Array;
  /** solve * B[:, 0]: how much a fixed first control point shifts each solved weight (zeros if not fixed). */
  readonly firstResponse: Float64Array;
}

export function splineFitOperator(
  basis: Float64Array,
  numTimes: number,
  numBasis: number,
  regularization: number,
  fixFirst: boolean,
): SplineFitOperator {
  const c0 = fixFirst ? 1 : 0;
  const m = numBasis - c0;
  // Gram matrix of the solved columns plus the ridge term.
  const gram = new Float64Array(m * m);
  for (let a = 0; a < m; a++) {
    for (let b = 0; b <= a; b++) {
      let sum = 0;
      for (let t = 0; t < numTimes; t++) sum += basis[t * numBasis + c0 + a] * basis[t * numBasis + c0 + b];
      gram[a * m + b] = sum;
      gram[b * m + a] = sum;
    }
    gram[a * m + a] += regularization;
  }
  const chol = choleskyInPlace(gram, m);
  const solve = new Float64Array(m * numTimes);
  const column = new Float64Array(m);
  for (let t = 0; t < numTimes; t++) {
    for (let a = 0; a < m; a++) column[a] = basis[t * numBasis + c0 + a];
    choleskySolveInPlace(chol, m, column);
    for (let a = 0; a < m; a++) solve[a * numTimes + t] = column[a];
  }
  const firstResponse = new Float64Array(m);
  if (fixFirst) {
    for (let a = 0; a < m; a++) {
      let sum = 0;
      for (let t = 0; t < numTimes; t++) sum += solve[a * numTimes + t] * basis[t * numBasis];
      firstResponse[a] = sum;
    }
  }
  return { unknowns: m, numTimes, solve, firstResponse };
}

/** Lower Cholesky factor of a symmetric positive definite n x n matrix, written over `a`. */
function choleskyInPlace(a: Float64Array, n: number): Float64Array {
  for (let j = 0; j < n; j++) {
    let diag = a[j * n + j];
    for (let k = 0; k < j; k++) diag -= a[j * n + k] * a[j * n + k];
    if (!(diag > 0)) {
      throw new Error(
        `B-spline fit: normal equations are singular (pivot ${diag} at ${j}); use more samples per chunk or a regularization > 0`,
      );
    }
    const l = Math.sqrt(diag);
    a[j * n + j] = l;
    for (let i = j + 1; i < n; i++) {
      let sum = a[i * n + j];
      for (let k = 0; k < j; k++) sum -= a[i * n + k] * a[j * n + k];
      a[i * n + j] = sum / l;
    }
    for (let i = 0; i < j; i++) a[i * n + j] = 0;
  }
  return a;
}

function choleskySolveInPlace(l: Float64Array, n: number, x: Float64Array): void {
  for (let i = 0; i < n; i++) {
    let sum = x[i];
    for (let k = 0; k < i; k++) sum -= l[i * n + k] * x[k];
    x[i] = sum / l[i * n + i];
  }
  for (let i = n - 1; i >= 0; i--) {
    let sum = x[i];
    for (let k = i + 1; k < n; k++) sum -= l[k * n + i] * x[k];
    x[i] = sum / l[i * n + i];
  }
}
