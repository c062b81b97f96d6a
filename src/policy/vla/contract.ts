// The ONNX contract of a Qwen2-VL-style split, read from the sessions themselves: names, element types and ranks
// of every input and output, and the sizes the runner needs (hidden width, layers, KV heads, head size). A file
// that does not fit fails here with one line saying what was expected and what the file has.
import { formatSpecs, inputSpecs, outputSpecs, staticDim, type InferenceSession, type TensorSpec } from "../onnx.js";

export interface VisionContract {
  /** Name of the grid input: "grid_thw" (onnx-community exports) or "image_grid_thw". */
  gridName: string;
  /** Width of one image feature, when the file states it. */
  featureWidth: number | null;
}

export interface DecoderContract {
  hidden: number;
  layers: number;
  kvHeads: number;
  headDim: number;
  /** Logits width when the file states it (else learned from the first run). */
  vocabSize: number | null;
  /** 3: Qwen2-VL mRoPE positions [3, batch, seq]; 2: plain [batch, seq]. */
  positionRank: 2 | 3;
  /** The merged decoder's optional switch between its first pass and its cached passes. */
  hasUseCacheBranch: boolean;
}

function byName(specs: TensorSpec[]): Map<string, TensorSpec> {
  return new Map(specs.map((s) => [s.name, s]));
}

function fits(spec: TensorSpec | undefined, type: string, rank: number): spec is TensorSpec {
  return spec !== undefined && spec.type === type && spec.shape.length === rank;
}

export function checkVisionEncoder(session: InferenceSession, patchDim: number): VisionContract {
  const inputs = inputSpecs(session);
  const outputs = outputSpecs(session);
  const ins = byName(inputs);
  const outs = byName(outputs);
  const gridName = ins.has("grid_thw") ? "grid_thw" : "image_grid_thw";
  const pixels = ins.get("pixel_values");
  const grid = ins.get(gridName);
  const features = outs.get("image_features");
  const pixelWidth = pixels ? staticDim(pixels, 1) : null;
  if (!fits(pixels, "float32", 2) || !fits(grid, "int64", 2) || inputs.length !== 2 || !fits(features, "float32", 2) || (pixelWidth !== null && pixelWidth !== patchDim)) {
    throw new Error(
      `vla vision encoder: expected inputs pixel_values float32[patches,${patchDim}], grid_thw int64[images,3] and output image_features float32[tokens,hidden], ` +
        `got inputs ${formatSpecs(inputs)}; outputs ${formatSpecs(outputs)}`,
    );
  }
  return { gridName, featureWidth: staticDim(features, 1) };
}

export function checkEmbedTokens(session: InferenceSession): { hidden: number } {
  const inputs = inputSpecs(session);
  const outputs = outputSpecs(session);
  const ids = byName(inputs).get("input_ids");
  const embeds = byName(outputs).get("inputs_embeds");
  const hidden = embeds ? staticDim(embeds, 2) : null;
  if (inputs.length !== 1 || !fits(ids, "int64", 2) || !fits(embeds, "float32", 3) || hidden === null) {
    throw new Error(`vla token embedding: expected input input_ids int64[batch,sequence] and output inputs_embeds float32[batch,sequence,hidden], got inputs ${formatSpecs(inputs)}; outputs ${formatSpecs(outputs)}`);
  }
  return { hidden };
}

const PAST = /^past_key_values\.(\d+)\.(key|value)$/;
const PRESENT = /^present\.(\d+)\.(key|value)$/;

/** Layer indices named by a set of KV names; null unless they are exactly 0..L-1, each with key and value. */
function layerCount(names: string[], pattern: RegExp): number | null {
  const seen = new Map<number, Set<string>>();
  for (const n of names) {
    const m = pattern.exec(n);
    if (!m) continue;
    const layer = Number(m[1]);
    if (!seen.has(layer)) seen.set(layer, new Set());
    seen.get(layer)!.add(m[2]);
  }
  if (seen.size === 0) return null;
  for (let i = 0; i < seen.size; i++) if (seen.get(i)?.size !== 2) return null;
  return seen.size;
}

export function checkDecoder(session: InferenceSession, hidden: number): DecoderContract {
  const inputs = inputSpecs(session);
  const outputs = outputSpecs(session);
  const ins = byName(inputs);
  const outs = byName(outputs);
  const expectedIn = "vla decoder: expected inputs inputs_embeds, attention_mask, position_ids, past_key_values.N.key/value";
  const layers = layerCount(inputs.map((s) => s.name), PAST);
  const embeds = ins.get("inputs_embeds");
  const mask = ins.get("attention_mask");
  const positions = ins.get("position_ids");
  const known = new Set(["inputs_embeds", "attention_mask", "position_ids", "use_cache_branch"]);
  const unknown = inputs.filter((s) => !known.has(s.name) && !PAST.test(s.name));
  const positionOk = positions !== undefined && positions.type === "int64" && (positions.shape.length === 3 || positions.shape.length === 2);
  if (layers === null || !fits(embeds, "float32", 3) || !fits(mask, "int64", 2) || !positionOk || unknown.length > 0) {
    throw new Error(`${expectedIn}, got ${formatSpecs(inputs)}`);
  }
  const presentLayers = layerCount(outputs.map((s) => s.name), PRESENT);
  const logits = outs.get("logits");
  if (presentLayers !== layers || !fits(logits, "float32", 3)) {
    throw new Error(`vla decoder: expected outputs logits float32[batch,sequence,vocab] and present.N.key/value for ${layers} layers, got ${formatSpecs(outputs)}`);
  }
  const width = staticDim(embeds, 2);
  if (width !== null && width !== hidden) throw new Error(`vla decoder: expected inputs_embeds of width ${hidden} (the token embedding's), got ${width}`);
  const key = ins.get("past_key_values.0.key")!;
  const kvHeads = key.shape.length === 4 ? staticDim(key, 1) : null;
  const headDim = key.shape.length === 4 ? staticDim(key, 3) : null;
  if (kvHeads === null || headDim === null || key.type !== "float32") {
    throw new Error(`vla decoder: expected past_key_values.0.key float32[batch,kv_heads,past,head_dim] with fixed kv_heads and head_dim, got ${formatSpecs([key])}`);
  }
  return {
    hidden,
    layers,
    kvHeads,
    headDim,
    vocabSize: staticDim(logits, 2),
    positionRank: positions!.shape.length as 2 | 3,
    hasUseCacheBranch: ins.has("use_cache_branch"),
  };
}
