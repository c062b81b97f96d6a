// Server side of the "vla-policy" protocol: serves any SlowPolicy on a ZeroMQ REP socket, e.g. the scripted
// expert as a remote policy, or a model running in another process or on another machine.
//
// One request at a time (REP answers each request before it reads the next). Every request gets a reply: a request
// that is not valid msgpack, breaks the schema, or makes the policy fail is answered with kind "error" and a one-line
// reason, so a client never waits for nothing because it sent something wrong.
import { Reply } from "zeromq";
import type { ChunkDecoder, PolicyOutput, SlowPolicy } from "../../runtime/slowExecutor.js";
import { raceDeadline } from "./deadline.js";
import { oneLine, RemotePolicyError } from "./errors.js";
import { withDefaults } from "./options.js";
import { decodeMsgpackStrict } from "./msgpackStrict.js";
import { MsgpackWriter } from "./msgpackWriter.js";
import { parseRequest, wireToObservation, writeReply, type PolicyReply, type ServerMetadata } from "./zmqProtocol.js";

export interface ZmqPolicyServerOptions {
  /** Where to bind, e.g. "tcp://127.0.0.1:5555" (or port "*" / 0 to let the system pick). */
  endpoint: string;
  policy: SlowPolicy;
  /** Step period (s) of the chunks the policy returns. */
  stepPeriodS: number;
  /** Name of the tokenizer when the policy returns tokens (e.g. "fast", "beast"). Default "fast". */
  tokenizer?: string;
  /** Turn token outputs into actions before sending (then `actionDim` must be set). Default: send tokens as they are. */
  decoder?: ChunkDecoder;
  /** Width of one action (reported in metadata; required with `decoder`). */
  actionDim?: number;
  /** A policy call that takes longer is aborted and answered with an error (ms). Default 10000. */
  inferTimeoutMs?: number;
  /** Largest request accepted (bytes). Default 32 MiB. */
  maxRequestBytes?: number;
  /** Name reported in metadata. Default the policy's name. */
  serverName?: string;
}

export interface ZmqPolicyServerStats {
  requests: number;
  replies: number;
  /** Requests answered with kind "error", by cause. */
  rejected: { malformed: number; schema: number; policy: number };
  lastError: string | null;
}

export class ZmqPolicyServer {
  private readonly o: ZmqPolicyServerOptions & { inferTimeoutMs: number; maxRequestBytes: number; tokenizer: string };
  private readonly writer = new MsgpackWriter(64 * 1024);
  private socket: Reply | null = null;
  private loop: Promise<void> | null = null;
  private current: AbortController | null = null;
  private readonly s: ZmqPolicyServerStats = { requests: 0, replies: 0, rejected: { malformed: 0, schema: 0, policy: 0 }, lastError: null };
  private boundEndpoint = "";

  constructor(options: ZmqPolicyServerOptions) {
    this.o = withDefaults({ inferTimeoutMs: 10_000, maxRequestBytes: 32 * 1024 * 1024, tokenizer: "fast" }, options);
    if (!(this.o.stepPeriodS > 0 && Number.isFinite(this.o.stepPeriodS))) throw new Error(`zmq policy server: expected stepPeriodS > 0, got ${this.o.stepPeriodS}`);
    if (this.o.decoder && !(Number.isSafeInteger(this.o.actionDim) && this.o.actionDim! >= 1)) throw new Error("zmq policy server: a decoder needs actionDim (the width of one decoded action)");
  }

  /** Bind and start serving; resolves with the bound endpoint (useful with port 0). */
  async start(): Promise<string> {
    if (this.socket) return this.boundEndpoint;
    const socket = new Reply({ linger: 0, maxMessageSize: this.o.maxRequestBytes });
    await socket.bind(this.o.endpoint.replace(/:0$/, ":*"));
    this.socket = socket;
    this.boundEndpoint = socket.lastEndpoint ?? this.o.endpoint;
    this.loop = this.serve(socket);
    return this.boundEndpoint;
  }

  get endpoint(): string {
    return this.boundEndpoint;
  }

  stats(): ZmqPolicyServerStats {
    return { ...this.s, rejected: { ...this.s.rejected } };
  }

  async close(): Promise<void> {
    this.current?.abort(new Error("server closing"));
    const socket = this.socket;
    this.socket = null;
    if (socket && !socket.closed) socket.close();
    await this.loop;
    this.loop = null;
  }

