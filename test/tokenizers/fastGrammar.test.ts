// The FAST chunk grammar: every sequence it lets through decodes strictly to exactly steps x dim coefficients, every
// well-formed sequence passes it, and it refuses what would break the decoder (too many characters, a split or
// overlong character, a coefficient outside the alphabet). Checked with the strict decoder, not with itself.
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { FastTokenizer } from "../../src/tokenizers/fast.js";
import { FastLengthGrammar } from "../../src/tokenizers/fastGrammar.js";
import { describeWithFixtures, fixturePath, repoRoot } from "../helpers/fixtures.js";
import { mulberry32 } from "../helpers/random.js";

/** Random walk through the grammar: a uniformly random allowed id each step until the chunk is complete. */
function randomAllowedSequence(grammar: FastLengthGrammar, vocab: number, rand: () => number): number[] {
  grammar.reset();
  const ids: number[] = [];
  while (!grammar.complete) {
    const allowed: number[] = [];
    for (let id = 0; id < vocab; id++) if (grammar.allows(id)) allowed.push(id);
    expect(allowed.length).toBeGreaterThan(0); // never a dead end
    const id = allowed[Math.floor(rand() * allowed.length)];
    grammar.accept(id);
    ids.push(id);
  }
  return ids;
}

function checkTokenizer(tokenizer: FastTokenizer, steps: number, dim: number, seed: number) {
  const grammar = tokenizer.lengthGrammar(steps, dim);
  const vocab = tokenizer.bpe.vocabSize;
  const rand = mulberry32(seed);
  const out = new Float64Array(steps * dim);
  for (let trial = 0; trial < 40; trial++) {
    const ids = randomAllowedSequence(grammar, vocab, rand);
    expect(tokenizer.decodeInto(ids, steps, dim, out)).toBeNull();
  }
  // Real chunks: every token of an encoded chunk is allowed where it stands, and the chunk ends complete.
  for (let trial = 0; trial < 40; trial++) {
    const chunk = Array.from({ length: steps }, (_, i) => Array.from({ length: dim }, (_, d) => Math.sin(i / 3 + d + trial) * (rand() * 0.9)));
    const ids = tokenizer.encode(chunk);
    grammar.reset();
    for (const id of ids) {
      expect(grammar.complete).toBe(false);
      expect(grammar.allows(id)).toBe(true);
      grammar.accept(id);
    }
    expect(grammar.complete).toBe(true);
    // Nothing but the end may follow a complete chunk.
    for (let id = 0; id < vocab; id++) expect(grammar.allows(id)).toBe(false);
  }
}

describe("FastLengthGrammar", () => {
  it("with the bundled wipe tokenizer: random allowed walks always decode; encoded chunks always pass", () => {
    checkTokenizer(FastTokenizer.load(join(repoRoot, "models", "wipe_vla", "fast_tokenizer")), 10, 7, 1);
  });

  it("refuses too many characters, split and overlong characters, stray continuation bytes and out-of-alphabet ones", () => {
    const bytes = (...b: number[]) => Uint8Array.from(b);
    // Ids: 0 "a", 1 "aaa", 2 lead of a 2-byte char (U+00C0 = 0xC3 0x80 split), 3 its continuation, 4 U+0100 whole,
    // 5 overlong "a" (0xC1 0xA1), 6 stray continuation, 7 U+07FF (outside an alphabet of 0x400), 8 no token,
    // 9 the lead of a 3-byte character (every one is past 0x800: no continuation could finish it in the alphabet),
    // 10 the lead 0xDF (U+07C0..U+07FF: all outside).
    const tokens = [bytes(0x61), bytes(0x61, 0x61, 0x61), bytes(0xc3), bytes(0x80), bytes(0xc4, 0x80), bytes(0xc1, 0xa1), bytes(0x80), bytes(0xdf, 0xbf), null, bytes(0xe0), bytes(0xdf)];
    const grammar = new FastLengthGrammar(tokens, 4, 0x400);
    expect(tokens.map((_, id) => id).filter((id) => grammar.allows(id))).toEqual([0, 1, 2, 4]);
    grammar.accept(1); // 3 characters
    expect(grammar.allows(1)).toBe(false); // would make 6
    grammar.accept(2); // the 4th starts, one continuation byte pending
    expect(grammar.complete).toBe(false);
    expect([0, 1, 2, 3, 4].filter((id) => grammar.allows(id))).toEqual([3]);
    grammar.accept(3);
    expect(grammar.complete).toBe(true);
    expect(() => grammar.accept(0)).toThrow(/FAST id 0 is not allowed here/);
    expect(() => new FastLengthGrammar([], 0, 10)).toThrow(/expected a positive coefficient count, got 0/);
  });
});

describeWithFixtures("FastLengthGrammar with FAST+", ["fast_plus", "tokenizer.json"], () => {
  it("random allowed walks always decode; encoded chunks always pass (2048 ids, multi-byte characters)", () => {
    checkTokenizer(FastTokenizer.load(fixturePath("fast_plus")), 10, 7, 2);
  });
});
