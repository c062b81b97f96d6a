// Per-dimension uniform binning (the RT-2 / OpenVLA action tokenization baseline): every value of
// every step becomes one token, so a [T x D] chunk costs T*D tokens (350 for 50x7, versus ~30 for FAST+
// and 70 for BEAST). Values are clamped to [low, high]; decoding returns bin centres. Token ids are
// bin indices 0..bins-1; mapping them into a model's vocabulary is the policy's job.

export interface BinningConfig {
  /** Bins per dimension; default 256. */
  bins?: number;
  /** Lower edge per dimension (or one value for all). */
  low: ArrayLike<number> | number;
  /** Upper edge per dimension (or one value for all). */
  high: ArrayLike<number> | number;
  /** Action dimension D. */
  dim: number;
}

export class BinningTokenizer {
  readonly bins: number;
  readonly dim: number;
  readonly low: Float64Array;
  readonly high: Float64Array;
  /** Bin width per dimension. */
  private readonly width: Float64Array;

  constructor(config: BinningConfig) {
    if (config == null || typeof config !== "object") throw new Error(`Binning config: expected an object, got ${String(config)}`);
    const bins = config.bins ?? 256;
    if (!Number.isInteger(bins) || bins < 2) throw new Error(`Binning config: expected bins to be an integer >= 2, got ${String(bins)}`);
    if (!Number.isInteger(config.dim) || config.dim < 1) throw new Error(`Binning config: expected dim to be an integer >= 1, got ${String(config.dim)}`);
    this.bins = bins;
    this.dim = config.dim;
    this.low = perDim("low", config.low, config.dim);
    this.high = perDim("high", config.high, config.dim);
    this.width = new Float64Array(config.dim);
    for (let d = 0; d < config.dim; d++) {
      if (!(this.high[d] > this.low[d])) {
        throw new Error(`Binning config: expected high > low in every dimension, got [${this.low[d]}, ${this.high[d]}] in dimension ${d}`);
      }
      this.width[d] = (this.high[d] - this.low[d]) / bins;
    }
  }

  /** Tokens per step per dimension, row-major: [step0 dim0, step0 dim1, ..., step1 dim0, ...]. */
  encode(chunk: number[][]): number[] {
    if (!Array.isArray(chunk)) throw new Error(`Binning encode: expected an array of steps, got ${chunk === null ? "null" : typeof chunk}`);
    const D = this.dim;
    const tokens = new Array<number>(chunk.length * D);
    for (let t = 0; t < chunk.length; t++) {
      const row = chunk[t];
      if (row == null || row.length !== D) {
        throw new Error(`Binning encode: expected ${D} values in step ${t}, got ${row == null ? String(row) : row.length}`);
      }
      for (let d = 0; d < D; d++) {
        const v = row[d];
        if (typeof v !== "number" || Number.isNaN(v)) {
          throw new Error(`Binning encode: expected a number at step ${t}, dimension ${d}, got ${String(v)}`);
        }
        const index = Math.floor((v - this.low[d]) / this.width[d]);
        // The top edge (and anything above) goes to the last bin, anything below to the first.
        tokens[t * D + d] = index < 0 ? 0 : index >= this.bins ? this.bins - 1 : index;
      }
    }
    return tokens;
  }

  /** Bin centres for `steps` x dim tokens (the layout encode produces). */
  decode(tokens: ArrayLike<number>, steps: number): number[][] {
    if (!Number.isInteger(steps) || steps < 0) throw new Error(`Binning decode: expected a non-negative integer step count, got ${String(steps)}`);
    const D = this.dim;
    if (tokens == null || tokens.length !== steps * D) {
      throw new Error(`Binning decode: expected ${steps * D} tokens (${steps} steps x ${D} dims), got ${tokens == null ? String(tokens) : tokens.length}`);
    }
    const out = new Array<number[]>(steps);
    for (let t = 0; t < steps; t++) {
      const row = new Array<number>(D);
      for (let d = 0; d < D; d++) {
        const k = tokens[t * D + d];
        if (!Number.isInteger(k) || k < 0 || k >= this.bins) {
          throw new Error(`Binning decode: expected integer tokens in [0, ${this.bins}), got ${String(k)} at index ${t * D + d}`);
        }
        row[d] = this.low[d] + (k + 0.5) * this.width[d];
      }
      out[t] = row;
    }
    return out;
  }
}

function perDim(name: string, value: ArrayLike<number> | number, dim: number): Float64Array {
  let out: Float64Array;
  if (typeof value === "number") {
    out = new Float64Array(dim).fill(value);
  } else {
    if (value == null || value.length !== dim) {
      throw new Error(`Binning config: expected ${name} as one number or ${dim} values, got ${value == null ? String(value) : `${value.length} values`}`);
    }
    out = Float64Array.from(value);
  }
  const bad = out.findIndex((x) => !Number.isFinite(x));
  if (bad >= 0) throw new Error(`Binning config: expected finite ${name}, got ${out[bad]} in dimension ${bad}`);
  return out;
}
