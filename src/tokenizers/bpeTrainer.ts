// BPE training with the semantics of `tokenizers`' BpeTrainer, so `FastTokenizer.fit` learns the
// merges the reference `fit` learns: alphabet sorted by code point, then repeatedly the most
// frequent pair (ties: the smallest pair of ids) until the vocabulary is full or the best pair
// is rarer than `minFrequency`. Counts are kept incrementally; stale queue entries are refreshed
// lazily when they reach the top.

export interface BpeTrainerOptions {
  vocabSize: number;
  minFrequency: number;
  /** Characters that join the alphabet even if no word uses them. */
  initialAlphabet?: Iterable<string>;
  /** New pairs whose merged symbol would reach this many initial symbols are not counted. */
  maxTokenLength?: number;
}

export interface TrainedBpe {
  /** Token -> id: the alphabet first (by code point), then one entry per new merged token. */
  vocab: Map<string, number>;
  /** Merges in rank order. */
  merges: Array<[string, string]>;
}

/** A queue entry: pair (a, b) seen `count` times in the words listed in `words`. */
interface QueuedPair {
  a: number;
  b: number;
  count: number;
  words: Set<number>;
}

/** Max-heap order: higher count first, then the smaller pair (a, then b). */
function before(x: QueuedPair, y: QueuedPair): boolean {
  if (x.count !== y.count) return x.count > y.count;
  if (x.a !== y.a) return x.a < y.a;
  return x.b < y.b;
}

class PairQueue {
  private readonly items: QueuedPair[] = [];

  get size(): number {
    return this.items.length;
  }

  push(item: QueuedPair): void {
    const items = this.items;
    let i = items.length;
    items.push(item);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(item, items[parent])) break;
      items[i] = items[parent];
      i = parent;
    }
    items[i] = item;
  }

  pop(): QueuedPair {
    const items = this.items;
    const top = items[0];
    const last = items.pop()!;
    if (items.length > 0) {
      let i = 0;
      for (;;) {
        let child = 2 * i + 1;
        if (child >= items.length) break;
        if (child + 1 < items.length && before(items[child + 1], items[child])) child++;
        if (!before(items[child], last)) break;
        items[i] = items[child];
        i = child;
      }
      items[i] = last;
    }
    return top;
  }
}

/** Ids stay below 2^21 (the vocabulary is capped far lower), so a pair packs into one exact number. */
const PAIR_BASE = 2 ** 21;
const pairKey = (a: number, b: number): number => a * PAIR_BASE + b;

