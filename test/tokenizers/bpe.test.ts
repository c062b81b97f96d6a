// Byte-level BPE: the GPT-2 byte table and split, merge order, decoding, and the tokenizer.json
// format, against Hugging Face `tokenizers` where its behaviour is the reference.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  ByteLevelBpe,
  byteLevelAlphabet,
  byteToUnicode,
  gpt2SplitRegex,
  parseTokenizerJson,
  splitGpt2,
  toByteLevel,
  unicodeToByte,
} from "../../src/tokenizers/byteLevelBpe.js";
import { decodeUtf8Lossy, decodeUtf8Strict, encodeUtf8 } from "../../src/tokenizers/utf8.js";
import { seededRandom } from "../../bench/lib/synthetic.js";
import { describeWithFixtures, fixturePath } from "../helpers/fixtures.js";

/** Vocabulary of the 256 byte characters (ids in byte order) plus `extra` tokens after them. */
function byteVocab(extra: string[] = []): Map<string, number> {
  const vocab = new Map<string, number>();
  byteLevelAlphabet().forEach((ch, b) => vocab.set(ch, b));
  extra.forEach((token) => vocab.set(token, vocab.size));
  return vocab;
}

/** Random text over characters that exercise every branch of the split. */
function trickyText(random: () => number, length: number): string {
  const pool = [
    " ", " ", "'", "s", "t", "re", "ve", "m", "ll", "d", "a", "Z", "7", "0", "\u0662", "\u2167", ".", "-", "'s", "\n", "\t",
    "\u0085", "\u00a0", "\u2028", "\u3000", "\ufeff", "\u200b", "\u0162", "\u0163", "\u00e9", "\u4e2d", "\ud83d\ude00", "\u0000", "\u001f",
  ];
  let text = "";
  for (let i = 0; i < length; i++) text += pool[Math.floor(random() * pool.length)];
  return text;
}

describe("GPT-2 byte table", () => {
  it("maps the 256 bytes to 256 distinct visible characters", () => {
    const alphabet = byteLevelAlphabet();
    expect(new Set(alphabet).size).toBe(256);
    alphabet.forEach((ch, b) => {
      expect(unicodeToByte(ch)).toBe(b);
      expect(/\s/u.test(ch)).toBe(false);
    });
  });

  it("keeps printable latin-1 and shifts the rest above U+00FF (space is U+0120, newline U+010A)", () => {
    expect(byteToUnicode(0x41)).toBe("A");
    expect(byteToUnicode(0xe9)).toBe("\u00e9");
    expect(byteToUnicode(0x00)).toBe("\u0100");
    expect(byteToUnicode(0x20)).toBe("\u0120");
    expect(byteToUnicode(0x0a)).toBe("\u010a");
    expect(byteToUnicode(0xad)).toBe("\u0143");
    expect(unicodeToByte("\u0144")).toBeUndefined();
    // FAST+'s zero coefficient U+0162 is UTF-8 C5 A2.
    expect(toByteLevel("\u0162")).toBe("\u00c5\u00a2");
  });
});

describe("GPT-2 split", () => {
  it("cuts exactly where the pattern's matches do", () => {
    const random = seededRandom(1);
    for (let i = 0; i < 400; i++) {
      const text = trickyText(random, 1 + Math.floor(random() * 30));
      const expected = Array.from(text.matchAll(gpt2SplitRegex()), (m) => m[0]);
      expect(expected.join("")).toBe(text);
      expect(splitGpt2(text)).toEqual(expected);
    }
  });

  it("treats U+0085 as whitespace and U+FEFF as a symbol, as the Oniguruma pattern in `tokenizers` does", () => {
    // Checked against tokenizers 0.23: ['a', '\x85', '\x85', 'b'] and ['a', '\ufeff\ufeff', 'b'].
    expect(splitGpt2("a\u0085\u0085b")).toEqual(["a", "\u0085", "\u0085", "b"]);
    expect(splitGpt2("a\ufeff\ufeffb")).toEqual(["a", "\ufeff\ufeff", "b"]);
  });

  it("splits contractions, numbers, symbols and whitespace runs like GPT-2", () => {
    expect(splitGpt2("it's  12ab!?\n x")).toEqual(["it", "'s", " ", " 12", "ab", "!?", "\n", " x"]);
  });
});

