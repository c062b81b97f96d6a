// FastTokenizer behaviour beyond the golden vectors: input checks, the three malformed-sequence
// policies, decodeInto, and the reference's quirks (clipping, U+FFFD) reproduced where asked.
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { idctOrtho } from "../../src/tokenizers/dct.js";
import { FastTokenizer, roundHalfEven } from "../../src/tokenizers/fast.js";
import { seededRandom, smoothChunk } from "../../bench/lib/synthetic.js";
import { describeWithFixtures, fixturePath } from "../helpers/fixtures.js";

describe("roundHalfEven", () => {
  it("rounds halves to the even neighbour like numpy.around", () => {
    // numpy: around([0.5, 1.5, 2.5, 3.5, -0.5, -1.5, -2.5, -3.5]) == [0, 2, 2, 4, -0, -2, -2, -4]
    expect([0.5, 1.5, 2.5, 3.5, -0.5, -1.5, -2.5, -3.5].map(roundHalfEven)).toEqual([0, 2, 2, 4, -0, -2, -2, -4]);
  });

  it("rounds everything else to the nearest integer", () => {
    expect([2.4999999, 2.5000001, -2.5000001, 7.2, -7.8, 0].map(roundHalfEven)).toEqual([2, 3, -3, 7, -8, 0]);
  });
});

