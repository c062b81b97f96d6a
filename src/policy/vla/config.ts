// What the VLA runner needs to know about a model besides its ONNX files: image size and normalization, prompt,
// where the action tokens sit in the vocabulary, the end tokens, and how long to generate. Defaults are NORA's
// (Qwen2.5-VL-3B + FAST+), so a real NORA export needs no config file; the bundled tiny model ships one.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

export type ActionTokenMapping =
  /** FAST id = model id - firstId (NORA: firstId 151665, 2048 ids). */
  | "offset"
  /** pi0-FAST: model id = vocabSize - 1 - 128 - FAST id (vocabSize read from the decoder's logits). */
  | "pi0-fast";

export interface VlaImageConfig {
  /** Size the camera image is resized to (NORA: 224 x 224). Multiples of patchSize * mergeSize. */
  width: number;
  height: number;
  patchSize: number;
  temporalPatchSize: number;
  mergeSize: number;
  mean: [number, number, number];
  std: [number, number, number];
}

/** How to turn the FAST ids into a chunk (optional: the caller may configure the decoder itself). */
export interface VlaChunkConfig {
  steps: number;
  dim: number;
  stepPeriodS: number;
  /** Folders/files relative to the model folder. */
  fastTokenizer: string;
  normStats: string;
  normStatsKey?: string;
  actionSpace: string;
  /** Where delta chunks start: "measured" (default) or "plan" (see DeltaOrigin). */
  deltaOrigin?: string;
}

/** Observation fields a prompt's state can be made of, in the order given. */
export const VLA_STATE_SOURCES = ["positions", "velocities", "wrench", "tactile"] as const;
export type VlaStateSource = (typeof VLA_STATE_SOURCES)[number];

/**
 * The robot state written into the prompt as text (pi0-FAST does this with 256 bins): the named observation fields
 * concatenated, normalized with the "state" q01/q99 of the chunk's norm stats, and each value written as its bin
 * number (see statePrompt.ts). Needs the chunk section.
 */
export interface VlaStateConfig {
  sources: VlaStateSource[];
  bins: number;
}

export interface VlaModelConfig {
  files: { visionEncoder: string; embedTokens: string; decoder: string; tokenizer: string };
  image: VlaImageConfig;
  /** The chat template's system turn (Qwen2.5-VL adds "You are a helpful assistant." when there is none); null: no system turn. */
  systemPrompt: string | null;
  actionTokens: { mapping: ActionTokenMapping; firstId: number; count: number };
  /** Token strings that end generation (resolved through the tokenizer's added tokens). */
  endTokens: string[];
  maxNewTokens: number;
  /** No end token within maxNewTokens: fail the call ("error") or hand the tokens on as they are ("truncate"). */
  onMaxTokens: "error" | "truncate";
  chunk?: VlaChunkConfig;
  /** The robot state as text after the instruction; absent: the prompt has the instruction only (NORA). */
  state?: VlaStateConfig;
  /** Greedy decoding may only choose FAST ids that keep the answer decodable to exactly chunk.steps x chunk.dim
   * coefficients (FastLengthGrammar); needs the chunk section. Default false. */
  constrainToChunk: boolean;
}

export const NORA_ACTION_FIRST_ID = 151665;
export const NORA_ACTION_COUNT = 2048;

/** NORA's settings: Qwen2.5-VL image processing at 224 x 224, its chat template, FAST+ ids from 151665. */
export function noraDefaults(): VlaModelConfig {
  return {
    files: { visionEncoder: "vision_encoder.onnx", embedTokens: "embed_tokens.onnx", decoder: "decoder_model_merged.onnx", tokenizer: "tokenizer.json" },
    image: {
      width: 224,
      height: 224,
      patchSize: 14,
      temporalPatchSize: 2,
      mergeSize: 2,
      mean: [0.48145466, 0.4578275, 0.40821073],
      std: [0.26862954, 0.26130258, 0.27577711],
    },
    systemPrompt: "You are a helpful assistant.",
    actionTokens: { mapping: "offset", firstId: NORA_ACTION_FIRST_ID, count: NORA_ACTION_COUNT },
    endTokens: ["<|im_end|>", "<|endoftext|>"],
    maxNewTokens: 64,
    onMaxTokens: "error",
    constrainToChunk: false,
  };
}

type Json = unknown;