describe("merge order", () => {
  it("merges the lowest rank first and the leftmost pair on ties", () => {
    const bpe = new ByteLevelBpe({ vocab: byteVocab(["aa", "aaa"]), merges: [["a", "a"], ["aa", "a"]] });
    const id = (token: string) => bpe.tokenToId(token)!;
    expect(bpe.encode("aaa")).toEqual([id("aaa")]);
    expect(bpe.encode("aaaa")).toEqual([id("aa"), id("aa")]);
    expect(bpe.encode("aaaaa")).toEqual([id("aa"), id("aaa")]);
  });

  it("follows merges that use tokens made by later merges (not well ordered)", () => {
    // ("a", "bc") ranks first but "bc" only appears at rank 1: the queue picks it up as soon as it exists.
    const vocab = byteVocab(["bc", "ab", "abc"]);
    const bpe = new ByteLevelBpe({ vocab, merges: [["a", "bc"], ["b", "c"], ["a", "b"], ["ab", "c"]] });
    expect(bpe.encode("abc")).toEqual([vocab.get("abc")]);
    expect(bpe.encode("abcabc")).toEqual([vocab.get("abc"), vocab.get("abc")]);
  });

  it("gives the same ids with the fast loop as with the plain queue loop, on random merge lists", () => {
    const random = seededRandom(77);
    const alphabet = ["a", "b", "c", "\u0162", "\u0163", "\u0141", " "];
    // Single byte-level characters of that text: the tokens merges start from.
    const letters = [...new Set([...toByteLevel(alphabet.join(""))])];
    for (let trial = 0; trial < 20; trial++) {
      // A random well-ordered merge list: each merge joins two existing tokens.
      const extra: string[] = [];
      const merges: Array<[string, string]> = [];
      const known = new Set(byteLevelAlphabet());
      for (let i = 0; i < 40; i++) {
        const pool = [...letters, ...extra];
        const a = pool[Math.floor(random() * pool.length)];
        const b = pool[Math.floor(random() * pool.length)];
        if (merges.some(([x, y]) => x === a && y === b)) continue;
        merges.push([a, b]);
        if (!known.has(a + b)) {
          known.add(a + b);
          extra.push(a + b);
        }
      }
      const vocab = byteVocab(extra);
      const fast = new ByteLevelBpe({ vocab, merges });
      const reference = new ByteLevelBpe({ vocab, merges, referenceMergeLoop: true });
      for (let i = 0; i < 30; i++) {
        let text = "";
        for (let j = 0; j < 1 + Math.floor(random() * 40); j++) text += alphabet[Math.floor(random() * alphabet.length)];
        expect(fast.encode(text)).toEqual(reference.encode(text));
      }
    }
  });
});

describe("model options", () => {
  it("maps bytes missing from the vocabulary to unk, fused when asked, dropped without unk", () => {
    const vocab = new Map([["a", 0], ["b", 1], ["<unk>", 2]]);
    const plain = new ByteLevelBpe({ vocab, merges: [], unkToken: "<unk>" });
    expect(plain.encode("accb")).toEqual([0, 2, 2, 1]);
    const fused = new ByteLevelBpe({ vocab, merges: [], unkToken: "<unk>", fuseUnk: true });
    expect(fused.encode("accb")).toEqual([0, 2, 1]);
    const none = new ByteLevelBpe({ vocab, merges: [] });
    expect(none.encode("accb")).toEqual([0, 1]);
  });

  it("takes a whole word from the vocabulary with ignoreMerges", () => {
    const vocab = byteVocab(["xyz"]);
    expect(new ByteLevelBpe({ vocab, merges: [] }).encode("xyz")).toHaveLength(3);
    expect(new ByteLevelBpe({ vocab, merges: [], ignoreMerges: true }).encode("xyz")).toEqual([vocab.get("xyz")]);
  });

  it("adds a leading space with addPrefixSpace", () => {
    const vocab = byteVocab(["\u0120x"]);
    const bpe = new ByteLevelBpe({ vocab, merges: [["\u0120", "x"]], addPrefixSpace: true });
    expect(bpe.encode("x")).toEqual([vocab.get("\u0120x")]);
    expect(bpe.encode(" x")).toEqual([vocab.get("\u0120x")]);
  });

  it("matches added tokens before the BPE and decodes them as their text", () => {
    const vocab = byteVocab(["ab"]);
    const bpe = new ByteLevelBpe({ vocab, merges: [["a", "b"]], addedTokens: [{ id: 300, content: "<x>", special: true }] });
    expect(bpe.encode("ab<x>ab")).toEqual([256, 300, 256]);
    expect(bpe.decode([256, 300, 256])).toBe("ab<x>ab");
    expect(bpe.vocabSize).toBe(301);
    expect(bpe.isValidId(280)).toBe(false);
  });

  it("encodes code point arrays like the equivalent string", () => {
    const vocab = byteVocab(["ab"]);
    const bpe = new ByteLevelBpe({ vocab, merges: [["a", "b"]] });
    const text = "ab ab\u0162";
    const ids: number[] = [];
    const codePoints = Int32Array.from(Array.from(text, (c) => c.codePointAt(0)!));
    bpe.encodeCodePoints(codePoints, codePoints.length, ids);
    expect(ids).toEqual(bpe.encode(text));
  });
});

