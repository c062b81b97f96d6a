// Orthonormal DCT-II / DCT-III along the time axis of a row-major [N, D] array, checked against the
// textbook sums (no shared code with the implementation's symmetric, blocked loops).
import { describe, expect, it } from "vitest";
import { DctPlan, DctPlanCache, dctOrtho, idctOrtho } from "../../src/tokenizers/dct.js";
import { seededRandom } from "../../bench/lib/synthetic.js";

/** X[k][d] = s_k * sum_t x[t][d] cos(pi (2t+1) k / 2N), straight from the definition. */
function naiveDct(x: number[], n: number, dim: number): number[] {
  const out: number[] = [];
  for (let k = 0; k < n; k++) {
    const s = k === 0 ? Math.sqrt(1 / n) : Math.sqrt(2 / n);
    for (let d = 0; d < dim; d++) {
      let sum = 0;
      for (let t = 0; t < n; t++) sum += x[t * dim + d] * Math.cos((Math.PI * (2 * t + 1) * k) / (2 * n));
      out.push(s * sum);
    }
  }
  return out;
}

function randomArray(length: number, random: () => number): number[] {
  return Array.from({ length }, () => 2 * random() - 1);
}

const LENGTHS = [1, 2, 3, 4, 7, 8, 9, 10, 16, 17, 50, 51];

describe("DCT-II (orthonormal, along time)", () => {
  it.each(LENGTHS)("matches the defining sum for N = %i", (n) => {
    const random = seededRandom(n);
    const dim = 3;
    const x = randomArray(n * dim, random);
    const expected = naiveDct(x, n, dim);
    const actual = dctOrtho(x, n, dim);
    expected.forEach((v, i) => expect(actual[i]).toBeCloseTo(v, 12));
  });

  it("maps a constant signal to its first coefficient c * sqrt(N)", () => {
    const n = 50;
    const out = dctOrtho(new Array(n).fill(0.5), n, 1);
    expect(out[0]).toBeCloseTo(0.5 * Math.sqrt(n), 12);
    for (let k = 1; k < n; k++) expect(Math.abs(out[k])).toBeLessThan(1e-13);
  });

  it("preserves energy (orthonormal)", () => {
    const random = seededRandom(3);
    const x = randomArray(40 * 2, random);
    const energy = (a: ArrayLike<number>) => Array.from(a).reduce((s, v) => s + v * v, 0);
    expect(energy(dctOrtho(x, 40, 2))).toBeCloseTo(energy(x), 10);
  });
});

describe("DCT-III (inverse)", () => {
  it.each(LENGTHS)("inverts the forward transform for N = %i", (n) => {
    const random = seededRandom(100 + n);
    const dim = 4;
    const x = randomArray(n * dim, random);
    const back = idctOrtho(dctOrtho(x, n, dim), n, dim);
    x.forEach((v, i) => expect(back[i]).toBeCloseTo(v, 12));
  });

  it("gives the same result when only the non-zero coefficients are added", () => {
    const random = seededRandom(8);
    const n = 33;
    const dim = 5;
    const coefficients = randomArray(n * dim, random).map((v, i) => (i % 4 === 0 ? v : 0));
    const plan = new DctPlan(n);
    const dense = new Float64Array(n * dim);
    plan.inverse(coefficients, dim, dense);
    const sparse = new Float64Array(n * dim).fill(7); // stale contents must not leak through
    plan.beginInverse(dim);
    coefficients.forEach((v, i) => {
      if (v !== 0) plan.addCoefficient(Math.floor(i / dim), i % dim, v);
    });
    plan.finishInverse(dim, sparse);
    expect(Array.from(sparse)).toEqual(Array.from(dense));
    const naiveInverse = Array.from({ length: n * dim }, (_, i) => {
      const t = Math.floor(i / dim);
      const d = i % dim;
      let sum = 0;
      for (let k = 0; k < n; k++) sum += (k === 0 ? Math.sqrt(1 / n) : Math.sqrt(2 / n)) * coefficients[k * dim + d] * Math.cos((Math.PI * (2 * t + 1) * k) / (2 * n));
      return sum;
    });
    naiveInverse.forEach((v, i) => expect(dense[i]).toBeCloseTo(v, 12));
  });

  it("reuses a plan across dimensions without stale sums", () => {
    const plan = new DctPlan(6);
    const wide = new Float64Array(6 * 8);
    plan.inverse(new Array(48).fill(1), 8, wide);
    const narrow = new Float64Array(6);
    plan.inverse([1, 0, 0, 0, 0, 0], 1, narrow);
    narrow.forEach((v) => expect(v).toBeCloseTo(Math.sqrt(1 / 6), 14));
  });
});

describe("DctPlanCache", () => {
  it("returns a plan of the requested length, and the same plan while it is cached", () => {
    const cache = new DctPlanCache(4);
    const a = cache.get(10);
    expect(a.length).toBe(10);
    expect(cache.get(10)).toBe(a);
    for (let n = 1; n <= 20; n++) expect(cache.get(n).length).toBe(n);
  });

  it("rejects a length that is not a positive integer", () => {
    expect(() => new DctPlan(0)).toThrow(/expected a positive integer, got 0/);
    expect(() => new DctPlan(2.5)).toThrow(/expected a positive integer, got 2.5/);
  });
});
