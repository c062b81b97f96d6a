// Byte-level BPE in the Hugging Face `tokenizers` JSON format (the FAST / FAST+ tokenizer files):
// GPT-2 pre-tokenizer split, GPT-2 byte <-> unicode table, merges applied lowest rank first
// (leftmost on ties), ByteLevel decoder. Written to give the same ids as `tokenizers` bit for bit.
import { decodeUtf8Lossy, decodeUtf8Strict, encodeUtf8, isSurrogate, writeUtf8, type StrictDecodeResult } from "./utf8.js";

// ---------------------------------------------------------------------------------------------
// GPT-2 byte <-> unicode table: printable latin-1 bytes stand for themselves, the other 68 bytes
// are moved to U+0100.. in byte order, so every byte is one visible, non-space character.

function buildByteTable(): { byteToChar: string[]; charToByte: Map<string, number> } {
  const visible: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) visible.push(b);
  for (let b = 0xa1; b <= 0xac; b++) visible.push(b);
  for (let b = 0xae; b <= 0xff; b++) visible.push(b);
  const byteToChar = new Array<string>(256);
  for (const b of visible) byteToChar[b] = String.fromCharCode(b);
  let shifted = 0;
  for (let b = 0; b < 256; b++) {
    if (byteToChar[b] === undefined) byteToChar[b] = String.fromCharCode(256 + shifted++);
  }
  const charToByte = new Map<string, number>();
  byteToChar.forEach((ch, b) => charToByte.set(ch, b));
  return { byteToChar, charToByte };
}

const BYTE_TABLE = buildByteTable();

/** The character GPT-2's byte-level alphabet uses for `byte` (0..255). */
export function byteToUnicode(byte: number): string {
  return BYTE_TABLE.byteToChar[byte];
}

/** Inverse of `byteToUnicode`, or undefined for characters outside the 256-character alphabet. */
export function unicodeToByte(ch: string): number | undefined {
  return BYTE_TABLE.charToByte.get(ch);
}

/** The 256 characters of the byte-level alphabet, in byte order. */
export function byteLevelAlphabet(): string[] {
  return BYTE_TABLE.byteToChar.slice();
}

/** Maps raw text to its byte-level form: UTF-8 bytes, each shown as its alphabet character. */
export function toByteLevel(text: string): string {
  let out = "";
  for (const b of encodeUtf8(text)) out += BYTE_TABLE.byteToChar[b];
  return out;
}

// ---------------------------------------------------------------------------------------------
// GPT-2 split pattern. `tokenizers` runs it with Oniguruma, whose `\s` is Unicode White_Space:
// it includes U+0085 and excludes U+FEFF, the reverse of JS `\s`. Spelling the class out keeps
// the pieces identical (checked against `tokenizers` 0.23 on both characters). Letters and numbers
// come from the JS engine's Unicode tables, which may be newer than Oniguruma's: characters added
// in recent Unicode versions (all far above the FAST range) can split differently.
const WHITESPACE = "\\t\\n\\v\\f\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
export const GPT2_SPLIT_SOURCE =
  `'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^${WHITESPACE}\\p{L}\\p{N}]+` +
  `|[${WHITESPACE}]+(?![^${WHITESPACE}])|[${WHITESPACE}]+`;

/** The GPT-2 split as a regex, for cross-checks: `gpt2PieceEnd` is the implementation used. */
export function gpt2SplitRegex(): RegExp {
  return new RegExp(GPT2_SPLIT_SOURCE, "gu");
}

const OTHER = 0;
const LETTER = 1;
const NUMBER = 2;
const SPACE = 3;
const LETTER_TEST = /^\p{L}$/u;
const NUMBER_TEST = /^\p{N}$/u;
const SPACE_TEST = new RegExp(`^[${WHITESPACE}]$`, "u");

function classifySlow(codePoint: number): number {
  const ch = String.fromCodePoint(codePoint);
  if (LETTER_TEST.test(ch)) return LETTER;
  if (NUMBER_TEST.test(ch)) return NUMBER;
  if (SPACE_TEST.test(ch)) return SPACE;
  return OTHER;
}

/** Memo of `classifySlow` over the Basic Multilingual Plane (-1 = not looked up yet): a pure cache. */
const bmpClasses = new Int8Array(0x10000).fill(-1);

function characterClass(codePoint: number): number {
  if (codePoint > 0xffff) return classifySlow(codePoint);
  let cls = bmpClasses[codePoint];
  if (cls < 0) bmpClasses[codePoint] = cls = classifySlow(codePoint);
  return cls;
}

const APOSTROPHE = 0x27;
const SPACE_CHAR = 0x20;

/**
 * End of the GPT-2 pre-tokenizer piece starting at `start` (exclusive), following the pattern's
 * alternatives in order: contractions 's 't 're 've 'm 'll 'd, then ` ?` + a run of letters, of
 * numbers, or of other symbols, then whitespace (a run followed by a non-space keeps its last
 * space for the next piece).
 */
export function gpt2PieceEnd(codePoints: ArrayLike<number>, start: number, count: number): number {
  const first = codePoints[start];
  if (first === APOSTROPHE && start + 1 < count) {
    const c1 = codePoints[start + 1];
    const c2 = start + 2 < count ? codePoints[start + 2] : -1;
    // 's 't 'm 'd | 're 've 'll
    if (c1 === 0x73 || c1 === 0x74 || c1 === 0x6d || c1 === 0x64) return start + 2;
    if ((c1 === 0x72 && c2 === 0x65) || (c1 === 0x76 && c2 === 0x65) || (c1 === 0x6c && c2 === 0x6c)) return start + 3;
  }
  let i = start;
  let cls = characterClass(first);
  if (first === SPACE_CHAR && start + 1 < count) {
    const nextClass = characterClass(codePoints[start + 1]);
    if (nextClass !== SPACE) {
      i = start + 1;
      cls = nextClass;
    }
  }
  if (cls !== SPACE) {
    i++;
    while (i < count && characterClass(codePoints[i]) === cls) i++;
    return i;
  }
  let end = start + 1;
  while (end < count && characterClass(codePoints[end]) === SPACE) end++;
  // `\s+(?!\S)`: back off one so the last space can lead the next word; a single space stays whole.
  if (end < count && end - start > 1) return end - 1;
  return end;
}

