// BPE training with the semantics of `tokenizers`' BpeTrainer (alphabet order, pair ranking, ties,
// minimum frequency, incremental counts across overlapping pairs). Every expectation here was also
// checked against `tokenizers` 0.23's BpeTrainer on the same word counts.
import { describe, expect, it } from "vitest";
import { trainByteLevelBpe } from "../../src/tokenizers/bpeTrainer.js";

const counts = (entries: Array<[string, number]>) => new Map(entries);

describe("trainByteLevelBpe", () => {
  it("reproduces the trainer example of `tokenizers` (vocab and merges)", () => {
    // The expected result is the one the `tokenizers` test suite asserts for these word counts
    // with min_frequency 2: the sorted alphabet, then "re", "are", "is".
    const words = counts([
      ["roses", 1], ["are", 2], ["red", 1], ["voilets", 1], ["blue", 1], ["BERT", 1],
      ["is", 2], ["big", 1], ["and", 1], ["so", 1], ["GPT-2", 1],
    ]);
    const trained = trainByteLevelBpe(words, { vocabSize: 30000, minFrequency: 2 });
    expect([...trained.vocab.entries()]).toEqual(
      ["-", "2", "B", "E", "G", "P", "R", "T", "a", "b", "d", "e", "g", "i", "l", "n", "o", "r", "s", "t", "u", "v", "re", "are", "is"].map((t, i) => [t, i]),
    );
    expect(trained.merges).toEqual([["r", "e"], ["a", "re"], ["i", "s"]]);
  });

  it("breaks count ties by the smaller pair of ids", () => {
    const trained = trainByteLevelBpe(counts([["cd", 2], ["ab", 2]]), { vocabSize: 5, minFrequency: 0 });
    expect(trained.merges).toEqual([["a", "b"]]);
  });

  it("stops when the best pair is rarer than minFrequency", () => {
    expect(trainByteLevelBpe(counts([["ab", 1], ["cd", 3]]), { vocabSize: 100, minFrequency: 2 }).merges).toEqual([["c", "d"]]);
  });

  it("counts overlapping pairs and merges them left to right", () => {
    // "aaaa" x1 and "aaa" x1: (a, a) occurs 5 times; after merging, "aaaa" = [aa, aa] and "aaa" = [aa, a].
    const trained = trainByteLevelBpe(counts([["aaaa", 1], ["aaa", 1]]), { vocabSize: 100, minFrequency: 1 });
    expect(trained.merges).toEqual([["a", "a"], ["aa", "a"], ["aa", "aa"]]);
  });

  it("adds the initial alphabet, sorted by code point with the seen characters", () => {
    const trained = trainByteLevelBpe(counts([["ba", 3]]), { vocabSize: 100, minFrequency: 2, initialAlphabet: ["\u0000", "z", "a"] });
    expect([...trained.vocab.keys()]).toEqual(["\u0000", "a", "b", "z", "ba"]);
    expect(() => trainByteLevelBpe(counts([["a", 1]]), { vocabSize: 10, minFrequency: 0, initialAlphabet: ["ab"] })).toThrow(/single characters/);
  });

  it("stops at the vocabulary size and keeps new tokens within maxTokenLength", () => {
    const words = counts([["abcdefgh", 5]]);
    expect(trainByteLevelBpe(words, { vocabSize: 10, minFrequency: 0 }).vocab.size).toBe(10);
    const short = trainByteLevelBpe(words, { vocabSize: 100, minFrequency: 0, maxTokenLength: 3 });
    expect(short.merges.length).toBeGreaterThan(0);
    for (const token of short.vocab.keys()) expect([...token].length).toBeLessThanOrEqual(2);
  });
});
