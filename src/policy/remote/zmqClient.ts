// Client side of the "vla-policy" protocol over a ZeroMQ REQ socket.
//
// A REQ socket that sent a request and never got the reply is stuck: it refuses to send again. So a call that times
// out, is aborted, or sees the connection drop throws the socket away (linger 0: nothing left queued) and the next
// call opens a fresh one: ZeroMQ's "lazy pirate" pattern. A late reply to the old socket dies with it; the request id
// catches anything else that is out of step.
import { Request } from "zeromq";
import type { Observation, PolicyOutput, SlowPolicy } from "../../runtime/slowExecutor.js";
import { abortedError, raceDeadline } from "./deadline.js";
import { copyRemoteStats, emptyRemoteStats, oneLine, RemotePolicyError, type RemotePolicyStats } from "./errors.js";
import { withDefaults } from "./options.js";
import { decodeMsgpackStrict } from "./msgpackStrict.js";
import { MsgpackWriter } from "./msgpackWriter.js";
import { observationToWire, parseReply, writeRequest, type PolicyReply, type PolicyRequest, type ServerMetadata } from "./zmqProtocol.js";

export interface ZmqPolicyClientOptions {
  /** Server endpoint. Default "tcp://127.0.0.1:5555". */
  endpoint?: string;
  /** Budget of one call (ms). Default 2000. */
  timeoutMs?: number;
  /** Largest reply accepted (bytes); the socket drops the connection on a larger one. Default 4 MiB. */
  maxReplyBytes?: number;
  /** Required action width D, checked on every actions reply. */
  actionDim?: number;
  /** Most steps accepted in one chunk. Default 1000. */
  maxSteps?: number;
  /** The runtime's step period (s): an actions reply with another period is refused (the runtime cannot resample it). */
  stepPeriodS?: number;
  /** The tokenizer the runtime's chunk decoder expects: a tokens reply naming another is refused. */
  tokenizer?: string;
  /** Send the camera image with each request. Default true. */
  includeImage?: boolean;
  name?: string;
}

/** What the last reply said beyond the chunk itself. */
export interface ZmqReplyInfo {
  kind: "actions" | "tokens";
  stepPeriodS: number;
  tokenizer: string | null;
  /** The server's own inference time, NaN when it sent none. */
  serverInferMs: number;
  roundTripMs: number;
}

export class ZmqPolicyClient implements SlowPolicy {
  readonly name: string;
  readonly endpoint: string;
  private readonly o: Required<Pick<ZmqPolicyClientOptions, "timeoutMs" | "maxReplyBytes" | "maxSteps" | "includeImage">> & ZmqPolicyClientOptions;
  private readonly writer = new MsgpackWriter(256 * 1024);
  private readonly s = emptyRemoteStats();
  private socket: Request | null = null;
  private sockets = 0;
  private everConnected = false;
  private connectRetries = 0;
  private dropped: ((error: RemotePolicyError) => void) | null = null;
  private nextId = 1;
  private inFlight = false;
  private info: ZmqReplyInfo | null = null;

  constructor(options: ZmqPolicyClientOptions = {}) {
    this.endpoint = options.endpoint ?? "tcp://127.0.0.1:5555";
    if (!/^(tcp|ipc|inproc):\/\/./.test(this.endpoint)) throw new Error(`zmq policy client: expected a tcp://, ipc:// or inproc:// endpoint, got "${this.endpoint}"`);
    this.o = withDefaults({ timeoutMs: 2000, maxReplyBytes: 4 * 1024 * 1024, maxSteps: 1000, includeImage: true }, options);
    for (const [what, v] of [["timeoutMs", this.o.timeoutMs], ["maxReplyBytes", this.o.maxReplyBytes], ["maxSteps", this.o.maxSteps]] as const) {
      if (!(Number.isFinite(v) && v > 0)) throw new Error(`zmq policy client: expected ${what} > 0, got ${v}`);
    }
    this.name = options.name ?? `zmq ${this.endpoint}`;
  }

  stats(): RemotePolicyStats {
    return copyRemoteStats(this.s);
  }

  /** Details of the last successful reply. */
  get lastReply(): ZmqReplyInfo | null {
    return this.info;
  }

  /** Ask the server what it serves. */
  async metadata(signal?: AbortSignal): Promise<ServerMetadata> {
    const reply = await this.call({ type: "metadata", id: 0 }, signal);
    if (reply.kind !== "metadata") throw this.count(new RemotePolicyError("schema", `${this.name}: expected a metadata reply, got kind "${reply.kind}"`));
    const { server, actionDim, stepPeriodS, output, tokenizer } = reply;
    return { server, actionDim, stepPeriodS, output, tokenizer };
  }

