// FAST / FAST+ action tokenizer (Pertsch et al. 2025): orthonormal DCT along time, scaled and
// rounded coefficients as Unicode code points, byte-level BPE over that string. Loads and writes
// the Hugging Face layout (tokenizer.json + processor_config.json), e.g. the universal FAST+ files.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ByteLevelBpe, splitGpt2, toByteLevel } from "./byteLevelBpe.js";
import { trainByteLevelBpe } from "./bpeTrainer.js";
import { DctPlanCache } from "./dct.js";
import { FastLengthGrammar } from "./fastGrammar.js";
import { decodeUtf8Lossy, decodeUtf8Strict, isSurrogate, MAX_CODE_POINT, type StrictDecodeResult } from "./utf8.js";

export type DecodeResult = { ok: true; actions: number[][] } | { ok: false; error: string };

/**
 * What decode does with a token sequence that does not hold a clean T x D chunk.
 * - "error" (default): report it (`ok: false`).
 * - "reference-zeros": return what the reference processor returns: all zeros when the coefficient
 *   count is wrong (zeros are mid-range in normalized space, not "stop"), ids beyond the vocabulary
 *   silently dropped, split UTF-8 characters decoded as U+FFFD. For parity tests only. (The
 *   transformers 4.x processor also ran `clean_up_tokenization_spaces`, which FAST+'s
 *   tokenizer_config turns on and which can drop a space coefficient (-322) before ". , ! ?";
 *   not reproduced: newer transformers skip it for BPE, and `tokenizers` never does it.)
 * - "lenient": pad a short sequence with zero coefficients, truncate a long one; every other
 *   problem (bad ids, split characters, out-of-range coefficients) is still reported.
 */
export type MalformedPolicy = "error" | "reference-zeros" | "lenient";

/** processor_config.json of the Hugging Face layout. Unknown fields are kept and written back by `save`. */
export interface FastProcessorConfig {
  scale: number;
  min_token: number;
  vocab_size?: number;
  time_horizon?: number | null;
  action_dim?: number | null;
  [key: string]: unknown;
}

export interface FastFitOptions {
  /** Multiplier before rounding the DCT coefficients (reference default 10). */
  scale?: number;
  /** Target BPE vocabulary, which also bounds the coefficient range (reference default 1024). */
  vocabSize?: number;
  /** A pair must occur at least this often to become a merge (reference: 2). */
  minFrequency?: number;
}

/** The reference processor's default vocabulary size, used when processor_config.json has none. */
const DEFAULT_VOCAB_SIZE = 1024;
/** Code points must stay below the UTF-16 surrogates for the coefficient string to be valid text. */
const MAX_VOCAB_SIZE = 0xd800;