describeWithFixtures("FastTokenizer (FAST+ files)", ["fast_plus", "tokenizer.json"], () => {
  let tokenizer: FastTokenizer;
  const byteId = (byte: number) => {
    // Byte-level alphabet: the ids 0..255 of FAST+ are the single bytes; find the one for `byte`.
    const decoded = Array.from({ length: 256 }, (_, id) => id).find((id) => {
      const bytes = tokenizer.bpe.decodeBytes([id]);
      return bytes.length === 1 && bytes[0] === byte;
    });
    if (decoded === undefined) throw new Error(`no single-byte token for ${byte}`);
    return decoded;
  };

  beforeAll(() => {
    tokenizer = FastTokenizer.load(fixturePath("fast_plus"));
  });

  describe("encode input checks", () => {
    it.each([
      ["an empty chunk", [], /non-empty T x D/],
      ["an empty row", [[]], /row 0 to be a non-empty array/],
      ["ragged rows", [[0, 0], [0]], /every row to hold 2 values.*row 1 with 1/],
      ["NaN", [[0, Number.NaN]], /finite numbers, got NaN at \[0\]\[1\]/],
      ["Infinity", [[Number.POSITIVE_INFINITY]], /finite numbers, got Infinity/],
    ])("rejects %s with a one-line message", (_name, chunk, message) => {
      expect(() => tokenizer.encode(chunk as number[][])).toThrow(message);
      try {
        tokenizer.encode(chunk as number[][]);
      } catch (e) {
        expect((e as Error).message).not.toContain("\n");
      }
    });

    it("rejects coefficients that land in the UTF-16 surrogate range, as the reference does", () => {
      // T = 1: the DCT is the identity, so q = round(10 a); q - min_token = 0xD800 needs q = 55296 - 354.
      const a = (0xd800 + tokenizer.minToken) / tokenizer.scale;
      expect(() => tokenizer.encode([[a]])).toThrow(/U\+D800-DFFF/);
      expect(() => tokenizer.encode([[a - 1]])).not.toThrow();
    });

    it("clips coefficients below min_token to code point 0, as the reference does", () => {
      const ids = tokenizer.encode([[-100]]);
      const result = tokenizer.decode(ids, 1, 1);
      if (!result.ok) throw new Error(result.error);
      expect(result.actions[0][0]).toBeCloseTo(tokenizer.minToken / tokenizer.scale, 12);
    });
  });

  describe("decode checks", () => {
    let chunk: number[][];
    let tokens: number[];

    beforeAll(() => {
      chunk = smoothChunk(10, 7, seededRandom(11));
      tokens = tokenizer.encode(chunk);
    });

    it.each([
      [0, 7],
      [10, 0],
      [1.5, 7],
      [Number.NaN, 7],
    ])("reports a bad shape %s x %s", (steps, dim) => {
      const result = tokenizer.decode(tokens, steps, dim);
      expect(result).toEqual({ ok: false, error: expect.stringMatching(/expected timeHorizon and actionDim to be positive integers/) });
    });

    it.each([-1, 2048, 3.5, Number.NaN])("reports the id %s in every policy but reference-zeros", (bad) => {
      const sequence = [...tokens.slice(0, 3), bad, ...tokens.slice(3)];
      for (const policy of ["error", "lenient"] as const) {
        const result = tokenizer.decode(sequence, 10, 7, { onMalformed: policy });
        expect(result).toEqual({ ok: false, error: `FAST decode: expected token ids that are integers in [0, 2047], got ${bad} at position 3` });
      }
    });

    it("drops ids beyond the vocabulary and zeros on negative ids with reference-zeros (what the reference does)", () => {
      const clean = tokenizer.decode(tokens, 10, 7);
      const dropped = tokenizer.decode([...tokens, 5000], 10, 7, { onMalformed: "reference-zeros" });
      if (!clean.ok || !dropped.ok) throw new Error("decode failed");
      expect(dropped.actions).toEqual(clean.actions);
      const negative = tokenizer.decode([...tokens, -1], 10, 7, { onMalformed: "reference-zeros" });
      if (!negative.ok) throw new Error(negative.error);
      expect(negative.actions.flat().every((v) => v === 0)).toBe(true);
    });

    it("reports a token that splits a multi-byte character; reference-zeros gives the reference's U+FFFD coefficient", () => {
      // Byte 0xC5 alone is the first half of a two-byte character.
      const split = [byteId(0xc5)];
      const strict = tokenizer.decode(split, 1, 1);
      expect(strict.ok).toBe(false);
      if (!strict.ok) expect(strict.error).toMatch(/expected whole UTF-8 characters, got a multi-byte character split at token position 0/);
      const reference = tokenizer.decode(split, 1, 1, { onMalformed: "reference-zeros" });
      if (!reference.ok) throw new Error(reference.error);
      expect(reference.actions[0][0]).toBeCloseTo((0xfffd + tokenizer.minToken) / tokenizer.scale, 9);
      // Two tokens that together make a whole character decode fine.
      const whole = tokenizer.decode([byteId(0xc5), byteId(0xa2)], 1, 1);
      expect(whole).toEqual({ ok: true, actions: [[0]] });
    });

    it("reports coefficients outside [min_token, min_token + vocab_size - 1]", () => {
      // U+0800 (bytes E0 A0 80) is the first code point past FAST+'s 2048.
      const result = tokenizer.decode([byteId(0xe0), byteId(0xa0), byteId(0x80)], 1, 1);
      expect(result).toEqual({ ok: false, error: "FAST decode: expected coefficients in [-354, 1693], got 1694 (U+0800) at position 0" });
    });

    it("pads short and truncates long sequences with lenient, like an inverse DCT of the padded coefficients", () => {
      const short = tokens.slice(0, tokens.length - 2);
      const codePoints = Array.from(tokenizer.bpe.decode(short), (ch) => ch.codePointAt(0)!);
      expect(codePoints.length).toBeLessThan(70);
      const coefficients = new Float64Array(70);
      codePoints.forEach((cp, i) => (coefficients[i] = (cp + tokenizer.minToken) / tokenizer.scale));
      const expected = idctOrtho(coefficients, 10, 7);
      const result = tokenizer.decode(short, 10, 7, { onMalformed: "lenient" });
      if (!result.ok) throw new Error(result.error);
      result.actions.flat().forEach((v, i) => expect(v).toBeCloseTo(expected[i], 12));

      const long = tokenizer.decode([...tokens, ...tokens], 10, 7, { onMalformed: "lenient" });
      const clean = tokenizer.decode(tokens, 10, 7);
      if (!long.ok || !clean.ok) throw new Error("decode failed");
      long.actions.flat().forEach((v, i) => expect(v).toBeCloseTo(clean.actions.flat()[i], 12));
    });

    it("rejects an unknown policy", () => {
      const result = tokenizer.decode(tokens, 10, 7, { onMalformed: "ignore" as never });
      expect(result.ok).toBe(false);
    });
  });

  describe("decodeInto", () => {
    it("writes the same actions as decode, row-major, into a caller buffer that may be longer", () => {
      const random = seededRandom(5);
      for (const [steps, dim] of [[50, 7], [1, 7], [33, 5], [32, 32]]) {
        const chunk = smoothChunk(steps, dim, random);
        const tokens = tokenizer.encode(chunk);
        const out = new Float64Array(steps * dim + 3).fill(42);
        expect(tokenizer.decodeInto(Int32Array.from(tokens), steps, dim, out)).toBeNull();
        const result = tokenizer.decode(tokens, steps, dim);
        if (!result.ok) throw new Error(result.error);
        expect(Array.from(out.subarray(0, steps * dim))).toEqual(result.actions.flat());
        expect(out[steps * dim]).toBe(42);
      }
    });

    it("reports a too-small buffer", () => {
      const tokens = tokenizer.encode([[0.1, 0.2]]);
      expect(tokenizer.decodeInto(tokens, 1, 2, new Float64Array(1))).toBe(
        "FAST decodeInto: expected a Float64Array output of at least 2 values, got 1",
      );
    });

    it("gives the same answer when called again with other chunk sizes in between", () => {
      const random = seededRandom(9);
      const small = smoothChunk(5, 7, random);
      const big = smoothChunk(50, 14, random);
      const smallTokens = tokenizer.encode(small);
      const first = new Float64Array(35);
      const again = new Float64Array(35);
      expect(tokenizer.decodeInto(smallTokens, 5, 7, first)).toBeNull();
      expect(tokenizer.decodeInto(tokenizer.encode(big), 50, 14, new Float64Array(700))).toBeNull();
      expect(tokenizer.decodeInto(smallTokens, 5, 7, again)).toBeNull();
      expect(Array.from(again)).toEqual(Array.from(first));
    });
  });

  it("uses fewer tokens than T x D on smooth chunks", () => {
    const random = seededRandom(21);
    for (const [steps, dim] of [[10, 7], [50, 7], [32, 32]]) {
      const tokens = tokenizer.encode(smoothChunk(steps, dim, random));
      expect(tokens.length).toBeLessThan((steps * dim) / 3);
    }
  });

  it("writes the same files back with save", () => {
    const dir = mkdtempSync(join(tmpdir(), "fast-save-"));
    tokenizer.save(dir);
    const again = FastTokenizer.load(dir);
    const chunk = smoothChunk(20, 8, seededRandom(2));
    expect(again.encode(chunk)).toEqual(tokenizer.encode(chunk));
    const original = JSON.parse(readFileSync(fixturePath("fast_plus", "tokenizer.json"), "utf8"));
    const written = JSON.parse(readFileSync(join(dir, "tokenizer.json"), "utf8"));
    expect(written.model.vocab).toEqual(original.model.vocab);
    expect(written.model.merges.map((m: string[]) => m.join(" "))).toEqual(original.model.merges);
    const config = JSON.parse(readFileSync(join(dir, "processor_config.json"), "utf8"));
    expect(config).toMatchObject({ scale: 10, min_token: -354, vocab_size: 2048, processor_class: "UniversalActionProcessor" });
  });
});

