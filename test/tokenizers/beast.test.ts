import { describe, expect, it } from "vitest";
import { BeastTokenizer, type BeastConfig } from "../../src/tokenizers/beast.js";
import { ClampedUniformBSpline, clampedUniformKnots } from "../../src/tokenizers/bspline.js";
import { mulberry32 as rng } from "../helpers/random.js";


/** Smooth joint motion (a few sines per DoF) and, if asked, a 0/1 gripper that switches once. */
function smoothChunk(seed: number, steps: number, dof: number, gripper: boolean, maxCycles = 1.5): number[][] {
  const r = rng(seed);
  const params = Array.from({ length: dof }, () => ({ a: r() * 0.6 - 0.3, f: 0.3 + r() * (maxCycles - 0.3), ph: r() * 6.28, off: r() - 0.5 }));
  const switchAt = Math.floor(r() * steps);
  return Array.from({ length: steps }, (_, t) =>
    params.map((p, d) => {
      if (gripper && d === dof - 1) return t >= switchAt ? 1 : 0;
      const x = t / (steps - 1);
      return p.off + p.a * Math.sin(2 * Math.PI * p.f * x + p.ph);
    }),
  );
}

/** Textbook recursive Cox-de Boor with the last interval closed on the right. */
function coxDeBoor(i: number, k: number, u: number, U: Float64Array): number {
  if (k === 0) {
    const lastSpan = U.findLastIndex((x, j) => j + 1 < U.length && x < U[j + 1]);
    if (U[i] <= u && u < U[i + 1]) return 1;
    return i === lastSpan && u === U[i + 1] ? 1 : 0;
  }
  let v = 0;
  if (U[i + k] > U[i]) v += ((u - U[i]) / (U[i + k] - U[i])) * coxDeBoor(i, k - 1, u, U);
  if (U[i + k + 1] > U[i + 1]) v += ((U[i + k + 1] - u) / (U[i + k + 1] - U[i + 1])) * coxDeBoor(i + 1, k - 1, u, U);
  return v;
}

const calvin: BeastConfig = { numDof: 7, numBasis: 10, seqLen: 50, gripperZeroOrder: true };

/** Bounds wide enough that no fitted weight of the test chunks is clamped. */
function withWideBounds(config: BeastConfig, bound = 3): BeastConfig {
  const n = config.numDof * config.numBasis;
  return { ...config, wMin: new Float64Array(n).fill(-bound), wMax: new Float64Array(n).fill(bound) };
}

describe("clamped uniform B-spline basis", () => {
  it("lays out the knots as degree zeros, a uniform interior and degree ones", () => {
    expect(Array.from(clampedUniformKnots(6, 2))).toEqual([0, 0, 0, 0.25, 0.5, 0.75, 1, 1, 1]);
    expect(Array.from(clampedUniformKnots(4, 0))).toEqual([0, 0.25, 0.5, 0.75, 1]);
  });

  it("matches the recursive Cox-de Boor definition, sums to one and is non-negative", () => {
    for (const [nb, p] of [[10, 4], [5, 4], [8, 3], [10, 0], [6, 1]]) {
      const spline = new ClampedUniformBSpline(nb, p);
      const phases = [0, 1, 1e-12, 1 - 1e-12, ...Array.from({ length: 97 }, (_, i) => i / 96), 0.123456, 0.987654];
      const dense = spline.denseMatrix(phases);
      for (let t = 0; t < phases.length; t++) {
        let sum = 0;
        for (let b = 0; b < nb; b++) {
          const v = dense[t * nb + b];
          expect(v).toBeGreaterThanOrEqual(0);
          expect(v).toBeCloseTo(coxDeBoor(b, p, phases[t], spline.knots), 12);
          sum += v;
        }
        expect(sum).toBeCloseTo(1, 12);
      }
    }
  });

  it("is exactly the first control point at phase 0 and the last at phase 1", () => {
    const spline = new ClampedUniformBSpline(10, 4);
    const values = new Float64Array(5);
    expect(spline.evaluateNonZero(0, values, 0)).toBe(0);
    expect(Array.from(values)).toEqual([1, 0, 0, 0, 0]);
    expect(spline.evaluateNonZero(1, values, 0)).toBe(5);
    expect(Array.from(values)).toEqual([0, 0, 0, 0, 1]);
  });

  it("rejects a degree the control points cannot carry", () => {
    expect(() => new ClampedUniformBSpline(4, 4)).toThrow(/numBasis >= degree \+ 1 = 5, got 4/);
    expect(() => new ClampedUniformBSpline(4, -1)).toThrow(/non-negative integer degree/);
  });
});