/** Splits `text` into its GPT-2 pre-tokenizer pieces. */
export function splitGpt2(text: string): string[] {
  const codePoints = Array.from(text, (ch) => ch.codePointAt(0)!);
  const pieces: string[] = [];
  for (let start = 0; start < codePoints.length; ) {
    const end = gpt2PieceEnd(codePoints, start, codePoints.length);
    pieces.push(String.fromCodePoint(...codePoints.slice(start, end)));
    start = end;
  }
  return pieces;
}

/** UTF-8 length of each byte's alphabet character (1 below U+0080, else 2). */
const BYTE_LEVEL_UTF8_LENGTH = Uint8Array.from(BYTE_TABLE.byteToChar, (ch) => (ch.charCodeAt(0) < 0x80 ? 1 : 2));

/** Byte strings that, found right before (left) or after (right) a two-byte character, stop its pre-merge. */
interface PreMergeGuard {
  left: Uint8Array[];
  right: Uint8Array[];
}

interface TwoByteTokens {
  /** Token of each two-byte character's bytes, or -1 when it is never pre-merged. */
  token: Int32Array;
  /** Index into `guards`, or -1 when the pre-merge needs no check. */
  guard: Int32Array;
  guards: PreMergeGuard[];
}

/** More guard strings than this and the character is simply not pre-merged. */
const MAX_GUARDS = 4;

/**
 * Two-byte characters whose bytes (b0, b1) merge with each other before anything else touches
 * them. Until merge (b0, b1) of rank r runs, only a merge (x, b0) or (b1, y) of lower rank could
 * take one of the bytes, and x (y) is always a token whose bytes end right before b0 (start right
 * after b1). So if no such x (y) matches the neighbouring bytes, the pair merges at rank r, and
 * starting the word from the merged token changes no merge of any rank (the list is well
 * ordered: nothing below rank r uses the merged token). Halves the merge work of FAST strings.
 */
function twoByteCharacterTokens(
  byteSymbol: Int32Array,
  pairs: PairTable,
  rankLeft: Int32Array,
  rankRight: Int32Array,
  tokenBytes: (id: number) => Uint8Array,
): TwoByteTokens {
  const token = new Int32Array(0x800).fill(-1);
  const guard = new Int32Array(0x800).fill(-1);
  const guards: PreMergeGuard[] = [];
  for (let cp = 0x80; cp < 0x800; cp++) {
    const s0 = byteSymbol[0xc0 | (cp >> 6)];
    const s1 = byteSymbol[0x80 | (cp & 0x3f)];
    if (s0 < 0 || s1 < 0) continue;
    const slot = pairs.find(s0, s1);
    if (slot < 0) continue;
    const rank = pairs.rank[slot];
    const left: Uint8Array[] = [];
    const right: Uint8Array[] = [];
    for (let r = 0; r < rank; r++) {
      if (rankRight[r] === s0) left.push(tokenBytes(rankLeft[r]));
      if (rankLeft[r] === s1) right.push(tokenBytes(rankRight[r]));
    }
    if (left.length + right.length > MAX_GUARDS) continue;
    token[cp] = pairs.merged[slot];
    if (left.length + right.length > 0) {
      guard[cp] = guards.length;
      guards.push({ left, right });
    }
  }
  return { token, guard, guards };
}

/** True when `bytes[start - pattern.length, start)` equals `pattern` (`before`) or `bytes[start, ...)` does (`!before`). */
function bytesMatch(bytes: Uint8Array, start: number, end: number, pattern: Uint8Array, before: boolean): boolean {
  const from = before ? start - pattern.length : start;
  if (from < 0 || from + pattern.length > end) return false;
  for (let k = 0; k < pattern.length; k++) if (bytes[from + k] !== pattern[k]) return false;
  return true;
}

/**
 * True when every merge only uses tokens whose creating merges all come earlier (trained lists
 * are like that). Tokens not made by any merge count as created at rank -1.
 */
function isWellOrdered(merges: Array<[string, string]>, vocab: Map<string, number>, pairs: PairTable): boolean {
  const createdAt = new Map<number, number>();
  const effective: Array<[number, number, number]> = [];
  merges.forEach(([a, b], rank) => {
    const idA = vocab.get(a)!;
    const idB = vocab.get(b)!;
    const slot = pairs.find(idA, idB);
    if (pairs.rank[slot] !== rank) return; // a later duplicate of this pair wins
    effective.push([idA, idB, rank]);
    const merged = pairs.merged[slot];
    createdAt.set(merged, Math.max(createdAt.get(merged) ?? -1, rank));
  });
  return effective.every(([a, b, rank]) => (createdAt.get(a) ?? -1) < rank && (createdAt.get(b) ?? -1) < rank);
}

// ---------------------------------------------------------------------------------------------
// Configuration as read from tokenizer.json.

export interface AddedToken {
  id: number;
  content: string;
  special: boolean;
}

export interface ByteLevelBpeOptions {
  /** Token string for every id; holes are allowed (ids without a token are invalid). */
  vocab: Map<string, number>;
  /** Merges in rank order, as pairs of token strings. */
  merges: Array<[string, string]>;
  addedTokens?: AddedToken[];
  addPrefixSpace?: boolean;
  useRegex?: boolean;
  continuingSubwordPrefix?: string | null;
  endOfWordSuffix?: string | null;
  unkToken?: string | null;
  fuseUnk?: boolean;
  ignoreMerges?: boolean;
  /**
   * Always use the plain queue merge loop of `tokenizers` (no rank buckets, no pre-merged
   * characters). Same ids, slower: for cross-checks.
   */
  referenceMergeLoop?: boolean;
}

/**
 * Open-addressing hash from a symbol pair (a, b) to its merge rank and the merged symbol's id.
 * Kept at most 1/4 full so a lookup is one or two probes: it is the inner step of every merge.
 */
class PairTable {
  private readonly keysA: Int32Array;
  private readonly keysB: Int32Array;
  readonly rank: Int32Array;
  readonly merged: Int32Array;
  private readonly shift: number;
  private readonly mask: number;

  constructor(expected: number) {
    let bits = 6;
    while (1 << bits < expected * 4) bits++;
    const capacity = 1 << bits;
    this.keysA = new Int32Array(capacity).fill(-1);
    this.keysB = new Int32Array(capacity);
    this.rank = new Int32Array(capacity);
    this.merged = new Int32Array(capacity);
    this.shift = 32 - bits;
    this.mask = capacity - 1;
  }

