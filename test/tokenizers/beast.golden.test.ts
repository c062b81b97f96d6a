// BEAST against golden vectors produced by the reference tokenizer (float32, torch).
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { BeastTokenizer } from "../../src/tokenizers/beast.js";

interface GoldenCase {
  actions: number[][];
  weights: number[];
  tokens: number[];
  decoded: number[][];
  decoded_4x: number[][];
}
interface GoldenConfig {
  name: string;
  num_dof: number;
  num_basis: number;
  seq_len: number;
  degree: number;
  vocab_size: number;
  gripper_zero_order: boolean;
  duration: number;
  w_min: number[];
  w_max: number[];
  cases: GoldenCase[];
}

const goldenPath = fileURLToPath(new URL("../../../shared/fixtures/beast/golden.json", import.meta.url));
const haveGolden = existsSync(goldenPath);
const configs: GoldenConfig[] = haveGolden ? (JSON.parse(readFileSync(goldenPath, "utf8")) as { configs: GoldenConfig[] }).configs : [];

function linspace(start: number, stop: number, n: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = start + ((stop - start) * i) / (n - 1);
  return out;
}

function maxAbsDiff(a: number[][], b: number[][]): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    expect(a[i].length).toBe(b[i].length);
    for (let j = 0; j < a[i].length; j++) m = Math.max(m, Math.abs(a[i][j] - b[i][j]));
  }
  return m;
}

const stats: string[] = [];

describe.skipIf(!haveGolden)(`BEAST golden vectors${haveGolden ? "" : " (skipped: ../shared/fixtures/beast/golden.json not found)"}`, () => {
  it("has configs with cases", () => {
    expect(configs.length).toBeGreaterThan(0);
    for (const c of configs) expect(c.cases.length).toBeGreaterThan(0);
  });

  for (const config of configs) {
    describe(config.name, () => {
      const tokenizer = new BeastTokenizer({
        numDof: config.num_dof,
        numBasis: config.num_basis,
        seqLen: config.seq_len,
        degree: config.degree,
        vocabSize: config.vocab_size,
        gripperZeroOrder: config.gripper_zero_order,
        duration: config.duration,
        wMin: config.w_min,
        wMax: config.w_max,
      });
      const grid4x = linspace(0, config.duration, 4 * config.seq_len);

      it("encodes to the reference tokens (at most 1% off by one)", () => {
        let mismatched = 0;
        let total = 0;
        let maxOff = 0;
        let maxWeightErr = 0;
        for (const c of config.cases) {
          const weights = tokenizer.fitWeights(c.actions);
          for (let i = 0; i < weights.length; i++) maxWeightErr = Math.max(maxWeightErr, Math.abs(weights[i] - c.weights[i]));
          const tokens = tokenizer.encode(c.actions);
          expect(tokens.length).toBe(c.tokens.length);
          for (let i = 0; i < tokens.length; i++) {
            const off = Math.abs(tokens[i] - c.tokens[i]);
            if (off !== 0) mismatched++;
            maxOff = Math.max(maxOff, off);
          }
          total += tokens.length;
        }
        stats.push(`${config.name}: tokens ${mismatched}/${total} differ (max off ${maxOff}), max weight error ${maxWeightErr.toExponential(2)}`);
        expect(maxOff).toBeLessThanOrEqual(1);
        expect(mismatched / total).toBeLessThanOrEqual(0.01);
        // The reference fits in float32: its weights carry ~1e-6 relative error.
        expect(maxWeightErr).toBeLessThan(1e-4);
      });

      it("decodes the reference tokens on the chunk grid and a 4x grid within 1e-4", () => {
        let maxErr = 0;
        let maxErr4x = 0;
        for (const c of config.cases) {
          maxErr = Math.max(maxErr, maxAbsDiff(tokenizer.decode(c.tokens), c.decoded));
          maxErr4x = Math.max(maxErr4x, maxAbsDiff(tokenizer.decode(c.tokens, grid4x), c.decoded_4x));
        }
        stats.push(`${config.name}: decoded max error ${maxErr.toExponential(2)}, decoded_4x max error ${maxErr4x.toExponential(2)}`);
        expect(maxErr).toBeLessThan(1e-4);
        expect(maxErr4x).toBeLessThan(1e-4);
      });

      it("decodeInto with a preallocated buffer agrees with decode", () => {
        const out = new Float64Array(grid4x.length * config.num_dof);
        for (const c of config.cases) {
          tokenizer.decodeInto(c.tokens, out, grid4x);
          const rows = tokenizer.decode(c.tokens, grid4x);
          for (let i = 0; i < rows.length; i++) {
            for (let d = 0; d < config.num_dof; d++) expect(out[i * config.num_dof + d]).toBe(rows[i][d]);
          }
        }
      });
    });
  }

  afterAll(() => {
    if (stats.length > 0) console.info(`BEAST golden statistics\n  ${stats.join("\n  ")}`);
  });
});