describe("BeastTokenizer fit and decode", () => {
  it("recovers the weights of a chunk that is itself a spline", () => {
    const tok = new BeastTokenizer(withWideBounds(calvin));
    const r = rng(7);
    const truth = Float64Array.from({ length: 70 }, () => r() * 2 - 1);
    // Gripper (DoF 6) weights are piecewise constant levels.
    const rows = tok.decodeContinuous(normalize(truth, tok));
    const fitted = tok.fitWeights(rows);
    for (let i = 0; i < 70; i++) expect(fitted[i]).toBeCloseTo(truth[i], 6);
  });

  it("reconstructs smooth chunks through tokens to within the quantization step", () => {
    // A 5-basis degree-4 spline is one quartic over the chunk: give it slower motion (at most 3/4 cycle).
    const cases: [BeastConfig, number, number][] = [
      [calvin, 1, 1.5],
      [{ numDof: 7, numBasis: 5, seqLen: 10, gripperZeroOrder: true }, 2, 0.75],
      [{ numDof: 6, numBasis: 8, seqLen: 32 }, 3, 1.5],
    ];
    for (const [config, seed, maxCycles] of cases) {
      const wide = withWideBounds(config, 2);
      const chunks = Array.from({ length: 6 }, (_, k) => smoothChunk(seed * 100 + k, config.seqLen, config.numDof, config.gripperZeroOrder ?? false, maxCycles));
      const bounds = BeastTokenizer.fitBounds(chunks, wide);
      const tok = new BeastTokenizer({ ...config, ...bounds });
      for (const chunk of chunks) {
        const tokens = tok.encode(chunk);
        expect(tokens.length).toBe(tok.tokensPerChunk);
        const decoded = tok.decode(tokens);
        const unquantized = tok.decodeContinuous(tok.encodeContinuous(chunk));
        for (let t = 0; t < chunk.length; t++) {
          for (let d = 0; d < config.numDof; d++) {
            // Quantization moves each weight by at most half a bin; the basis sums to one.
            let halfBin = 0;
            for (let b = 0; b < config.numBasis; b++) {
              const i = d * config.numBasis + b;
              halfBin = Math.max(halfBin, (bounds.wMax[i] - bounds.wMin[i]) / 255 / 2);
            }
            expect(Math.abs(decoded[t][d] - unquantized[t][d])).toBeLessThanOrEqual(halfBin + 1e-12);
            // Smooth joints are fitted closely (gripper steps are not: degree 0 averages the switch interval).
            if (!(config.gripperZeroOrder && d === config.numDof - 1)) expect(Math.abs(unquantized[t][d] - chunk[t][d])).toBeLessThan(0.02);
          }
        }
      }
    }
  });

  it("fits the gripper with a piecewise-constant spline (one level per interval)", () => {
    const tok = new BeastTokenizer(withWideBounds(calvin));
    const chunk = smoothChunk(5, 50, 7, true);
    const decoded = tok.decode(tok.encode(chunk));
    const levels = new Set(decoded.map((row) => row[6]));
    expect(levels.size).toBeLessThanOrEqual(10);
    const w = tok.fitWeights(chunk);
    // Interval j covers phases [j/10, (j+1)/10): its weight is the mean of the samples there.
    for (let j = 0; j < 10; j++) {
      const inside = chunk.filter((_, t) => t / 49 >= j / 10 && (t / 49 < (j + 1) / 10 || j === 9)).map((row) => row[6]);
      expect(w[6 * 10 + j]).toBeCloseTo(inside.reduce((a, b) => a + b, 0) / inside.length, 6);
    }
  });

  it("decodes on any time grid; decodeInto matches decode and keeps a cache per custom grid", () => {
    const tok = new BeastTokenizer(withWideBounds(calvin));
    const tokens = tok.encode(smoothChunk(11, 50, 7, true));
    const dense = Float64Array.from({ length: 200 }, (_, i) => i / 199);
    const coarse = Float64Array.from({ length: 5 }, (_, i) => i / 4);
    const fresh = new BeastTokenizer(withWideBounds(calvin));
    const expectDense = fresh.decode(tokens, dense);
    const expectCoarse = fresh.decode(tokens, coarse);
    const out = new Float64Array(200 * 7);
    for (let round = 0; round < 2; round++) {
      tok.decodeInto(tokens, out, dense);
      for (let i = 0; i < 200; i++) for (let d = 0; d < 7; d++) expect(out[i * 7 + d]).toBe(expectDense[i][d]);
      tok.decodeInto(tokens, out, coarse);
      for (let i = 0; i < 5; i++) for (let d = 0; d < 7; d++) expect(out[i * 7 + d]).toBe(expectCoarse[i][d]);
    }
    // The same array refilled with other times must not reuse the stale basis.
    const reused = Float64Array.from(coarse);
    tok.decodeInto(tokens, out, reused);
    reused.reverse();
    tok.decodeInto(tokens, out, reused);
    for (let d = 0; d < 7; d++) expect(out[d]).toBe(expectCoarse[4][d]);
    // The default grid equals linspace(0, duration, seqLen).
    const onGrid = tok.decode(tokens);
    const explicit = tok.decode(tokens, Float64Array.from({ length: 50 }, (_, i) => i / 49));
    for (let i = 0; i < 50; i++) for (let d = 0; d < 7; d++) expect(onGrid[i][d]).toBeCloseTo(explicit[i][d], 14);
  });

  it("scales phase by the duration and holds the end values outside the chunk", () => {
    const config = withWideBounds({ ...calvin, duration: 2.5 });
    const tok = new BeastTokenizer(config);
    const tokens = tok.encode(smoothChunk(12, 50, 7, true));
    const rows = tok.decode(tokens, [-1, 0, 1.25, 2.5, 9]);
    const unit = new BeastTokenizer(withWideBounds(calvin)).decode(tokens, [0, 0.5, 1]);
    expect(rows[0]).toEqual(unit[0]);
    expect(rows[1]).toEqual(unit[0]);
    rows[2].forEach((v, d) => expect(v).toBeCloseTo(unit[1][d], 12));
    expect(rows[3]).toEqual(unit[2]);
    expect(rows[4]).toEqual(unit[2]);
  });

  it("round-trips continuous tokens, normalized by the bounds", () => {
    const tok = new BeastTokenizer(withWideBounds(calvin));
    const chunk = smoothChunk(13, 50, 7, true);
    const values = tok.encodeContinuous(chunk);
    expect(values).toBeInstanceOf(Float32Array);
    const weights = tok.fitWeights(chunk);
    for (let i = 0; i < 70; i++) expect(values[i]).toBeCloseTo(weights[i] / 3, 6);
    const back = tok.decodeContinuous(values);
    const direct = tok.decodeContinuous(normalize(weights, tok));
    for (let t = 0; t < 50; t++) for (let d = 0; d < 7; d++) expect(back[t][d]).toBeCloseTo(direct[t][d], 6);
  });

  it("quantizes with clamping and maps tokens back to bin values", () => {
    const tok = new BeastTokenizer({ numDof: 2, numBasis: 5, seqLen: 10, vocabSize: 256 });
    // Default bounds are [-1, 1]: -5 clamps to bin 0, 5 to bin 255, 0 sits at 127.5 -> 128 (half to even).
    const tokens = tok.weightsToTokens([-5, -1, 0, 1, 5, 0.5, -0.5, 1 / 255, 0, 0]);
    // Control-point-major: [c0 d0, c0 d1, c1 d0, c1 d1, ...].
    expect(tokens).toEqual([0, 191, 0, 64, 128, 128, 255, 128, 255, 128]);
    const weights = tok.tokensToWeights(tokens);
    expect(weights[0]).toBe(-1);
    expect(weights[4]).toBe(1);
    expect(weights[2]).toBeCloseTo(-1 + (128 / 255) * 2, 15);
  });

  it("fitBounds starts from +-0.02 and widens to cover every fitted weight", () => {
    const flat = Array.from({ length: 10 }, () => [0.01, -0.01]);
    const small = BeastTokenizer.fitBounds([flat], { numDof: 2, numBasis: 5, seqLen: 10 });
    expect(Array.from(small.wMin)).toEqual(new Array(10).fill(-0.02));
    expect(Array.from(small.wMax)).toEqual(new Array(10).fill(0.02));
    const chunks = [0, 1, 2].map((k) => smoothChunk(40 + k, 50, 7, true));
    const { wMin, wMax } = BeastTokenizer.fitBounds(chunks, calvin);
    const tok = new BeastTokenizer({ ...calvin, wMin, wMax });
    let touchesBound = 0;
    for (const chunk of chunks) {
      const w = tok.fitWeights(chunk);
      for (let i = 0; i < 70; i++) {
        expect(w[i]).toBeGreaterThanOrEqual(wMin[i]);
        expect(w[i]).toBeLessThanOrEqual(wMax[i]);
        if (w[i] === wMin[i] || w[i] === wMax[i]) touchesBound++;
      }
    }
    expect(touchesBound).toBeGreaterThan(0);
  });
});

