// Action (un)normalization with 1st/99th percentile bounds, as OpenVLA-style models (NORA, OpenVLA) and openpi
// publish them in norm_stats.json: a = 0.5 * (n + 1) * (q99 - q01) + q01, with a mask that leaves some
// dimensions (the gripper) as they are.
import { readFileSync } from "node:fs";

export interface NormStats {
  q01: number[];
  q99: number[];
  /** false = leave as is, e.g. the gripper. Absent = every dimension is normalized. */
  mask?: boolean[];
}

type Json = unknown;

function isObject(v: Json): v is Record<string, Json> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function hasBounds(v: Json): v is Record<string, Json> {
  return isObject(v) && "q01" in v && "q99" in v;
}

/** Which statistics to read: the actions', or the robot state's (a prompt that carries the state, as pi0-FAST's does). */
export type NormStatsField = "action" | "state";

/**
 * The bounds inside one robot's entry. Actions: {q01, q99} itself, or under "action" (OpenVLA) / "actions" (openpi).
 * State: under "state" (openpi) only.
 */
function boundsOf(node: Json, field: NormStatsField): Record<string, Json> | null {
  if (field === "state") return isObject(node) && hasBounds(node.state) ? node.state : null;
  if (hasBounds(node)) return node;
  if (isObject(node)) {
    if (hasBounds(node.action)) return node.action;
    if (hasBounds(node.actions)) return node.actions;
  }
  return null;
}

/**
 * Pick and check the action statistics in a parsed norm_stats.json. Accepts OpenVLA's
 * {robot: {action: {q01, q99, mask}}}, openpi's {norm_stats: {actions: {q01, q99}}}, {action: {...}} and a flat
 * {q01, q99, mask}. `key` selects the robot when the file has several; `source` names the file in errors.
 * `field: "state"` reads the state statistics ({robot: {state: {...}}}, {norm_stats: {state: {...}}}) instead.
 */
export function parseNormStats(json: Json, key?: string, source = "norm stats", field: NormStatsField = "action"): NormStats {
  if (!isObject(json)) throw new Error(`${source}: expected a JSON object, got ${Array.isArray(json) ? "an array" : typeof json}`);
  let bounds: Record<string, Json> | null;
  if (key) {
    const container = isObject(json.norm_stats) && !(key in json) ? json.norm_stats : json;
    if (!(key in container)) {
      throw new Error(`${source}: expected an entry "${key}", got keys ${Object.keys(container).join(", ") || "(none)"}`);
    }
    bounds = boundsOf(container[key], field);
    if (!bounds) throw new Error(`${source}: entry "${key}" has no q01/q99 ${field} statistics`);
  } else {
    bounds = boundsOf(json, field) ?? boundsOf(json.norm_stats, field);
    if (!bounds) {
      const robots = Object.keys(json).filter((k) => boundsOf(json[k], field) !== null);
      if (robots.length === 1) bounds = boundsOf(json[robots[0]], field);
      else if (robots.length > 1) throw new Error(`${source}: holds statistics for ${robots.length} robots (${robots.join(", ")}): choose one with a key`);
      else throw new Error(`${source}: expected q01/q99 ${field} statistics (${field === "action" ? 'flat, under "action", or per robot' : 'under "state", or per robot'}), found none`);
    }
  }
  const b = bounds as Record<string, Json>;
  const numbers = (name: string): number[] => {
    const v = b[name];
    if (!Array.isArray(v) || v.length === 0 || !v.every((x) => typeof x === "number" && Number.isFinite(x))) {
      throw new Error(`${source}: expected ${name} to be a non-empty array of finite numbers, got ${JSON.stringify(v)?.slice(0, 80)}`);
    }
    return v as number[];
  };
  const q01 = numbers("q01");
  const q99 = numbers("q99");
  if (q01.length !== q99.length) throw new Error(`${source}: expected q01 and q99 of the same length, got ${q01.length} and ${q99.length}`);
  const stats: NormStats = { q01: q01.slice(), q99: q99.slice() };
  if (b.mask !== undefined && b.mask !== null) {
    const mask = b.mask;
    if (!Array.isArray(mask) || mask.length !== q01.length || !mask.every((m) => typeof m === "boolean")) {
      throw new Error(`${source}: expected mask to be ${q01.length} booleans, got ${JSON.stringify(mask)?.slice(0, 80)}`);
    }
    stats.mask = mask.slice() as boolean[];
  }
  return stats;
}

/** Read the action (or state) statistics from a norm_stats.json file (see parseNormStats for the accepted layouts). */
export function loadNormStats(path: string, key?: string, field: NormStatsField = "action"): NormStats {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new Error(`norm stats: cannot read ${path}: ${(error as Error).message}`);
  }
  let json: Json;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new Error(`norm stats ${path}: expected JSON, got a parse error: ${(error as Error).message}`);
  }
  return parseNormStats(json, key || undefined, `norm stats ${path}`, field);
}

function checkShapes(what: string, input: Float64Array, dim: number, stats: NormStats, out: Float64Array): void {
  if (!Number.isInteger(dim) || dim < 1) throw new Error(`${what}: expected a positive integer dim, got ${dim}`);
  if (stats.q01.length !== dim || stats.q99.length !== dim) {
    throw new Error(`${what}: expected statistics for ${dim} dimensions, got ${stats.q01.length}`);
  }
  if (input.length % dim !== 0) throw new Error(`${what}: expected a multiple of ${dim} values, got ${input.length}`);
  if (out.length < input.length) throw new Error(`${what}: expected an output of at least ${input.length} values, got ${out.length}`);
}

/** out = 0.5 * (a + 1) * (q99 - q01) + q01 per dimension (masked-off dimensions copied). Row-major [steps][dim]. */
export function unnormalizeInto(normalized: Float64Array, dim: number, stats: NormStats, out: Float64Array): void {
  checkShapes("unnormalize", normalized, dim, stats, out);
  const { q01, q99, mask } = stats;
  for (let k = 0; k < normalized.length; k++) {
    const d = k % dim;
    const a = normalized[k];
    out[k] = mask && !mask[d] ? a : 0.5 * (a + 1) * (q99[d] - q01[d]) + q01[d];
  }
}

/**
 * The inverse: 2 (x - q01) / (q99 - q01) - 1, clipped to [-1, 1] as OpenVLA's data pipeline does (clip: false
 * keeps outliers). A dimension with q99 == q01 maps to 0 (its unnormalized value is q01 anyway).
 */
export function normalizeInto(raw: Float64Array, dim: number, stats: NormStats, out: Float64Array, options: { clip?: boolean } = {}): void {
  checkShapes("normalize", raw, dim, stats, out);
  const clip = options.clip ?? true;
  const { q01, q99, mask } = stats;
  for (let k = 0; k < raw.length; k++) {
    const d = k % dim;
    const x = raw[k];
    if (mask && !mask[d]) {
      out[k] = x;
      continue;
    }
    const range = q99[d] - q01[d];
    let n = range === 0 ? 0 : (2 * (x - q01[d])) / range - 1;
    if (clip) n = n < -1 ? -1 : n > 1 ? 1 : n;
    out[k] = n;
  }
}