describe("decode", () => {
  it("replaces broken UTF-8 like the WHATWG decoder (the policy of Rust's from_utf8_lossy)", () => {
    const bpe = new ByteLevelBpe({ vocab: byteVocab(), merges: [] });
    const random = seededRandom(4);
    const decoder = new TextDecoder();
    for (let i = 0; i < 300; i++) {
      const ids = Array.from({ length: 1 + Math.floor(random() * 12) }, () => (random() < 0.5 ? 0x80 + Math.floor(random() * 0x80) : Math.floor(random() * 256)));
      expect(bpe.decode(ids)).toBe(decoder.decode(bpe.decodeBytes(ids)));
    }
  });

  it("skips ids that name no token", () => {
    const bpe = new ByteLevelBpe({ vocab: byteVocab(), merges: [] });
    expect(bpe.decode([0x41, 999, 0x42, -1, 1.5])).toBe("AB");
  });
});

describe("UTF-8", () => {
  it("decodes lossily like TextDecoder and strictly like a fatal TextDecoder", () => {
    const random = seededRandom(12);
    const fatal = new TextDecoder("utf-8", { fatal: true });
    const lossy = new TextDecoder();
    for (let i = 0; i < 500; i++) {
      const bytes = Uint8Array.from({ length: Math.floor(random() * 10) }, () =>
        random() < 0.6 ? [0xc5, 0xa2, 0xe0, 0xa0, 0x80, 0xed, 0xa0, 0xf0, 0x90, 0xf4, 0x90, 0xc0, 0xff][Math.floor(random() * 13)] : Math.floor(random() * 256),
      );
      const expectedLossy = Array.from(lossy.decode(bytes), (c) => c.codePointAt(0)!);
      expect(decodeUtf8Lossy(bytes)).toEqual(expectedLossy);
      const out = new Int32Array(bytes.length);
      const result = decodeUtf8Strict(bytes, bytes.length, out, { count: 0, invalidAt: -1 });
      let valid = true;
      try {
        fatal.decode(bytes);
      } catch {
        valid = false;
      }
      expect(result.invalidAt < 0).toBe(valid);
      if (valid) expect(Array.from(out.subarray(0, result.count))).toEqual(expectedLossy);
      else expect(Array.from(out.subarray(0, result.count))).toEqual(decodeUtf8Lossy(bytes, result.invalidAt));
    }
  });

  it("rejects lone surrogates when encoding", () => {
    expect(Array.from(encodeUtf8("\u0162\ud83d\ude00"))).toEqual([0xc5, 0xa2, 0xf0, 0x9f, 0x98, 0x80]);
    expect(() => encodeUtf8("a\ud800")).toThrow(/lone surrogates, got U\+D800/);
  });
});

