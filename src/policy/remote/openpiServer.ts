// Serves a SlowPolicy over openpi's websocket protocol, so openpi clients (and this runtime's OpenpiPolicyClient)
// can drive it: metadata on connect, msgpack observation dicts in, {"actions": float32 [T, D], "server_timing"} out.
// Like openpi's server, a failure is reported as a text frame and the connection is closed (code 1011).
// The observation keys map back onto our Observation the same way the client maps them out.
import { WebSocketServer, type RawData, type WebSocket } from "ws";
import type { ChunkDecoder, Observation, PolicyOutput, SlowPolicy } from "../../runtime/slowExecutor.js";
import { raceDeadline } from "./deadline.js";
import { oneLine, RemotePolicyError } from "./errors.js";
import { withDefaults } from "./options.js";
import { decodeMsgpackStrict } from "./msgpackStrict.js";
import { MsgpackWriter, type MsgpackValue } from "./msgpackWriter.js";
import { describeWire, ndarrayToFloat64, readNdarray, type NdArray } from "./ndarray.js";
import { writeFloat32Ndarray } from "./ndarray.js";
import { OPENPI_KEY_PRESETS, type OpenpiKeyPreset, type OpenpiKeys } from "./openpiObservation.js";

export interface OpenpiPolicyServerOptions {
  policy: SlowPolicy;
  /** Default 127.0.0.1; port 0 lets the system pick. */
  host?: string;
  port?: number;
  keys?: OpenpiKeys | OpenpiKeyPreset;
  /** Sent to every client on connect. */
  metadata?: Readonly<Record<string, MsgpackValue>>;
  /** Needed when the policy answers with tokens (openpi replies carry actions). */
  decoder?: ChunkDecoder;
  /** Width of one action; needed with `decoder`. */
  actionDim?: number;
  /** Default 10000 ms. */
  inferTimeoutMs?: number;
  /** Largest request accepted. Default 32 MiB. */
  maxRequestBytes?: number;
}

export class OpenpiPolicyServer {
  private readonly keys: OpenpiKeys;
  private readonly o: OpenpiPolicyServerOptions & { inferTimeoutMs: number; maxRequestBytes: number };
  private server: WebSocketServer | null = null;
  private boundPort = 0;
  private served = 0;
  private failedRequests = 0;

  constructor(options: OpenpiPolicyServerOptions) {
    this.o = withDefaults({ inferTimeoutMs: 10_000, maxRequestBytes: 32 * 1024 * 1024 }, options);
    const keys = options.keys ?? "libero";
    this.keys = typeof keys === "string" ? OPENPI_KEY_PRESETS[keys] : keys;
    if (this.o.decoder && !(Number.isSafeInteger(this.o.actionDim) && this.o.actionDim! >= 1)) throw new Error("openpi policy server: a decoder needs actionDim");
  }

  /** Start listening; resolves with the port. */
  async start(): Promise<number> {
    if (this.server) return this.boundPort;
    const server = new WebSocketServer({ host: this.o.host ?? "127.0.0.1", port: this.o.port ?? 8000, perMessageDeflate: false, maxPayload: this.o.maxRequestBytes });
    await new Promise<void>((resolve, reject) => {
      server.once("listening", resolve);
      server.once("error", reject);
    });
    server.on("connection", (ws) => void this.serveConnection(ws));
    const address = server.address();
    this.boundPort = typeof address === "object" && address !== null ? address.port : 0;
    this.server = server;
    return this.boundPort;
  }

  get port(): number {
    return this.boundPort;
  }