  /** Slot holding (a, b), or the empty slot where it would go. */
  private slotOf(a: number, b: number): number {
    // Fibonacci hashing of a mixed key: the high bits of the product are well spread.
    let slot = Math.imul(Math.imul(a, 0x2545f491) ^ b, 0x9e3779b1) >>> this.shift;
    const keysA = this.keysA;
    for (;;) {
      const k = keysA[slot];
      if (k === -1 || (k === a && this.keysB[slot] === b)) return slot;
      slot = (slot + 1) & this.mask;
    }
  }

  /** Later duplicates overwrite earlier ones, as a map built from the merge list does in `tokenizers`. */
  set(a: number, b: number, rank: number, merged: number): void {
    const slot = this.slotOf(a, b);
    this.keysA[slot] = a;
    this.keysB[slot] = b;
    this.rank[slot] = rank;
    this.merged[slot] = merged;
  }

  /** Slot of the pair, or -1 when the pair does not merge. */
  find(a: number, b: number): number {
    const slot = this.slotOf(a, b);
    return this.keysA[slot] === -1 ? -1 : slot;
  }
}

/** Pieces whose byte-level form is shorter than this many UTF-8 bytes are cached, as `tokenizers` does. */
const CACHEABLE_PIECE_LENGTH = 256;
const MAX_CACHED_PIECES = 4096;

export class ByteLevelBpe {
  /** One past the largest id (model vocabulary and added tokens). */
  readonly vocabSize: number;
  readonly addPrefixSpace: boolean;
  readonly useRegex: boolean;
  readonly continuingSubwordPrefix: string | null;
  readonly endOfWordSuffix: string | null;
  readonly unkToken: string | null;
  readonly fuseUnk: boolean;
  readonly ignoreMerges: boolean;

  private readonly vocab: Map<string, number>;
  private readonly tokens: Array<string | undefined>;
  private readonly mergeList: Array<[string, string]>;
  private readonly addedTokens: AddedToken[];
  private readonly pairs: PairTable;
  /** Symbol id of each byte in the four word positions: [middle, first, last, first-and-last] x 256; -1 = not in vocab. */
  private readonly byteSymbol: Int32Array;
  private readonly unkId: number;
  /** Decoded bytes of every id, flattened: bytes of id i are tokenBytes[tokenByteStart[i] .. tokenByteStart[i+1]). */
  private readonly tokenBytes: Uint8Array;
  private readonly tokenByteStart: Int32Array;
  private readonly hasToken: Uint8Array;
  /** 1 when the token's bytes are whole UTF-8 characters; their code points are then kept flattened too. */
  private readonly tokenIsWhole: Uint8Array;
  private readonly tokenCodePoints: Int32Array;
  private readonly tokenCodePointStart: Int32Array;
  /** The pair and merged id of each rank (-1 for a rank overridden by a later duplicate). */
  private readonly rankLeft: Int32Array;
  private readonly rankRight: Int32Array;
  private readonly rankMerged: Int32Array;
  /** Two-byte characters (U+0080..U+07FF: FAST coefficients in normal use) that may start pre-merged. */
  private readonly twoByte: TwoByteTokens;
  /** The merge list is well ordered (see `mergeWordByRank`) and the fast loop is not switched off. */
  private readonly useRankBuckets: boolean;
  private readonly cache = new Map<string, number[]>();

  // Merge workspace, grown to the longest word seen and reused.
  private symbol = new Int32Array(64);
  private prev = new Int32Array(64);
  private next = new Int32Array(64);
  private alive = new Uint8Array(64);
  private heap = new Float64Array(128);
  private heapSize = 0;
  private segmentCodePoints = new Int32Array(256);
  // Rank buckets of `mergeWordByRank`: linked lists of positions, all empty between calls.
  private bucketHead: Int32Array;
  private entryPos = new Int32Array(256);
  private entryNext = new Int32Array(256);
  private rankPositions: Int32Array;
  private wordBytes = new Uint8Array(256);