function isObject(v: Json): v is Record<string, Json> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Check a parsed vla_config.json and fill what it leaves out with NORA's values. */
export function parseVlaConfig(json: Json, source = "vla config"): VlaModelConfig {
  if (!isObject(json)) throw new Error(`${source}: expected a JSON object, got ${Array.isArray(json) ? "an array" : typeof json}`);
  const d = noraDefaults();
  const fail = (what: string, got: unknown): never => {
    throw new Error(`${source}: expected ${what}, got ${JSON.stringify(got)?.slice(0, 80)}`);
  };
  const int = (v: Json, fallback: number, name: string, min: number, max: number): number => {
    if (v === undefined) return fallback;
    if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) fail(`${name} to be an integer in [${min}, ${max}]`, v);
    return v as number;
  };
  const str = (v: Json, fallback: string, name: string): string => {
    if (v === undefined) return fallback;
    if (typeof v !== "string" || v.length === 0) fail(`${name} to be a non-empty string`, v);
    return v as string;
  };
  const triple = (v: Json, fallback: [number, number, number], name: string, positive: boolean): [number, number, number] => {
    if (v === undefined) return fallback;
    if (!Array.isArray(v) || v.length !== 3 || !v.every((x) => typeof x === "number" && Number.isFinite(x) && (!positive || x > 0))) {
      fail(`${name} to be 3 ${positive ? "positive" : "finite"} numbers`, v);
    }
    return (v as number[]).slice() as [number, number, number];
  };

  const files = isObject(json.files) ? json.files : {};
  if (json.files !== undefined && !isObject(json.files)) fail("files to be an object", json.files);
  const image = isObject(json.image) ? json.image : {};
  if (json.image !== undefined && !isObject(json.image)) fail("image to be an object", json.image);
  const actions = isObject(json.actionTokens) ? json.actionTokens : {};
  if (json.actionTokens !== undefined && !isObject(json.actionTokens)) fail("actionTokens to be an object", json.actionTokens);
  const prompt = isObject(json.prompt) ? json.prompt : {};

  const mapping = actions.mapping ?? d.actionTokens.mapping;
  if (mapping !== "offset" && mapping !== "pi0-fast") fail(`actionTokens.mapping "offset" or "pi0-fast"`, mapping);
  let systemPrompt: string | null = d.systemPrompt;
  if (prompt.systemPrompt === null) systemPrompt = null;
  else if (prompt.systemPrompt !== undefined) {
    if (typeof prompt.systemPrompt !== "string") fail("prompt.systemPrompt to be a string or null", prompt.systemPrompt);
    systemPrompt = prompt.systemPrompt as string;
  }
  let endTokens = d.endTokens;
  if (json.endTokens !== undefined) {
    if (!Array.isArray(json.endTokens) || json.endTokens.length === 0 || !json.endTokens.every((t) => typeof t === "string" && t.length > 0)) {
      fail("endTokens to be a non-empty array of token strings", json.endTokens);
    }
    endTokens = (json.endTokens as string[]).slice();
  }
  const onMaxTokens = json.onMaxTokens ?? d.onMaxTokens;
  if (onMaxTokens !== "error" && onMaxTokens !== "truncate") fail(`onMaxTokens "error" or "truncate"`, onMaxTokens);

  const config: VlaModelConfig = {
    files: {
      visionEncoder: str(files.visionEncoder, d.files.visionEncoder, "files.visionEncoder"),
      embedTokens: str(files.embedTokens, d.files.embedTokens, "files.embedTokens"),
      decoder: str(files.decoder, d.files.decoder, "files.decoder"),
      tokenizer: str(files.tokenizer, d.files.tokenizer, "files.tokenizer"),
    },
    image: {
      width: int(image.width, d.image.width, "image.width", 1, 4096),
      height: int(image.height, d.image.height, "image.height", 1, 4096),
      patchSize: int(image.patchSize, d.image.patchSize, "image.patchSize", 1, 64),
      temporalPatchSize: int(image.temporalPatchSize, d.image.temporalPatchSize, "image.temporalPatchSize", 1, 8),
      mergeSize: int(image.mergeSize, d.image.mergeSize, "image.mergeSize", 1, 8),
      mean: triple(image.mean, d.image.mean, "image.mean", false),
      std: triple(image.std, d.image.std, "image.std", true),
    },
    systemPrompt,
    actionTokens: {
      mapping: mapping as ActionTokenMapping,
      firstId: int(actions.firstId, d.actionTokens.firstId, "actionTokens.firstId", 0, 10_000_000),
      count: int(actions.count, d.actionTokens.count, "actionTokens.count", 1, 65536),
    },
    endTokens,
    maxNewTokens: int(json.maxNewTokens, d.maxNewTokens, "maxNewTokens", 1, 4096),
    onMaxTokens: onMaxTokens as "error" | "truncate",
    constrainToChunk: false,
  };
  const factor = config.image.patchSize * config.image.mergeSize;
  if (config.image.width % factor !== 0 || config.image.height % factor !== 0) {
    throw new Error(`${source}: expected image width and height to be multiples of ${factor} (patch ${config.image.patchSize} x merge ${config.image.mergeSize}), got ${config.image.width}x${config.image.height}`);
  }
  if (json.chunk !== undefined) config.chunk = parseChunk(json.chunk, source);
  if (prompt.state !== undefined) {
    config.state = parseState(prompt.state, source);
    if (config.chunk === undefined) throw new Error(`${source}: prompt.state needs a "chunk" section (its norm stats hold the state's statistics), got none`);
  }
  if (json.constrainToChunk !== undefined) {
    if (typeof json.constrainToChunk !== "boolean") throw new Error(`${source}: expected constrainToChunk to be true or false, got ${JSON.stringify(json.constrainToChunk)}`);
    if (json.constrainToChunk && config.chunk === undefined) throw new Error(`${source}: constrainToChunk needs a "chunk" section (the FAST tokenizer and the chunk shape), got none`);
    config.constrainToChunk = json.constrainToChunk;
  }
  return config;
}

