// The "vla-policy" request/reply protocol (version 1): msgpack maps with string keys over ZeroMQ REQ/REP, one frame
// per message. docs/remote-policies.md is the specification; this file is its executable form: typed messages,
// writers that check what they write, and parsers that check everything that comes in, each failure a one-line
// reason naming the field.
import type { Observation } from "../../runtime/slowExecutor.js";
import { actionShapeError, nonFiniteActionError } from "./actionsCheck.js";
import type { MsgpackWriter } from "./msgpackWriter.js";
import { describeWire } from "./ndarray.js";

export const POLICY_PROTOCOL = "vla-policy";
export const POLICY_PROTOCOL_VERSION = 1;

/** Bounds every message is checked against (beyond the byte limit of the socket). */
export const PROTOCOL_LIMITS = Object.freeze({
  maxVectorLength: 4096,
  maxTactileLength: 65536,
  maxImageSide: 16384,
  maxInstructionChars: 65536,
  maxTokens: 65536,
  maxTokenId: 2 ** 31 - 1,
  maxActionDim: 1024,
  maxErrorChars: 4096,
  maxNameChars: 256,
});

export interface WireImage {
  height: number;
  width: number;
  channels: number;
  /** uint8, row-major [height][width][channels]. */
  data: Uint8Array;
}

export interface WireObservation {
  /** Monotonic time of the sensor sample on the client (ns); the server treats it as an opaque stamp. */
  timeNs: number;
  positions: Float64Array;
  velocities: Float64Array;
  wrench: Float64Array;
  tactile: Float64Array;
  image?: WireImage;
  instruction: string;
}

export type PolicyRequest = { type: "infer"; id: number; observation: WireObservation } | { type: "metadata"; id: number };

export interface ServerMetadata {
  server: string;
  actionDim?: number;
  stepPeriodS?: number;
  output?: "actions" | "tokens";
  tokenizer?: string;
}

export type PolicyReply =
  | { kind: "actions"; id: number; actions: Float64Array; steps: number; dim: number; stepPeriodS: number; inferMs?: number }
  | { kind: "tokens"; id: number; tokens: number[]; tokenizer: string; stepPeriodS?: number; inferMs?: number }
  | { kind: "error"; id: number; error: string }
  | ({ kind: "metadata"; id: number } & ServerMetadata);

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string; id: number };

export interface ReplyLimits {
  maxSteps: number;
  actionDim?: number;
}

// ---------------------------------------------------------------------------------------------------------------
// Observation <-> wire

export function observationToWire(obs: Observation, includeImage: boolean): WireObservation {
  const image = includeImage && obs.image ? { height: obs.image.height, width: obs.image.width, channels: obs.image.channels, data: obs.image.data } : undefined;
  return { timeNs: obs.timeNs, positions: obs.positions, velocities: obs.velocities, wrench: obs.wrench, tactile: obs.tactile, image, instruction: obs.instruction };
}

export function wireToObservation(wire: WireObservation): Observation {
  const image = wire.image ? { width: wire.image.width, height: wire.image.height, channels: wire.image.channels, data: wire.image.data, timeNs: wire.timeNs } : undefined;
  return { timeNs: wire.timeNs, positions: wire.positions, velocities: wire.velocities, wrench: wire.wrench, tactile: wire.tactile, image, instruction: wire.instruction };
}

// ---------------------------------------------------------------------------------------------------------------
// Writing (what we send is checked as strictly as what we receive)

/** Check then write a request. Returns null, or why it was not written. */
export function writeRequest(writer: MsgpackWriter, request: PolicyRequest): string | null {
  if (!isId(request.id)) return `request id must be an integer 0..2^32-1, got ${request.id}`;
  if (request.type === "metadata") {
    envelope(writer, request.id, 4).string("type").string("metadata");
    return null;
  }
  const obs = request.observation;
  const error = observationError(obs);
  if (error !== null) return error;
  envelope(writer, request.id, 5).string("type").string("infer").string("observation");
  writer.mapHeader(obs.image ? 7 : 6);
  writer.string("time_ns").integer(Math.max(0, Math.round(obs.timeNs)));
  writeVector(writer.string("positions"), obs.positions);
  writeVector(writer.string("velocities"), obs.velocities);
  writeVector(writer.string("wrench"), obs.wrench);
  writeVector(writer.string("tactile"), obs.tactile);
  if (obs.image) {
    const { height, width, channels, data } = obs.image;
    writer.string("image").mapHeader(4).string("height").integer(height).string("width").integer(width).string("channels").integer(channels).string("data").binary(data);
  }
  writer.string("instruction").string(obs.instruction);
  return null;
}

