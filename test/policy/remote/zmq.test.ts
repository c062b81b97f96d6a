import { decode, encode } from "@msgpack/msgpack";
import { Reply, Request } from "zeromq";
import { afterEach, describe, expect, it } from "vitest";
import { RemotePolicyError } from "../../../src/policy/remote/errors.js";
import { ZmqPolicyClient, type ZmqPolicyClientOptions } from "../../../src/policy/remote/zmqClient.js";
import { POLICY_PROTOCOL, POLICY_PROTOCOL_VERSION } from "../../../src/policy/remote/zmqProtocol.js";
import { ZmqPolicyServer, type ZmqPolicyServerOptions } from "../../../src/policy/remote/zmqServer.js";
import { SharedRuntimeState } from "../../../src/runtime/sharedState.js";
import { SlowExecutor, type Observation, type PolicyOutput, type SlowPolicy } from "../../../src/runtime/slowExecutor.js";
import type { ActionChunk } from "../../../src/runtime/types.js";
import { failure } from "./failure.js";

const never = new AbortController().signal;
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

function observation(withImage = true): Observation {
  return {
    timeNs: 123_456_789_012,
    positions: Float64Array.from([0.1, -0.2, 0.3, 0.04]),
    velocities: Float64Array.from([0, 0.5, 0, 0]),
    wrench: Float64Array.from([1, 2, 3, 0.1, 0.2, 0.3]),
    tactile: Float64Array.from([0, 0.25, 4]),
    image: withImage ? { width: 3, height: 2, channels: 3, data: Uint8Array.from({ length: 18 }, (_, i) => 200 + i), timeNs: 1 } : undefined,
    instruction: "wipe the marked area",
  };
}

/** A policy that answers from the observation, so every number can be checked on the far side. */
class EchoPolicy implements SlowPolicy {
  readonly name = "echo";
  readonly seen: Observation[] = [];
  constructor(private readonly answer: (obs: Observation, signal: AbortSignal) => PolicyOutput | Promise<PolicyOutput> = echoActions) {}
  async infer(obs: Observation, signal: AbortSignal): Promise<PolicyOutput> {
    this.seen.push(obs);
    return this.answer(obs, signal);
  }
}

function echoActions(obs: Observation): PolicyOutput {
  const steps = 5;
  const dim = obs.positions.length;
  const actions = new Float64Array(steps * dim);
  for (let t = 0; t < steps; t++) for (let d = 0; d < dim; d++) actions[t * dim + d] = obs.positions[d] + t / 16;
  return { kind: "actions", actions, steps, dim };
}

async function startServer(options: Partial<ZmqPolicyServerOptions> & { policy: SlowPolicy }): Promise<ZmqPolicyServer> {
  const server = new ZmqPolicyServer({ endpoint: "tcp://127.0.0.1:0", stepPeriodS: 0.1, ...options });
  await server.start();
  cleanups.push(() => server.close());
  return server;
}

function client(endpoint: string, options: ZmqPolicyClientOptions = {}): ZmqPolicyClient {
  const c = new ZmqPolicyClient({ endpoint, timeoutMs: 2000, ...options });
  cleanups.push(() => c.close());
  return c;
}


/** A raw REP socket that answers each request with whatever `answer` makes of it (or nothing: "hang"). */
async function rawServer(answer: (request: Record<string, unknown>, index: number) => Uint8Array | Uint8Array[] | "hang" | Promise<Uint8Array | "hang">, endpoint = "tcp://127.0.0.1:*") {
  const socket = new Reply({ linger: 0 });
  await socket.bind(endpoint);
  const requests: Array<Record<string, unknown>> = [];
  const loop = (async () => {
    try {
      for (;;) {
        const [frame] = await socket.receive();
        const request = decode(frame) as Record<string, unknown>;
        requests.push(request);
        const reply = await answer(request, requests.length - 1);
        if (reply === "hang") return; // never answers again: a stuck server
        await socket.send(reply);
      }
    } catch {
      // closed
    }
  })();
  const stop = async () => {
    if (!socket.closed) socket.close();
    await loop;
  };
  cleanups.push(stop);
  return { endpoint: socket.lastEndpoint!, requests, stop };
}

const envelope = (id: unknown, fields: Record<string, unknown>) => encode({ protocol: POLICY_PROTOCOL, version: POLICY_PROTOCOL_VERSION, id, ...fields });
const goodActions = (id: unknown) => envelope(id, { kind: "actions", actions: [[0.5, 0.25, 0, 1]], step_period_s: 0.1 });