  constructor(options: ByteLevelBpeOptions) {
    this.vocab = options.vocab;
    this.mergeList = options.merges;
    this.addedTokens = (options.addedTokens ?? []).slice().sort((a, b) => b.content.length - a.content.length);
    this.addPrefixSpace = options.addPrefixSpace ?? false;
    this.useRegex = options.useRegex ?? true;
    this.continuingSubwordPrefix = options.continuingSubwordPrefix ?? null;
    this.endOfWordSuffix = options.endOfWordSuffix ?? null;
    this.unkToken = options.unkToken ?? null;
    this.fuseUnk = options.fuseUnk ?? false;
    this.ignoreMerges = options.ignoreMerges ?? false;

    let maxId = -1;
    for (const [token, id] of this.vocab) {
      if (!Number.isInteger(id) || id < 0) throw new Error(`tokenizer vocab: expected a non-negative integer id for ${JSON.stringify(token)}, got ${id}`);
      maxId = Math.max(maxId, id);
    }
    for (const t of this.addedTokens) maxId = Math.max(maxId, t.id);
    this.vocabSize = maxId + 1;
    this.tokens = new Array<string | undefined>(this.vocabSize);
    for (const [token, id] of this.vocab) this.tokens[id] = token;
    for (const t of this.addedTokens) this.tokens[t.id] = t.content;

    if (this.unkToken !== null && !this.vocab.has(this.unkToken)) {
      throw new Error(`tokenizer model: expected unk_token ${JSON.stringify(this.unkToken)} in the vocab, got no such token`);
    }
    this.unkId = this.unkToken === null ? -1 : this.vocab.get(this.unkToken)!;

    this.pairs = new PairTable(this.mergeList.length);
    const prefixLength = this.continuingSubwordPrefix?.length ?? 0;
    this.mergeList.forEach(([a, b], rank) => {
      const idA = this.vocab.get(a);
      const idB = this.vocab.get(b);
      if (idA === undefined || idB === undefined) {
        throw new Error(`tokenizer merges: expected both parts of merge ${rank} in the vocab, got ${JSON.stringify(idA === undefined ? a : b)} missing`);
      }
      const mergedToken = a + (prefixLength > 0 && b.startsWith(this.continuingSubwordPrefix!) ? b.slice(prefixLength) : b);
      const merged = this.vocab.get(mergedToken);
      if (merged === undefined) throw new Error(`tokenizer merges: expected merge result ${JSON.stringify(mergedToken)} in the vocab, got no such token`);
      this.pairs.set(idA, idB, rank, merged);
    });
    this.rankLeft = new Int32Array(this.mergeList.length).fill(-1);
    this.rankRight = new Int32Array(this.mergeList.length).fill(-1);
    this.rankMerged = new Int32Array(this.mergeList.length).fill(-1);
    this.mergeList.forEach(([a, b], rank) => {
      const slot = this.pairs.find(this.vocab.get(a)!, this.vocab.get(b)!);
      if (this.pairs.rank[slot] !== rank) return; // a later duplicate of this pair wins
      this.rankLeft[rank] = this.vocab.get(a)!;
      this.rankRight[rank] = this.vocab.get(b)!;
      this.rankMerged[rank] = this.pairs.merged[slot];
    });
    this.useRankBuckets = !options.referenceMergeLoop && isWellOrdered(this.mergeList, this.vocab, this.pairs);
    this.bucketHead = new Int32Array(this.mergeList.length).fill(-1);
    this.rankPositions = new Int32Array(256);

    this.byteSymbol = new Int32Array(4 * 256);
    for (let position = 0; position < 4; position++) {
      const first = (position & 1) !== 0;
      const last = (position & 2) !== 0;
      for (let b = 0; b < 256; b++) {
        let s = BYTE_TABLE.byteToChar[b];
        if (!first && this.continuingSubwordPrefix !== null) s = this.continuingSubwordPrefix + s;
        if (last && this.endOfWordSuffix !== null) s = s + this.endOfWordSuffix;
        this.byteSymbol[position * 256 + b] = this.vocab.get(s) ?? -1;
      }
    }
    this.twoByte =
      // Only when every byte is its own plain symbol (no prefix/suffix forms, never unk).
      this.useRankBuckets && this.continuingSubwordPrefix === null && this.endOfWordSuffix === null && this.byteSymbol.every((id) => id >= 0)
        ? twoByteCharacterTokens(this.byteSymbol, this.pairs, this.rankLeft, this.rankRight, (id) => tokenToBytes(this.tokens[id]!))
        : { token: new Int32Array(0x800).fill(-1), guard: new Int32Array(0x800).fill(-1), guards: [] };

    // ByteLevel decoder: a token made only of alphabet characters gives those bytes; any other token
    // (an added token such as "<pad>" with characters outside the alphabet) gives its own UTF-8 bytes.
    this.hasToken = new Uint8Array(this.vocabSize);
    const perToken: Uint8Array[] = [];
    let total = 0;
    for (let id = 0; id < this.vocabSize; id++) {
      const token = this.tokens[id];
      const bytes = token === undefined ? new Uint8Array(0) : tokenToBytes(token);
      if (token !== undefined) this.hasToken[id] = 1;
      perToken.push(bytes);
      total += bytes.length;
    }
    this.tokenBytes = new Uint8Array(total);
    this.tokenByteStart = new Int32Array(this.vocabSize + 1);
    let offset = 0;
    for (let id = 0; id < this.vocabSize; id++) {
      this.tokenByteStart[id] = offset;
      this.tokenBytes.set(perToken[id], offset);
      offset += perToken[id].length;
    }
    this.tokenByteStart[this.vocabSize] = offset;

    // Tokens whose bytes are whole UTF-8 characters also keep their code points: decoding a
    // sequence of such tokens needs no byte-level work at all.
    this.tokenIsWhole = new Uint8Array(this.vocabSize);
    this.tokenCodePointStart = new Int32Array(this.vocabSize + 1);
    const codePoints: number[] = [];
    const check: StrictDecodeResult = { count: 0, invalidAt: -1 };
    for (let id = 0; id < this.vocabSize; id++) {
      this.tokenCodePointStart[id] = codePoints.length;
      const bytes = perToken[id];
      const decoded = new Int32Array(bytes.length);
      decodeUtf8Strict(bytes, bytes.length, decoded, check);
      if (this.hasToken[id] === 1 && check.invalidAt < 0) {
        this.tokenIsWhole[id] = 1;
        for (let i = 0; i < check.count; i++) codePoints.push(decoded[i]);
      }
    }
    this.tokenCodePointStart[this.vocabSize] = codePoints.length;
    this.tokenCodePoints = Int32Array.from(codePoints);
  }

  /** Builds the tokenizer from a parsed tokenizer.json, rejecting parts this implementation does not reproduce. */
  static fromTokenizerJson(json: unknown): ByteLevelBpe {
    return new ByteLevelBpe(parseTokenizerJson(json));
  }

  /** Token string of an id, or undefined. */
  idToToken(id: number): string | undefined {
    return Number.isInteger(id) && id >= 0 && id < this.vocabSize ? this.tokens[id] : undefined;
  }

  tokenToId(token: string): number | undefined {
    return this.addedTokens.find((t) => t.content === token)?.id ?? this.vocab.get(token);
  }

  /** True when `id` is an integer that names a token. */
  isValidId(id: number): boolean {
    return Number.isInteger(id) && id >= 0 && id < this.vocabSize && this.hasToken[id] === 1;
  }

  get merges(): ReadonlyArray<readonly [string, string]> {
    return this.mergeList;
  }

  // -------------------------------------------------------------------------------------------
  // Encode

  /** Token ids for `text`, as `Tokenizer.encode(text).ids` gives them in `tokenizers`. */
  encode(text: string): number[] {
    const ids: number[] = [];
    if (this.addedTokens.length === 0) {
      this.encodeSegment(text, ids);
      return ids;
    }
    // Added tokens are matched first (leftmost, longest) and never go through the BPE.
    let start = 0;
    let i = 0;
    while (i < text.length) {
      const hit = this.addedTokens.find((t) => t.content.length > 0 && text.startsWith(t.content, i));
      if (hit === undefined) {
        i++;
        continue;
      }
      if (i > start) this.encodeSegment(text.slice(start, i), ids);
      ids.push(hit.id);
      i += hit.content.length;
      start = i;
    }
    if (start < text.length) this.encodeSegment(text.slice(start), ids);
    return ids;
  }