/** Check then write a reply. Returns null, or why it was not written (the caller then sends an error reply). */
export function writeReply(writer: MsgpackWriter, reply: PolicyReply): string | null {
  if (!isId(reply.id)) return `reply id must be an integer 0..2^32-1, got ${reply.id}`;
  switch (reply.kind) {
    case "actions": {
      const { actions, steps, dim } = reply;
      if (!(actions instanceof Float64Array) || actions.length !== steps * dim) return `actions: expected ${steps}x${dim} values, got ${describeWire(actions)}`;
      const shape = actionShapeError(steps, dim, { maxSteps: Number.MAX_SAFE_INTEGER, actionDim: undefined });
      if (shape !== null) return shape;
      if (dim > PROTOCOL_LIMITS.maxActionDim) return `actions: expected at most ${PROTOCOL_LIMITS.maxActionDim} values per step, got ${dim}`;
      const finite = nonFiniteActionError(actions, dim);
      if (finite !== null) return finite;
      if (!positiveFinite(reply.stepPeriodS)) return `step_period_s must be a positive number, got ${reply.stepPeriodS}`;
      envelope(writer, reply.id, 6 + (reply.inferMs !== undefined ? 1 : 0)).string("kind").string("actions").string("actions").arrayHeader(steps);
      for (let t = 0; t < steps; t++) {
        writer.arrayHeader(dim);
        for (let d = 0; d < dim; d++) writer.float64(actions[t * dim + d]);
      }
      writer.string("step_period_s").float64(reply.stepPeriodS);
      if (reply.inferMs !== undefined) writer.string("infer_ms").float64(reply.inferMs);
      return null;
    }
    case "tokens": {
      const { tokens } = reply;
      if (!Array.isArray(tokens) || tokens.length > PROTOCOL_LIMITS.maxTokens) return `tokens: expected an array of at most ${PROTOCOL_LIMITS.maxTokens} ids, got ${describeWire(tokens)}`;
      for (let i = 0; i < tokens.length; i++) if (!isTokenId(tokens[i])) return `tokens[${i}]: expected an integer 0..${PROTOCOL_LIMITS.maxTokenId}, got ${tokens[i]}`;
      if (typeof reply.tokenizer !== "string" || reply.tokenizer.length === 0) return `tokenizer must be a non-empty string, got ${describeWire(reply.tokenizer)}`;
      if (reply.stepPeriodS !== undefined && !positiveFinite(reply.stepPeriodS)) return `step_period_s must be a positive number, got ${reply.stepPeriodS}`;
      const count = 6 + (reply.stepPeriodS !== undefined ? 1 : 0) + (reply.inferMs !== undefined ? 1 : 0);
      envelope(writer, reply.id, count).string("kind").string("tokens").string("tokens").arrayHeader(tokens.length);
      for (const token of tokens) writer.integer(token);
      writer.string("tokenizer").string(reply.tokenizer);
      if (reply.stepPeriodS !== undefined) writer.string("step_period_s").float64(reply.stepPeriodS);
      if (reply.inferMs !== undefined) writer.string("infer_ms").float64(reply.inferMs);
      return null;
    }
    case "error": {
      const text = String(reply.error).split("\n")[0].slice(0, PROTOCOL_LIMITS.maxErrorChars) || "unspecified error";
      envelope(writer, reply.id, 5).string("kind").string("error").string("error").string(text);
      return null;
    }
    case "metadata": {
      if (typeof reply.server !== "string" || reply.server.length > PROTOCOL_LIMITS.maxNameChars) return `server must be a string of at most ${PROTOCOL_LIMITS.maxNameChars} characters`;
      if (reply.actionDim !== undefined && !(Number.isSafeInteger(reply.actionDim) && reply.actionDim >= 1)) return `action_dim must be a positive integer, got ${reply.actionDim}`;
      if (reply.stepPeriodS !== undefined && !positiveFinite(reply.stepPeriodS)) return `step_period_s must be a positive number, got ${reply.stepPeriodS}`;
      const optional = [
        ["action_dim", reply.actionDim],
        ["step_period_s", reply.stepPeriodS],
        ["output", reply.output],
        ["tokenizer", reply.tokenizer],
      ] as const;
      const present = optional.filter(([, v]) => v !== undefined);
      envelope(writer, reply.id, 5 + present.length).string("kind").string("metadata").string("server").string(reply.server);
      for (const [key, value] of present) {
        writer.string(key);
        if (key === "step_period_s") writer.float64(value as number);
        else writer.value(value as string | number);
      }
      return null;
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Parsing (every field of every incoming message)

/** Validate a decoded request. On failure, `id` is the request's id when it could be read (else 0). */
export function parseRequest(value: unknown): Parsed<PolicyRequest> {
  const head = parseEnvelope(value, "request");
  if (!head.ok) return head;
  const { map, id } = head.value;
  const bad = (error: string): Parsed<PolicyRequest> => ({ ok: false, error, id });
  const type = map.type;
  if (type === "metadata") return { ok: true, value: { type, id } };
  if (type !== "infer") return bad(`expected type "infer" or "metadata", got ${describeWire(type)}`);
  const obs = map.observation;
  if (!isPlainMap(obs)) return bad(`expected observation as a map, got ${describeWire(obs)}`);
  const timeNs = obs.time_ns;
  if (typeof timeNs !== "number" || !Number.isFinite(timeNs) || timeNs < 0) return bad(`expected observation.time_ns as a non-negative number, got ${describeWire(timeNs)}`);
  const vectors: Record<"positions" | "velocities" | "wrench" | "tactile", Float64Array> = { positions: EMPTY, velocities: EMPTY, wrench: EMPTY, tactile: EMPTY };
  for (const key of ["positions", "velocities", "wrench", "tactile"] as const) {
    const limit = key === "tactile" ? PROTOCOL_LIMITS.maxTactileLength : PROTOCOL_LIMITS.maxVectorLength;
    const parsed = readVector(obs[key], `observation.${key}`, limit, key === "positions");
    if (typeof parsed === "string") return bad(parsed);
    vectors[key] = parsed;
  }
  let image: WireImage | undefined;
  if (obs.image !== undefined && obs.image !== null) {
    const parsed = readImage(obs.image);
    if (typeof parsed === "string") return bad(parsed);
    image = parsed;
  }
  const instruction = obs.instruction;
  if (typeof instruction !== "string" || instruction.length > PROTOCOL_LIMITS.maxInstructionChars) {
    return bad(`expected observation.instruction as a string of at most ${PROTOCOL_LIMITS.maxInstructionChars} characters, got ${describeWire(instruction)}`);
  }
  return { ok: true, value: { type: "infer", id, observation: { timeNs, ...vectors, image, instruction } } };
}

/** Validate a decoded reply against the id we sent and the chunk limits. */
export function parseReply(value: unknown, expectedId: number, limits: ReplyLimits): Parsed<PolicyReply> {
  const head = parseEnvelope(value, "reply");
  if (!head.ok) return head;
  const { map, id } = head.value;
  const bad = (error: string): Parsed<PolicyReply> => ({ ok: false, error, id });
  const kind = map.kind;
  // id 0 on an error reply: the server could not read our request far enough to learn its id.
  const unreadRequest = id === 0 && kind === "error" && typeof map.error === "string";
  if (id !== expectedId && !unreadRequest) return bad(`reply id ${id} does not match request id ${expectedId}`);
  const inferMs = optionalNumber(map.infer_ms);
  if (inferMs === null) return bad(`expected infer_ms as a number when present, got ${describeWire(map.infer_ms)}`);
  switch (kind) {
    case "actions": {
      const rows = map.actions;
      const shapeText = describeRows(rows);
      if (!Array.isArray(rows) || rows.length === 0 || !Array.isArray(rows[0])) return bad(`expected actions as [T][D] numbers, got ${shapeText}`);
      const steps = rows.length;
      const dim = (rows[0] as unknown[]).length;
      const shapeError = actionShapeError(steps, dim, limits);
      if (shapeError !== null) return bad(shapeError);
      const actions = new Float64Array(steps * dim);
      for (let t = 0; t < steps; t++) {
        const row = rows[t];
        if (!Array.isArray(row) || row.length !== dim) return bad(`expected actions as [T][D] numbers, got ${shapeText} (row ${t} is ${describeWire(row)}, row 0 has ${dim})`);
        for (let d = 0; d < dim; d++) {
          const v = row[d];
          if (typeof v !== "number") return bad(`expected actions as [T][D] numbers, got ${describeWire(v)} at actions[${t}][${d}]`);
          actions[t * dim + d] = v;
        }
      }
      const finite = nonFiniteActionError(actions, dim);
      if (finite !== null) return bad(finite);
      const stepPeriodS = map.step_period_s;
      if (typeof stepPeriodS !== "number" || !positiveFinite(stepPeriodS)) return bad(`expected step_period_s as a positive number, got ${describeWire(stepPeriodS)}`);
      return { ok: true, value: { kind, id, actions, steps, dim, stepPeriodS, inferMs } };
    }
    case "tokens": {
      const tokens = map.tokens;
      if (!Array.isArray(tokens) || tokens.length > PROTOCOL_LIMITS.maxTokens) return bad(`expected tokens as an array of at most ${PROTOCOL_LIMITS.maxTokens} integer ids, got ${describeWire(tokens)}`);
      for (let i = 0; i < tokens.length; i++) {
        if (!isTokenId(tokens[i])) return bad(`expected tokens as integer ids 0..${PROTOCOL_LIMITS.maxTokenId}, got ${describeWire(tokens[i])} at tokens[${i}]`);
      }
      const tokenizer = map.tokenizer;
      if (typeof tokenizer !== "string" || tokenizer.length === 0 || tokenizer.length > PROTOCOL_LIMITS.maxNameChars) return bad(`expected tokenizer as a non-empty string, got ${describeWire(tokenizer)}`);
      const stepPeriodS = optionalNumber(map.step_period_s);
      if (stepPeriodS === null || (stepPeriodS !== undefined && !positiveFinite(stepPeriodS))) return bad(`expected step_period_s as a positive number when present, got ${describeWire(map.step_period_s)}`);
      return { ok: true, value: { kind, id, tokens: tokens as number[], tokenizer, stepPeriodS, inferMs } };
    }
    case "error": {
      const error = map.error;
      if (typeof error !== "string") return bad(`expected error as a string, got ${describeWire(error)}`);
      return { ok: true, value: { kind, id, error: error.split("\n")[0].slice(0, PROTOCOL_LIMITS.maxErrorChars) } };
    }
    case "metadata": {
      const server = map.server;
      if (typeof server !== "string" || server.length > PROTOCOL_LIMITS.maxNameChars) return bad(`expected server as a string, got ${describeWire(server)}`);
      const actionDim = map.action_dim;
      if (actionDim !== undefined && !(typeof actionDim === "number" && Number.isSafeInteger(actionDim) && actionDim >= 1)) return bad(`expected action_dim as a positive integer, got ${describeWire(actionDim)}`);
      const stepPeriodS = optionalNumber(map.step_period_s);
      if (stepPeriodS === null || (stepPeriodS !== undefined && !positiveFinite(stepPeriodS))) return bad(`expected step_period_s as a positive number, got ${describeWire(map.step_period_s)}`);
      const output = map.output;
      if (output !== undefined && output !== "actions" && output !== "tokens") return bad(`expected output "actions" or "tokens", got ${describeWire(output)}`);
      const tokenizer = map.tokenizer;
      if (tokenizer !== undefined && typeof tokenizer !== "string") return bad(`expected tokenizer as a string, got ${describeWire(tokenizer)}`);
      return { ok: true, value: { kind, id, server, actionDim: actionDim as number | undefined, stepPeriodS, output, tokenizer } };
    }
    default:
      return bad(`expected kind "actions", "tokens", "error" or "metadata", got ${describeWire(kind)}`);
  }
}

// ---------------------------------------------------------------------------------------------------------------

const EMPTY = new Float64Array(0);

function envelope(writer: MsgpackWriter, id: number, entries: number): MsgpackWriter {
  return writer.mapHeader(entries).string("protocol").string(POLICY_PROTOCOL).string("version").integer(POLICY_PROTOCOL_VERSION).string("id").integer(id);
}

function parseEnvelope(value: unknown, what: string): Parsed<{ map: Record<string, unknown>; id: number }> {
  if (!isPlainMap(value)) return { ok: false, error: `expected the ${what} as a map, got ${describeWire(value)}`, id: 0 };
  const id = isId(value.id) ? (value.id as number) : 0;
  if (value.protocol !== POLICY_PROTOCOL) return { ok: false, error: `expected protocol "${POLICY_PROTOCOL}", got ${describeWire(value.protocol)}`, id };
  if (value.version !== POLICY_PROTOCOL_VERSION) return { ok: false, error: `unsupported protocol version ${describeWire(value.version)} (this side speaks ${POLICY_PROTOCOL_VERSION})`, id };
  if (!isId(value.id)) return { ok: false, error: `expected id as an integer 0..2^32-1, got ${describeWire(value.id)}`, id: 0 };
  return { ok: true, value: { map: value, id } };
}

function observationError(obs: WireObservation): string | null {
  if (!(Number.isFinite(obs.timeNs) && obs.timeNs >= 0)) return `observation.time_ns must be a non-negative number, got ${obs.timeNs}`;
  for (const key of ["positions", "velocities", "wrench", "tactile"] as const) {
    const v = obs[key];
    const limit = key === "tactile" ? PROTOCOL_LIMITS.maxTactileLength : PROTOCOL_LIMITS.maxVectorLength;
    if (!(v instanceof Float64Array) || v.length > limit) return `observation.${key} must be a Float64Array of at most ${limit} values`;
    if (key === "positions" && v.length === 0) return "observation.positions must not be empty";
    for (let i = 0; i < v.length; i++) if (!Number.isFinite(v[i])) return `observation.${key}[${i}] is ${v[i]}`;
  }
  if (obs.image) {
    const { height, width, channels, data } = obs.image;
    const sizes = [height, width].every((s) => Number.isSafeInteger(s) && s >= 1 && s <= PROTOCOL_LIMITS.maxImageSide) && Number.isSafeInteger(channels) && channels >= 1 && channels <= 4;
    if (!sizes) return `observation.image: expected 1..${PROTOCOL_LIMITS.maxImageSide} pixels a side and 1..4 channels, got ${height}x${width}x${channels}`;
    if (!(data instanceof Uint8Array) || data.byteLength !== height * width * channels) return `observation.image: expected ${height}x${width}x${channels} = ${height * width * channels} bytes, got ${describeWire(data)}`;
  }
  if (typeof obs.instruction !== "string" || obs.instruction.length > PROTOCOL_LIMITS.maxInstructionChars) return `observation.instruction must be a string of at most ${PROTOCOL_LIMITS.maxInstructionChars} characters`;
  return null;
}

function readVector(value: unknown, path: string, limit: number, nonEmpty: boolean): Float64Array | string {
  if (!Array.isArray(value) || value.length > limit || (nonEmpty && value.length === 0)) return `expected ${path} as an array of ${nonEmpty ? "1" : "0"}..${limit} numbers, got ${describeWire(value)}`;
  const out = new Float64Array(value.length);
  for (let i = 0; i < value.length; i++) {
    const v = value[i];
    if (typeof v !== "number" || !Number.isFinite(v)) return `expected ${path} as finite numbers, got ${describeWire(v)} at ${path}[${i}]`;
    out[i] = v;
  }
  return out;
}

function readImage(value: unknown): WireImage | string {
  if (!isPlainMap(value)) return `expected observation.image as a map {height, width, channels, data}, got ${describeWire(value)}`;
  const { height, width, channels, data } = value;
  const side = (v: unknown) => typeof v === "number" && Number.isSafeInteger(v) && v >= 1 && v <= PROTOCOL_LIMITS.maxImageSide;
  if (!side(height) || !side(width)) return `expected observation.image height and width as integers 1..${PROTOCOL_LIMITS.maxImageSide}, got ${describeWire(height)} x ${describeWire(width)}`;
  if (!(typeof channels === "number" && Number.isSafeInteger(channels) && channels >= 1 && channels <= 4)) return `expected observation.image.channels as 1..4, got ${describeWire(channels)}`;
  const h = height as number;
  const w = width as number;
  if (!(data instanceof Uint8Array) || data.byteLength !== h * w * channels) {
    return `expected observation.image.data as ${h}x${w}x${channels} = ${h * w * channels} bytes of binary, got ${describeWire(data)}`;
  }
  return { height: h, width: w, channels, data };
}

function writeVector(writer: MsgpackWriter, values: Float64Array): void {
  writer.arrayHeader(values.length);
  for (let i = 0; i < values.length; i++) writer.float64(values[i]);
}

function describeRows(rows: unknown): string {
  if (!Array.isArray(rows)) return describeWire(rows);
  if (rows.length === 0) return "an empty array";
  const first = rows[0];
  return Array.isArray(first) ? `[${rows.length}][${first.length}]` : `an array of ${rows.length} with ${describeWire(first)} first`;
}

function isPlainMap(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}

function isId(value: unknown): boolean {
  return typeof value === "number" && Number.isInteger(value) && value >= 0 && value <= 0xffffffff;
}

function isTokenId(value: unknown): boolean {
  return typeof value === "number" && Number.isInteger(value) && value >= 0 && value <= PROTOCOL_LIMITS.maxTokenId;
}

function positiveFinite(value: number): boolean {
  return typeof value === "number" && Number.isFinite(value) && value > 0;
}

/** undefined when absent, the number when a number, null when present but not a finite number. */
function optionalNumber(value: unknown): number | undefined | null {
  if (value === undefined) return undefined;
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}