/** numpy's `around`: halves go to the even neighbour. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  // Math.round sends halves up; an odd result sitting exactly half above x must go down instead.
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

export class FastTokenizer {
  readonly scale: number;
  readonly minToken: number;
  /** Size of the coefficient alphabet: valid coefficients are minToken .. minToken + vocabSize - 1. */
  readonly vocabSize: number;
  readonly bpe: ByteLevelBpe;
  private readonly processorConfig: FastProcessorConfig;
  private readonly plans = new DctPlanCache();
  /** Per-token coefficients for the decode hot path. */
  private readonly tokenTable: TokenCoefficientTable;

  // Decode workspace: grows to the largest input seen, then is reused.
  private byteBuffer = new Uint8Array(1024);
  private codePoints = new Int32Array(512);
  private readonly utf8Result: StrictDecodeResult = { count: 0, invalidAt: -1 };
  // Encode workspace.
  private chunkBuffer = new Float64Array(512);
  private coefficientBuffer = new Float64Array(512);

  private constructor(bpe: ByteLevelBpe, processorConfig: FastProcessorConfig) {
    const { scale, min_token: minToken } = processorConfig;
    const vocabSize = processorConfig.vocab_size ?? DEFAULT_VOCAB_SIZE;
    if (typeof scale !== "number" || !Number.isFinite(scale) || scale <= 0) {
      throw new Error(`FAST processor config scale: expected a positive number, got ${String(scale)}`);
    }
    if (typeof minToken !== "number" || !Number.isInteger(minToken)) {
      throw new Error(`FAST processor config min_token: expected an integer, got ${String(minToken)}`);
    }
    if (typeof vocabSize !== "number" || !Number.isInteger(vocabSize) || vocabSize < 1 || vocabSize > MAX_VOCAB_SIZE) {
      throw new Error(`FAST processor config vocab_size: expected an integer in [1, ${MAX_VOCAB_SIZE}], got ${String(vocabSize)}`);
    }
    this.bpe = bpe;
    this.scale = scale;
    this.minToken = minToken;
    this.vocabSize = vocabSize;
    this.processorConfig = { ...processorConfig, vocab_size: vocabSize };
    this.tokenTable = buildTokenTable(bpe, minToken, vocabSize, scale);
  }

  /** Loads the Hugging Face layout: `dir/tokenizer.json` and `dir/processor_config.json`. */
  static load(dir: string): FastTokenizer {
    const tokenizerJson = readJsonFile(join(dir, "tokenizer.json"));
    const processorConfig = readJsonFile(join(dir, "processor_config.json"));
    return FastTokenizer.fromJson(tokenizerJson, processorConfig as FastProcessorConfig);
  }

  static fromJson(tokenizerJson: unknown, processorConfig: FastProcessorConfig): FastTokenizer {
    if (typeof processorConfig !== "object" || processorConfig === null || Array.isArray(processorConfig)) {
      throw new Error(`FAST processor config: expected an object with scale and min_token, got ${processorConfig === null ? "null" : typeof processorConfig}`);
    }
    return new FastTokenizer(ByteLevelBpe.fromTokenizerJson(tokenizerJson), processorConfig);
  }

  // -------------------------------------------------------------------------------------------
  // Encode

  /** Token ids of one normalized chunk (T rows of D values), as the reference processor gives them. */
  encode(chunk: number[][]): number[] {
    const { steps, dim } = validateChunk(chunk, "FAST encode");
    const n = steps * dim;
    if (this.chunkBuffer.length < n) {
      this.chunkBuffer = new Float64Array(n);
      this.coefficientBuffer = new Float64Array(n);
    }
    const values = this.chunkBuffer;
    for (let t = 0; t < steps; t++) for (let d = 0; d < dim; d++) values[t * dim + d] = chunk[t][d];
    const coefficients = this.coefficientBuffer;
    this.plans.get(steps).forward(values, dim, coefficients);
    // Rounded coefficients as code points max(q - minToken, 0), row-major (frequency, dimension).
    if (this.codePoints.length < n) this.codePoints = new Int32Array(2 * n);
    const codePoints = this.codePoints;
    for (let i = 0; i < n; i++) {
      const q = roundHalfEven(coefficients[i] * this.scale);
      const codePoint = Math.max(q - this.minToken, 0);
      if (codePoint > MAX_CODE_POINT || isSurrogate(codePoint)) {
        const where = `frequency ${Math.floor(i / dim)} of ${steps}, dimension ${i % dim}`;
        throw new Error(
          `FAST encode: coefficient ${q} (${where}) maps to code point ${codePoint}: expected a code point outside U+D800-DFFF ` +
            `and at most U+10FFFF (is the chunk normalized to about [-1, 1]?)`,
        );
      }
      codePoints[i] = codePoint;
    }
    const ids: number[] = [];
    this.bpe.encodeCodePoints(codePoints, n, ids);
    return ids;
  }

  // -------------------------------------------------------------------------------------------
  // Decode

  /** Decodes one chunk of `timeHorizon` x `actionDim` actions; see `MalformedPolicy` for bad sequences. */
  decode(tokens: number[], timeHorizon: number, actionDim: number, options?: { onMalformed?: MalformedPolicy }): DecodeResult {
    const policy = options?.onMalformed ?? "error";
    if (policy !== "error" && policy !== "reference-zeros" && policy !== "lenient") {
      return { ok: false, error: `FAST decode: expected onMalformed "error", "reference-zeros" or "lenient", got ${JSON.stringify(policy)}` };
    }
    if (!Array.isArray(tokens) && !ArrayBuffer.isView(tokens)) {
      return { ok: false, error: `FAST decode: expected an array of token ids, got ${tokens === null ? "null" : typeof tokens}` };
    }
    const shapeError = checkShape(timeHorizon, actionDim);
    if (shapeError !== null) return { ok: false, error: shapeError };
    const out = new Float64Array(timeHorizon * actionDim);
    const error =
      policy === "reference-zeros" ? this.decodeLikeReference(tokens, timeHorizon, actionDim, out) : this.decodeChecked(tokens, timeHorizon, actionDim, out, policy === "lenient");
    if (error !== null) return { ok: false, error };
    const actions: number[][] = new Array(timeHorizon);
    for (let t = 0; t < timeHorizon; t++) {
      const row: number[] = new Array(actionDim);
      for (let d = 0; d < actionDim; d++) row[d] = out[t * actionDim + d];
      actions[t] = row;
    }
    return { ok: true, actions };
  }

  /**
   * Hot path for the runtime: strict decode of T*D actions, row-major into `out`, without allocating
   * (buffers grow only when a larger chunk than any before arrives). Returns null or the error line.
   */
  decodeInto(tokens: ArrayLike<number>, timeHorizon: number, actionDim: number, out: Float64Array): string | null {
    const shapeError = checkShape(timeHorizon, actionDim);
    if (shapeError !== null) return shapeError;
    if (!(out instanceof Float64Array) || out.length < timeHorizon * actionDim) {
      return `FAST decodeInto: expected a Float64Array output of at least ${timeHorizon * actionDim} values, got ${out instanceof Float64Array ? out.length : typeof out}`;
    }
    return this.decodeChecked(tokens, timeHorizon, actionDim, out, false);
  }

  /** Strict or lenient decode into `out`. */
  private decodeChecked(tokens: ArrayLike<number>, steps: number, dim: number, out: Float64Array, lenient: boolean): string | null {
    const bpe = this.bpe;
    const table = this.tokenTable;
    const expected = steps * dim;
    let count = 0;
    let simple = true;
    for (let i = 0; i < tokens.length; i++) {
      const id = tokens[i];
      if (!bpe.isValidId(id)) {
        return `FAST decode: expected token ids that are integers in [0, ${bpe.vocabSize - 1}], got ${describeNumber(id)} at position ${i}`;
      }
      const n = table.coefficientCount[id];
      if (n < 0) simple = false;
      else count += n;
    }
    if (!simple || (count !== expected && lenient)) return this.decodeGeneral(tokens, steps, dim, out, lenient);
    if (count !== expected) return `FAST decode: expected ${expected} coefficients (${steps} x ${dim}), got ${count}`;
    // Every token holds whole, in-range coefficients: add each token's non-zero ones directly.
    const plan = this.plans.get(steps);
    plan.beginInverse(dim);
    const { nonZeroStart, nonZeroOffset, nonZeroValue, coefficientCount } = table;
    let position = 0;
    for (let i = 0; i < tokens.length; i++) {
      const id = tokens[i];
      for (let e = nonZeroStart[id], end = nonZeroStart[id + 1]; e < end; e++) {
        const index = position + nonZeroOffset[e];
        const frequency = (index / dim) | 0;
        plan.addCoefficient(frequency, index - frequency * dim, nonZeroValue[e]);
      }
      position += coefficientCount[id];
    }
    plan.finishInverse(dim, out);
    return null;
  }

  /** Decode through the bytes: tokens that split characters, out-of-range coefficients, lenient padding. */
  private decodeGeneral(tokens: ArrayLike<number>, steps: number, dim: number, out: Float64Array, lenient: boolean): string | null {
    const bpe = this.bpe;
    let byteCount = 0;
    for (let i = 0; i < tokens.length; i++) byteCount += bpe.tokenByteLength(tokens[i]);
    if (this.byteBuffer.length < byteCount) this.byteBuffer = new Uint8Array(2 * byteCount);
    const bytes = this.byteBuffer;
    let offset = 0;
    for (let i = 0; i < tokens.length; i++) offset = bpe.writeTokenBytes(tokens[i], bytes, offset);
    const expected = steps * dim;
    if (this.codePoints.length < expected) this.codePoints = new Int32Array(2 * expected);
    const codePoints = this.codePoints;
    const utf8 = decodeUtf8Strict(bytes, byteCount, codePoints, this.utf8Result);
    if (utf8.invalidAt >= 0) {
      return `FAST decode: expected whole UTF-8 characters, got a multi-byte character split at token position ${this.tokenAtByte(tokens, utf8.invalidAt)} (it would decode to U+FFFD, a coefficient of ${0xfffd + this.minToken})`;
    }
    const count = utf8.count;
    if (count !== expected) {
      if (!lenient) return `FAST decode: expected ${expected} coefficients (${steps} x ${dim}), got ${count}`;
      for (let i = count; i < expected; i++) codePoints[i] = -this.minToken; // zero coefficient
    }
    const maxCodePoint = this.vocabSize - 1;
    for (let i = 0; i < expected; i++) {
      const codePoint = codePoints[i];
      if (codePoint > maxCodePoint) {
        return `FAST decode: expected coefficients in [${this.minToken}, ${this.minToken + maxCodePoint}], got ${codePoint + this.minToken} (U+${codePoint.toString(16).toUpperCase().padStart(4, "0")}) at position ${i}`;
      }
    }
    const plan = this.plans.get(steps);
    plan.beginInverse(dim);
    const zeroCodePoint = -this.minToken;
    for (let i = 0; i < expected; i++) {
      const codePoint = codePoints[i];
      if (codePoint === zeroCodePoint) continue;
      const frequency = (i / dim) | 0;
      plan.addCoefficient(frequency, i - frequency * dim, (codePoint + this.minToken) / this.scale);
    }
    plan.finishInverse(dim, out);
    return null;
  }

  /** The reference decode: ids beyond the vocabulary dropped, lossy UTF-8, all zeros on a count mismatch. */
  private decodeLikeReference(tokens: ArrayLike<number>, steps: number, dim: number, out: Float64Array): string | null {
    const kept: number[] = [];
    for (let i = 0; i < tokens.length; i++) {
      const id = tokens[i];
      // Negative or fractional ids make the reference raise inside its try block: zeros.
      if (!Number.isInteger(id) || id < 0) return zeroFill(out);
      if (this.bpe.isValidId(id)) kept.push(id);
    }
    const codePoints = decodeUtf8Lossy(this.bpe.decodeBytes(kept));
    if (codePoints.length !== steps * dim) return zeroFill(out);
    const coefficients = new Float64Array(steps * dim);
    for (let i = 0; i < coefficients.length; i++) coefficients[i] = (codePoints[i] + this.minToken) / this.scale;
    this.plans.get(steps).inverse(coefficients, dim, out);
    return null;
  }

  private tokenAtByte(tokens: ArrayLike<number>, byteOffset: number): number {
    let offset = 0;
    for (let i = 0; i < tokens.length; i++) {
      offset += this.bpe.tokenByteLength(tokens[i]);
      if (offset > byteOffset) return i;
    }
    return tokens.length - 1;
  }

  // -------------------------------------------------------------------------------------------
  // Fit and save

  /**
   * Trains a tokenizer the way the reference `fit` does: DCT every chunk, round `c * scale`, take
   * the min and max (the span must fit the vocabulary), then train a byte-level BPE whose initial
   * alphabet is the whole coefficient range, min frequency 2 by default.
   */
  /** The constrained-decoding grammar for chunks of steps x dim (see FastLengthGrammar). */
  lengthGrammar(steps: number, dim: number): FastLengthGrammar {
    const bytes = Array.from({ length: this.bpe.vocabSize }, (_, id) => this.bpe.bytesOf(id));
    return new FastLengthGrammar(bytes, steps * dim, this.vocabSize);
  }

  static fit(chunks: number[][][], options: FastFitOptions = {}): FastTokenizer {
    const scale = options.scale ?? 10;
    const vocabSize = options.vocabSize ?? DEFAULT_VOCAB_SIZE;
    const minFrequency = options.minFrequency ?? 2;
    if (!Number.isFinite(scale) || scale <= 0) throw new Error(`FAST fit scale: expected a positive number, got ${scale}`);
    if (!Number.isInteger(vocabSize) || vocabSize < 1 || vocabSize > MAX_VOCAB_SIZE) {
      throw new Error(`FAST fit vocabSize: expected an integer in [1, ${MAX_VOCAB_SIZE}], got ${vocabSize}`);
    }
    if (!Number.isInteger(minFrequency) || minFrequency < 0) throw new Error(`FAST fit minFrequency: expected a non-negative integer, got ${minFrequency}`);
    if (!Array.isArray(chunks) || chunks.length === 0) throw new Error(`FAST fit: expected a non-empty array of chunks, got ${Array.isArray(chunks) ? "an empty array" : typeof chunks}`);

    const plans = new DctPlanCache();
    const quantized: Int32Array[] = [];
    let min = Infinity;
    let max = -Infinity;
    chunks.forEach((chunk, index) => {
      const { steps, dim } = validateChunk(chunk, `FAST fit (chunk ${index})`);
      const values = new Float64Array(steps * dim);
      for (let t = 0; t < steps; t++) for (let d = 0; d < dim; d++) values[t * dim + d] = chunk[t][d];
      const coefficients = new Float64Array(steps * dim);
      plans.get(steps).forward(values, dim, coefficients);
      const q = new Int32Array(steps * dim);
      for (let i = 0; i < q.length; i++) {
        const v = roundHalfEven(coefficients[i] * scale);
        if (Math.abs(v) > 2 ** 30) throw new Error(`FAST fit (chunk ${index}): expected coefficients * scale within +-2^30, got ${v}`);
        q[i] = v;
        if (v < min) min = v;
        if (v > max) max = v;
      }
      quantized.push(q);
    });
    // The initial alphabet has max - min + 1 characters and must leave room in the vocabulary.
    if (max - min + 1 > vocabSize) {
      throw new Error(`FAST fit: rounded coefficients span [${min}, ${max}] (${max - min + 1} values): expected at most vocabSize = ${vocabSize} (raise vocabSize or lower scale)`);
    }

    const wordCounts = new Map<string, number>();
    for (const q of quantized) {
      let text = "";
      for (let i = 0; i < q.length; i++) text += String.fromCodePoint(q[i] - min);
      for (const piece of splitGpt2(text)) {
        const word = toByteLevel(piece);
        wordCounts.set(word, (wordCounts.get(word) ?? 0) + 1);
      }
    }
    const alphabet: string[] = [];
    for (let cp = 0; cp <= max - min; cp++) alphabet.push(String.fromCodePoint(cp));
    const trained = trainByteLevelBpe(wordCounts, { vocabSize, minFrequency, initialAlphabet: alphabet, maxTokenLength: 10000 });
    const bpe = new ByteLevelBpe({ vocab: trained.vocab, merges: trained.merges, addPrefixSpace: false, useRegex: true });
    return new FastTokenizer(bpe, { scale, min_token: min, vocab_size: vocabSize, time_horizon: null, action_dim: null });
  }

  /** Writes the Hugging Face layout: tokenizer.json, processor_config.json, tokenizer_config.json, special_tokens_map.json. */
  save(dir: string): void {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "tokenizer.json"), this.bpe.toTokenizerJsonText());
    const processorConfig: FastProcessorConfig = {
      action_dim: null,
      time_horizon: null,
      ...this.processorConfig,
      // The reference processor class lives in the FAST+ repository; "repo--module.Class" lets
      // `AutoProcessor.from_pretrained(dir, trust_remote_code=True)` fetch it from there.
      auto_map: { AutoProcessor: "physical-intelligence/fast--processing_action_tokenizer.UniversalActionProcessor" },
      processor_class: "UniversalActionProcessor",
      scale: this.scale,
      min_token: this.minToken,
      vocab_size: this.vocabSize,
    };
    writeFileSync(join(dir, "processor_config.json"), JSON.stringify(sortKeys(processorConfig), null, 2) + "\n");
    const tokenizerConfig = {
      added_tokens_decoder: {},
      auto_map: processorConfig.auto_map,
      // The reference `fit` turns clean-up off: it would drop the coefficient -322 (a space) before ". , ! ?".
      clean_up_tokenization_spaces: false,
      processor_class: "UniversalActionProcessor",
      tokenizer_class: "PreTrainedTokenizerFast",
    };
    writeFileSync(join(dir, "tokenizer_config.json"), JSON.stringify(tokenizerConfig, null, 2) + "\n");
    writeFileSync(join(dir, "special_tokens_map.json"), "{}\n");
  }
}