  /**
   * Same as `encode(String.fromCodePoint(...codePoints.slice(0, count)))`, without building the
   * string: the FAST encoder's path. Code points must be valid (no surrogates); ids are appended.
   */
  encodeCodePoints(codePoints: ArrayLike<number>, count: number, ids: number[]): void {
    if (this.addedTokens.length > 0 || this.addPrefixSpace) {
      let text = "";
      for (let i = 0; i < count; i += 4096) text += String.fromCodePoint(...Array.prototype.slice.call(codePoints, i, Math.min(count, i + 4096)));
      for (const id of this.encode(text)) ids.push(id);
      return;
    }
    this.encodeSplit(codePoints, count, ids);
  }

  private encodeSegment(segment: string, ids: number[]): void {
    if (segment.length === 0) return;
    const text = this.addPrefixSpace && !segment.startsWith(" ") ? " " + segment : segment;
    if (this.segmentCodePoints.length < text.length) this.segmentCodePoints = new Int32Array(2 * text.length);
    const codePoints = this.segmentCodePoints;
    let n = 0;
    for (let i = 0; i < text.length; i++) {
      let cp = text.charCodeAt(i);
      if (cp >= 0xd800 && cp <= 0xdbff && i + 1 < text.length) {
        const low = text.charCodeAt(i + 1);
        if (low >= 0xdc00 && low <= 0xdfff) {
          cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
          i++;
        }
      }
      if (isSurrogate(cp)) throw new Error(`BPE encode: expected valid Unicode text, got a lone surrogate U+${cp.toString(16).toUpperCase()}`);
      codePoints[n++] = cp;
    }
    this.encodeSplit(codePoints, n, ids);
  }

  /** Pre-tokenizer split (or none), then BPE on each piece. */
  private encodeSplit(codePoints: ArrayLike<number>, count: number, ids: number[]): void {
    if (!this.useRegex) {
      this.encodePiece(codePoints, 0, count, ids);
      return;
    }
    for (let start = 0; start < count; ) {
      const end = gpt2PieceEnd(codePoints, start, count);
      this.encodePiece(codePoints, start, end, ids);
      start = end;
    }
  }

  private encodePiece(codePoints: ArrayLike<number>, start: number, end: number, ids: number[]): void {
    if (end <= start) return;
    const byteCount = this.pieceToBytes(codePoints, start, end);
    const bytes = this.wordBytes;
    if (this.ignoreMerges) {
      let word = "";
      for (let i = 0; i < byteCount; i++) word += BYTE_TABLE.byteToChar[bytes[i]];
      const whole = this.vocab.get(word);
      if (whole !== undefined) {
        ids.push(whole);
        return;
      }
    }
    // Short pieces are cached (keyed by their bytes as Latin-1), as `tokenizers` caches words.
    let key: string | null = null;
    if (this.byteLevelUtf8Length(byteCount) < CACHEABLE_PIECE_LENGTH) {
      key = String.fromCharCode.apply(null, bytes.subarray(0, byteCount) as unknown as number[]);
      const hit = this.cache.get(key);
      if (hit !== undefined) {
        for (let i = 0; i < hit.length; i++) ids.push(hit[i]);
        return;
      }
    }
    const firstId = ids.length;
    if (this.useRankBuckets) this.mergeWordByRank(byteCount, ids);
    else this.mergeWord(byteCount, ids);
    if (key !== null) {
      if (this.cache.size >= MAX_CACHED_PIECES) this.cache.clear();
      this.cache.set(key, ids.slice(firstId));
    }
  }

  /** Length in UTF-8 bytes of the byte-level form of the word workspace (what `tokenizers` measures). */
  private byteLevelUtf8Length(byteCount: number): number {
    let n = 0;
    for (let i = 0; i < byteCount; i++) n += BYTE_LEVEL_UTF8_LENGTH[this.wordBytes[i]];
    return n;
  }

  /** UTF-8 bytes of codePoints[start, end) into the word workspace; returns the byte count. */
  private pieceToBytes(codePoints: ArrayLike<number>, start: number, end: number): number {
    if (this.wordBytes.length < 4 * (end - start)) this.wordBytes = new Uint8Array(8 * (end - start));
    let n = 0;
    for (let i = start; i < end; i++) n += writeUtf8(codePoints[i], this.wordBytes, n);
    return n;
  }

  /** Builds the word's symbols from the workspace bytes; returns the symbol count. */
  private initSymbols(byteCount: number): number {
    this.ensureWordCapacity(byteCount);
    const symbol = this.symbol;
    const prev = this.prev;
    const next = this.next;
    const alive = this.alive;
    // Bytes missing from the vocab become unk (fused if asked) or are dropped, as in `tokenizers`.
    const bytes = this.wordBytes;
    const twoByteToken = this.twoByte.token;
    const twoByteGuard = this.twoByte.guard;
    let n = 0;
    let pendingUnk = false;
    for (let i = 0; i < byteCount; i++) {
      const lead = bytes[i];
      if (lead >= 0xc2 && lead <= 0xdf && i + 1 < byteCount && !pendingUnk && (bytes[i + 1] & 0xc0) === 0x80) {
        const cp = ((lead & 0x1f) << 6) | (bytes[i + 1] & 0x3f);
        const token = twoByteToken[cp];
        if (token >= 0 && (twoByteGuard[cp] < 0 || this.preMergeAllowed(twoByteGuard[cp], i, byteCount))) {
          symbol[n++] = token;
          i++;
          continue;
        }
      }
      const position = (i === 0 ? 1 : 0) | (i === byteCount - 1 ? 2 : 0);
      const id = this.byteSymbol[position * 256 + lead];
      if (id >= 0) {
        if (pendingUnk) {
          symbol[n++] = this.unkId;
          pendingUnk = false;
        }
        symbol[n++] = id;
      } else if (this.unkId >= 0) {
        if (pendingUnk && !this.fuseUnk) symbol[n++] = this.unkId;
        pendingUnk = true;
      }
    }
    if (pendingUnk) symbol[n++] = this.unkId;
    for (let i = 0; i < n; i++) {
      prev[i] = i - 1;
      next[i] = i + 1 < n ? i + 1 : -1;
      alive[i] = 1;
    }
    return n;
  }