describe("tokenizer.json", () => {
  const base = () => ({
    model: { type: "BPE", vocab: Object.fromEntries(byteVocab(["ab"])), merges: ["a b"] },
    pre_tokenizer: { type: "ByteLevel", add_prefix_space: false, use_regex: true },
    decoder: { type: "ByteLevel" },
  });

  it("reads merges as strings or pairs and writes them back as pairs", () => {
    const fromStrings = ByteLevelBpe.fromTokenizerJson(base());
    const fromPairs = ByteLevelBpe.fromTokenizerJson({ ...base(), model: { ...base().model, merges: [["a", "b"]] } });
    expect(fromStrings.encode("abab")).toEqual([256, 256]);
    expect(fromPairs.encode("abab")).toEqual([256, 256]);
    const written = JSON.parse(fromStrings.toTokenizerJsonText());
    expect(written.model.merges).toEqual([["a", "b"]]);
    expect(Object.keys(written.model.vocab)).toHaveLength(257);
    expect(ByteLevelBpe.fromTokenizerJson(written).encode("xaby")).toEqual(fromStrings.encode("xaby"));
  });

  it.each([
    ["not an object", 42, /expected a JSON object, got 42/],
    ["a normalizer", { ...base(), normalizer: { type: "NFKC" } }, /normalizer: expected null/],
    ["another pre-tokenizer", { ...base(), pre_tokenizer: { type: "Whitespace" } }, /pre_tokenizer: expected type "ByteLevel", got "Whitespace"/],
    ["no decoder", { ...base(), decoder: null }, /decoder: expected a ByteLevel decoder, got null/],
    ["dropout", { ...base(), model: { ...base().model, dropout: 0.1 } }, /dropout: expected null or 0/],
    ["byte fallback", { ...base(), model: { ...base().model, byte_fallback: true } }, /byte_fallback: expected false/],
    ["a bad merge line", { ...base(), model: { ...base().model, merges: ["a b c"] } }, /merges\[0\]: expected "left right"/],
    ["a merge of unknown tokens", { ...base(), model: { ...base().model, merges: ["a \u4e2d"] } }, /both parts of merge 0 in the vocab/],
    ["a merge result missing", { ...base(), model: { ...base().model, merges: ["a c"] } }, /merge result "ac" in the vocab/],
    ["a negative id", { ...base(), model: { ...base().model, vocab: { a: -1 } } }, /non-negative integer id, got -1/],
    ["truncation", { ...base(), truncation: { max_length: 4 } }, /truncation: expected null/],
    ["an lstrip added token", { ...base(), added_tokens: [{ id: 300, content: "<x>", lstrip: true }] }, /lstrip: expected false/],
  ])("rejects %s with a one-line reason", (_name, json, message) => {
    expect(() => ByteLevelBpe.fromTokenizerJson(json)).toThrow(message);
  });
});

describeWithFixtures("FAST+ byte-level BPE against `tokenizers`", ["fast_plus", "tokenizer.json"], () => {
  // Ids from tokenizers 0.23 `Tokenizer.from_file(".../fast_plus/tokenizer.json").encode(text).ids`.
  const reference: Array<[string, number[]]> = [
    ["a \u0085 b", [64, 220, 126, 227, 220, 65]],
    ["a\u0085\u0085b", [64, 126, 227, 126, 227, 65]],
    ["a\ufeff\ufeffb", [64, 171, 119, 123, 171, 119, 123, 65]],
    ["it's 're'VE", [72, 83, 6, 82, 220, 6, 81, 68, 6, 53, 36]],
    ["12 34x", [16, 17, 220, 18, 19, 87]],
    ["  x   y\n\n z ", [220, 220, 87, 220, 220, 220, 88, 198, 198, 220, 89, 220]],
    ["\u3000\u3000b", [159, 222, 222, 159, 222, 222, 65]],
    ["\u0000\u0001\u007f", [188, 189, 221]],
    ["\u0162\u0162\u0162\u0162.\u0163?!", [258, 13, 265, 30, 0]],
    ["\u4e2d\u6587 \ud83d\ude00", [160, 116, 255, 162, 244, 229, 220, 172, 253, 246, 222]],
  ];

  const load = (options: { referenceMergeLoop?: boolean } = {}) => {
    const json = JSON.parse(readFileSync(fixturePath("fast_plus", "tokenizer.json"), "utf8"));
    return new ByteLevelBpe({ ...parseTokenizerJson(json), referenceMergeLoop: options.referenceMergeLoop ?? false });
  };

  it.each(reference)("encodes %j to the reference ids", (text, ids) => {
    const bpe = load();
    expect(bpe.encode(text)).toEqual(ids);
    expect(bpe.decode(ids)).toBe(text);
  });

  it("gives the same ids with pre-merged characters and rank buckets as with the plain queue loop", () => {
    const fast = load();
    const reference = load({ referenceMergeLoop: true });
    const random = seededRandom(99);
    for (let i = 0; i < 200; i++) {
      // FAST-like strings: mostly the zero coefficient U+0162 with neighbours, some wider values.
      const codePoints = Array.from({ length: 1 + Math.floor(random() * 120) }, () => {
        const r = random();
        return r < 0.6 ? 0x162 : r < 0.9 ? 0x140 + Math.floor(random() * 64) : Math.floor(random() * 2048);
      });
      const text = String.fromCodePoint(...codePoints);
      expect(fast.encode(text)).toEqual(reference.encode(text));
    }
  });
});

