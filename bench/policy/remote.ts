// Remote policy round trip over loopback: openpi's websocket protocol and our ZeroMQ "vla-policy" protocol, each
// with a 224x224x3 image + a 7-value state out and a 50x7 action chunk back, through the real clients and the
// reference servers (the server-side policy returns a precomputed chunk, so the figures are protocol + transport).
import { OpenpiPolicyClient } from "../../src/policy/remote/openpiClient.js";
import { OpenpiPolicyServer } from "../../src/policy/remote/openpiServer.js";
import { ZmqPolicyClient } from "../../src/policy/remote/zmqClient.js";
import { ZmqPolicyServer } from "../../src/policy/remote/zmqServer.js";
import { MsgpackWriter } from "../../src/policy/remote/msgpackWriter.js";
import { writeFloat32Ndarray } from "../../src/policy/remote/ndarray.js";
import { OPENPI_KEY_PRESETS, writeOpenpiObservation } from "../../src/policy/remote/openpiObservation.js";
import { observationToWire, writeReply, writeRequest } from "../../src/policy/remote/zmqProtocol.js";
import type { Observation, PolicyOutput, SlowPolicy } from "../../src/runtime/slowExecutor.js";
import { printTable, quantile, type Row } from "../lib/harness.js";

const STEPS = 50;
const DIM = 7;
const IMAGE_SIDE = 224;
const WARMUP = 30;
const ITERATIONS = 300;

function benchObservation(): Observation {
  const data = new Uint8Array(IMAGE_SIDE * IMAGE_SIDE * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * 31) & 0xff;
  return {
    timeNs: 1,
    positions: Float64Array.from([0.1, -0.4, 0.8, -1.2, 0.3, 0.5, 0.02]),
    velocities: new Float64Array(DIM),
    wrench: new Float64Array(6),
    tactile: new Float64Array(16),
    image: { width: IMAGE_SIDE, height: IMAGE_SIDE, channels: 3, data, timeNs: 1 },
    instruction: "wipe the marked area",
  };
}

/** Answers every call with the same 50x7 chunk (values exact in float32, so both protocols carry them unchanged). */
class FixedChunkPolicy implements SlowPolicy {
  readonly name = "fixed 50x7 chunk";
  private readonly actions = Float64Array.from({ length: STEPS * DIM }, (_, i) => ((i % 64) - 32) / 64);
  async infer(): Promise<PolicyOutput> {
    return { kind: "actions", actions: this.actions, steps: STEPS, dim: DIM };
  }
}

async function measure(policy: SlowPolicy, obs: Observation): Promise<number[]> {
  const never = new AbortController().signal;
  const samples: number[] = [];
  for (let i = 0; i < WARMUP + ITERATIONS; i++) {
    const started = performance.now();
    const output = await policy.infer(obs, never);
    const ms = performance.now() - started;
    if (output.kind !== "actions" || output.steps !== STEPS || output.dim !== DIM) throw new Error(`remote bench: unexpected reply ${output.kind}`);
    if (i >= WARMUP) samples.push(ms);
  }
  return samples;
}

/** Sizes of the messages as the client and server write them (request: image, black wrist frame, state, prompt). */
function openpiMessageBytes(obs: Observation): { request: number; reply: number } {
  const w = new MsgpackWriter();
  writeOpenpiObservation(w, obs, { keys: OPENPI_KEY_PRESETS.libero, stateDtype: "float64" });
  const request = w.length;
  w.reset().mapHeader(2);
  writeFloat32Ndarray(w.string("actions"), new Float64Array(STEPS * DIM), [STEPS, DIM]);
  w.string("server_timing").value({ infer_ms: 0.5, prev_total_ms: 1.5 });
  return { request, reply: w.length };
}

function zmqMessageBytes(obs: Observation): { request: number; reply: number } {
  const w = new MsgpackWriter();
  writeRequest(w, { type: "infer", id: 1, observation: observationToWire(obs, true) });
  const request = w.length;
  writeReply(w.reset(), { kind: "actions", id: 1, actions: new Float64Array(STEPS * DIM).fill(0.5), steps: STEPS, dim: DIM, stepPeriodS: 0.02, inferMs: 0.5 });
  return { request, reply: w.length };
}

function summarize(protocol: string, samples: number[], requestBytes: number, replyBytes: number, serverMs: number[]): Row {
  return {
    protocol,
    "p50 ms": quantile(samples, 0.5),
    "p99 ms": quantile(samples, 0.99),
    "max ms": Math.max(...samples),
    "server infer p50 ms": serverMs.length > 0 ? quantile(serverMs, 0.5) : null,
    "request bytes": requestBytes,
    "reply bytes": replyBytes,
    iterations: samples.length,
  };
}

export async function runRemotePolicyBench(): Promise<{ rows: Row[]; json: object }> {
  const obs = benchObservation();
  const rows: Row[] = [];

  // openpi: websocket + msgpack with numpy arrays
  const openpiServer = new OpenpiPolicyServer({ policy: new FixedChunkPolicy(), port: 0 });
  const port = await openpiServer.start();
  const openpi = new OpenpiPolicyClient({ url: `ws://127.0.0.1:${port}`, actionDim: DIM });
  const openpiServerMs: number[] = [];
  const timedOpenpi: SlowPolicy = {
    name: openpi.name,
    infer: async (o, s) => {
      const out = await openpi.infer(o, s);
      openpiServerMs.push(openpi.lastTiming!.serverInferMs);
      return out;
    },
  };
  try {
    const samples = await measure(timedOpenpi, obs);
    const sizes = openpiMessageBytes(obs);
    rows.push(summarize("openpi websocket", samples, sizes.request, sizes.reply, openpiServerMs.slice(WARMUP)));
  } finally {
    await openpi.close();
    await openpiServer.close();
  }

  // vla-policy: ZeroMQ REQ/REP + msgpack
  const zmqServer = new ZmqPolicyServer({ endpoint: "tcp://127.0.0.1:0", policy: new FixedChunkPolicy(), stepPeriodS: 0.02, actionDim: DIM });
  const endpoint = await zmqServer.start();
  const zmq = new ZmqPolicyClient({ endpoint, actionDim: DIM, stepPeriodS: 0.02 });
  const zmqServerMs: number[] = [];
  const timedZmq: SlowPolicy = {
    name: zmq.name,
    infer: async (o, s) => {
      const out = await zmq.infer(o, s);
      zmqServerMs.push(zmq.lastReply!.serverInferMs);
      return out;
    },
  };
  try {
    const samples = await measure(timedZmq, obs);
    const sizes = zmqMessageBytes(obs);
    rows.push(summarize("vla-policy ZeroMQ", samples, sizes.request, sizes.reply, zmqServerMs.slice(WARMUP)));
  } finally {
    zmq.close();
    await zmqServer.close();
  }

  printTable(`Remote policy round trip over loopback (${IMAGE_SIDE}x${IMAGE_SIDE}x3 image + state out, ${STEPS}x${DIM} actions back, ${ITERATIONS} calls)`, rows);
  return {
    rows,
    json: {
      remote: {
        setup: { imageSide: IMAGE_SIDE, steps: STEPS, dim: DIM, iterations: ITERATIONS, warmup: WARMUP, transport: "loopback 127.0.0.1" },
        results: rows,
      },
    },
  };
}
