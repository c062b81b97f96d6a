// Client for openpi's policy server protocol (openpi serving/websocket_policy_server.py):
//   websocket (default port 8000, no compression); on connect the server sends its metadata (one msgpack map);
//   then each request is one binary message, a msgpack map of the observation (numpy arrays in the ndarray
//   convention), and each reply one binary message, a msgpack map with "actions" [T, D] and timing fields
//   ("server_timing": {infer_ms, prev_total_ms}, "policy_timing": {infer_ms}). A text message is the server's
//   traceback; the server closes the connection after it.
// The protocol has no request ids, so a reply that comes after its call was abandoned would be taken for the next
// call's: any abandoned call (timeout, abort) closes the connection, and the next call opens a fresh one.
import { WebSocket, type RawData } from "ws";
import type { ImageFrame, Observation, PolicyOutput, SlowPolicy } from "../../runtime/slowExecutor.js";
import { actionShapeError, nonFiniteActionError } from "./actionsCheck.js";
import { abortedError, raceDeadline } from "./deadline.js";
import { copyRemoteStats, emptyRemoteStats, oneLine, RemotePolicyError, type RemotePolicyStats } from "./errors.js";
import { withDefaults } from "./options.js";
import { decodeMsgpackStrict } from "./msgpackStrict.js";
import { MsgpackWriter, type MsgpackValue } from "./msgpackWriter.js";
import { describeWire, NdArray, ndarrayToFloat64, readNdarray, readNpGeneric, resolveWire, type WireValue } from "./ndarray.js";
import { OPENPI_KEY_PRESETS, writeOpenpiObservation, type OpenpiKeyPreset, type OpenpiKeys } from "./openpiObservation.js";

export interface OpenpiClientOptions {
  /** Server address. Default "ws://127.0.0.1:8000". */
  url?: string;
  /** Observation keys, or the name of a preset. Default "libero". */
  keys?: OpenpiKeys | OpenpiKeyPreset;
  /** Budget of one call, connecting included (ms). Default 2000. */
  timeoutMs?: number;
  /** Largest message accepted from the server (bytes). Default 16 MiB. */
  maxMessageBytes?: number;
  /** Required action width D (checked on every reply). */
  actionDim?: number;
  /** Most steps accepted in one chunk. Default 1000. */
  maxSteps?: number;
  /** dtype of the state arrays. Default "float64". */
  stateDtype?: "float32" | "float64";
  /** The wrist camera's newest frame, when the caller has one. */
  wristImage?: () => ImageFrame | undefined;
  /** Constant fields sent with every request. */
  extra?: Readonly<Record<string, MsgpackValue>>;
  /** Sent as "Authorization: Api-Key <key>" on connect, as openpi's client does. */
  apiKey?: string;
  name?: string;
}

/** Timing of the last reply: the server's own fields and our round trip. NaN where the server sent none. */
export interface OpenpiTiming {
  roundTripMs: number;
  serverInferMs: number;
  serverPrevTotalMs: number;
  policyInferMs: number;
}

type Incoming = { data: Uint8Array; isBinary: boolean };

interface Connection {
  ws: WebSocket;
  /** Messages that arrived with nobody waiting (at most one is legitimate: the metadata). */
  queue: Incoming[];
  waiter: { resolve: (m: Incoming) => void; reject: (e: RemotePolicyError) => void } | null;
  failure: RemotePolicyError | null;
}

export class OpenpiPolicyClient implements SlowPolicy {
  readonly name: string;
  readonly url: string;
  private readonly keys: OpenpiKeys;
  private readonly o: Required<Pick<OpenpiClientOptions, "timeoutMs" | "maxMessageBytes" | "maxSteps" | "stateDtype">> & OpenpiClientOptions;
  private readonly writer = new MsgpackWriter(256 * 1024);
  private readonly s = emptyRemoteStats();
  private connection: Connection | null = null;
  private connections = 0;
  private serverMetadata: { [key: string]: WireValue } | null = null;
  private timing: OpenpiTiming | null = null;
  private inFlight = false;

