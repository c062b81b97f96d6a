import { encode } from "@msgpack/msgpack";
import { createServer } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { RemotePolicyError } from "../../../src/policy/remote/errors.js";
import { OpenpiPolicyClient } from "../../../src/policy/remote/openpiClient.js";
import { SharedRuntimeState } from "../../../src/runtime/sharedState.js";
import { SlowExecutor, type Observation } from "../../../src/runtime/slowExecutor.js";
import type { ActionChunk } from "../../../src/runtime/types.js";
import { actionsReply, concatBytes, float32Array, mapBytes, ndarrayBytes, OpenpiServerDouble } from "./openpiServerDouble.js";
import { failure } from "./failure.js";

const never = new AbortController().signal;
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function serverWith(behaviour: ConstructorParameters<typeof OpenpiServerDouble>[0]): Promise<OpenpiServerDouble> {
  const server = new OpenpiServerDouble(behaviour);
  await server.start();
  cleanups.push(() => server.stop());
  return server;
}

function client(url: string, options: Partial<ConstructorParameters<typeof OpenpiPolicyClient>[0]> = {}): OpenpiPolicyClient {
  const c = new OpenpiPolicyClient({ url, timeoutMs: 2000, ...options });
  cleanups.push(() => c.close());
  return c;
}

function observation(): Observation {
  return {
    timeNs: 5_000_000,
    positions: Float64Array.from([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.03]),
    velocities: new Float64Array(7),
    wrench: new Float64Array(6),
    tactile: new Float64Array(4),
    image: { width: 4, height: 2, channels: 3, data: Uint8Array.from({ length: 24 }, (_, i) => i * 10), timeNs: 4_000_000 },
    instruction: "wipe the marked area",
  };
}


/** A port with nothing listening on it. */
async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const port = (probe.address() as { port: number }).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

const formula = (t: number, d: number) => (t - 2 * d) / 8;

