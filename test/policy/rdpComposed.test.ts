// The composition: a slow policy's chunk -> RDP encoder -> latent slot, the chunk itself -> chunk slot; then the real
// fast worker (bundled from the sources) with the "rdp" plugin decodes the latent with live touch every tick.
import { rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadArmDescription } from "../../src/kinematics/description.js";
import { loadSession, Tensor } from "../../src/policy/onnx.js";
import { decodeLatentToChunk, encodeChunkToLatent, loadRdpContract, RdpComposedPolicy, RdpEncoder, RdpGruDecoder, touchFeaturesInto } from "../../src/policy/rdp.js";
import { loadVlaConfig, VlaPolicy, VlaRunner, vlaChunkCodec } from "../../src/policy/vla.js";
import { FastExecutor, SharedMemoryBridge } from "../../src/runtime/fastExecutor.js";
import type { FastWorkerConfig } from "../../src/runtime/fastWorker.js";
import { SharedRuntimeState, type LatentSample } from "../../src/runtime/sharedState.js";
import { SlowExecutor, type Observation, type PolicyOutput, type SlowPolicy } from "../../src/runtime/slowExecutor.js";
import type { ActionChunk, ArmBackend, SensorSnapshot } from "../../src/runtime/types.js";
import { bundleSourceModule } from "../helpers/bundle.js";
import { loadGolden, RDP_DIR, recipeImage, TINY_VLA_DIR } from "./vlaGolden.js";

const arm = loadArmDescription(fileURLToPath(new URL("../../sim/arm/description.json", import.meta.url)));
const contract = loadRdpContract(RDP_DIR);
const gru = RdpGruDecoder.fromSafetensors(join(RDP_DIR, contract.files.decoderWeights), contract);
const READY = [0, 0.37, 0.78, 2.0, 0, 0, 0.04];
const layout = { dim: 7, tactileCount: 16, maxChunkSteps: 64, latentSize: 128 };

function stateWithSensors(): SharedRuntimeState {
  const state = SharedRuntimeState.create(layout);
  const s = state.createSensorSnapshot();
  s.timeNs = 42e6;
  s.positions.set(READY);
  s.wrench[2] = 6;
  state.writeSensors(s);
  return state;
}

function readChunk(state: SharedRuntimeState): ActionChunk {
  const chunk: ActionChunk = { actions: new Float64Array(64 * 7), steps: 0, dim: 0, stepPeriodNs: 0, observationTimeNs: 0, arrivalTimeNs: 0, sequence: 0 };
  expect(state.readChunk(chunk)).toBeGreaterThan(0);
  return chunk;
}

function readLatent(state: SharedRuntimeState): LatentSample {
  const sample = state.createLatentSample();
  expect(state.readLatent(sample)).toBeGreaterThan(0);
  return sample;
}

/** Absolute commands, 10 steps at 0.1 s, around the ready pose. */
class ChunkPolicy implements SlowPolicy {
  readonly name = "chunk";
  constructor(private readonly amplitude = 0.2) {}
  async infer(obs: Observation): Promise<PolicyOutput> {
    const actions = new Float64Array(70);
    for (let s = 0; s < 10; s++) for (let d = 0; d < 7; d++) actions[s * 7 + d] = obs.positions[d] + (d < 6 ? this.amplitude * Math.sin((s + 1) / 5 + d) : 0);
    return { kind: "actions", actions, steps: 10, dim: 7 };
  }
}

