import { describe, expect, it } from "vitest";
import { BinningTokenizer } from "../../src/tokenizers/binning.js";

describe("BinningTokenizer", () => {
  it("maps values to uniform bins and back to bin centres", () => {
    const tok = new BinningTokenizer({ bins: 4, low: -1, high: 1, dim: 2 });
    // Bins of width 0.5: [-1,-0.5) [-0.5,0) [0,0.5) [0.5,1]; the top edge belongs to the last bin.
    expect(tok.encode([[-1, 1], [0, 0.49], [-0.5, 0.5]])).toEqual([0, 3, 2, 2, 1, 3]);
    expect(tok.decode([0, 3, 2, 1], 2)).toEqual([[-0.75, 0.75], [0.25, -0.25]]);
  });

  it("clamps values outside [low, high] to the edge bins", () => {
    const tok = new BinningTokenizer({ bins: 256, low: -1, high: 1, dim: 1 });
    expect(tok.encode([[-7], [7], [Number.NEGATIVE_INFINITY], [Number.POSITIVE_INFINITY]])).toEqual([0, 255, 0, 255]);
  });

  it("spends one token per step per dimension and reconstructs within half a bin, per-dimension bounds", () => {
    const low = [-3.1, -2, -0.5, 0, -1, -1, 0];
    const high = [3.1, 2, 0.5, 1, 1, 1, 0.08];
    const tok = new BinningTokenizer({ bins: 256, low, high, dim: 7 });
    const chunk = Array.from({ length: 50 }, (_, t) => low.map((lo, d) => lo + (high[d] - lo) * (0.5 + 0.5 * Math.sin(0.1 * t + d))));
    const tokens = tok.encode(chunk);
    expect(tokens.length).toBe(350);
    for (const k of tokens) expect(Number.isInteger(k) && k >= 0 && k < 256).toBe(true);
    const back = tok.decode(tokens, 50);
    for (let t = 0; t < 50; t++) {
      for (let d = 0; d < 7; d++) {
        expect(Math.abs(back[t][d] - chunk[t][d])).toBeLessThanOrEqual((high[d] - low[d]) / 256 / 2 + 1e-12);
      }
    }
    // Decoding bin centres again lands in the same bins.
    expect(tok.encode(back)).toEqual(tokens);
  });

  it("reports bad input on one line", () => {
    const tok = new BinningTokenizer({ bins: 256, low: -1, high: 1, dim: 3 });
    expect(() => tok.encode([[0, 0]])).toThrow(/^Binning encode: expected 3 values in step 0, got 2$/);
    expect(() => tok.encode([[0, Number.NaN, 0]])).toThrow(/expected a number at step 0, dimension 1, got NaN/);
    expect(() => tok.decode([1, 2, 3, 4], 2)).toThrow(/^Binning decode: expected 6 tokens \(2 steps x 3 dims\), got 4$/);
    expect(() => tok.decode([1, 256, 3], 1)).toThrow(/expected integer tokens in \[0, 256\), got 256 at index 1/);
    expect(() => tok.decode([1, -1, 3], 1)).toThrow(/got -1 at index 1/);
    expect(() => tok.decode([1, 2.5, 3], 1)).toThrow(/got 2.5 at index 1/);
    expect(() => new BinningTokenizer({ bins: 1, low: -1, high: 1, dim: 3 })).toThrow(/bins to be an integer >= 2, got 1/);
    expect(() => new BinningTokenizer({ low: [-1, -1], high: 1, dim: 3 })).toThrow(/low as one number or 3 values, got 2 values/);
    expect(() => new BinningTokenizer({ low: 1, high: [2, 1, 2], dim: 3 })).toThrow(/high > low in every dimension, got \[1, 1\] in dimension 1/);
    expect(() => new BinningTokenizer({ low: Number.NaN, high: 1, dim: 3 })).toThrow(/finite low, got NaN in dimension 0/);
    expect(() => new BinningTokenizer({ low: -1, high: 1, dim: 0 })).toThrow(/dim to be an integer >= 1, got 0/);
  });
});
