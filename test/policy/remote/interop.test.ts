// Interoperability with the Python stack that real policy servers use (msgpack + numpy + websockets / pyzmq).
// Optional: set VLA_PYTHON to a Python that has those packages, e.g.
//   python3 -m venv /tmp/venv && /tmp/venv/bin/pip install msgpack numpy websockets pyzmq
//   VLA_PYTHON=/tmp/venv/bin/python npx vitest run test/policy/remote/interop.test.ts
// Without it the suite is skipped (the golden fixtures in ndarray.test.ts cover the byte format on every run).
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { OpenpiPolicyClient } from "../../../src/policy/remote/openpiClient.js";
import { ZmqPolicyClient } from "../../../src/policy/remote/zmqClient.js";
import { ZmqPolicyServer } from "../../../src/policy/remote/zmqServer.js";
import type { Observation, PolicyOutput, SlowPolicy } from "../../../src/runtime/slowExecutor.js";

const python = process.env.VLA_PYTHON ?? "";
const usable = python !== "" && spawnSync(python, ["-c", "import msgpack, numpy, websockets, zmq"]).status === 0;
const reference = (name: string) => join(import.meta.dirname, "reference", name);
const never = new AbortController().signal;

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const port = (probe.address() as { port: number }).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

function startPython(args: string[]): Promise<ChildProcess> {
  const child = spawn(python, args, { stdio: ["ignore", "pipe", "pipe"] });
  cleanups.push(() => void child.kill());
  return new Promise((resolve, reject) => {
    child.stdout!.on("data", (chunk: Buffer) => chunk.toString().includes("ready") && resolve(child));
    child.once("exit", (code) => reject(new Error(`python exited with ${code}`)));
  });
}

describe.skipIf(!usable)(`interop with Python msgpack/numpy servers and clients (VLA_PYTHON=${python || "unset"})`, () => {
  it("OpenpiPolicyClient drives an openpi-style server written with websockets + msgpack + numpy", async () => {
    const port = await freePort();
    await startPython([reference("openpi_style_server.py"), String(port), "8", "7"]);
    const client = new OpenpiPolicyClient({ url: `ws://127.0.0.1:${port}`, actionDim: 7 });
    cleanups.push(() => client.close());
    const image = Uint8Array.from({ length: 6 * 5 * 3 }, (_, i) => (i * 37) % 256);
    const obs: Observation = {
      timeNs: 1,
      positions: Float64Array.from([0.1, 0.2, -0.3, 0.4, 0.5, -0.6, 0.02]),
      velocities: new Float64Array(7),
      wrench: new Float64Array(6),
      tactile: new Float64Array(0),
      image: { width: 5, height: 6, channels: 3, data: image, timeNs: 1 },
      instruction: "wipe",
    };
    const output = await client.infer(obs, never);
    if (output.kind !== "actions") throw new Error("expected actions");
    expect([output.steps, output.dim]).toEqual([8, 7]);
    // The server's formula, evaluated in the same order in float64 and rounded to float32 as numpy does.
    const offset = (image.reduce((s, v) => s + v, 0) % 1000) * 0.001;
    for (let t = 0; t < 8; t++) for (let d = 0; d < 7; d++) expect(output.actions[t * 7 + d]).toBe(Math.fround(obs.positions[d] + 0.01 * t + offset));
    expect(client.metadata).toEqual({ server: "openpi-style reference", action_dim: 7, horizon: 8 });
    expect(client.lastTiming!.serverInferMs).toBeGreaterThan(0);
  });

  it("a Python client written from the protocol document talks to ZmqPolicyServer", async () => {
    const policy: SlowPolicy = {
      name: "doubler",
      infer: async (obs): Promise<PolicyOutput> => ({ kind: "actions", actions: Float64Array.from([...obs.positions].map((v) => 2 * v)), steps: 1, dim: obs.positions.length }),
    };
    const server = new ZmqPolicyServer({ endpoint: "tcp://127.0.0.1:0", policy, stepPeriodS: 0.05, actionDim: 4, serverName: "doubler" });
    const endpoint = await server.start();
    cleanups.push(() => server.close());
    const run = await new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
      const child = spawn(python, [reference("vla_policy_client.py"), endpoint]);
      let out = "";
      let err = "";
      child.stdout.on("data", (c: Buffer) => (out += c));
      child.stderr.on("data", (c: Buffer) => (err += c));
      child.on("exit", (code) => resolve({ code, out, err }));
    });
    expect(run.err).toBe("");
    expect(run.code).toBe(0);
    const [metadata, reply] = run.out.trim().split("\n").map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(metadata).toMatchObject({ id: 1, kind: "metadata", server: "doubler", action_dim: 4, step_period_s: 0.05 });
    expect(reply).toMatchObject({ id: 2, kind: "actions", actions: [[1, -0.5, 0.25, 0.0625]], step_period_s: 0.05 });
  });

  it("ZmqPolicyClient drives a Python server written from the protocol document", async () => {
    const port = await freePort();
    await startPython([reference("vla_policy_server.py"), `tcp://127.0.0.1:${port}`]);
    const client = new ZmqPolicyClient({ endpoint: `tcp://127.0.0.1:${port}`, actionDim: 4, stepPeriodS: 0.1 });
    cleanups.push(() => client.close());
    expect(await client.metadata(never)).toEqual({ server: "python example", actionDim: 4, stepPeriodS: 0.1, output: "actions", tokenizer: undefined });
    const obs: Observation = { timeNs: 5, positions: Float64Array.from([0.5, -0.25, 0, 1]), velocities: new Float64Array(4), wrench: new Float64Array(6), tactile: new Float64Array(2), instruction: "wipe" };
    const output = await client.infer(obs, never);
    if (output.kind !== "actions") throw new Error("expected actions");
    expect([output.steps, output.dim]).toEqual([10, 4]);
    for (let t = 0; t < 10; t++) for (let d = 0; d < 4; d++) expect(output.actions[t * 4 + d]).toBe(obs.positions[d] + 0.01 * (t + 1));
  });
});