  async infer(obs: Observation, signal: AbortSignal): Promise<PolicyOutput> {
    this.s.requests++;
    const reply = await this.call({ type: "infer", id: 0, observation: observationToWire(obs, this.o.includeImage) }, signal);
    switch (reply.kind) {
      case "actions":
        if (this.o.stepPeriodS !== undefined && Math.abs(reply.stepPeriodS - this.o.stepPeriodS) > 1e-9 * Math.max(1, this.o.stepPeriodS)) {
          throw this.count(new RemotePolicyError("schema", `${this.name}: expected step_period_s ${this.o.stepPeriodS} (the runtime's), got ${reply.stepPeriodS}`));
        }
        this.s.replies++;
        this.info = { kind: "actions", stepPeriodS: reply.stepPeriodS, tokenizer: null, serverInferMs: reply.inferMs ?? NaN, roundTripMs: this.s.lastRoundTripMs };
        return { kind: "actions", actions: reply.actions, steps: reply.steps, dim: reply.dim };
      case "tokens":
        if (this.o.tokenizer !== undefined && reply.tokenizer !== this.o.tokenizer) {
          throw this.count(new RemotePolicyError("schema", `${this.name}: expected tokens of tokenizer "${this.o.tokenizer}", got "${reply.tokenizer}"`));
        }
        this.s.replies++;
        this.info = { kind: "tokens", stepPeriodS: reply.stepPeriodS ?? NaN, tokenizer: reply.tokenizer, serverInferMs: reply.inferMs ?? NaN, roundTripMs: this.s.lastRoundTripMs };
        return { kind: "tokens", tokens: reply.tokens };
      case "error":
        throw this.count(new RemotePolicyError("server", `${this.name}: server error: ${reply.error}`));
      default:
        throw this.count(new RemotePolicyError("schema", `${this.name}: expected an actions, tokens or error reply, got kind "${reply.kind}"`));
    }
  }

  /** Close the socket; a later call opens a new one. */
  close(): void {
    this.discardSocket();
  }

  /** One request/reply exchange with every check; failures are counted and thrown as RemotePolicyError. */
  private async call(request: PolicyRequest, signal: AbortSignal | undefined): Promise<PolicyReply> {
    if (this.inFlight) throw this.count(new RemotePolicyError("busy", `${this.name}: a call is already in flight`));
    if (signal?.aborted) throw this.count(abortedError(signal));
    const id = this.nextId;
    this.nextId = this.nextId >= 0xffffffff ? 1 : this.nextId + 1;
    const notSent = writeRequest(this.writer.reset(), { ...request, id });
    if (notSent !== null) throw this.count(new RemotePolicyError("schema", `${this.name}: not sent: ${notSent}`));
    const bytes = this.writer.bytes();
    this.inFlight = true;
    const socket = this.ensureSocket();
    const started = performance.now();
    try {
      const dropped = new Promise<never>((_, reject) => (this.dropped = reject));
      const exchange = (async () => {
        await socket.send(bytes);
        return socket.receive();
      })();
      const frames = await raceDeadline(Promise.race([exchange, dropped]), this.o.timeoutMs, signal, () => this.timeoutError());
      this.dropped = null;
      if (frames.length !== 1) throw new RemotePolicyError("schema", `${this.name}: expected a reply of one frame, got ${frames.length}`);
      const decoded = decodeMsgpackStrict(frames[0], { maxBytes: this.o.maxReplyBytes });
      if (!decoded.ok) throw new RemotePolicyError(decoded.error.includes("limit") ? "tooLarge" : "schema", `${this.name}: reply: ${decoded.error}`);
      const parsed = parseReply(decoded.value, id, { maxSteps: this.o.maxSteps, actionDim: this.o.actionDim });
      if (!parsed.ok) throw new RemotePolicyError("schema", `${this.name}: ${parsed.error}`);
      this.s.lastRoundTripMs = performance.now() - started;
      return parsed.value;
    } catch (err) {
      // Lazy pirate: whatever went wrong mid-exchange, this REQ socket is not to be trusted with another request.
      this.discardSocket();
      throw this.count(err instanceof RemotePolicyError ? err : new RemotePolicyError("disconnected", `${this.name}: ${oneLine(err)}`));
    } finally {
      this.dropped = null;
      this.inFlight = false;
    }
  }

  private ensureSocket(): Request {
    if (this.socket !== null) return this.socket;
    if (this.sockets > 0) this.s.reconnects++;
    this.sockets++;
    const socket = new Request({ linger: 0, maxMessageSize: this.o.maxReplyBytes, sendHighWaterMark: 1, receiveHighWaterMark: 1 });
    this.everConnected = false;
    this.connectRetries = 0;
    socket.events.on("connect", () => {
      if (this.socket === socket) this.everConnected = true;
    });
    socket.events.on("connect:retry", () => {
      if (this.socket === socket) this.connectRetries++;
    });
    socket.events.on("disconnect", () => {
      // The peer went away (or dropped us for a reply over the size limit): the pending reply will never come.
      if (this.socket === socket) this.dropped?.(new RemotePolicyError("disconnected", `${this.name}: the server dropped the connection while a reply was due (it closed, or sent more than the ${this.o.maxReplyBytes}-byte limit)`));
    });
    socket.connect(this.endpoint);
    this.socket = socket;
    return socket;
  }

  private discardSocket(): void {
    const socket = this.socket;
    this.socket = null;
    if (socket !== null && !socket.closed) socket.close();
  }

  private timeoutError(): RemotePolicyError {
    if (!this.everConnected) {
      const why = this.connectRetries > 0 ? "connection refused, retried " + this.connectRetries + " times" : "not reachable";
      return new RemotePolicyError("refused", `${this.name}: no connection within ${this.o.timeoutMs} ms (${why})`);
    }
    return new RemotePolicyError("timeout", `${this.name}: no reply within ${this.o.timeoutMs} ms`);
  }

  private count(error: RemotePolicyError): RemotePolicyError {
    this.s.failures[error.kind]++;
    this.s.lastError = error.message;
    return error;
  }
}
