// The teleop wire protocol: JSON (UTF-8) in one ZeroMQ frame per message, so a Unity / Quest app, a Python script
// and this package's client can all speak it without a code generator. docs/teleop.md is the reference for
// implementers; the schemas here are what every incoming message is checked against.
//
// Commands (client DEALER -> server ROUTER, CURVE-authenticated): mode requests (hello, takeover, hand-back,
// emergency-stop, reset-emergency-stop, ping) are answered; motion commands (pose, joints, jog, twist) are answered
// only when rejected. Replies: welcome, ack, pong, error. State and events go out on a PUB socket as two frames:
// the topic ("state" or "event") and the JSON body.
import { z } from "zod";
import type { TeleopMode } from "../../runtime/sharedState.js";

export type { TeleopMode };

export const PROTOCOL_VERSION = 1;
/** Default largest accepted command (bytes): a pose is about 200 bytes; a joint target for 64 joints well under 4 KiB. */
export const DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024;

const seq = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional();
const vec3 = z.tuple([z.number(), z.number(), z.number()]);

const hello = z.object({ type: z.literal("hello"), seq, client: z.string().max(64).optional(), protocol: z.number().int().optional() }).strict();
const takeover = z.object({ type: z.literal("takeover"), seq }).strict();
const handBack = z.object({ type: z.literal("hand-back"), seq }).strict();
const emergencyStop = z.object({ type: z.literal("emergency-stop"), seq }).strict();
const resetEmergencyStop = z.object({ type: z.literal("reset-emergency-stop"), seq }).strict();
const ping = z.object({ type: z.literal("ping"), seq, clientTimeS: z.number().optional() }).strict();

/** TactAR-style wrist pose: position (m) and orientation (w, x, y, z) in the operator's frame, trigger 0..1. */
const pose = z
  .object({
    type: z.literal("pose"),
    seq,
    /** Client time stamp (s), for the operator's own latency measurements; not used for control. */
    timeS: z.number().optional(),
    position: vec3.refine((p) => p.every((x) => Math.abs(x) <= 100), "expected |position| <= 100 m per axis"),
    quaternion: z
      .tuple([z.number(), z.number(), z.number(), z.number()])
      .refine((q) => Math.abs(Math.hypot(...q) - 1) <= 0.1, "expected a unit quaternion (w, x, y, z), norm within 0.1 of 1"),
    trigger: z.number().min(0).max(1).optional(),
    /** Re-anchor: this pose becomes the new "hand at engage" (a clutch), the robot's current pose its anchor. */
    engage: z.boolean().optional(),
  })
  .strict();

/** Absolute joint target (rad, arm joints in chain order) and optionally the gripper width (m). */
const joints = z
  .object({
    type: z.literal("joints"),
    seq,
    positions: z.array(z.number()).min(1).max(64),
    gripperM: z.number().optional(),
  })
  .strict();

/** Move one joint (index in chain order; index = joint count means the gripper) by delta (rad, or m). */
const jog = z
  .object({
    type: z.literal("jog"),
    seq,
    joint: z.number().int().min(0).max(64),
    delta: z.number().min(-0.5).max(0.5),
  })
  .strict();

/** Tool velocity in the robot base frame for durationMs (capped by the watchdog). */
const twist = z
  .object({
    type: z.literal("twist"),
    seq,
    linear: vec3.refine((v) => Math.hypot(...v) <= 2, "expected |linear| <= 2 m/s"),
    angular: vec3.refine((w) => Math.hypot(...w) <= 6, "expected |angular| <= 6 rad/s"),
    durationMs: z.number().min(1).max(1000).optional(),
    gripperMPerS: z.number().min(-1).max(1).optional(),
  })
  .strict();

const SCHEMAS = {
  hello,
  takeover,
  "hand-back": handBack,
  "emergency-stop": emergencyStop,
  "reset-emergency-stop": resetEmergencyStop,
  ping,
  pose,
  joints,
  jog,
  twist,
} as const;

export type CommandType = keyof typeof SCHEMAS;
export const COMMAND_TYPES = Object.keys(SCHEMAS) as CommandType[];
export const MOTION_TYPES: readonly CommandType[] = ["pose", "joints", "jog", "twist"];

export type HelloMessage = z.infer<typeof hello>;
export type PoseMessage = z.infer<typeof pose>;
export type JointsMessage = z.infer<typeof joints>;
export type JogMessage = z.infer<typeof jog>;
export type TwistMessage = z.infer<typeof twist>;
export type PingMessage = z.infer<typeof ping>;
export type TeleopCommand =
  | HelloMessage
  | z.infer<typeof takeover>
  | z.infer<typeof handBack>
  | z.infer<typeof emergencyStop>
  | z.infer<typeof resetEmergencyStop>
  | PingMessage
  | PoseMessage
  | JointsMessage
  | JogMessage
  | TwistMessage;
export type MotionCommand = PoseMessage | JointsMessage | JogMessage | TwistMessage;

export function isMotion(message: TeleopCommand): message is MotionCommand {
  return message.type === "pose" || message.type === "joints" || message.type === "jog" || message.type === "twist";
}

