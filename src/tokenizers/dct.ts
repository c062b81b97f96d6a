// Orthonormal DCT-II and its inverse (DCT-III) along the time axis of a row-major [N, D] chunk,
// the transform pair FAST uses (scipy's `dct(..., norm="ortho")` / `idct(..., norm="ortho")`):
//   X[k] = s_k * sum_t x[t] cos(pi (2t + 1) k / (2N)),   s_0 = sqrt(1/N), s_k = sqrt(2/N)
//   x[t] = sum_k s_k X[k] cos(pi (2t + 1) k / (2N))
// Both directions use one cached table c[k][t] = s_k cos(...) and its symmetry
// c[k][N-1-t] = (-1)^k c[k][t], which halves the multiply-adds.

/** Transforms of one length N. Holds its cosine table and a scratch row pair; no allocation per call. */
export class DctPlan {
  readonly length: number;
  /** c[k * N + t] = s_k cos(pi (2t + 1) k / (2N)). */
  readonly table: Float64Array;
  private scratch: Float64Array = new Float64Array(0);
  private accumulator: Float64Array = new Float64Array(0);

  constructor(length: number) {
    if (!Number.isInteger(length) || length < 1) throw new Error(`DCT length: expected a positive integer, got ${length}`);
    this.length = length;
    const n = length;
    this.table = new Float64Array(n * n);
    const s0 = Math.sqrt(1 / n);
    const sk = Math.sqrt(2 / n);
    for (let k = 0; k < n; k++) {
      const s = k === 0 ? s0 : sk;
      for (let t = 0; t < n; t++) this.table[k * n + t] = s * Math.cos((Math.PI * (2 * t + 1) * k) / (2 * n));
    }
  }

  /** Orthonormal DCT-II along time: `input` and `out` are row-major [N, dim] (must not alias). */
  forward(input: ArrayLike<number>, dim: number, out: Float64Array): void {
    const n = this.length;
    const half = n >> 1;
    const rows = (n + 1) >> 1;
    if (this.scratch.length < 2 * rows) this.scratch = new Float64Array(2 * rows);
    const sums = this.scratch;
    const table = this.table;
    for (let d = 0; d < dim; d++) {
      // sums[t] = x[t] + x[N-1-t] feeds the even frequencies, diffs[t] = x[t] - x[N-1-t] the odd
      // ones; for odd N the middle sample only meets even frequencies (cos(pi k / 2) = 0 for odd k).
      for (let t = 0; t < half; t++) {
        const x0 = input[t * dim + d];
        const x1 = input[(n - 1 - t) * dim + d];
        sums[t] = x0 + x1;
        sums[rows + t] = x0 - x1;
      }
      if (rows > half) {
        sums[half] = input[half * dim + d];
        sums[rows + half] = 0;
      }
      // Four frequencies of one parity per pass share each load of sums[t]: about twice as fast
      // as one at a time, with the same summation order per coefficient.
      for (let parity = 0; parity < 2; parity++) {
        const base = parity === 0 ? 0 : rows;
        let k = parity;
        for (; k + 6 < n; k += 8) {
          const r0 = k * n;
          const r1 = r0 + 2 * n;
          const r2 = r1 + 2 * n;
          const r3 = r2 + 2 * n;
          let a0 = 0;
          let a1 = 0;
          let a2 = 0;
          let a3 = 0;
          for (let t = 0; t < rows; t++) {
            const x = sums[base + t];
            a0 += table[r0 + t] * x;
            a1 += table[r1 + t] * x;
            a2 += table[r2 + t] * x;
            a3 += table[r3 + t] * x;
          }
          out[k * dim + d] = a0;
          out[(k + 2) * dim + d] = a1;
          out[(k + 4) * dim + d] = a2;
          out[(k + 6) * dim + d] = a3;
        }
        for (; k < n; k += 2) {
          const r0 = k * n;
          let a0 = 0;
          for (let t = 0; t < rows; t++) a0 += table[r0 + t] * sums[base + t];
          out[k * dim + d] = a0;
        }
      }
    }
  }