describe("FastTokenizer loading", () => {
  const minimalTokenizer = {
    model: { type: "BPE", vocab: { a: 0 }, merges: [] },
    pre_tokenizer: { type: "ByteLevel", add_prefix_space: false, use_regex: true },
    decoder: { type: "ByteLevel" },
  };

  it("reports a missing directory with the file it looked for", () => {
    expect(() => FastTokenizer.load(join(tmpdir(), "no-such-fast-tokenizer"))).toThrow(/expected a readable file .*tokenizer\.json, got ENOENT/);
  });

  it.each([
    [{ scale: 0, min_token: 0 }, /scale: expected a positive number, got 0/],
    [{ scale: 10, min_token: 1.5 }, /min_token: expected an integer, got 1.5/],
    [{ scale: 10, min_token: 0, vocab_size: 0 }, /vocab_size: expected an integer/],
  ])("rejects processor config %j", (config, message) => {
    expect(() => FastTokenizer.fromJson(minimalTokenizer, config)).toThrow(message);
  });

  it("rejects tokenizer.json parts it does not reproduce", () => {
    expect(() => FastTokenizer.fromJson({ ...minimalTokenizer, normalizer: { type: "NFC" } }, { scale: 10, min_token: 0 })).toThrow(
      /normalizer: expected null/,
    );
    expect(() => FastTokenizer.fromJson({ ...minimalTokenizer, model: { type: "WordPiece" } }, { scale: 10, min_token: 0 })).toThrow(
      /model.type: expected "BPE", got "WordPiece"/,
    );
  });
});