function parseChunk(v: Json, source: string): VlaChunkConfig {
  if (!isObject(v)) throw new Error(`${source}: expected chunk to be an object, got ${typeof v}`);
  const positiveInt = (x: Json, name: string): number => {
    if (typeof x !== "number" || !Number.isInteger(x) || x < 1 || x > 4096) throw new Error(`${source}: expected chunk.${name} to be a positive integer, got ${JSON.stringify(x)}`);
    return x;
  };
  const text = (x: Json, name: string): string => {
    if (typeof x !== "string" || x.length === 0) throw new Error(`${source}: expected chunk.${name} to be a non-empty string, got ${JSON.stringify(x)}`);
    return x;
  };
  if (typeof v.stepPeriodS !== "number" || !(v.stepPeriodS > 0) || !Number.isFinite(v.stepPeriodS)) {
    throw new Error(`${source}: expected chunk.stepPeriodS to be a positive number, got ${JSON.stringify(v.stepPeriodS)}`);
  }
  return {
    steps: positiveInt(v.steps, "steps"),
    dim: positiveInt(v.dim, "dim"),
    stepPeriodS: v.stepPeriodS,
    fastTokenizer: text(v.fastTokenizer, "fastTokenizer"),
    normStats: text(v.normStats, "normStats"),
    normStatsKey: v.normStatsKey === undefined ? undefined : text(v.normStatsKey, "normStatsKey"),
    actionSpace: text(v.actionSpace, "actionSpace"),
    deltaOrigin: v.deltaOrigin === undefined ? undefined : text(v.deltaOrigin, "deltaOrigin"),
  };
}

function parseState(v: Json, source: string): VlaStateConfig {
  if (!isObject(v)) throw new Error(`${source}: expected prompt.state to be an object (sources, bins), got ${JSON.stringify(v)?.slice(0, 80)}`);
  const sources = v.sources;
  if (!Array.isArray(sources) || sources.length === 0 || !sources.every((x) => VLA_STATE_SOURCES.includes(x as VlaStateSource))) {
    throw new Error(`${source}: expected prompt.state.sources to be a non-empty list of ${VLA_STATE_SOURCES.join(" | ")}, got ${JSON.stringify(sources)?.slice(0, 80)}`);
  }
  const bins = v.bins ?? 256;
  if (typeof bins !== "number" || !Number.isInteger(bins) || bins < 2 || bins > 10_000) {
    throw new Error(`${source}: expected prompt.state.bins to be an integer in [2, 10000], got ${JSON.stringify(bins)}`);
  }
  return { sources: sources.slice() as VlaStateSource[], bins };
}

/** vla_config.json of a model folder, or NORA's defaults when the folder has none. */
export function loadVlaConfig(dir: string): VlaModelConfig {
  const path = join(dir, "vla_config.json");
  if (!existsSync(path)) return noraDefaults();
  let json: Json;
  try {
    json = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new Error(`vla config ${path}: expected JSON, got ${(error as Error).message}`);
  }
  return parseVlaConfig(json, `vla config ${path}`);
}
