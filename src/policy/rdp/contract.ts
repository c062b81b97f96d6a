// The RDP asymmetric tokenizer's contract (models/rdp/rdp.json): chunk and latent sizes, the decoder's step rate,
// how commands are normalized for it, and which touch features it reads. Plain file reading only: the fast worker
// imports this without ONNX Runtime.
import { readFileSync } from "node:fs";
import { join } from "node:path";

export interface RdpContract {
  /** Action steps one latent covers. */
  chunkSteps: number;
  latentSteps: number;
  latentWidth: number;
  hiddenSize: number;
  /** Time between two decoder steps (s): the rate the decoder was trained at. */
  stepPeriodS: number;
  action: {
    dim: number;
    names: string[];
    /** Per command entry: normalized -1 is `low`, +1 is `high` (the encoder's input, and an "absolute" decoder's output). */
    low: number[];
    high: number[];
  };
  /**
   * What the decoder outputs. "absolute": the command itself (normalized with action.low/high). "residual": a
   * correction added to the plan the scheduler plays (normalized with residual.low/high): free-air motion stays the
   * plan's smooth curve and the decoder only adds what touch calls for.
   */
  output: "absolute" | "residual";
  /** Present for "residual" output. */
  residual?: { low: number[]; high: number[] };
  touch: {
    /** Wrench entries (fx, fy, fz, tx, ty, tz) first, then this many taxels. */
    wrench: number;
    tactile: number;
    /** feature = clip(value / scale, -clip, clip) per entry. */
    scale: number[];
    clip: number;
  };
  files: { encoder: string; decoder: string; decoderWeights: string };
}

/** Latent values per chunk (latentSteps * latentWidth): what the latent slot must hold. */
export function latentSizeOf(c: RdpContract): number {
  return c.latentSteps * c.latentWidth;
}

/** Values the decoder reads per step: one latent step, then the touch features. */
export function decoderInputSize(c: RdpContract): number {
  return c.latentWidth + c.touch.wrench + c.touch.tactile;
}

type Json = unknown;

function isObject(v: Json): v is Record<string, Json> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function parseRdpContract(json: Json, source = "rdp contract"): RdpContract {
  const fail = (what: string, got: unknown): never => {
    throw new Error(`${source}: expected ${what}, got ${JSON.stringify(got)?.slice(0, 80)}`);
  };
  if (!isObject(json)) return fail("a JSON object", typeof json);
  if (json.format !== "rdp-asymmetric-tokenizer/1") fail('format "rdp-asymmetric-tokenizer/1"', json.format);
  const int = (v: Json, name: string, max = 4096): number => {
    if (typeof v !== "number" || !Number.isInteger(v) || v < 1 || v > max) fail(`${name} to be an integer in [1, ${max}]`, v);
    return v as number;
  };
  const numbers = (v: Json, name: string, length: number): number[] => {
    if (!Array.isArray(v) || v.length !== length || !v.every((x) => typeof x === "number" && Number.isFinite(x))) fail(`${name} to be ${length} finite numbers`, v);
    return (v as number[]).slice();
  };
  const action = isObject(json.action) ? json.action : fail("an action object", json.action);
  const touch = isObject(json.touch) ? json.touch : fail("a touch object", json.touch);
  const files = isObject(json.files) ? json.files : fail("a files object", json.files);
  const chunkSteps = int(json.chunkSteps, "chunkSteps");
  const latentSteps = int(json.latentSteps, "latentSteps");
  if (chunkSteps % latentSteps !== 0) fail(`chunkSteps (${chunkSteps}) to be a multiple of latentSteps`, latentSteps);
  const dim = int(action.dim, "action.dim", 64);
  const wrench = touch.wrench === 0 ? 0 : int(touch.wrench, "touch.wrench", 6);
  const tactile = touch.tactile === 0 ? 0 : int(touch.tactile, "touch.tactile");
  if (typeof json.stepPeriodS !== "number" || !(json.stepPeriodS > 0) || json.stepPeriodS > 10) fail("stepPeriodS in (0, 10]", json.stepPeriodS);
  const low = numbers(action.low, "action.low", dim);
  const high = numbers(action.high, "action.high", dim);
  low.forEach((l, i) => {
    if (!(high[i] > l)) fail(`action.high[${i}] > action.low[${i}]`, [l, high[i]]);
  });
  let output: RdpContract["output"] = "absolute";
  let residual: RdpContract["residual"];
  if (json.residual !== undefined) {
    const r = isObject(json.residual) ? json.residual : fail("residual to be an object with low and high", json.residual);
    const rLow = numbers(r.low, "residual.low", dim);
    const rHigh = numbers(r.high, "residual.high", dim);
    rLow.forEach((l, i) => {
      if (!(rHigh[i] > l)) fail(`residual.high[${i}] > residual.low[${i}]`, [l, rHigh[i]]);
    });
    output = "residual";
    residual = { low: rLow, high: rHigh };
  }
  const scale = numbers(touch.scale, "touch.scale", wrench + tactile);
  if (!scale.every((s) => s > 0)) fail("positive touch.scale entries", scale);
  if (typeof touch.clip !== "number" || !(touch.clip > 0)) fail("a positive touch.clip", touch.clip);
  const file = (v: Json, name: string): string => (typeof v === "string" && v.length > 0 ? v : fail(`files.${name} to be a file name`, v));
  return {
    chunkSteps,
    latentSteps,
    latentWidth: int(json.latentWidth, "latentWidth"),
    hiddenSize: int(json.hiddenSize, "hiddenSize"),
    stepPeriodS: json.stepPeriodS as number,
    action: { dim, names: Array.isArray(action.names) ? action.names.map(String) : [], low, high },
    output,
    ...(residual ? { residual } : {}),
    touch: { wrench, tactile, scale, clip: touch.clip as number },
    files: { encoder: file(files.encoder, "encoder"), decoder: file(files.decoder, "decoder"), decoderWeights: file(files.decoderWeights, "decoderWeights") },
  };
}

export function loadRdpContract(dir: string): RdpContract {
  const path = join(dir, "rdp.json");
  let json: Json;
  try {
    json = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new Error(`rdp contract ${path}: cannot read it as JSON: ${(error as Error).message.split("\n")[0]}`);
  }
  return parseRdpContract(json, `rdp contract ${path}`);
}