  /** False when a guard string of the two-byte character at byte `i` sits next to it. */
  private preMergeAllowed(guardIndex: number, i: number, byteCount: number): boolean {
    const guard = this.twoByte.guards[guardIndex];
    for (const pattern of guard.left) if (bytesMatch(this.wordBytes, i, byteCount, pattern, true)) return false;
    for (const pattern of guard.right) if (bytesMatch(this.wordBytes, i + 2, byteCount, pattern, false)) return false;
    return true;
  }

  /** Merges symbol `pos` with its right neighbour into `merged`; returns the new right neighbour or -1. */
  private mergeAt(pos: number, merged: number): number {
    const next = this.next;
    const right = next[pos];
    this.symbol[pos] = merged;
    this.alive[right] = 0;
    const after = next[right];
    next[pos] = after;
    if (after >= 0) this.prev[after] = pos;
    return after;
  }

  /**
   * The `tokenizers` merge loop: a queue of (rank, position), lowest rank first, leftmost on ties;
   * entries that no longer describe the pair at their position are skipped. Used for merge lists
   * that are not well ordered (see `mergeWordByRank`).
   */
  private mergeWord(byteCount: number, ids: number[]): void {
    const n = this.initSymbols(byteCount);
    const symbol = this.symbol;
    const next = this.next;
    const alive = this.alive;
    const pairs = this.pairs;
    // Queue keys rank * n + position: one number orders by rank, then leftmost position.
    this.heapSize = 0;
    if (this.heap.length < 3 * n) this.heap = new Float64Array(4 * n);
    for (let i = 0; i + 1 < n; i++) {
      const slot = pairs.find(symbol[i], symbol[i + 1]);
      if (slot >= 0) this.heapPush(pairs.rank[slot] * n + i);
    }
    while (this.heapSize > 0) {
      const key = this.heapPop();
      const rank = Math.floor(key / n);
      const pos = key - rank * n;
      if (alive[pos] === 0) continue;
      const right = next[pos];
      if (right < 0) continue;
      // Ranks are unique per pair, so a rank mismatch means the entry is stale.
      const current = pairs.find(symbol[pos], symbol[right]);
      if (current < 0 || pairs.rank[current] !== rank) continue;
      const merged = pairs.merged[current];
      const after = this.mergeAt(pos, merged);
      const before = this.prev[pos];
      if (before >= 0) {
        const slot = pairs.find(symbol[before], merged);
        if (slot >= 0) this.heapPush(pairs.rank[slot] * n + before);
      }
      if (after >= 0) {
        const slot = pairs.find(merged, symbol[after]);
        if (slot >= 0) this.heapPush(pairs.rank[slot] * n + pos);
      }
    }
    for (let i = 0; i < n; i = next[i] < 0 ? n : next[i]) ids.push(symbol[i]);
  }

  /**
   * Same result as `mergeWord`, in near-linear time, for well-ordered merge lists (every merge only
   * uses tokens created by earlier merges: true of any trained list). Then a merge of rank r can
   * only create pairs of higher rank, so all queue entries of rank r exist before the first is
   * taken: processing ranks in order, each rank's positions left to right, is the same order.
   */
  private mergeWordByRank(byteCount: number, ids: number[]): void {
    const n = this.initSymbols(byteCount);
    const symbol = this.symbol;
    const prev = this.prev;
    const next = this.next;
    const alive = this.alive;
    const pairs = this.pairs;
    const pairRank = pairs.rank;
    const rankLeft = this.rankLeft;
    const rankRight = this.rankRight;
    const rankMerged = this.rankMerged;
    if (this.entryPos.length < 3 * n) {
      this.entryPos = new Int32Array(4 * n);
      this.entryNext = new Int32Array(4 * n);
      this.rankPositions = new Int32Array(4 * n);
      this.heap = new Float64Array(Math.max(this.heap.length, 4 * n));
    }
    const bucketHead = this.bucketHead;
    const entryPos = this.entryPos;
    const entryNext = this.entryNext;
    const order = this.rankPositions;
    let entries = 0;
    this.heapSize = 0;
    for (let i = 0; i + 1 < n; i++) {
      const slot = pairs.find(symbol[i], symbol[i + 1]);
      if (slot < 0) continue;
      const rank = pairRank[slot];
      if (bucketHead[rank] < 0) this.heapPush(rank);
      entryPos[entries] = i;
      entryNext[entries] = bucketHead[rank];
      bucketHead[rank] = entries++;
    }
    while (this.heapSize > 0) {
      const rank = this.heapPop();
      // Positions of this rank: the list runs newest first, pushes come mostly left to right, so
      // reversing usually sorts them; otherwise sort.
      let k = 0;
      for (let e = bucketHead[rank]; e >= 0; e = entryNext[e]) order[k++] = entryPos[e];
      let sorted = true;
      for (let lo = 0, hi = k - 1; lo < hi; lo++, hi--) {
        const t = order[lo];
        order[lo] = order[hi];
        order[hi] = t;
      }
      for (let q = 1; q < k && sorted; q++) if (order[q - 1] > order[q]) sorted = false;
      if (!sorted) order.subarray(0, k).sort();
      bucketHead[rank] = -1;
      for (let q = 0; q < k; q++) {
        const pos = order[q];
        if (alive[pos] === 0) continue;
        const right = next[pos];
        if (right < 0) continue;
        // The rank names the pair: the entry is stale unless that pair still sits at `pos`.
        if (symbol[pos] !== rankLeft[rank] || symbol[right] !== rankRight[rank]) continue;
        const merged = rankMerged[rank];
        symbol[pos] = merged;
        alive[right] = 0;
        const after = next[right];
        next[pos] = after;
        if (after >= 0) prev[after] = pos;
        const before = prev[pos];
        if (before >= 0) {
          const slot = pairs.find(symbol[before], merged);
          if (slot >= 0) {
            const r = pairRank[slot];
            if (bucketHead[r] < 0) this.heapPush(r);
            entryPos[entries] = before;
            entryNext[entries] = bucketHead[r];
            bucketHead[r] = entries++;
          }
        }
        // When the right neighbour starts another pair of this rank it merges later in this pass,
        // and an entry for (merged, neighbour) would only go stale: skip it (halves work in runs).
        const rightMergesNow = after >= 0 && symbol[after] === rankLeft[rank] && next[after] >= 0 && symbol[next[after]] === rankRight[rank];
        if (after >= 0 && !rightMergesNow) {
          const slot = pairs.find(merged, symbol[after]);
          if (slot >= 0) {
            const r = pairRank[slot];
            if (bucketHead[r] < 0) this.heapPush(r);
            entryPos[entries] = pos;
            entryNext[entries] = bucketHead[r];
            bucketHead[r] = entries++;
          }
        }
      }
    }
    for (let i = 0; i < n; i = next[i] < 0 ? n : next[i]) ids.push(symbol[i]);
  }