describe("RdpComposedPolicy (slow side)", () => {
  let encoder: RdpEncoder;
  beforeAll(async () => {
    encoder = await RdpEncoder.load(RDP_DIR);
  });
  afterAll(async () => {
    await encoder?.release();
  });

  it("publishes the chunk and its latent: the latent is the encoder's for that chunk, stamped with the observation", async () => {
    const state = stateWithSensors();
    const policy = new RdpComposedPolicy({ inner: new ChunkPolicy(), state, encoder, stepPeriodNs: 100e6 });
    const slow = new SlowExecutor({ state, policy, inputs: () => ({ instruction: "" }), stepPeriodNs: 100e6, rateHz: 5, timeoutMs: 5000 });
    expect(await slow.runOnce()).toMatchObject({ ok: true, published: "chunk" });
    const chunk = readChunk(state);
    expect(chunk).toMatchObject({ steps: 10, dim: 7, observationTimeNs: 42e6 });
    const latent = readLatent(state);
    expect(latent).toMatchObject({ length: 128, observationTimeNs: 42e6, sequence: 1 });
    const expected = await encodeChunkToLatent(encoder, chunk.actions.subarray(0, 70), 10, 100e6);
    expect(Array.from(latent.latent.subarray(0, 128))).toEqual(Array.from(expected));
    expect(policy.stats()).toMatchObject({ calls: 1, latentsWritten: 1, failures: 0 });
    expect(policy.stats().lastEncoderMs).toBeGreaterThan(0);
  });

  it("wraps the tiny VLA: FAST tokens -> strict decode -> joint deltas -> chunk + latent", async () => {
    const runner = await VlaRunner.load({ dir: TINY_VLA_DIR });
    try {
      const config = loadVlaConfig(TINY_VLA_DIR);
      const codec = vlaChunkCodec(TINY_VLA_DIR, config, arm);
      const sample = loadGolden().samples[3];
      const state = stateWithSensors();
      const policy = new RdpComposedPolicy({ inner: new VlaPolicy(runner, "tiny vla"), state, encoder, decoder: codec.decoder, convert: codec.convert, policyDim: 7, stepPeriodNs: codec.stepPeriodNs });
      const slow = new SlowExecutor({ state, policy, inputs: () => ({ image: recipeImage(sample.image), instruction: sample.instruction }), stepPeriodNs: codec.stepPeriodNs, rateHz: 5, timeoutMs: 5000 });
      expect(await slow.runOnce()).toMatchObject({ ok: true, published: "chunk" });
      expect(policy.name).toBe("tiny vla + rdp");
      const chunk = readChunk(state);
      const obs = { timeNs: 42e6, positions: Float64Array.from(READY), velocities: new Float64Array(7), wrench: new Float64Array(6), tactile: new Float64Array(16), instruction: "" };
      const expected = codec.convert(codec.decoder(sample.fastIds) as Float64Array, 10, 7, obs) as Float64Array;
      for (let i = 0; i < 70; i++) expect(chunk.actions[i]).toBeCloseTo(expected[i], 12);
      expect(readLatent(state).length).toBe(128);
    } finally {
      await runner.release();
    }
  });

  it("accepts a latent-producing policy: the latent passes unchanged, the chunk is its touch-free expansion", async () => {
    const state = stateWithSensors();
    const latent = Float32Array.from({ length: 128 }, (_, i) => Math.sin(i) * 0.5);
    const inner: SlowPolicy = { name: "latent diffusion", infer: async () => ({ kind: "latent", latent }) };
    const period = contract.stepPeriodS * 1e9;
    const policy = new RdpComposedPolicy({ inner, state, encoder, stepPeriodNs: period, latentDecoder: gru });
    const slow = new SlowExecutor({ state, policy, inputs: () => ({ instruction: "" }), stepPeriodNs: period, rateHz: 5, timeoutMs: 5000 });
    expect(await slow.runOnce()).toMatchObject({ ok: true, published: "chunk" });
    expect(Array.from(readLatent(state).latent.subarray(0, 128))).toEqual(Array.from(latent));
    const chunk = readChunk(state);
    expect(chunk.steps).toBe(32);
    const wrench = new Float64Array(6);
    wrench[2] = 6;
    const expected = decodeLatentToChunk(gru, contract, latent, wrench, new Float64Array(16));
    expect(Array.from(chunk.actions.subarray(0, 32 * 7))).toEqual(Array.from(expected));
  });

  it("fails with one line and publishes nothing when the inner policy's output cannot be composed", async () => {
    const state = stateWithSensors();
    const errors: string[] = [];
    const tokens: SlowPolicy = { name: "vla", infer: async () => ({ kind: "tokens", tokens: [1, 2, 3] }) };
    const badDecoder = () => new Error("FAST decode: expected 70 coefficients, got 3");
    const latentPolicy: SlowPolicy = { name: "z", infer: async () => ({ kind: "latent", latent: new Float32Array(128) }) };
    const nanPolicy: SlowPolicy = { name: "n", infer: async () => ({ kind: "actions", actions: new Float64Array(70).fill(Number.NaN), steps: 10, dim: 7 }) };
    const cases: Array<[SlowPolicy, Partial<ConstructorParameters<typeof RdpComposedPolicy>[0]>, string]> = [
      [tokens, { decoder: badDecoder }, 'rdp: decoding 3 tokens of policy "vla" failed: FAST decode: expected 70 coefficients, got 3'],
      [tokens, {}, 'rdp: policy "vla" answered with tokens, but no decoder is configured'],
      [latentPolicy, {}, 'rdp: policy "z" answered with a latent, but no latentDecoder is configured'],
      [latentPolicy, { latentDecoder: gru }, `rdp: a latent policy's chunk runs at the decoder's step period ${contract.stepPeriodS * 1e9} ns, got stepPeriodNs 100000000`],
      [nanPolicy, {}, "rdp: expected finite commands, got a non-finite value"],
    ];
    for (const [inner, extra, message] of cases) {
      const policy = new RdpComposedPolicy({ inner, state, encoder, stepPeriodNs: 100e6, ...extra });
      const slow = new SlowExecutor({ state, policy, inputs: () => ({ instruction: "" }), stepPeriodNs: 100e6, rateHz: 5, timeoutMs: 5000, onError: (m) => errors.push(m) });
      // Tokens that do not decode count as a decode failure, as the executor's own decoder would count them.
      const decode = message.includes("failed: FAST decode");
      expect(await slow.runOnce()).toMatchObject({ ok: false, kind: decode ? "decode" : "threw" });
      expect(errors.at(-1)).toBe(`policy "${inner.name} + rdp"${decode ? ":" : " threw:"} ${message}`);
      expect(policy.stats().failures).toBe(1);
    }
    expect(state.chunkVersion()).toBe(0);
    expect(state.latentVersion()).toBe(0);
  });

  it("refuses a latent slot that is too small", () => {
    const small = SharedRuntimeState.create({ ...layout, latentSize: 16 });
    expect(() => new RdpComposedPolicy({ inner: new ChunkPolicy(), state: small, encoder, stepPeriodNs: 1e8 })).toThrow(/^rdp: expected a latent slot of at least 128 values, got latentSize 16$/);
  });
});

