// FAST+ against the reference processor's outputs (../shared/fixtures/fast_plus/golden.json,
// produced with scipy's DCT and Hugging Face `tokenizers`): same ids for every case, decoded
// actions within 1e-9, and every malformed sequence reported instead of decoded.
import { beforeAll, describe, expect, it } from "vitest";
import { FastTokenizer } from "../../src/tokenizers/fast.js";
import { describeWithFixtures, fixturePath, readFixtureJson } from "../helpers/fixtures.js";

interface GoldenCase {
  T: number;
  D: number;
  actions: number[][];
  tokens: number[];
  decoded: number[][];
}
interface MalformedCase {
  T: number;
  D: number;
  kind: string;
  tokens: number[];
  decoded: number[][];
  coefficient_count: number;
}
interface Golden {
  scale: number;
  min_token: number;
  vocab_size: number;
  cases: GoldenCase[];
  malformed: MalformedCase[];
}

function maxAbsDifference(a: number[][], b: number[][]): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  a.forEach((row, t) => {
    expect(row.length).toBe(b[t].length);
    row.forEach((v, d) => (max = Math.max(max, Math.abs(v - b[t][d]))));
  });
  return max;
}

describeWithFixtures("FAST+ golden vectors", ["fast_plus", "golden.json"], () => {
  let tokenizer: FastTokenizer;
  let golden: Golden;

  beforeAll(() => {
    tokenizer = FastTokenizer.load(fixturePath("fast_plus"));
    golden = readFixtureJson<Golden>("fast_plus", "golden.json");
  });

  it("loads the processor settings the golden file was made with", () => {
    expect(tokenizer.scale).toBe(golden.scale);
    expect(tokenizer.minToken).toBe(golden.min_token);
    expect(tokenizer.vocabSize).toBe(golden.vocab_size);
    expect(golden.cases.length).toBeGreaterThanOrEqual(60);
  });

  it("encodes every case to the reference ids", () => {
    const mismatches = golden.cases.flatMap((c, i) => {
      const ids = tokenizer.encode(c.actions);
      return JSON.stringify(ids) === JSON.stringify(c.tokens) ? [] : [`case ${i} (${c.T}x${c.D}): got ${ids.length} ids, expected ${c.tokens.length}`];
    });
    expect(mismatches).toEqual([]);
  });

  it("decodes every case within 1e-9 of the reference (decode and decodeInto)", () => {
    golden.cases.forEach((c) => {
      const result = tokenizer.decode(c.tokens, c.T, c.D);
      if (!result.ok) throw new Error(result.error);
      expect(maxAbsDifference(result.actions, c.decoded)).toBeLessThan(1e-9);

      const out = new Float64Array(c.T * c.D);
      expect(tokenizer.decodeInto(c.tokens, c.T, c.D, out)).toBeNull();
      const rows = Array.from({ length: c.T }, (_, t) => Array.from(out.subarray(t * c.D, (t + 1) * c.D)));
      expect(maxAbsDifference(rows, c.decoded)).toBeLessThan(1e-9);
    });
  });

  it("reconstructs the original actions within the quantization error", () => {
    // Orthonormal transform: the per-dimension RMS error equals the coefficients' RMS rounding error, at most 1 / (2 scale).
    golden.cases.forEach((c) => {
      const result = tokenizer.decode(tokenizer.encode(c.actions), c.T, c.D);
      if (!result.ok) throw new Error(result.error);
      for (let d = 0; d < c.D; d++) {
        let sum = 0;
        for (let t = 0; t < c.T; t++) sum += (result.actions[t][d] - c.actions[t][d]) ** 2;
        expect(Math.sqrt(sum / c.T)).toBeLessThanOrEqual(0.5 / golden.scale + 1e-12);
      }
    });
  });

  describe("malformed sequences", () => {
    it("are reported by default, naming the expected and the real coefficient count", () => {
      expect(golden.malformed.length).toBeGreaterThan(0);
      golden.malformed.forEach((m) => {
        const result = tokenizer.decode(m.tokens, m.T, m.D);
        expect(result.ok).toBe(false);
        if (result.ok) return;
        expect(result.error).toContain(`expected ${m.T * m.D} coefficients`);
        expect(result.error).toContain(`got ${m.coefficient_count}`);
        expect(result.error).not.toContain("\n");
        expect(tokenizer.decodeInto(m.tokens, m.T, m.D, new Float64Array(m.T * m.D))).toBe(result.error);
      });
    });

    it("decode to the reference's all-zeros with onMalformed: reference-zeros", () => {
      golden.malformed.forEach((m) => {
        const result = tokenizer.decode(m.tokens, m.T, m.D, { onMalformed: "reference-zeros" });
        if (!result.ok) throw new Error(result.error);
        expect(result.actions).toEqual(m.decoded);
        expect(result.actions.flat().every((v) => v === 0)).toBe(true);
      });
    });

    it("are padded or truncated to T x D with onMalformed: lenient", () => {
      golden.malformed.forEach((m) => {
        const result = tokenizer.decode(m.tokens, m.T, m.D, { onMalformed: "lenient" });
        if (!result.ok) throw new Error(result.error);
        expect(result.actions).toHaveLength(m.T);
        expect(result.actions.every((row) => row.length === m.D && row.every(Number.isFinite))).toBe(true);
      });
    });
  });

  it("gives reference-zeros the same actions as the strict decode on well-formed cases", () => {
    golden.cases.forEach((c) => {
      const strict = tokenizer.decode(c.tokens, c.T, c.D);
      const reference = tokenizer.decode(c.tokens, c.T, c.D, { onMalformed: "reference-zeros" });
      if (!strict.ok || !reference.ok) throw new Error("decode failed");
      expect(maxAbsDifference(reference.actions, strict.actions)).toBeLessThan(1e-12);
    });
  });
});