  private async serve(socket: Reply): Promise<void> {
    while (!socket.closed) {
      let frames: Buffer[];
      try {
        frames = await socket.receive();
      } catch {
        return; // closed
      }
      this.s.requests++;
      const reply = await this.handle(frames);
      const bytes = this.encode(reply);
      try {
        await socket.send(bytes);
        this.s.replies++;
      } catch {
        return;
      }
    }
  }

  private async handle(frames: Buffer[]): Promise<PolicyReply> {
    if (frames.length !== 1) return this.reject("malformed", 0, `expected a request of one frame, got ${frames.length}`);
    const decoded = decodeMsgpackStrict(frames[0], { maxBytes: this.o.maxRequestBytes });
    if (!decoded.ok) return this.reject("malformed", 0, `request: ${decoded.error}`);
    const parsed = parseRequest(decoded.value);
    if (!parsed.ok) return this.reject("schema", parsed.id, parsed.error);
    const request = parsed.value;
    if (request.type === "metadata") return { kind: "metadata", id: request.id, ...this.metadata() };

    const controller = new AbortController();
    this.current = controller;
    const started = performance.now();
    let output: PolicyOutput;
    try {
      const call = Promise.resolve().then(() => this.o.policy.infer(wireToObservation(request.observation), controller.signal));
      output = await raceDeadline(call, this.o.inferTimeoutMs, controller.signal, () => new RemotePolicyError("timeout", `policy took longer than ${this.o.inferTimeoutMs} ms`));
    } catch (err) {
      controller.abort(err);
      return this.reject("policy", request.id, `policy "${this.o.policy.name}" failed: ${oneLine(err)}`);
    } finally {
      this.current = null;
    }
    const inferMs = performance.now() - started;
    return this.toReply(request.id, output, inferMs);
  }

  private toReply(id: number, output: PolicyOutput, inferMs: number): PolicyReply {
    if (typeof output !== "object" || output === null) return this.reject("policy", id, `policy returned ${output === null ? "null" : typeof output}`);
    if (output.kind === "actions") {
      return { kind: "actions", id, actions: output.actions, steps: output.steps, dim: output.dim, stepPeriodS: this.o.stepPeriodS, inferMs };
    }
    if (output.kind === "tokens") {
      if (!this.o.decoder) return { kind: "tokens", id, tokens: output.tokens, tokenizer: this.o.tokenizer, stepPeriodS: this.o.stepPeriodS, inferMs };
      let decoded: Float64Array | Error;
      try {
        decoded = this.o.decoder(output.tokens);
      } catch (err) {
        decoded = err instanceof Error ? err : new Error(String(err));
      }
      if (decoded instanceof Error) return this.reject("policy", id, `decoding the policy's ${output.tokens.length} tokens failed: ${oneLine(decoded)}`);
      const dim = this.o.actionDim!;
      if (decoded.length === 0 || decoded.length % dim !== 0) return this.reject("policy", id, `decoded tokens: expected steps x ${dim} values, got ${decoded.length}`);
      return { kind: "actions", id, actions: decoded, steps: decoded.length / dim, dim, stepPeriodS: this.o.stepPeriodS, inferMs };
    }
    return this.reject("policy", id, `policy output kind "${String((output as { kind?: unknown }).kind)}" cannot be served (the protocol carries actions or tokens)`);
  }

  private metadata(): ServerMetadata {
    const output = this.o.decoder ? "actions" : undefined;
    return {
      server: (this.o.serverName ?? this.o.policy.name).slice(0, 256),
      actionDim: this.o.actionDim,
      stepPeriodS: this.o.stepPeriodS,
      output,
      tokenizer: this.o.decoder ? undefined : this.o.tokenizer,
    };
  }

  /** Encode a reply; one the policy made invalid is replaced by an error reply saying why. */
  private encode(reply: PolicyReply): Uint8Array {
    const error = writeReply(this.writer.reset(), reply);
    if (error === null) return this.writer.bytes();
    const replacement = this.reject("policy", reply.id, `policy output not sent: ${error}`);
    writeReply(this.writer.reset(), replacement);
    return this.writer.bytes();
  }

  private reject(cause: keyof ZmqPolicyServerStats["rejected"], id: number, error: string): PolicyReply {
    this.s.rejected[cause]++;
    this.s.lastError = error;
    return { kind: "error", id, error };
  }
}