/** Trains on pre-tokenized words (already in byte-level form) with their counts. */
export function trainByteLevelBpe(wordCounts: Map<string, number>, options: BpeTrainerOptions): TrainedBpe {
  const { vocabSize, minFrequency } = options;
  const maxTokenLength = options.maxTokenLength ?? Number.MAX_SAFE_INTEGER;
  if (!Number.isInteger(vocabSize) || vocabSize < 1 || vocabSize >= PAIR_BASE) {
    throw new Error(`BPE trainer vocabSize: expected an integer in [1, ${PAIR_BASE - 1}], got ${vocabSize}`);
  }

  // 1. Alphabet: every character of the words plus the initial alphabet, sorted by code point.
  const characters = new Set<number>();
  for (const word of wordCounts.keys()) for (const ch of word) characters.add(ch.codePointAt(0)!);
  for (const ch of options.initialAlphabet ?? []) {
    if ([...ch].length !== 1) throw new Error(`BPE trainer initialAlphabet: expected single characters, got ${JSON.stringify(ch)}`);
    characters.add(ch.codePointAt(0)!);
  }
  const idToToken: string[] = [...characters].sort((x, y) => x - y).map((cp) => String.fromCodePoint(cp));
  const vocab = new Map<string, number>();
  idToToken.forEach((token, id) => vocab.set(token, id));

  // 2. Words as symbol ids, each initial symbol of length 1.
  const words: { symbols: number[]; lengths: number[] }[] = [];
  const counts: number[] = [];
  for (const [word, count] of wordCounts) {
    const symbols: number[] = [];
    for (const ch of word) symbols.push(vocab.get(ch)!);
    words.push({ symbols, lengths: symbols.map(() => 1) });
    counts.push(count);
  }

  // 3. Pair counts and where each pair occurs.
  const pairCounts = new Map<number, number>();
  let whereToUpdate = new Map<number, Set<number>>();
  words.forEach(({ symbols }, w) => {
    for (let i = 0; i + 1 < symbols.length; i++) {
      const key = pairKey(symbols[i], symbols[i + 1]);
      pairCounts.set(key, (pairCounts.get(key) ?? 0) + counts[w]);
      let where = whereToUpdate.get(key);
      if (where === undefined) whereToUpdate.set(key, (where = new Set()));
      where.add(w);
    }
  });
  const queue = new PairQueue();
  const enqueueUpdated = () => {
    for (const [key, where] of whereToUpdate) {
      const count = pairCounts.get(key) ?? 0;
      if (count > 0) queue.push({ a: Math.floor(key / PAIR_BASE), b: key % PAIR_BASE, count, words: where });
    }
    whereToUpdate = new Map();
  };
  enqueueUpdated();

  // 4. Merge until the vocabulary is full or the best pair is too rare.
  const merges: Array<[number, number, number]> = [];
  while (vocab.size < vocabSize && queue.size > 0) {
    const top = queue.pop();
    const key = pairKey(top.a, top.b);
    const current = pairCounts.get(key) ?? 0;
    if (top.count !== current) {
      top.count = current;
      queue.push(top);
      continue;
    }
    if (top.count < 1 || minFrequency > top.count) break;

    const token = idToToken[top.a] + idToToken[top.b];
    let merged = vocab.get(token);
    if (merged === undefined) {
      merged = idToToken.length;
      idToToken.push(token);
      vocab.set(token, merged);
    }
    merges.push([top.a, top.b, merged]);

    for (const w of top.words) {
      mergeInWord(words[w], top.a, top.b, merged, maxTokenLength, (a, b, change) => {
        const k = pairKey(a, b);
        pairCounts.set(k, (pairCounts.get(k) ?? 0) + change * counts[w]);
        if (change > 0) {
          let where = whereToUpdate.get(k);
          if (where === undefined) whereToUpdate.set(k, (where = new Set()));
          where.add(w);
        }
      });
    }
    enqueueUpdated();
  }

  // A pair merged twice keeps its last rank, as a pair -> rank map built from the list does.
  const lastRank = new Map<number, number>();
  merges.forEach(([a, b], rank) => lastRank.set(pairKey(a, b), rank));
  const ordered = merges.filter(([a, b], rank) => lastRank.get(pairKey(a, b)) === rank);
  return { vocab, merges: ordered.map(([a, b]) => [idToToken[a], idToToken[b]]) };
}

/**
 * Replaces every non-overlapping (a, b), left to right, by `merged` and reports the pair-count
 * changes around each replacement (neighbour on the left is already updated, on the right not yet).
 */
function mergeInWord(
  word: { symbols: number[]; lengths: number[] },
  a: number,
  b: number,
  merged: number,
  maxTokenLength: number,
  change: (a: number, b: number, delta: number) => void,
): void {
  const { symbols, lengths } = word;
  const n = symbols.length;
  let j = 0;
  let i = 0;
  while (i < n) {
    if (symbols[i] === a && i + 1 < n && symbols[i + 1] === b) {
      const length = lengths[i] + lengths[i + 1];
      if (j > 0) {
        change(symbols[j - 1], a, -1);
        if (lengths[j - 1] + length < maxTokenLength) change(symbols[j - 1], merged, 1);
      }
      if (i + 2 < n) {
        change(b, symbols[i + 2], -1);
        if (lengths[i + 2] + length < maxTokenLength) change(merged, symbols[i + 2], 1);
      }
      symbols[j] = merged;
      lengths[j] = length;
      j++;
      i += 2;
    } else {
      symbols[j] = symbols[i];
      lengths[j] = lengths[i];
      j++;
      i++;
    }
  }
  symbols.length = j;
  lengths.length = j;
}