describe("BeastTokenizer initial-position constraint", () => {
  const config = withWideBounds(calvin);

  it("decodes exactly the initial position at t = 0 for every joint, gripper untouched", () => {
    const tok = new BeastTokenizer(config);
    const tokens = tok.encode(smoothChunk(21, 50, 7, true));
    const init = [0.1234567, -0.7654321, 0.3, -0.2, 0.05, 0.6, 0.9];
    const free = tok.decode(tokens);
    const pinned = tok.decode(tokens, undefined, { initialPosition: init });
    for (let d = 0; d < 6; d++) expect(pinned[0][d]).toBe(init[d]);
    expect(pinned[0][6]).toBe(free[0][6]);
    // Only control point 0 changed: the end of the chunk is the same.
    expect(pinned[49]).toEqual(free[49]);
    // A joint-only initial position (6 values) works too, also through decodeInto and a custom grid.
    const out = new Float64Array(3 * 7);
    tok.decodeInto(tokens, out, Float64Array.from([0, 0.5, 1]), { initialPosition: init.slice(0, 6) });
    for (let d = 0; d < 6; d++) expect(out[d]).toBe(init[d]);
  });

  it("makes consecutive chunks continuous when c0 is the last executed action", () => {
    const tok = new BeastTokenizer(config);
    const first = tok.decode(tok.encode(smoothChunk(31, 50, 7, true)));
    const lastExecuted = first[24];
    // The next chunk starts where the robot is (as a policy conditioned on the current state would).
    const raw = smoothChunk(32, 50, 7, true);
    const next = raw.map((row) => row.map((v, d) => (d < 6 ? v - raw[0][d] + lastExecuted[d] : v)));
    const tokens = tok.encode(next, { initialPosition: lastExecuted });
    const decoded = tok.decode(tokens, undefined, { initialPosition: lastExecuted });
    for (let d = 0; d < 6; d++) expect(decoded[0][d]).toBe(lastExecuted[d]);
  });

  it("fits with c0 fixed (constrained least squares) and stays close to the data", () => {
    const tok = new BeastTokenizer(config);
    const chunk = smoothChunk(41, 50, 7, true);
    // The robot is 0.01 away from where the chunk starts.
    const init = chunk[0].map((v, d) => (d < 6 ? v + 0.01 : v));
    const w = tok.fitWeights(chunk, { initialPosition: init });
    for (let d = 0; d < 6; d++) expect(w[d * 10]).toBe(init[d]);
    const free = tok.fitWeights(chunk);
    // The gripper is not constrained.
    for (let b = 0; b < 10; b++) expect(w[60 + b]).toBe(free[60 + b]);
    const constrained = tok.decodeContinuous(normalize(w, tok));
    const unconstrained = tok.decodeContinuous(normalize(free, tok));
    let errConstrained = 0;
    let errFree = 0;
    let tailErr = 0;
    for (let t = 0; t < 50; t++) {
      for (let d = 0; d < 6; d++) {
        errConstrained += (constrained[t][d] - chunk[t][d]) ** 2;
        errFree += (unconstrained[t][d] - chunk[t][d]) ** 2;
        if (t >= 10) tailErr = Math.max(tailErr, Math.abs(constrained[t][d] - chunk[t][d]));
      }
    }
    // Least squares: fixing a weight can only raise the residual, but not by much for a small offset.
    expect(errConstrained).toBeGreaterThanOrEqual(errFree);
    expect(Math.sqrt(errConstrained / 300)).toBeLessThan(0.01);
    expect(tailErr).toBeLessThan(0.01);
    // Optimality: the residual is orthogonal to the free basis columns, so nudging any free weight worsens it.
    for (const i of [1, 5, 9]) {
      const nudged = Float64Array.from(w);
      nudged[i] += 1e-3;
      const rows = tok.decodeContinuous(normalize(nudged, tok));
      let err = 0;
      for (let t = 0; t < 50; t++) for (let d = 0; d < 6; d++) err += (rows[t][d] - chunk[t][d]) ** 2;
      expect(err).toBeGreaterThan(errConstrained);
    }
  });
});