// ---------------------------------------------------------------------------------------------

/**
 * What each token decodes to, precomputed: the number of coefficients (-1 when the token splits a
 * character or holds an out-of-range coefficient: those go the slow, checked way) and its
 * non-zero coefficients as (offset in the token, coefficient / scale).
 */
interface TokenCoefficientTable {
  coefficientCount: Int32Array;
  nonZeroStart: Int32Array;
  nonZeroOffset: Int32Array;
  nonZeroValue: Float64Array;
}

function buildTokenTable(bpe: ByteLevelBpe, minToken: number, vocabSize: number, scale: number): TokenCoefficientTable {
  const ids = bpe.vocabSize;
  const coefficientCount = new Int32Array(ids).fill(-1);
  const nonZeroStart = new Int32Array(ids + 1);
  const offsets: number[] = [];
  const values: number[] = [];
  let codePoints = new Int32Array(64);
  for (let id = 0; id < ids; id++) {
    nonZeroStart[id] = offsets.length;
    if (!bpe.isValidId(id) || !bpe.isWholeCharacters(id)) continue;
    const n = bpe.tokenCodePointCount(id);
    if (codePoints.length < n) codePoints = new Int32Array(2 * n);
    bpe.writeTokenCodePoints(id, codePoints, 0);
    let inRange = true;
    for (let j = 0; j < n; j++) if (codePoints[j] >= vocabSize) inRange = false;
    if (!inRange) continue;
    coefficientCount[id] = n;
    for (let j = 0; j < n; j++) {
      const coefficient = codePoints[j] + minToken;
      if (coefficient === 0) continue;
      offsets.push(j);
      values.push(coefficient / scale); // the reference divides, so divide (not multiply by 1/scale)
    }
  }
  nonZeroStart[ids] = offsets.length;
  return { coefficientCount, nonZeroStart, nonZeroOffset: Int32Array.from(offsets), nonZeroValue: Float64Array.from(values) };
}

function readJsonFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new Error(`FAST load: expected a readable file ${path}, got ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`FAST load: expected valid JSON in ${path}, got ${(e as Error).message.split("\n")[0]}`);
  }
}

function validateChunk(chunk: unknown, what: string): { steps: number; dim: number } {
  if (!Array.isArray(chunk) || chunk.length === 0) {
    throw new Error(`${what}: expected a non-empty T x D array of numbers, got ${Array.isArray(chunk) ? "an empty array" : describeNumber(chunk)}`);
  }
  const first = chunk[0];
  if (!Array.isArray(first) || first.length === 0) throw new Error(`${what}: expected row 0 to be a non-empty array of numbers, got ${Array.isArray(first) ? "an empty array" : describeNumber(first)}`);
  const dim = first.length;
  for (let t = 0; t < chunk.length; t++) {
    const row = chunk[t];
    if (!Array.isArray(row) || row.length !== dim) {
      throw new Error(`${what}: expected every row to hold ${dim} values (T x D), got row ${t} with ${Array.isArray(row) ? row.length : describeNumber(row)}`);
    }
    for (let d = 0; d < dim; d++) {
      const v = row[d];
      if (typeof v !== "number" || !Number.isFinite(v)) throw new Error(`${what}: expected finite numbers, got ${describeNumber(v)} at [${t}][${d}]`);
    }
  }
  return { steps: chunk.length, dim };
}

function checkShape(timeHorizon: number, actionDim: number): string | null {
  if (!Number.isInteger(timeHorizon) || timeHorizon < 1 || !Number.isInteger(actionDim) || actionDim < 1) {
    return `FAST decode: expected timeHorizon and actionDim to be positive integers, got ${describeNumber(timeHorizon)} x ${describeNumber(actionDim)}`;
  }
  return null;
}

function describeNumber(value: unknown): string {
  if (typeof value === "number") return String(value);
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "string") return JSON.stringify(value);
  return typeof value;
}

function zeroFill(out: Float64Array): null {
  out.fill(0);
  return null;
}

function sortKeys<T extends Record<string, unknown>>(value: T): T {
  return Object.fromEntries(Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) as T;
}