  stats(): { served: number; failed: number } {
    return { served: this.served, failed: this.failedRequests };
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    for (const client of server.clients) client.terminate();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async serveConnection(ws: WebSocket): Promise<void> {
    const writer = new MsgpackWriter(64 * 1024);
    ws.send(writer.reset().value(this.o.metadata ?? {}).bytes());
    let prevTotalMs = NaN;
    let busy = Promise.resolve();
    ws.on("message", (data: RawData, isBinary: boolean) => {
      // Requests are answered in order, one at a time, as openpi's server does.
      busy = busy.then(async () => {
        const started = performance.now();
        try {
          if (!isBinary) throw new Error("expected a binary msgpack message, got text");
          const bytes = data instanceof Uint8Array ? data : Buffer.concat(data as Buffer[]);
          const obs = this.toObservation(bytes);
          const inferStarted = performance.now();
          const controller = new AbortController();
          const call = Promise.resolve().then(() => this.o.policy.infer(obs, controller.signal));
          const output = await raceDeadline(call, this.o.inferTimeoutMs, undefined, () => {
            controller.abort(new Error("timeout"));
            return new RemotePolicyError("timeout", `policy took longer than ${this.o.inferTimeoutMs} ms`);
          });
          const inferMs = performance.now() - inferStarted;
          const { actions, steps, dim } = this.toActions(output);
          writer.reset().mapHeader(2);
          writeFloat32Ndarray(writer.string("actions"), actions, [steps, dim]);
          writer.string("server_timing").mapHeader(Number.isNaN(prevTotalMs) ? 1 : 2).string("infer_ms").float64(inferMs);
          if (!Number.isNaN(prevTotalMs)) writer.string("prev_total_ms").float64(prevTotalMs);
          if (ws.readyState !== ws.OPEN) return;
          ws.send(writer.bytes());
          this.served++;
          prevTotalMs = performance.now() - started;
        } catch (err) {
          this.failedRequests++;
          if (ws.readyState === ws.OPEN) {
            ws.send(`Error in policy server: ${oneLine(err)}`);
            ws.close(1011, "Internal server error");
          }
        }
      });
    });
  }

  private toObservation(bytes: Uint8Array): Observation {
    const decoded = decodeMsgpackStrict(bytes, { maxBytes: this.o.maxRequestBytes });
    if (!decoded.ok) throw new Error(`request: ${decoded.error}`);
    const request = decoded.value;
    if (typeof request !== "object" || request === null || Array.isArray(request) || request instanceof Uint8Array) throw new Error(`expected the observation as a map, got ${describeWire(request)}`);
    const fields = request as Record<string, unknown>;
    const keys = this.keys;
    const state = floatVector(fields[keys.state], keys.state);
    const positions = keys.gripper !== undefined ? concat(state, floatVector(fields[keys.gripper], keys.gripper)) : state;
    const prompt = fields[keys.prompt];
    if (typeof prompt !== "string") throw new Error(`expected "${keys.prompt}" as a string, got ${describeWire(prompt)}`);
    let image: Observation["image"];
    if (keys.image !== undefined && fields[keys.image] !== undefined) {
      const array = asNdarray(fields[keys.image], keys.image);
      if (array.dtype !== "|u1" || array.shape.length !== 3 || array.shape[2] < 1 || array.shape[2] > 4) {
        throw new Error(`expected "${keys.image}" as uint8 [H, W, C], got ${array.dtype} [${array.shape.join(", ")}]`);
      }
      image = { height: array.shape[0], width: array.shape[1], channels: array.shape[2], data: new Uint8Array(array.data), timeNs: 0 };
    }
    const empty = new Float64Array(0);
    return { timeNs: 0, positions, velocities: new Float64Array(positions.length), wrench: new Float64Array(6), tactile: empty, image, instruction: prompt };
  }

  private toActions(output: PolicyOutput): { actions: Float64Array; steps: number; dim: number } {
    if (output.kind === "actions") return output;
    if (output.kind === "tokens" && this.o.decoder) {
      const decoded = this.o.decoder(output.tokens);
      if (decoded instanceof Error) throw decoded;
      const dim = this.o.actionDim!;
      if (decoded.length === 0 || decoded.length % dim !== 0) throw new Error(`decoded tokens: expected steps x ${dim} values, got ${decoded.length}`);
      return { actions: decoded, steps: decoded.length / dim, dim };
    }
    throw new Error(`policy output kind "${output.kind}" cannot be served over openpi (actions only${output.kind === "tokens" ? "; configure a decoder" : ""})`);
  }
}

function asNdarray(value: unknown, key: string): NdArray {
  const array = readNdarray(value, `"${key}"`);
  if (typeof array === "string") throw new Error(array);
  return array;
}

function floatVector(value: unknown, key: string): Float64Array {
  const array = asNdarray(value, key);
  const values = ndarrayToFloat64(array, `"${key}"`);
  if (typeof values === "string") throw new Error(values);
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) throw new Error(`"${key}"[${i}] is ${values[i]}`);
  return values;
}

function concat(a: Float64Array, b: Float64Array): Float64Array {
  const out = new Float64Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