describe("OpenpiPolicyClient against an openpi-protocol server", () => {
  it("reads the metadata, sends the mapped observation with binary ndarray keys, returns the actions and the timing", async () => {
    const server = await serverWith(() => actionsReply(10, 7, formula));
    const c = client(server.url, { actionDim: 7 });
    const output = await c.infer(observation(), never);
    expect(output.kind).toBe("actions");
    if (output.kind !== "actions") return;
    expect([output.steps, output.dim]).toEqual([10, 7]);
    for (let t = 0; t < 10; t++) for (let d = 0; d < 7; d++) expect(output.actions[t * 7 + d]).toBe(formula(t, d));
    expect(c.metadata).toEqual({ server: "test double", action_horizon: 10 });
    expect(c.lastTiming).toMatchObject({ serverInferMs: 12.5, serverPrevTotalMs: 20.25, policyInferMs: NaN });
    expect(c.lastTiming!.roundTripMs).toBeGreaterThan(0);

    const request = server.requests[0];
    expect(Object.keys(request)).toEqual(["observation/state", "observation/image", "observation/wrist_image", "prompt"]);
    const state = request["observation/state"] as Record<string, unknown>;
    expect(Object.keys(state)).toEqual(["b:__ndarray__", "b:data", "b:dtype", "b:shape"]);
    expect(state["b:dtype"]).toBe("<f8");
    expect(state["b:shape"]).toEqual([7]);
    const stateBytes = state["b:data"] as Uint8Array;
    expect(Array.from(new Float64Array(Uint8Array.from(stateBytes).buffer))).toEqual([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.03]);
    const image = request["observation/image"] as Record<string, unknown>;
    expect([image["b:dtype"], image["b:shape"]]).toEqual(["|u1", [2, 4, 3]]);
    expect(Array.from(image["b:data"] as Uint8Array)).toEqual(Array.from({ length: 24 }, (_, i) => i * 10));
    const wrist = request["observation/wrist_image"] as Record<string, unknown>;
    expect(Array.from(wrist["b:data"] as Uint8Array).every((v) => v === 0)).toBe(true);
    expect(request.prompt).toBe("wipe the marked area");

    await c.infer(observation(), never);
    expect(server.connections).toBe(1); // the connection is kept between calls
    expect(c.stats()).toMatchObject({ requests: 2, replies: 2, reconnects: 0 });
  });

  it("fails fast with 'connection refused' when nothing listens, and counts it", async () => {
    const c = client(`ws://127.0.0.1:${await freePort()}`);
    const error = await failure(c.infer(observation(), never));
    expect(error.kind).toBe("refused");
    expect(error.message).toMatch(/connection refused/);
    expect(c.stats().failures.refused).toBe(1);
  });

  it("times out on a server that hangs, and recovers on a fresh connection when it answers again", async () => {
    const server = await serverWith((_req, index) => (index === 0 ? "hang" : actionsReply(5, 7, formula)));
    const c = client(server.url, { timeoutMs: 300 });
    const error = await failure(c.infer(observation(), never));
    expect(error.kind).toBe("timeout");
    expect(error.message).toMatch(/no reply within 300 ms/);
    const output = await c.infer(observation(), never);
    expect(output.kind === "actions" && output.steps).toBe(5);
    // The abandoned exchange was not reused: its late reply could have been taken for the next one.
    expect(server.connections).toBe(2);
    expect(c.stats()).toMatchObject({ replies: 1, reconnects: 1 });
    expect(c.stats().failures.timeout).toBe(1);
  });

  it("gives up on a server that accepts the connection but sends no metadata, or an empty message for it", async () => {
    const silent = new OpenpiServerDouble(() => actionsReply(1, 7, formula), null);
    await silent.start();
    cleanups.push(() => silent.stop());
    const timeout = await failure(client(silent.url, { timeoutMs: 300 }).infer(observation(), never));
    expect(timeout.kind).toBe("timeout");
    expect(timeout.message).toMatch(/connected, but no metadata within 300 ms/);

    const empty = new OpenpiServerDouble(() => actionsReply(1, 7, formula), new Uint8Array(0));
    await empty.start();
    cleanups.push(() => empty.stop());
    const schema = await failure(client(empty.url, { timeoutMs: 300 }).infer(observation(), never));
    expect(schema.kind).toBe("schema");
    expect(schema.message).toMatch(/metadata: empty message/);
  });

  it("honours the abort signal at once and starts over on the next call", async () => {
    const server = await serverWith((_req, index) => (index === 0 ? "hang" : actionsReply(2, 7, formula)));
    const c = client(server.url, { timeoutMs: 30_000 });
    const controller = new AbortController();
    const pending = c.infer(observation(), controller.signal);
    while (server.requests.length === 0) await new Promise((r) => setTimeout(r, 5));
    controller.abort(new Error("slow executor stopping"));
    const error = await failure(pending);
    expect(error.kind).toBe("aborted");
    expect(error.message).toBe("call aborted: slow executor stopping");
    const output = await c.infer(observation(), never);
    expect(output.kind).toBe("actions");
    expect(server.connections).toBe(2);
  }, 5000);

  it("does not start a call with an already aborted signal, nor a second call while one is in flight", async () => {
    const server = await serverWith((_req, index) => (index === 0 ? new Promise((r) => setTimeout(() => r(actionsReply(1, 7, formula)), 100)) : actionsReply(1, 7, formula)));
    const c = client(server.url);
    const controller = new AbortController();
    controller.abort(new Error("shutting down"));
    expect((await failure(c.infer(observation(), controller.signal))).kind).toBe("aborted");
    const first = c.infer(observation(), never);
    expect((await failure(c.infer(observation(), never))).kind).toBe("busy");
    expect((await first).kind).toBe("actions");
  });

  it("never sends a broken observation", async () => {
    const server = await serverWith(() => actionsReply(1, 7, formula));
    const c = client(server.url);
    const obs = observation();
    obs.positions[1] = Infinity;
    const error = await failure(c.infer(obs, never));
    expect(error.kind).toBe("schema");
    expect(error.message).toMatch(/not sent: observation: positions\[1\] is Infinity/);
    expect(server.connections).toBe(0);
  });

  describe("malformed replies are refused with the reason, counted, and the next call works", () => {
    const nanActions = () => {
      const values = Array.from({ length: 14 }, (_, i) => i / 10);
      values[9] = NaN;
      return mapBytes([["actions", ndarrayBytes("<f4", [2, 7], float32Array(values))]]);
    };
    const cases: Array<[string, () => Uint8Array | string, RegExp, RemotePolicyError["kind"]]> = [
      ["1-D actions", () => mapBytes([["actions", ndarrayBytes("<f4", [7], float32Array([1, 2, 3, 4, 5, 6, 7]))]]), /expected actions as \[T\]\[D\], got shape \[7\]/, "schema"],
      ["a NaN", nanActions, /actions\[1\]\[2\] is NaN/, "schema"],
      ["integer dtype", () => mapBytes([["actions", ndarrayBytes("<i4", [1, 7], new Uint8Array(28))]]), /expected actions as float32 or float64 .* got dtype "<i4"/, "schema"],
      ["object dtype", () => mapBytes([["actions", ndarrayBytes("|O", [1, 7], new Uint8Array(56))]]), /dtype to be one of/, "schema"],
      ["data shorter than the shape", () => mapBytes([["actions", ndarrayBytes("<f4", [2, 7], new Uint8Array(20))]]), /shape \[2, 7\] of <f4 needs 56 bytes, data has 20/, "schema"],
      ["the wrong width", () => actionsReply(10, 6, formula), /expected actions as \[T\]\[7\], got \[10\]\[6\]/, "schema"],
      ["no actions", () => encode({ result: "ok" }), /expected actions as a numpy array map .* got nothing/, "schema"],
      ["plain lists instead of an ndarray", () => encode({ actions: [[1, 2, 3, 4, 5, 6, 7]] }), /expected actions as a numpy array map .* got an array of 1/, "schema"],
      ["garbage bytes", () => Uint8Array.of(0xc1, 0x00, 0xff), /malformed msgpack: reserved byte 0xc1/, "schema"],
      ["an extension type", () => concatBytes([Uint8Array.of(0x81), encode("actions"), Uint8Array.of(0xd4, 0x07, 0x00)]), /extension type 7 .* not allowed/, "schema"],
      ["a Python traceback (text frame)", () => "Traceback (most recent call last):\n  File \"policy.py\", line 3\nValueError: boom\n", /server error: ValueError: boom/, "server"],
    ];
    for (const [what, reply, pattern, kind] of cases) {
      it(what, async () => {
        const server = await serverWith((_req, index) => (index === 0 ? reply() : actionsReply(3, 7, formula)));
        const c = client(server.url, { actionDim: 7 });
        const error = await failure(c.infer(observation(), never));
        expect(error.message).toMatch(pattern);
        expect(error.kind).toBe(kind);
        expect(c.stats().failures[kind]).toBe(1);
        expect(c.stats().lastError).toBe(error.message);
        const output = await c.infer(observation(), never);
        expect(output.kind === "actions" && output.steps).toBe(3);
      });
    }
  });

  it("refuses a message over the size limit and recovers", async () => {
    const huge = mapBytes([["actions", ndarrayBytes("<f4", [40_000, 7], new Uint8Array(40_000 * 7 * 4))]]);
    const server = await serverWith((_req, index) => (index === 0 ? huge : actionsReply(2, 7, formula)));
    const c = client(server.url, { maxMessageBytes: 512 * 1024 });
    const error = await failure(c.infer(observation(), never));
    expect(error.kind).toBe("tooLarge");
    expect(error.message).toMatch(/over the 524288-byte limit/);
    expect((await c.infer(observation(), never)).kind).toBe("actions");
  });
});