  private ensureWordCapacity(n: number): void {
    if (this.symbol.length >= n) return;
    const size = Math.max(n, this.symbol.length * 2);
    this.symbol = new Int32Array(size);
    this.prev = new Int32Array(size);
    this.next = new Int32Array(size);
    this.alive = new Uint8Array(size);
  }

  // Binary min-heap of merge keys. n - 1 initial pairs plus at most two per merge: 3n slots suffice.
  private heapPush(key: number): void {
    const heap = this.heap;
    let i = this.heapSize++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (heap[parent] <= key) break;
      heap[i] = heap[parent];
      i = parent;
    }
    heap[i] = key;
  }

  private heapPop(): number {
    const heap = this.heap;
    const top = heap[0];
    const size = --this.heapSize;
    if (size === 0) return top;
    const key = heap[size];
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= size) break;
      if (child + 1 < size && heap[child + 1] < heap[child]) child++;
      if (key <= heap[child]) break;
      heap[i] = heap[child];
      i = child;
    }
    heap[i] = key;
    return top;
  }

  // -------------------------------------------------------------------------------------------
  // Decode

  /** The bytes the valid id `id` decodes to (a view: do not write), or null for an id that names no token. */
  bytesOf(id: number): Uint8Array | null {
    if (!this.isValidId(id)) return null;
    return this.tokenBytes.subarray(this.tokenByteStart[id], this.tokenByteStart[id + 1]);
  }

  /** True when the valid id `id` decodes to whole UTF-8 characters (no split multi-byte character). */
  isWholeCharacters(id: number): boolean {
    return this.tokenIsWhole[id] === 1;
  }

  /** Number of code points of a whole-character token (see `isWholeCharacters`). */
  tokenCodePointCount(id: number): number {
    return this.tokenCodePointStart[id + 1] - this.tokenCodePointStart[id];
  }

  /** Writes the code points of a whole-character token at `offset` (up to `out.length`); returns the new offset. */
  writeTokenCodePoints(id: number, out: Int32Array, offset: number): number {
    const start = this.tokenCodePointStart[id];
    const end = this.tokenCodePointStart[id + 1];
    const source = this.tokenCodePoints;
    const stop = Math.max(start, Math.min(end, start + out.length - offset));
    for (let i = start; i < stop; i++) out[offset++] = source[i];
    return offset + (end - stop);
  }

  /** Number of decoded bytes of `id` (0 for an invalid id). */
  tokenByteLength(id: number): number {
    return this.isValidId(id) ? this.tokenByteStart[id + 1] - this.tokenByteStart[id] : 0;
  }

  /**
   * Appends the decoded bytes of a valid id to `out` at `offset`; returns the new offset.
   * The caller checks `isValidId` and sizes `out` (see `tokenByteLength`).
   */
  writeTokenBytes(id: number, out: Uint8Array, offset: number): number {
    const start = this.tokenByteStart[id];
    const end = this.tokenByteStart[id + 1];
    const bytes = this.tokenBytes;
    for (let i = start; i < end; i++) out[offset++] = bytes[i];
    return offset;
  }

  /** Decoded bytes of the valid ids; ids that name no token are skipped, as `tokenizers` does. */
  decodeBytes(ids: ArrayLike<number>): Uint8Array {
    let total = 0;
    for (let i = 0; i < ids.length; i++) total += this.tokenByteLength(ids[i]);
    const out = new Uint8Array(total);
    let offset = 0;
    for (let i = 0; i < ids.length; i++) if (this.isValidId(ids[i])) offset = this.writeTokenBytes(ids[i], out, offset);
    return out;
  }

  /** Decoded text, invalid UTF-8 replaced by U+FFFD per maximal subpart (`tokenizers`' ByteLevel decoder). */
  decode(ids: ArrayLike<number>): string {
    const codePoints = decodeUtf8Lossy(this.decodeBytes(ids));
    let text = "";
    for (let i = 0; i < codePoints.length; i += 4096) text += String.fromCodePoint(...codePoints.slice(i, i + 4096));
    return text;
  }

  // -------------------------------------------------------------------------------------------
  // Serialization

  /** tokenizer.json text in the `tokenizers` layout (vocab in id order, merges as pairs). */
  toTokenizerJsonText(): string {
    const vocabLines: string[] = [];
    for (let id = 0; id < this.vocabSize; id++) {
      const token = this.tokens[id];
      if (token !== undefined && this.vocab.get(token) === id) vocabLines.push(`      ${JSON.stringify(token)}: ${id}`);
    }
    const mergeLines = this.mergeList.map(([a, b]) => `      ${JSON.stringify([a, b])}`);
    const byteLevel = (addPrefixSpace: boolean, trimOffsets: boolean) => ({
      type: "ByteLevel",
      add_prefix_space: addPrefixSpace,
      trim_offsets: trimOffsets,
      use_regex: this.useRegex,
    });
    const head = {
      version: "1.0",
      truncation: null,
      padding: null,
      added_tokens: this.addedTokens
        .slice()
        .sort((a, b) => a.id - b.id)
        .map((t) => ({ id: t.id, content: t.content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: t.special })),
      normalizer: null,
      pre_tokenizer: byteLevel(this.addPrefixSpace, true),
      post_processor: byteLevel(true, false),
      decoder: byteLevel(true, true),
    };
    const model = {
      type: "BPE",
      dropout: null,
      unk_token: this.unkToken,
      continuing_subword_prefix: this.continuingSubwordPrefix,
      end_of_word_suffix: this.endOfWordSuffix,
      fuse_unk: this.fuseUnk,
      byte_fallback: false,
      ignore_merges: this.ignoreMerges,
    };
    const headText = JSON.stringify(head, null, 2);
    const modelText = JSON.stringify(model, null, 2).replace(/\n/g, "\n  ");
    return (
      headText.slice(0, -2) +
      `,\n  "model": ${modelText.slice(0, -4)},\n    "vocab": {\n${vocabLines.join(",\n")}\n    },\n    "merges": [\n${mergeLines.join(",\n")}\n    ]\n  }\n}\n`
    );
  }
}

