// FastTokenizer.fit: the reference recipe (DCT, rounded coefficients, byte-level BPE over the whole
// coefficient range), checked against a run of the reference trainer and by round trips.
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { dctOrtho } from "../../src/tokenizers/dct.js";
import { FastTokenizer, roundHalfEven } from "../../src/tokenizers/fast.js";
import { seededRandom, smoothChunk } from "../../bench/lib/synthetic.js";

/** 24 chunks of 8 x 3 with exact decimal values, so Python and JS start from identical numbers. */
function tinyDataset(): number[][][] {
  return Array.from({ length: 24 }, (_, i) =>
    Array.from({ length: 8 }, (_, t) => Array.from({ length: 3 }, (_, d) => (((i * 7 + t * 3 + d * 5) % 11) - 5) / 10)),
  );
}

function rmsErrorPerDimension(actions: number[][], decoded: number[][]): number[] {
  return actions[0].map((_, d) => Math.sqrt(actions.reduce((sum, row, t) => sum + (decoded[t][d] - row[d]) ** 2, 0) / actions.length));
}

describe("FastTokenizer.fit", () => {
  it("learns the merges the reference fit learns", () => {
    // Reference: the FAST processor's fit recipe run with scipy 1.17 and `tokenizers` 0.23 (ByteLevelBPETokenizer,
    // BpeTrainer(vocab_size=400, min_frequency=2, initial_alphabet=chr(0..max-min), max_token_length=10000)).
    const tokenizer = FastTokenizer.fit(tinyDataset(), { scale: 100, vocabSize: 400 });
    expect(tokenizer.minToken).toBe(-78);
    const merges = tokenizer.bpe.merges.map(([a, b]) => [a, b]);
    expect(merges.length).toBe(94);
    expect(merges.slice(0, 12)).toEqual([
      ["N", "N"], ["\u00c2", "\u0122"], ["\u00c2", "\u012a"], ["NN", "N"], ["\u00c2", "\u0123"], ["E", "E"],
      ["U", "U"], ["Z", "Z"], ["q", "q"], ["\u00c2", "\u013e"], ["\u00c2\u013e", "\u0100"], ["$", "\u00c2\u012a"],
    ]);
    const digest = createHash("sha256").update(JSON.stringify(merges)).digest("hex");
    expect(digest).toBe("9c945032d8dfc19a47f9691c1f41616b72b8afd81123391e0fe2ab05400dce93");
    // Vocabulary: 157 alphabet characters (0..156) plus the byte-level characters seen, plus one per merge.
    expect(tokenizer.bpe.vocabSize).toBe(261);
    const chunks = tinyDataset();
    expect(tokenizer.encode(chunks[0])).toEqual([78, 64, 89, 161, 206, 204, 54, 203, 185, 186, 48, 179]);
    expect(tokenizer.encode(chunks[2])).toEqual([190, 57, 196, 233, 197]);
  });

  it("fits smooth chunks, saves, loads, and round-trips within the quantization error", () => {
    const random = seededRandom(42);
    const chunks = Array.from({ length: 300 }, (_, i) => smoothChunk(i % 2 ? 20 : 10, 7, random));
    const tokenizer = FastTokenizer.fit(chunks, { vocabSize: 512 });

    // min_token is the smallest rounded coefficient over all chunks.
    let min = Infinity;
    for (const chunk of chunks) {
      const coefficients = dctOrtho(chunk.flat(), chunk.length, 7);
      for (const c of coefficients) min = Math.min(min, roundHalfEven(c * 10));
    }
    expect(tokenizer.minToken).toBe(min);
    expect(tokenizer.vocabSize).toBe(512);
    expect(tokenizer.bpe.vocabSize).toBeLessThanOrEqual(512);

    const dir = mkdtempSync(join(tmpdir(), "fast-fit-"));
    tokenizer.save(dir);
    const loaded = FastTokenizer.load(dir);
    expect(JSON.parse(readFileSync(join(dir, "processor_config.json"), "utf8"))).toMatchObject({ scale: 10, min_token: min, vocab_size: 512 });
    expect(JSON.parse(readFileSync(join(dir, "tokenizer_config.json"), "utf8"))).toMatchObject({ clean_up_tokenization_spaces: false });

    let tokenTotal = 0;
    for (const chunk of chunks.slice(0, 60)) {
      const ids = loaded.encode(chunk);
      expect(ids).toEqual(tokenizer.encode(chunk));
      tokenTotal += ids.length;
      const result = loaded.decode(ids, chunk.length, 7);
      if (!result.ok) throw new Error(result.error);
      // Orthonormal DCT: per-dimension RMS error = RMS rounding error of the coefficients <= 1 / (2 scale).
      for (const rms of rmsErrorPerDimension(chunk, result.actions)) expect(rms).toBeLessThanOrEqual(0.05 + 1e-12);
    }
    expect(tokenTotal / 60).toBeLessThan(0.5 * 15 * 7);
  });

  it("encodes unseen chunks of the same kind compactly", () => {
    const random = seededRandom(7);
    const tokenizer = FastTokenizer.fit(Array.from({ length: 200 }, () => smoothChunk(10, 7, random)), { vocabSize: 400 });
    const unseen = Array.from({ length: 20 }, () => smoothChunk(10, 7, random));
    const mean = unseen.reduce((sum, chunk) => sum + tokenizer.encode(chunk).length, 0) / unseen.length;
    expect(mean).toBeLessThan(70);
  });

  it("refuses a coefficient range wider than the vocabulary", () => {
    // T = 1: the DCT is the identity, so the rounded coefficients are 10 a.
    const chunks = [[[10]], [[-10]], [[0]]];
    expect(() => FastTokenizer.fit(chunks, { vocabSize: 200 })).toThrow(/span \[-100, 100\] \(201 values\): expected at most vocabSize = 200/);
    expect(FastTokenizer.fit(chunks, { vocabSize: 201 }).minToken).toBe(-100);
  });

  it.each([
    [[], /expected a non-empty array of chunks/],
    [[[[0, Number.NaN]]], /chunk 0.*finite numbers, got NaN/],
    [[[[0.1]], [[0, 1], [0]]], /chunk 1.*every row to hold 2 values.*row 1 with 1/],
  ])("rejects bad training data %#", (chunks, message) => {
    expect(() => FastTokenizer.fit(chunks as number[][][])).toThrow(message);
  });

  it("rejects bad options", () => {
    const chunks = [[[0.1]], [[0.2]]];
    expect(() => FastTokenizer.fit(chunks, { scale: -1 })).toThrow(/scale: expected a positive number/);
    expect(() => FastTokenizer.fit(chunks, { vocabSize: 0 })).toThrow(/vocabSize: expected an integer/);
    expect(() => FastTokenizer.fit(chunks, { minFrequency: 1.5 })).toThrow(/minFrequency: expected a non-negative integer/);
  });
});