/** A main-thread arm that follows every command and reports a constant contact force. */
class FollowingArm implements ArmBackend {
  readonly name = "following";
  readonly dim = 7;
  readonly positions = Float64Array.from(READY);
  commands = 0;
  readSensors(into: SensorSnapshot): boolean {
    into.timeNs = Number(process.hrtime.bigint());
    into.positions.set(this.positions);
    into.wrench.fill(0);
    into.wrench[2] = 8;
    into.tactile.fill(1.5);
    return true;
  }
  sendCommand(command: Float64Array): void {
    this.commands++;
    this.positions.set(command);
  }
  close(): void {}
}

async function until(what: string, condition: () => boolean, timeoutMs = 8000): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe("the rdp step inside the real fast worker", () => {
  let workerUrl: URL;
  let pluginUrl: URL;
  beforeAll(async () => {
    workerUrl = await bundleSourceModule("runtime/fastWorker.ts", "rdpFastWorker");
    pluginUrl = await bundleSourceModule("policy/rdp/fastPlugin.ts", "rdpPlugin");
  });
  afterAll(() => {
    for (const url of [workerUrl, pluginUrl]) if (url) rmSync(dirname(fileURLToPath(url)), { recursive: true, force: true });
  });

  it("is registered by the plugin and its decoded action (onnxruntime's, with the arm's touch) is the loop's target", async () => {
    const state = SharedRuntimeState.create(layout);
    const backend = new FollowingArm();
    const bridge = new SharedMemoryBridge({ state, backend });
    bridge.start(1);
    const config: FastWorkerConfig = {
      rateHz: 500,
      arm,
      backend: { kind: "shared-memory" },
      // The decoder's own steps, to compare with onnxruntime (the default smoothing filters them).
      reactive: { kind: "rdp", modelDir: RDP_DIR, smoothing: "hold" },
      scheduler: {},
      safety: { sensorMaxAgeNs: 50e6 },
      plugins: [pluginUrl.href],
      warmupTicks: 2000,
    };
    const encoder = await RdpEncoder.load(RDP_DIR);
    const ortDecoder = await loadSession(join(RDP_DIR, contract.files.decoder), "rdp decoder");
    const fast = await FastExecutor.start({ state, config, workerUrl });
    try {
      expect(fast.workerInfo?.reactive).toBe("rdp");
      await until("commands", () => backend.commands > 20);
      const policy = new RdpComposedPolicy({ inner: new ChunkPolicy(0.05), state, encoder, stepPeriodNs: 100e6 });
      const slow = new SlowExecutor({ state, policy, inputs: () => ({ instruction: "" }), stepPeriodNs: 100e6, rateHz: 5, timeoutMs: 5000 });
      expect(await slow.runOnce()).toMatchObject({ ok: true });
      await until("the chunk to be taken", () => fast.status().chunksAccepted === 1);
      await new Promise((r) => setTimeout(r, 150));
      const record = state.createCommandRecord();
      state.readCommand(record);
      const latent = readLatent(state);
      // onnxruntime's decoding of the same latent with the arm's (constant) touch, up to the recorded tick's step.
      const k = Math.floor((record.timeNs - latent.observationTimeNs) / (contract.stepPeriodS * 1e9));
      expect(k).toBeGreaterThan(0);
      expect(k).toBeLessThan(32);
      const sensors = state.createSensorSnapshot();
      state.readSensors(sensors);
      const touch = new Float64Array(22);
      touchFeaturesInto(sensors.wrench, sensors.tactile, contract, touch, 0);
      let hidden: Float32Array = new Float32Array(32);
      let action: Float32Array = new Float32Array(7);
      for (let s = 0; s <= k; s++) {
        const l = latent.latent.slice(Math.floor(s / 4) * 16, Math.floor(s / 4) * 16 + 16);
        const res = await ortDecoder.run({ latent_step: new Tensor("float32", l, [1, 16]), touch: new Tensor("float32", Float32Array.from(touch), [1, 22]), hidden: new Tensor("float32", hidden, [1, 32]) });
        hidden = res.hidden_out.data as Float32Array;
        action = res.action.data as Float32Array;
      }
      for (let d = 0; d < 7; d++) {
        const expected = contract.action.low[d] + 0.5 * (action[d] + 1) * (contract.action.high[d] - contract.action.low[d]);
        expect(Math.abs(record.target[d] - expected)).toBeLessThan(1e-4);
      }
      expect(record.sampleState).toBe("ok");
    } finally {
      await fast.stop();
      bridge.stop();
      await encoder.release();
      await ortDecoder.release();
    }
    expect(fast.lastError).toBeNull();
  });

  it("a worker whose shared memory has no latent slot fails to start with the reason", async () => {
    const state = SharedRuntimeState.create({ ...layout, latentSize: 0 });
    const config: FastWorkerConfig = { rateHz: 500, arm, backend: { kind: "shared-memory" }, reactive: { kind: "rdp", modelDir: RDP_DIR }, scheduler: {}, safety: {}, plugins: [pluginUrl.href], warmupTicks: 0 };
    await expect(FastExecutor.start({ state, config, workerUrl })).rejects.toThrow(/rdp step: expected a latent slot of at least 128 values \(8 x 16\), got latentSize 0/);
  });
});