/** Bytes the ByteLevel decoder gives for one token string. */
function tokenToBytes(token: string): Uint8Array {
  const bytes: number[] = [];
  for (const ch of token) {
    const b = BYTE_TABLE.charToByte.get(ch);
    if (b === undefined) return encodeUtf8(token);
    bytes.push(b);
  }
  return Uint8Array.from(bytes);
}

// ---------------------------------------------------------------------------------------------
// tokenizer.json validation: every field that changes the ids is checked, anything this
// implementation would silently get wrong is rejected with a one-line reason.

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "string") return JSON.stringify(value.length > 40 ? value.slice(0, 40) + "..." : value);
  if (typeof value === "object") return "an object";
  return String(value);
}

function optionalString(section: string, json: Json, key: string): string | null {
  const value = json[key];
  if (value === undefined || value === null) return null;
  if (typeof value !== "string") throw new Error(`${section}.${key}: expected a string or null, got ${describe(value)}`);
  return value;
}

function optionalBoolean(section: string, json: Json, key: string, fallback: boolean): boolean {
  const value = json[key];
  if (value === undefined || value === null) return fallback;
  if (typeof value !== "boolean") throw new Error(`${section}.${key}: expected a boolean, got ${describe(value)}`);
  return value;
}

function requireByteLevel(section: string, value: unknown, allowNull: boolean): Json | null {
  if (value === null || value === undefined) {
    if (allowNull) return null;
    throw new Error(`tokenizer.json ${section}: expected a ByteLevel ${section}, got ${describe(value)}`);
  }
  if (!isObject(value) || value.type !== "ByteLevel") {
    throw new Error(`tokenizer.json ${section}: expected type "ByteLevel", got ${isObject(value) ? describe(value.type) : describe(value)}`);
  }
  return value;
}

export function parseTokenizerJson(json: unknown): ByteLevelBpeOptions {
  if (!isObject(json)) throw new Error(`tokenizer.json: expected a JSON object, got ${describe(json)}`);
  for (const key of ["truncation", "padding", "normalizer"] as const) {
    if (json[key] !== null && json[key] !== undefined) throw new Error(`tokenizer.json ${key}: expected null (not supported), got ${describe(json[key])}`);
  }
  const preTokenizer = requireByteLevel("pre_tokenizer", json.pre_tokenizer, false)!;
  requireByteLevel("post_processor", json.post_processor, true);
  requireByteLevel("decoder", json.decoder, false);

  const model = json.model;
  if (!isObject(model)) throw new Error(`tokenizer.json model: expected an object, got ${describe(model)}`);
  if (model.type !== undefined && model.type !== "BPE") throw new Error(`tokenizer.json model.type: expected "BPE", got ${describe(model.type)}`);
  if (model.dropout !== undefined && model.dropout !== null && model.dropout !== 0) {
    throw new Error(`tokenizer.json model.dropout: expected null or 0 (deterministic encoding), got ${describe(model.dropout)}`);
  }
  if (optionalBoolean("model", model, "byte_fallback", false)) throw new Error("tokenizer.json model.byte_fallback: expected false (not supported), got true");
  if (!isObject(model.vocab)) throw new Error(`tokenizer.json model.vocab: expected an object of token -> id, got ${describe(model.vocab)}`);
  const vocab = new Map<string, number>();
  for (const [token, id] of Object.entries(model.vocab)) {
    if (typeof id !== "number" || !Number.isInteger(id) || id < 0) throw new Error(`tokenizer.json model.vocab[${JSON.stringify(token)}]: expected a non-negative integer id, got ${describe(id)}`);
    vocab.set(token, id);
  }
  if (!Array.isArray(model.merges)) throw new Error(`tokenizer.json model.merges: expected an array, got ${describe(model.merges)}`);
  const merges: Array<[string, string]> = model.merges.map((m: unknown, i: number) => {
    if (typeof m === "string") {
      const parts = m.split(" ");
      if (parts.length !== 2) throw new Error(`tokenizer.json model.merges[${i}]: expected "left right", got ${describe(m)}`);
      return [parts[0], parts[1]];
    }
    if (Array.isArray(m) && m.length === 2 && typeof m[0] === "string" && typeof m[1] === "string") return [m[0], m[1]];
    throw new Error(`tokenizer.json model.merges[${i}]: expected "left right" or [left, right], got ${describe(m)}`);
  });

  const addedTokens: AddedToken[] = [];
  const added = json.added_tokens ?? [];
  if (!Array.isArray(added)) throw new Error(`tokenizer.json added_tokens: expected an array, got ${describe(added)}`);
  added.forEach((t: unknown, i: number) => {
    if (!isObject(t) || typeof t.content !== "string" || typeof t.id !== "number" || !Number.isInteger(t.id) || t.id < 0) {
      throw new Error(`tokenizer.json added_tokens[${i}]: expected {id, content}, got ${describe(t)}`);
    }
    for (const flag of ["single_word", "lstrip", "rstrip"] as const) {
      if (t[flag] === true) throw new Error(`tokenizer.json added_tokens[${i}].${flag}: expected false (not supported), got true`);
    }
    addedTokens.push({ id: t.id, content: t.content, special: t.special === true });
  });

  return {
    vocab,
    merges,
    addedTokens,
    addPrefixSpace: optionalBoolean("pre_tokenizer", preTokenizer, "add_prefix_space", true),
    useRegex: optionalBoolean("pre_tokenizer", preTokenizer, "use_regex", true),
    continuingSubwordPrefix: optionalString("model", model, "continuing_subword_prefix"),
    endOfWordSuffix: optionalString("model", model, "end_of_word_suffix"),
    unkToken: optionalString("model", model, "unk_token"),
    fuseUnk: optionalBoolean("model", model, "fuse_unk", false),
    ignoreMerges: optionalBoolean("model", model, "ignore_merges", false),
  };
}
