// Where a VLA keeps its action tokens and how they map to FAST ids, and the restricted greedy choice: only the
// action range and the end tokens can win, so a generated id is always a FAST id or an end token.
import type { FastLengthGrammar } from "../../tokenizers/fastGrammar.js";
import type { ActionTokenMapping } from "./config.js";

/** pi0-FAST keeps this many ids at the end of the vocabulary free of action tokens. */
const PI0_FAST_SKIP = 128;

export interface ActionTokenRange {
  readonly mapping: ActionTokenMapping;
  /** Smallest and largest model id of the range (inclusive). */
  readonly lowId: number;
  readonly highId: number;
  readonly count: number;
  toFastId(modelId: number): number;
  toModelId(fastId: number): number;
}

/**
 * The action ids for a vocabulary of `vocabSize` logits. "offset": FAST id = id - firstId (NORA); "pi0-fast":
 * id = vocabSize - 1 - 128 - FAST id. Throws a one-line error when the range does not fit the vocabulary.
 */
export function actionTokenRange(mapping: ActionTokenMapping, count: number, firstId: number, vocabSize: number): ActionTokenRange {
  if (!Number.isInteger(count) || count < 1) throw new Error(`vla action tokens: expected a positive count, got ${count}`);
  if (mapping === "offset") {
    const highId = firstId + count - 1;
    if (firstId < 0 || highId >= vocabSize) {
      throw new Error(`vla action tokens: expected ids ${firstId}..${highId} inside the decoder's vocabulary of ${vocabSize} logits, got a vocabulary that ends at ${vocabSize - 1}`);
    }
    return { mapping, lowId: firstId, highId, count, toFastId: (id) => id - firstId, toModelId: (fast) => firstId + fast };
  }
  const top = vocabSize - 1 - PI0_FAST_SKIP;
  const lowId = top - (count - 1);
  if (lowId < 0) throw new Error(`vla action tokens: expected a vocabulary of more than ${count + PI0_FAST_SKIP} logits for pi0-FAST ids, got ${vocabSize}`);
  return { mapping, lowId, highId: top, count, toFastId: (id) => top - id, toModelId: (fast) => top - fast };
}

/**
 * The id with the largest logit among the action range and the end ids (first wins on ties), reading the logits row
 * that starts at `offset`. NaN logits are never chosen; -1 when every candidate is NaN.
 */
export function restrictedArgmax(logits: Float32Array, offset: number, range: ActionTokenRange, endIds: readonly number[]): number {
  let best = -1;
  let bestValue = -Infinity;
  for (let id = range.lowId; id <= range.highId; id++) {
    const v = logits[offset + id];
    if (v > bestValue || (best < 0 && v === bestValue)) {
      bestValue = v;
      best = id;
    }
  }
  return pickAmong(logits, offset, endIds, best, bestValue);
}

/**
 * As restrictedArgmax, among the ids the grammar allows: action ids that keep the answer decodable, and the end ids
 * only once the chunk is complete (then nothing else). -1 when every allowed candidate's logit is NaN.
 */
export function constrainedArgmax(logits: Float32Array, offset: number, range: ActionTokenRange, endIds: readonly number[], grammar: FastLengthGrammar): number {
  if (grammar.complete) return pickAmong(logits, offset, endIds, -1, -Infinity);
  let best = -1;
  let bestValue = -Infinity;
  for (let id = range.lowId; id <= range.highId; id++) {
    const v = logits[offset + id];
    if (!(v > bestValue || (best < 0 && v === bestValue))) continue;
    if (!grammar.allows(range.toFastId(id))) continue;
    bestValue = v;
    best = id;
  }
  return best;
}

/** `ids` compete with the best so far (id `best` at `bestValue`; first wins on ties, NaN never wins). */
function pickAmong(logits: Float32Array, offset: number, ids: readonly number[], best: number, bestValue: number): number {
  for (const id of ids) {
    const v = logits[offset + id];
    if (v > bestValue || (best < 0 && v === bestValue)) {
      bestValue = v;
      best = id;
    }
  }
  return best;
}