describe("OpenpiPolicyClient in the slow executor", () => {
  const layout = { dim: 7, tactileCount: 4, maxChunkSteps: 16, latentSize: 4 };

  function state(): SharedRuntimeState {
    const s = SharedRuntimeState.create(layout);
    const snapshot = s.createSensorSnapshot();
    snapshot.timeNs = 1_000_000;
    snapshot.positions.set([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.03]);
    s.writeSensors(snapshot);
    return s;
  }

  it("a hanging server costs one counted timeout and no chunk; when it answers, its chunk is published", async () => {
    let hang = true;
    const server = await serverWith(() => (hang ? "hang" : actionsReply(4, 7, formula)));
    const shared = state();
    const c = client(server.url, { timeoutMs: 10_000 });
    const slow = new SlowExecutor({ state: shared, policy: c, inputs: () => ({ instruction: "wipe" }), stepPeriodNs: 100e6, rateHz: 10, timeoutMs: 500 });
    const first = await slow.runOnce();
    expect(first).toMatchObject({ ok: false, kind: "timedOut" });
    expect(slow.stats().failures.timedOut).toBe(1);
    expect(c.stats().failures.aborted).toBe(1); // the executor's timeout aborted the call through the signal
    const chunk: ActionChunk = { actions: new Float64Array(16 * 7), steps: 0, dim: 0, stepPeriodNs: 0, observationTimeNs: 0, arrivalTimeNs: 0, sequence: 0 };
    expect(shared.readChunk(chunk)).toBe(0);

    hang = false;
    const second = await slow.runOnce();
    expect(second).toMatchObject({ ok: true, published: "chunk" });
    expect(shared.readChunk(chunk)).toBeGreaterThan(0);
    expect(chunk.steps).toBe(4);
    expect(chunk.actions[7 + 1]).toBe(formula(1, 1));
  });

  it("a malformed reply is reported by the executor with the client's one-line reason", async () => {
    const server = await serverWith(() => mapBytes([["actions", ndarrayBytes("<f8", [2], new Uint8Array(16))]]));
    const errors: string[] = [];
    const slow = new SlowExecutor({ state: state(), policy: client(server.url), inputs: () => ({ instruction: "wipe" }), stepPeriodNs: 100e6, rateHz: 10, timeoutMs: 1000, onError: (e) => errors.push(e) });
    expect(await slow.runOnce()).toMatchObject({ ok: false, kind: "threw" });
    expect(errors[0]).toMatch(/^policy "openpi ws:\/\/127\.0\.0\.1:\d+" threw: openpi ws:\/\/127\.0\.0\.1:\d+: expected actions as \[T\]\[D\], got shape \[2\]$/);
  });
});