  constructor(options: OpenpiClientOptions = {}) {
    this.url = options.url ?? "ws://127.0.0.1:8000";
    if (!/^wss?:\/\//.test(this.url)) throw new Error(`openpi client: expected a ws:// or wss:// url, got "${this.url}"`);
    const keys = options.keys ?? "libero";
    if (typeof keys === "string" && !(keys in OPENPI_KEY_PRESETS)) throw new Error(`openpi client: expected keys preset ${Object.keys(OPENPI_KEY_PRESETS).join(" or ")}, got "${keys}"`);
    this.keys = typeof keys === "string" ? OPENPI_KEY_PRESETS[keys] : keys;
    this.o = withDefaults({ timeoutMs: 2000, maxMessageBytes: 16 * 1024 * 1024, maxSteps: 1000, stateDtype: "float64" as const }, options);
    for (const [what, v] of [["timeoutMs", this.o.timeoutMs], ["maxMessageBytes", this.o.maxMessageBytes], ["maxSteps", this.o.maxSteps]] as const) {
      if (!(Number.isFinite(v) && v > 0)) throw new Error(`openpi client: expected ${what} > 0, got ${v}`);
    }
    this.name = options.name ?? `openpi ${this.url}`;
  }

  /** The metadata the server sent on the current (or last) connection. */
  get metadata(): { readonly [key: string]: WireValue } | null {
    return this.serverMetadata;
  }

  /** Timing of the last successful call. */
  get lastTiming(): OpenpiTiming | null {
    return this.timing;
  }

  get connected(): boolean {
    return this.connection !== null && this.connection.ws.readyState === WebSocket.OPEN;
  }

  stats(): RemotePolicyStats {
    return copyRemoteStats(this.s);
  }

  /** Connect now (infer() connects lazily) and return the server's metadata. */
  async connect(signal?: AbortSignal): Promise<{ readonly [key: string]: WireValue }> {
    await this.ensureConnected(performance.now() + this.o.timeoutMs, signal);
    return this.serverMetadata!;
  }

  async infer(obs: Observation, signal: AbortSignal): Promise<PolicyOutput> {
    this.s.requests++;
    if (this.inFlight) return this.failed(new RemotePolicyError("busy", `${this.name}: a call is already in flight`));
    if (signal?.aborted) return this.failed(abortedError(signal));
    this.inFlight = true;
    const deadline = performance.now() + this.o.timeoutMs;
    try {
      // The request is built before any network I/O: a bad observation never reaches the server.
      const error = writeOpenpiObservation(this.writer.reset(), obs, {
        keys: this.keys,
        stateDtype: this.o.stateDtype,
        wristImage: this.o.wristImage?.(),
        extra: this.o.extra,
      });
      if (error !== null) return this.failed(new RemotePolicyError("schema", `${this.name}: not sent: ${error}`));
      const request = this.writer.bytes();
      try {
        const connection = await this.ensureConnected(deadline, signal);
        const sentAt = performance.now();
        const reply = this.next(connection, deadline, signal, () => `no reply within ${this.o.timeoutMs} ms`);
        connection.ws.send(request, { binary: true });
        const output = this.parseReply(await reply, sentAt);
        this.s.replies++;
        return output;
      } catch (err) {
        // After an abandoned or broken exchange the stream cannot be trusted to be in step: start over next time.
        this.dropConnection();
        return this.failed(err instanceof RemotePolicyError ? err : new RemotePolicyError("disconnected", `${this.name}: ${oneLine(err)}`));
      }
    } finally {
      this.inFlight = false;
    }
  }

  async close(): Promise<void> {
    const connection = this.connection;
    this.dropConnection();
    if (connection && connection.ws.readyState !== WebSocket.CLOSED) {
      await new Promise<void>((resolve) => {
        connection.ws.once("close", () => resolve());
        setTimeout(resolve, 200).unref();
      });
    }
  }

  private failed(error: RemotePolicyError): never {
    this.s.failures[error.kind]++;
    this.s.lastError = error.message;
    throw error;
  }

  private async ensureConnected(deadline: number, signal: AbortSignal | undefined): Promise<Connection> {
    if (this.connection !== null && this.connection.failure === null && this.connection.ws.readyState === WebSocket.OPEN) return this.connection;
    this.dropConnection();
    if (this.connections > 0) this.s.reconnects++;
    this.connections++;
    const headers = this.o.apiKey ? { Authorization: `Api-Key ${this.o.apiKey}` } : undefined;
    const ws = new WebSocket(this.url, { perMessageDeflate: false, maxPayload: this.o.maxMessageBytes, headers });
    const connection: Connection = { ws, queue: [], waiter: null, failure: null };
    this.connection = connection;
    ws.on("message", (data: RawData, isBinary: boolean) => {
      const message = { data: toBytes(data), isBinary };
      if (connection.waiter) {
        const { resolve } = connection.waiter;
        connection.waiter = null;
        resolve(message);
      } else if (connection.queue.length < 2) connection.queue.push(message);
      else this.fail(connection, new RemotePolicyError("schema", `${this.name}: the server sent messages nobody asked for`));
    });
    ws.on("error", (err: Error & { code?: string }) => this.fail(connection, this.describeSocketError(err)));
    ws.on("unexpected-response", (_req, res) => {
      this.fail(connection, new RemotePolicyError("refused", `${this.name}: the server refused the websocket upgrade with HTTP ${res.statusCode}`));
      ws.terminate();
    });
    ws.on("close", (code: number, reason: Buffer) => {
      const why = reason.length > 0 ? `: ${reason.toString("utf8").slice(0, 120)}` : "";
      this.fail(connection, new RemotePolicyError("disconnected", `${this.name}: the server closed the connection (code ${code}${why})`));
    });
    const metadataMessage = await this.next(connection, deadline, signal, () => (ws.readyState === WebSocket.OPEN ? `connected, but no metadata within ${this.o.timeoutMs} ms` : `could not connect within ${this.o.timeoutMs} ms`));
    if (!metadataMessage.isBinary) throw new RemotePolicyError("server", `${this.name}: server error instead of metadata: ${lastLine(metadataMessage.data)}`);
    const decoded = decodeMsgpackStrict(metadataMessage.data, { maxBytes: this.o.maxMessageBytes });
    if (!decoded.ok) throw new RemotePolicyError("schema", `${this.name}: metadata: ${decoded.error}`);
    const metadata = resolveWire(decoded.value, "metadata");
    if (!metadata.ok) throw new RemotePolicyError("schema", `${this.name}: ${metadata.error}`);
    if (typeof metadata.value !== "object" || metadata.value === null || Array.isArray(metadata.value) || metadata.value instanceof Uint8Array || metadata.value instanceof NdArray) {
      throw new RemotePolicyError("schema", `${this.name}: expected the metadata as a map, got ${describeWire(decoded.value)}`);
    }
    this.serverMetadata = metadata.value as { [key: string]: WireValue };
    return connection;
  }

  /** The next message on `connection`, bounded by the deadline and the signal. */
  private next(connection: Connection, deadline: number, signal: AbortSignal | undefined, timeoutText: () => string): Promise<Incoming> {
    const work = new Promise<Incoming>((resolve, reject) => {
      if (connection.failure) return reject(connection.failure);
      const queued = connection.queue.shift();
      if (queued) return resolve(queued);
      connection.waiter = { resolve, reject };
    });
    return raceDeadline(work, deadline - performance.now(), signal, () => new RemotePolicyError("timeout", `${this.name}: ${timeoutText()}`));
  }

  private fail(connection: Connection, error: RemotePolicyError): void {
    if (connection.failure === null) connection.failure = error;
    const waiter = connection.waiter;
    connection.waiter = null;
    waiter?.reject(connection.failure);
  }

  private dropConnection(): void {
    const connection = this.connection;
    if (connection === null) return;
    this.connection = null;
    this.fail(connection, new RemotePolicyError("disconnected", `${this.name}: connection closed by the client`));
    connection.ws.removeAllListeners("message");
    connection.ws.on("error", () => undefined); // late socket errors after we gave up on it are expected
    if (connection.ws.readyState !== WebSocket.CLOSED) connection.ws.terminate();
  }

  private describeSocketError(err: Error & { code?: string }): RemotePolicyError {
    switch (err.code) {
      case "ECONNREFUSED":
        return new RemotePolicyError("refused", `${this.name}: connection refused (nothing listening?)`);
      case "ENOTFOUND":
      case "EHOSTUNREACH":
      case "ENETUNREACH":
      case "EAI_AGAIN":
        return new RemotePolicyError("refused", `${this.name}: cannot reach the host (${err.code})`);
      case "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH":
        return new RemotePolicyError("tooLarge", `${this.name}: the server sent a message over the ${this.o.maxMessageBytes}-byte limit`);
      default:
        return new RemotePolicyError("disconnected", `${this.name}: socket error: ${oneLine(err)}`);
    }
  }

  private parseReply(message: Incoming, sentAt: number): PolicyOutput {
    if (!message.isBinary) throw new RemotePolicyError("server", `${this.name}: server error: ${lastLine(message.data)}`);
    const decoded = decodeMsgpackStrict(message.data, { maxBytes: this.o.maxMessageBytes });
    if (!decoded.ok) throw new RemotePolicyError("schema", `${this.name}: reply: ${decoded.error}`);
    const reply = decoded.value;
    if (typeof reply !== "object" || reply === null || Array.isArray(reply) || reply instanceof Uint8Array) {
      throw new RemotePolicyError("schema", `${this.name}: expected the reply as a map with "actions", got ${describeWire(reply)}`);
    }
    const fields = reply as Record<string, unknown>;
    const array = readNdarray(fields.actions, "actions");
    if (typeof array === "string") throw new RemotePolicyError("schema", `${this.name}: ${array}`);
    if (array.shape.length !== 2) throw new RemotePolicyError("schema", `${this.name}: expected actions as [T][D], got shape [${array.shape.join(", ")}]`);
    const [steps, dim] = array.shape;
    const shapeError = actionShapeError(steps, dim, this.o);
    if (shapeError !== null) throw new RemotePolicyError("schema", `${this.name}: ${shapeError}`);
    const actions = ndarrayToFloat64(array, "actions");
    if (typeof actions === "string") throw new RemotePolicyError("schema", `${this.name}: ${actions}`);
    const finiteError = nonFiniteActionError(actions, dim);
    if (finiteError !== null) throw new RemotePolicyError("schema", `${this.name}: ${finiteError}`);
    const roundTripMs = performance.now() - sentAt;
    this.s.lastRoundTripMs = roundTripMs;
    this.timing = {
      roundTripMs,
      serverInferMs: timingField(fields.server_timing, "infer_ms"),
      serverPrevTotalMs: timingField(fields.server_timing, "prev_total_ms"),
      policyInferMs: timingField(fields.policy_timing, "infer_ms"),
    };
    return { kind: "actions", actions, steps, dim };
  }
}

/** A timing number from an optional map; NaN when absent or not a number (timing never fails a reply). */
function timingField(map: unknown, key: string): number {
  if (typeof map !== "object" || map === null || Array.isArray(map) || map instanceof Uint8Array) return NaN;
  const value = (map as Record<string, unknown>)[key];
  if (typeof value === "number") return value;
  if (typeof value === "object" && value !== null && Object.hasOwn(value, "__npgeneric__")) {
    const scalar = readNpGeneric(value as Record<string, unknown>, key);
    if (typeof scalar !== "string" && typeof scalar.value === "number") return scalar.value;
  }
  return NaN;
}

function toBytes(data: RawData): Uint8Array {
  if (data instanceof Uint8Array) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return new Uint8Array(data);
}

/** The last non-empty line of a text frame (a Python traceback ends with the exception). */
function lastLine(data: Uint8Array): string {
  const lines = Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("utf8").split("\n").map((l) => l.trim()).filter(Boolean);
  return (lines.at(-1) ?? "(empty message)").slice(0, 300);
}