  /** Orthonormal DCT-III (inverse of `forward`): `coefficients` and `out` are row-major [N, dim] (must not alias). */
  inverse(coefficients: ArrayLike<number>, dim: number, out: Float64Array, coefficientScale = 1): void {
    const n = this.length;
    this.beginInverse(dim);
    for (let k = 0; k < n; k++) {
      for (let d = 0; d < dim; d++) {
        const value = coefficients[k * dim + d];
        if (value !== 0) this.addCoefficient(k, d, value * coefficientScale);
      }
    }
    this.finishInverse(dim, out);
  }

  /**
   * Inverse transform that visits only non-zero coefficients (FAST chunks are mostly zeros at high
   * frequencies): `beginInverse`, `addCoefficient` for each non-zero coefficient, `finishInverse`.
   * Partial sums live in the plan, one contiguous block per dimension: the even-frequency sums for
   * the first ceil(N/2) samples, then the odd-frequency sums for the first floor(N/2).
   */
  beginInverse(dim: number): void {
    const needed = this.length * dim;
    if (this.accumulator.length < needed) this.accumulator = new Float64Array(needed);
    this.accumulator.fill(0, 0, needed);
  }

  /** Adds coefficient `weight` of frequency `k`, dimension `d` (after `beginInverse`). */
  addCoefficient(k: number, d: number, weight: number): void {
    const n = this.length;
    const evenRows = (n + 1) >> 1;
    const odd = (k & 1) !== 0;
    const rows = odd ? n >> 1 : evenRows;
    const base = d * n + (odd ? evenRows : 0);
    const row = k * n;
    const table = this.table;
    const acc = this.accumulator;
    for (let t = 0; t < rows; t++) acc[base + t] += weight * table[row + t];
  }

  /** Writes the samples, row-major [N, dim], from the partial sums: x[t] = even + odd, x[N-1-t] = even - odd. */
  finishInverse(dim: number, out: Float64Array): void {
    const n = this.length;
    const half = n >> 1;
    const evenRows = (n + 1) >> 1;
    const acc = this.accumulator;
    for (let d = 0; d < dim; d++) {
      const base = d * n;
      for (let t = 0; t < half; t++) {
        const even = acc[base + t];
        const odd = acc[base + evenRows + t];
        out[t * dim + d] = even + odd;
        out[(n - 1 - t) * dim + d] = even - odd;
      }
      // The middle sample of an odd length only gets even frequencies (cos(pi k / 2) = 0 for odd k).
      if (evenRows > half) out[half * dim + d] = acc[base + half];
    }
  }
}

/** Plans by length, bounded: the least recently created plan is dropped when full. */
export class DctPlanCache {
  private readonly plans = new Map<number, DctPlan>();
  constructor(private readonly maxPlans = 16) {}

  get(length: number): DctPlan {
    let plan = this.plans.get(length);
    if (plan === undefined) {
      if (this.plans.size >= this.maxPlans) this.plans.delete(this.plans.keys().next().value!);
      plan = new DctPlan(length);
      this.plans.set(length, plan);
    }
    return plan;
  }
}

/** Convenience: orthonormal DCT-II along time of a row-major [N, dim] array. */
export function dctOrtho(input: ArrayLike<number>, length: number, dim: number): Float64Array {
  const out = new Float64Array(length * dim);
  new DctPlan(length).forward(input, dim, out);
  return out;
}

/** Convenience: orthonormal DCT-III (inverse DCT-II) along time of a row-major [N, dim] array. */
export function idctOrtho(coefficients: ArrayLike<number>, length: number, dim: number): Float64Array {
  const out = new Float64Array(length * dim);
  new DctPlan(length).inverse(coefficients, dim, out);
  return out;
}