describe("BeastTokenizer bad input", () => {
  const tok = new BeastTokenizer(calvin);
  const good = tok.encode(smoothChunk(51, 50, 7, true));
  const oneLine = (fn: () => unknown, pattern: RegExp) => {
    let message = "";
    try {
      fn();
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(pattern);
    expect(message).not.toContain("\n");
  };

  it("rejects wrong token counts and tokens outside the vocabulary", () => {
    oneLine(() => tok.decode(good.slice(0, 68)), /expected 70 tokens \(10 control points x 7 DoF\), got 68/);
    oneLine(() => tok.decode([...good, 3]), /expected 70 tokens .* got 71/);
    oneLine(() => tok.decode([]), /got 0/);
    for (const bad of [256, -1, 1.5, Number.NaN]) {
      const tokens = good.slice();
      tokens[17] = bad;
      oneLine(() => tok.decode(tokens), new RegExp(`expected integer tokens in \\[0, 256\\), got ${String(bad)} at index 17`));
    }
    oneLine(() => tok.decodeInto(good, new Float64Array(10)), /expected a Float64Array output of at least 350 values \(50 times x 7 DoF\), got 10/);
  });

  it("rejects chunks of the wrong shape or with non-finite values", () => {
    const chunk = smoothChunk(52, 50, 7, true);
    oneLine(() => tok.encode(chunk.slice(0, 49)), /expected a chunk of 50 steps x 7 DoF, got 49 steps x 7 values/);
    oneLine(() => tok.encode(chunk.map((r) => r.slice(0, 6))), /expected 7 values in step 0, got 6/);
    const withNaN = chunk.map((r) => r.slice());
    withNaN[3][2] = Number.NaN;
    oneLine(() => tok.fitWeights(withNaN), /expected a finite number at step 3, DoF 2, got NaN/);
    oneLine(() => tok.encode(null as unknown as number[][]), /got null/);
    oneLine(() => tok.decodeContinuous(new Float32Array(70).fill(Number.NaN)), /expected finite values, got NaN at index 0/);
    oneLine(() => tok.decode(good, [0, Number.NaN]), /expected numeric times in seconds, got NaN at index 1/);
  });

  it("rejects a malformed initial position", () => {
    oneLine(() => tok.decode(good, undefined, { initialPosition: [0, 0, 0] }), /expected an initialPosition of 7 \(or 6 joint\) values, got 3/);
    oneLine(() => tok.encode(smoothChunk(53, 50, 7, true), { initialPosition: [0, 0, Number.POSITIVE_INFINITY, 0, 0, 0, 0] }), /finite initialPosition, got Infinity at DoF 2/);
  });

  it("rejects bad configurations", () => {
    oneLine(() => new BeastTokenizer({ numDof: 0, numBasis: 10, seqLen: 50 }), /numDof to be an integer >= 1, got 0/);
    oneLine(() => new BeastTokenizer({ numDof: 7, numBasis: 4, seqLen: 50 }), /numBasis to be an integer >= 5, got 4/);
    oneLine(() => new BeastTokenizer({ numDof: 7, numBasis: 10, seqLen: 1 }), /seqLen to be an integer >= 2, got 1/);
    oneLine(() => new BeastTokenizer({ numDof: 2, numBasis: 5, seqLen: 10, wMin: [0, 0] }), /wMin with 10 values .* got 2/);
    oneLine(() => new BeastTokenizer({ numDof: 1, numBasis: 5, seqLen: 10, wMin: [0, 0, 0, 0, 0], wMax: [1, 1, 0, 1, 1] }), /wMax > wMin for every weight, got \[0, 0\] at index 2/);
    oneLine(() => new BeastTokenizer({ ...calvin, duration: 0 }), /duration \(s\) > 0, got 0/);
    oneLine(() => new BeastTokenizer({ ...calvin, regularization: -1 }), /regularization >= 0, got -1/);
  });
});

/** Weights -> continuous values of `tok` (inverse of its denormalization). */
function normalize(weights: ArrayLike<number>, tok: BeastTokenizer): Float64Array {
  return Float64Array.from({ length: weights.length }, (_, i) => (2 * (weights[i] - tok.wMin[i])) / (tok.wMax[i] - tok.wMin[i]) - 1);
}
