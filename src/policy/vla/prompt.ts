// NORA's prompt as token ids: one chat user turn with the image and the raw instruction, after the Qwen2.5-VL chat
// template (system turn, <|vision_start|> image pads <|vision_end|> instruction, generation prompt), and the 3-D
// rotary positions (t, h, w) the Qwen2-VL decoder takes for it.
import type { VlaTextTokenizer } from "./tokenizer.js";

/** Special token ids the prompt uses, resolved once from the tokenizer. */
export interface PromptTokens {
  imStart: number;
  imEnd: number;
  visionStart: number;
  visionEnd: number;
  imagePad: number;
  /** "\n", "system\n...", "user\n", "assistant\n" as ids (text between special tokens is encoded on its own). */
  newline: number[];
  systemTurn: number[] | null;
  user: number[];
  assistant: number[];
}

export function promptTokens(tokenizer: VlaTextTokenizer, systemPrompt: string | null): PromptTokens {
  return {
    imStart: tokenizer.requireTokenId("<|im_start|>", "chat turn start"),
    imEnd: tokenizer.requireTokenId("<|im_end|>", "chat turn end"),
    visionStart: tokenizer.requireTokenId("<|vision_start|>", "vision start"),
    visionEnd: tokenizer.requireTokenId("<|vision_end|>", "vision end"),
    imagePad: tokenizer.requireTokenId("<|image_pad|>", "image pad"),
    newline: tokenizer.encode("\n"),
    systemTurn: systemPrompt === null ? null : tokenizer.encode(`system\n${systemPrompt}`),
    user: tokenizer.encode("user\n"),
    assistant: tokenizer.encode("assistant\n"),
  };
}

export interface Prompt {
  ids: number[];
  /** Index of the first image pad. */
  imageStart: number;
  imageTokens: number;
}

/**
 * `<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n<|vision_start|>{pads}<|vision_end|>{instruction}<|im_end|>\n<|im_start|>assistant\n`
 */
export function buildPrompt(tokenizer: VlaTextTokenizer, tokens: PromptTokens, instruction: string, imageTokens: number): Prompt {
  const ids: number[] = [];
  const push = (part: readonly number[]) => {
    for (const id of part) ids.push(id);
  };
  if (tokens.systemTurn !== null) {
    ids.push(tokens.imStart);
    push(tokens.systemTurn);
    ids.push(tokens.imEnd);
    push(tokens.newline);
  }
  ids.push(tokens.imStart);
  push(tokens.user);
  ids.push(tokens.visionStart);
  const imageStart = ids.length;
  for (let i = 0; i < imageTokens; i++) ids.push(tokens.imagePad);
  ids.push(tokens.visionEnd);
  push(tokenizer.encode(instruction));
  ids.push(tokens.imEnd);
  push(tokens.newline);
  ids.push(tokens.imStart);
  push(tokens.assistant);
  return { ids, imageStart, imageTokens };
}

export interface RopePositions {
  /** [3, length] row-major: temporal, height, width position of every prompt token. */
  positions: BigInt64Array;
  /**
   * Offset of generated tokens: the token at sequence index i (i >= prompt length) has position i + ropeDelta in all
   * three rows (the image compresses positions, so text after it runs ahead of its index).
   */
  ropeDelta: number;
}

/**
 * Qwen2-VL's rotary index for one prompt with one image: text before the image counts 0, 1, ...; the image's merged
 * tokens take (start + t, start + row, start + column); text after it continues one past the largest position.
 */
export function ropePositions(prompt: Prompt, gridThw: readonly [number, number, number], mergeSize: number): RopePositions {
  const n = prompt.ids.length;
  const [gt, gh0, gw0] = gridThw;
  const gh = gh0 / mergeSize;
  const gw = gw0 / mergeSize;
  if (gt * gh * gw !== prompt.imageTokens) {
    throw new Error(`vla prompt: expected ${prompt.imageTokens} image tokens for the grid ${gt}x${gh0}x${gw0} / merge ${mergeSize}, got ${gt * gh * gw}`);
  }
  const pos = new BigInt64Array(3 * n);
  const s = prompt.imageStart;
  for (let i = 0; i < s; i++) pos[i] = pos[n + i] = pos[2 * n + i] = BigInt(i);
  let max = s - 1;
  for (let k = 0; k < prompt.imageTokens; k++) {
    const t = s + Math.floor(k / (gh * gw));
    const h = s + (Math.floor(k / gw) % gh);
    const w = s + (k % gw);
    pos[s + k] = BigInt(t);
    pos[n + s + k] = BigInt(h);
    pos[2 * n + s + k] = BigInt(w);
    max = Math.max(max, t, h, w);
  }
  const after = s + prompt.imageTokens;
  for (let i = after; i < n; i++) {
    const p = BigInt(max + 1 + (i - after));
    pos[i] = pos[n + i] = pos[2 * n + i] = p;
  }
  const last = n > after ? max + (n - after) : max;
  return { positions: pos, ropeDelta: last + 1 - n };
}