/** Why a message was rejected (each is counted separately). */
export type RejectCode =
  | "too-large"
  | "frames"
  | "encoding"
  | "json"
  | "not-object"
  | "unknown-type"
  | "schema"
  | "not-in-takeover"
  | "not-owner"
  | "busy"
  | "no-arm-state"
  | "shape"
  | "unreachable"
  | "superseded";
export const REJECT_CODES: readonly RejectCode[] = [
  "too-large",
  "frames",
  "encoding",
  "json",
  "not-object",
  "unknown-type",
  "schema",
  "not-in-takeover",
  "not-owner",
  "busy",
  "no-arm-state",
  "shape",
  "unreachable",
  "superseded",
];

export type DecodeResult = { ok: true; message: TeleopCommand } | { ok: false; code: RejectCode; reason: string; seq?: number };

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Check one incoming command: the frames after the routing id. Never throws; a rejection says in one line what
 * was expected and what came, and carries the message's seq when it could be read (so the reply can echo it).
 */
export function decodeCommand(frames: readonly Uint8Array[], maxBytes = DEFAULT_MAX_MESSAGE_BYTES): DecodeResult {
  if (frames.length !== 1) return { ok: false, code: "frames", reason: `expected 1 frame holding a JSON object, got ${frames.length} frames` };
  const bytes = frames[0];
  if (bytes.length > maxBytes) return { ok: false, code: "too-large", reason: `expected at most ${maxBytes} bytes, got ${bytes.length}` };
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return { ok: false, code: "encoding", reason: "expected UTF-8 text, got invalid byte sequences" };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { ok: false, code: "json", reason: `expected JSON, got a parse error: ${error instanceof Error ? error.message : String(error)}` };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { ok: false, code: "not-object", reason: `expected a JSON object with a "type" field, got ${value === null ? "null" : Array.isArray(value) ? "an array" : typeof value}` };
  }
  const record = value as Record<string, unknown>;
  const seqValue = Number.isSafeInteger(record.seq) && (record.seq as number) >= 0 ? (record.seq as number) : undefined;
  const type = record.type;
  if (typeof type !== "string" || !Object.hasOwn(SCHEMAS, type)) {
    const got = typeof type === "string" ? JSON.stringify(type.slice(0, 40)) : typeof type;
    return { ok: false, code: "unknown-type", reason: `expected "type" to be one of ${COMMAND_TYPES.join(", ")}; got ${got}`, seq: seqValue };
  }
  const parsed = SCHEMAS[type as CommandType].safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue.path.length > 0 ? issue.path.join(".") : "(message)";
    return { ok: false, code: "schema", reason: `${type}: ${path}: ${issue.message}`, seq: seqValue };
  }
  return { ok: true, message: parsed.data as TeleopCommand };
}

// ---------------------------------------------------------------------------------------------
// Server -> client

export interface ArmInfo {
  name: string;
  joints: { name: string; lowerRad: number; upperRad: number; maxVelocityRadPerS: number }[];
  gripper: { name: string; lowerM: number; upperM: number };
  tactileCount: number;
}


export type TeleopReply =
  | { type: "welcome"; seq?: number; protocol: number; client: string; arm: ArmInfo; mode: TeleopMode; stateRateHz: number; watchdogMs: number; takeoverTimeoutMs: number }
  | { type: "ack"; seq?: number; request: CommandType; mode: TeleopMode; owner: string | null; emergencyStop: boolean; detail?: string }
  | { type: "pong"; seq?: number; clientTimeS?: number; serverTimeS: number }
  | { type: "error"; seq?: number; code: RejectCode; reason: string };

/** One state sample on the PUB socket (topic "state"). Arrays are plain JSON arrays. */
export interface TeleopStateMessage {
  type: "state";
  /** Increments with every state message. */
  seq: number;
  /** Server monotonic time (s). */
  timeS: number;
  mode: TeleopMode;
  owner: string | null;
  emergencyStop: boolean;
  joints: { positions: number[]; velocities: number[]; timeS: number } | null;
  /** Tool centre point from the measured joints: position (m), orientation (w, x, y, z), robot base frame. */
  tool: { position: number[]; quaternion: number[] } | null;
  /** Wrist wrench in the tool frame: fx, fy, fz (N), tx, ty, tz (N m). */
  wrench: number[] | null;
  /** Fingertip tactile array: normal force per taxel (N). */
  tactile: number[] | null;
  /** The last safe command the arm was sent, who produced it, and what the safety stage changed. */
  command: { positions: number[]; source: string; safety: string[]; teleopSequence: number } | null;
  /** The newest policy chunk (row-major steps x dim), or null before the first one. */
  chunk: { sequence: number; steps: number; dim: number; stepPeriodMs: number; ageMs: number; actions: number[] } | null;
  policy: Record<string, number | string | boolean | null>;
}

/** An intervention (topic "event"), also handed to the recording helper. */
export interface InterventionEvent {
  type: "event";
  kind: "takeover" | "hand-back" | "emergency-stop" | "emergency-stop-reset" | "watchdog-hold" | "watchdog-resume";
  /** Runtime monotonic time (ns) and wall clock (ms since the epoch). */
  timeNs: number;
  wallTimeMs: number;
  /** Name of the client (from the allow-list) or "runtime" for a decision the endpoint took itself. */
  client: string;
  reason: string;
}