describe("ZeroMQ policy protocol: client and server", () => {
  it("carries the whole observation and returns the policy's actions, step period and timing", async () => {
    const policy = new EchoPolicy();
    const server = await startServer({ policy, actionDim: 4 });
    const c = client(server.endpoint, { actionDim: 4, stepPeriodS: 0.1 });
    const output = await c.infer(observation(), never);
    if (output.kind !== "actions") throw new Error("expected actions");
    expect([output.steps, output.dim]).toEqual([5, 4]);
    expect(Array.from(output.actions)).toEqual(Array.from(echoActions(observation()).kind === "actions" ? (echoActions(observation()) as { actions: Float64Array }).actions : []));
    const seen = policy.seen[0];
    expect(seen.timeNs).toBe(123_456_789_012);
    expect(Array.from(seen.positions)).toEqual([0.1, -0.2, 0.3, 0.04]);
    expect(Array.from(seen.velocities)).toEqual([0, 0.5, 0, 0]);
    expect(Array.from(seen.wrench)).toEqual([1, 2, 3, 0.1, 0.2, 0.3]);
    expect(Array.from(seen.tactile)).toEqual([0, 0.25, 4]);
    expect(seen.image && [seen.image.height, seen.image.width, seen.image.channels, Array.from(seen.image.data)]).toEqual([2, 3, 3, Array.from({ length: 18 }, (_, i) => 200 + i)]);
    expect(seen.instruction).toBe("wipe the marked area");
    expect(c.lastReply).toMatchObject({ kind: "actions", stepPeriodS: 0.1, tokenizer: null });
    expect(c.lastReply!.serverInferMs).toBeGreaterThanOrEqual(0);
    expect(c.stats()).toMatchObject({ requests: 1, replies: 1, reconnects: 0 });
    expect(server.stats()).toMatchObject({ requests: 1, replies: 1 });
  });

  it("leaves the image out when told to, and serves metadata", async () => {
    const policy = new EchoPolicy();
    const server = await startServer({ policy, actionDim: 4, serverName: "echo server" });
    const c = client(server.endpoint, { includeImage: false });
    await c.infer(observation(), never);
    expect(policy.seen[0].image).toBeUndefined();
    expect(await c.metadata(never)).toEqual({ server: "echo server", actionDim: 4, stepPeriodS: 0.1, output: undefined, tokenizer: "fast" });
  });

  it("carries FAST/BEAST token replies with their tokenizer name, and refuses the wrong tokenizer", async () => {
    const server = await startServer({ policy: new EchoPolicy(() => ({ kind: "tokens", tokens: [256, 1, 2047, 0] })), tokenizer: "beast" });
    const beast = client(server.endpoint, { tokenizer: "beast" });
    expect(await beast.infer(observation(), never)).toEqual({ kind: "tokens", tokens: [256, 1, 2047, 0] });
    expect(beast.lastReply).toMatchObject({ kind: "tokens", tokenizer: "beast", stepPeriodS: 0.1 });
    const fast = client(server.endpoint, { tokenizer: "fast" });
    const error = await failure(fast.infer(observation(), never));
    expect(error.message).toMatch(/expected tokens of tokenizer "fast", got "beast"/);
  });

  it("decodes tokens on the server when it has a decoder", async () => {
    const decoder = (tokens: readonly number[]) => Float64Array.from(tokens, (t) => t / 100);
    const server = await startServer({ policy: new EchoPolicy(() => ({ kind: "tokens", tokens: [1, 2, 3, 4, 5, 6] })), decoder, actionDim: 3 });
    const output = await client(server.endpoint).infer(observation(), never);
    expect(output).toEqual({ kind: "actions", steps: 2, dim: 3, actions: Float64Array.from([0.01, 0.02, 0.03, 0.04, 0.05, 0.06]) });
  });

  it("refuses a step period other than the runtime's", async () => {
    const server = await startServer({ policy: new EchoPolicy(), stepPeriodS: 0.05 });
    const error = await failure(client(server.endpoint, { stepPeriodS: 0.1 }).infer(observation(), never));
    expect(error).toMatchObject({ kind: "schema", message: expect.stringMatching(/expected step_period_s 0.1 \(the runtime's\), got 0.05/) });
  });

  it("passes the policy's failures, bad outputs and timeouts back as error replies, and keeps serving", async () => {
    let call = 0;
    const policy = new EchoPolicy((obs, signal) => {
      call++;
      if (call === 1) throw new Error("model not loaded");
      if (call === 2) return { kind: "actions", actions: Float64Array.from([0, NaN]), steps: 1, dim: 2 };
      if (call === 3) return { kind: "latent", latent: new Float32Array(4) };
      if (call === 4) return new Promise<PolicyOutput>((_, reject) => signal.addEventListener("abort", () => reject(new Error("cancelled"))));
      return echoActions(obs);
    });
    const server = await startServer({ policy, inferTimeoutMs: 100 });
    const c = client(server.endpoint);
    const messages: string[] = [];
    for (let i = 0; i < 4; i++) {
      const error = await failure(c.infer(observation(), never));
      expect(error.kind).toBe("server");
      messages.push(error.message);
    }
    expect(messages[0]).toMatch(/server error: policy "echo" failed: model not loaded$/);
    expect(messages[1]).toMatch(/server error: policy output not sent: actions\[0\]\[1\] is NaN/);
    expect(messages[2]).toMatch(/server error: policy output kind "latent" cannot be served/);
    expect(messages[3]).toMatch(/server error: policy "echo" failed: .*policy took longer than 100 ms/);
    expect((await c.infer(observation(), never)).kind).toBe("actions");
    expect(server.stats().rejected.policy).toBe(4);
    // A server error is an answer: the socket stays in step and is kept.
    expect(c.stats().reconnects).toBe(0);
  });

  it("answers malformed requests with an error reply naming the problem (raw REQ client)", async () => {
    const server = await startServer({ policy: new EchoPolicy() });
    const req = new Request({ linger: 0 });
    cleanups.push(() => req.close());
    req.connect(server.endpoint);
    const ask = async (bytes: Uint8Array | Uint8Array[]) => {
      await req.send(bytes);
      const [frame] = await req.receive();
      return decode(frame) as Record<string, unknown>;
    };
    const garbage = await ask(Uint8Array.of(0xc1, 0xc1));
    expect(garbage).toMatchObject({ protocol: POLICY_PROTOCOL, version: 1, id: 0, kind: "error", error: expect.stringMatching(/malformed msgpack: reserved byte 0xc1/) });
    const ext = await ask(Uint8Array.of(0xd4, 0x01, 0x00));
    expect(ext.error).toMatch(/extension type 1 .*not allowed/);
    const wrongVersion = await ask(encode({ protocol: POLICY_PROTOCOL, version: 2, id: 9, type: "infer" }));
    expect(wrongVersion).toMatchObject({ id: 9, kind: "error", error: "unsupported protocol version the number 2 (this side speaks 1)" });
    const noPositions = await ask(encode({ protocol: POLICY_PROTOCOL, version: 1, id: 10, type: "infer", observation: { time_ns: 1, positions: ["a"], velocities: [], wrench: [], tactile: [], instruction: "" } }));
    expect(noPositions).toMatchObject({ id: 10, kind: "error", error: 'expected observation.positions as finite numbers, got the string "a" at observation.positions[0]' });
    const badImage = await ask(encode({ protocol: POLICY_PROTOCOL, version: 1, id: 11, type: "infer", observation: { time_ns: 1, positions: [0], velocities: [], wrench: [], tactile: [], instruction: "", image: { height: 2, width: 2, channels: 3, data: new Uint8Array(5) } } }));
    expect(badImage.error).toBe("expected observation.image.data as 2x2x3 = 12 bytes of binary, got 5 bytes of binary");
    const twoFrames = await ask([encode({}), encode({})]);
    expect(twoFrames.error).toBe("expected a request of one frame, got 2");
    expect(server.stats().rejected).toEqual({ malformed: 3, schema: 3, policy: 0 });
  });

  it("reports 'connection refused' when no server listens", async () => {
    const c = client("tcp://127.0.0.1:1", { timeoutMs: 400 });
    const error = await failure(c.infer(observation(), never));
    expect(error.kind).toBe("refused");
    expect(error.message).toMatch(/no connection within 400 ms \(connection refused, retried \d+ times\)/);
  });

  it("lazy pirate: after a timeout the stuck REQ socket is replaced and the next request goes through", async () => {
    let releaseFirst: (() => void) | null = null;
    const server = await rawServer((request, index) => {
      if (index === 0) return new Promise<Uint8Array>((resolve) => (releaseFirst = () => resolve(goodActions(request.id))));
      return goodActions(request.id);
    });
    const c = client(server.endpoint, { timeoutMs: 250 });
    const error = await failure(c.infer(observation(), never));
    expect(error).toMatchObject({ kind: "timeout", message: expect.stringMatching(/no reply within 250 ms/) });
    // The server answers the old request late (to a socket that no longer exists), then serves the new one.
    releaseFirst!();
    const output = await c.infer(observation(), never);
    expect(output).toMatchObject({ kind: "actions", steps: 1, dim: 4 });
    expect(server.requests.map((r) => r.id)).toEqual([1, 2]);
    expect(c.stats()).toMatchObject({ reconnects: 1, replies: 1 });
  });

  it("recovers when a dead server comes back on the same endpoint", async () => {
    const first = await startServer({ policy: new EchoPolicy() });
    const endpoint = first.endpoint;
    const c = client(endpoint, { timeoutMs: 300 });
    expect((await c.infer(observation(), never)).kind).toBe("actions");
    await first.close();
    const error = await failure(c.infer(observation(), never));
    expect(["timeout", "disconnected"]).toContain(error.kind);
    const second = await startServer({ policy: new EchoPolicy(), endpoint });
    expect(second.endpoint).toBe(endpoint);
    expect((await c.infer(observation(), never)).kind).toBe("actions");
  });

  it("honours the abort signal at once, and the next call uses a fresh socket", async () => {
    let releaseFirst: (() => void) | null = null;
    const server = await rawServer((request, index) => {
      if (index === 0) return new Promise<Uint8Array>((resolve) => (releaseFirst = () => resolve(goodActions(request.id))));
      return goodActions(request.id);
    });
    const c = client(server.endpoint, { timeoutMs: 30_000 });
    const controller = new AbortController();
    const pending = c.infer(observation(), controller.signal);
    while (server.requests.length === 0) await new Promise((r) => setTimeout(r, 5));
    controller.abort(new Error("slow executor stopping"));
    const error = await failure(pending);
    expect(error).toMatchObject({ kind: "aborted", message: "call aborted: slow executor stopping" });
    expect(c.stats().failures.aborted).toBe(1);
    releaseFirst!();
    expect((await c.infer(observation(), never)).kind).toBe("actions");
    expect(c.stats().reconnects).toBe(1);
  }, 5000);

  describe("malformed replies are refused with the reason, counted, and the next call works", () => {
    const cases: Array<[string, (id: unknown) => Uint8Array, RegExp, RemotePolicyError["kind"]]> = [
      ["a flat action list", (id) => envelope(id, { kind: "actions", actions: [1, 2, 3], step_period_s: 0.1 }), /expected actions as \[T\]\[D\] numbers, got an array of 3 with the number 1 first/, "schema"],
      ["ragged rows", (id) => envelope(id, { kind: "actions", actions: [[1, 2], [3]], step_period_s: 0.1 }), /expected actions as \[T\]\[D\] numbers, got \[2\]\[2\] \(row 1 is an array of 1, row 0 has 2\)/, "schema"],
      ["a string among the numbers", (id) => envelope(id, { kind: "actions", actions: [[1, "2"]], step_period_s: 0.1 }), /expected actions as \[T\]\[D\] numbers, got the string "2" at actions\[0\]\[1\]/, "schema"],
      ["a NaN", (id) => envelope(id, { kind: "actions", actions: [[1, 2], [NaN, 4]], step_period_s: 0.1 }), /actions\[1\]\[0\] is NaN/, "schema"],
      ["no step period", (id) => envelope(id, { kind: "actions", actions: [[1, 2]] }), /expected step_period_s as a positive number, got nothing/, "schema"],
      ["negative token ids", (id) => envelope(id, { kind: "tokens", tokens: [1, -2], tokenizer: "fast" }), /expected tokens as integer ids 0\.\.2147483647, got the number -2 at tokens\[1\]/, "schema"],
      ["an unknown kind", (id) => envelope(id, { kind: "pickle", data: new Uint8Array(3) }), /expected kind "actions", "tokens", "error" or "metadata", got the string "pickle"/, "schema"],
      ["another request's id", (id) => goodActions((id as number) + 1000), /reply id \d+ does not match request id \d+/, "schema"],
      ["another protocol version", (id) => encode({ protocol: POLICY_PROTOCOL, version: 7, id, kind: "actions" }), /unsupported protocol version the number 7/, "schema"],
      ["another protocol", (id) => encode({ protocol: "gr00t", version: 1, id }), /expected protocol "vla-policy", got the string "gr00t"/, "schema"],
      ["garbage bytes", () => Uint8Array.of(0x93, 0x01), /malformed msgpack: container at byte 0 declares 3 items but only 1 bytes are left/, "schema"],
      ["an extension type", () => Uint8Array.of(0xd7, 0xff, 0, 0, 0, 0, 0, 0, 0, 0), /extension type -1 at byte 0 is not allowed/, "schema"],
      ["an error reply", (id) => envelope(id, { kind: "error", error: "CUDA out of memory\ntraceback..." }), /server error: CUDA out of memory$/, "server"],
      ["an error reply about a request the server could not read (id 0)", () => envelope(0, { kind: "error", error: "malformed msgpack: truncated" }), /server error: malformed msgpack: truncated$/, "server"],
      ["a non-error reply with id 0", () => goodActions(0), /reply id 0 does not match request id \d+/, "schema"],
    ];
    for (const [what, reply, pattern, kind] of cases) {
      it(what, async () => {
        const server = await rawServer((request, index) => (index === 0 ? reply(request.id) : goodActions(request.id)));
        const c = client(server.endpoint);
        const error = await failure(c.infer(observation(), never));
        expect(error.message).toMatch(pattern);
        expect(error.kind).toBe(kind);
        expect(c.stats().failures[kind]).toBe(1);
        expect((await c.infer(observation(), never)).kind).toBe("actions");
      });
    }

    it("a reply over the size limit: the socket drops it and the call fails at once", async () => {
      const huge = envelope(1, { kind: "actions", actions: [new Array(200_000).fill(0.5)], step_period_s: 0.1 });
      const server = await rawServer((request, index) => (index === 0 ? huge : goodActions(request.id)));
      const c = client(server.endpoint, { maxReplyBytes: 64 * 1024, timeoutMs: 20_000 });
      const error = await failure(c.infer(observation(), never));
      expect(error.kind).toBe("disconnected");
      expect(error.message).toMatch(/dropped the connection .*65536-byte limit/);
      expect((await c.infer(observation(), never)).kind).toBe("actions");
    }, 10_000);
  });

  it("never sends a broken observation", async () => {
    const server = await rawServer((request) => goodActions(request.id));
    const c = client(server.endpoint);
    const obs = observation();
    obs.tactile[1] = NaN;
    const error = await failure(c.infer(obs, never));
    expect(error).toMatchObject({ kind: "schema", message: expect.stringMatching(/not sent: observation.tactile\[1\] is NaN/) });
    expect(server.requests).toHaveLength(0);
  });
});

describe("ZmqPolicyClient in the slow executor", () => {
  it("a dead server costs counted failures and no chunk; a live one publishes chunks", async () => {
    const layout = { dim: 4, tactileCount: 3, maxChunkSteps: 8, latentSize: 0 };
    const state = SharedRuntimeState.create(layout);
    const snapshot = state.createSensorSnapshot();
    snapshot.timeNs = 1_000;
    snapshot.positions.set([0.1, -0.2, 0.3, 0.04]);
    state.writeSensors(snapshot);
    const chunk: ActionChunk = { actions: new Float64Array(32), steps: 0, dim: 0, stepPeriodNs: 0, observationTimeNs: 0, arrivalTimeNs: 0, sequence: 0 };

    const dead = new SlowExecutor({ state, policy: client("tcp://127.0.0.1:1", { timeoutMs: 100 }), inputs: () => ({ instruction: "wipe" }), stepPeriodNs: 1e8, rateHz: 10, timeoutMs: 1000 });
    const outcome = await dead.runOnce();
    expect(outcome).toMatchObject({ ok: false, kind: "threw", error: expect.stringMatching(/no connection within 100 ms/) });
    expect(state.readChunk(chunk)).toBe(0);

    const server = await startServer({ policy: new EchoPolicy() });
    const live = new SlowExecutor({ state, policy: client(server.endpoint, { stepPeriodS: 0.1 }), inputs: () => ({ instruction: "wipe" }), stepPeriodNs: 1e8, rateHz: 10, timeoutMs: 1000 });
    expect(await live.runOnce()).toMatchObject({ ok: true, published: "chunk" });
    expect(state.readChunk(chunk)).toBeGreaterThan(0);
    expect(chunk.steps).toBe(5);
    expect(chunk.actions[4 + 2]).toBeCloseTo(0.3 + 1 / 16, 12);
  });
});
