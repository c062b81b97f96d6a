// The RDP tokenizer: the TypeScript GRU step against onnxruntime on the exported decoder, the weights file and the
// contract, the encoder session, and the fast-loop step's timing, state handling and bad input. References are
// onnxruntime runs of models/rdp/rdp_decoder.onnx, never this code's own output.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadSession, Tensor, type InferenceSession } from "../../src/policy/onnx.js";
import {
  decodeLatentToChunk,
  encodeChunkToLatent,
  loadRdpContract,
  normalizeCommands,
  parseRdpContract,
  parseSafetensors,
  RdpEncoder,
  RdpGruDecoder,
  RdpReactiveStep,
  type RdpStepOptions,
  resampleChunk,
  touchFeaturesInto,
} from "../../src/policy/rdp.js";
import { SharedRuntimeState } from "../../src/runtime/sharedState.js";
import type { SensorSnapshot } from "../../src/runtime/types.js";
import { RDP_DIR } from "./vlaGolden.js";
import { mulberry32 as prng } from "../helpers/random.js";
import { steadyBytesPerTick } from "../helpers/heap.js";

const contract = loadRdpContract(RDP_DIR);
const decoder = RdpGruDecoder.fromSafetensors(join(RDP_DIR, contract.files.decoderWeights), contract);
const PERIOD_NS = contract.stepPeriodS * 1e9;
const READY = [0, 0.37, 0.78, 2.0, 0, 0, 0.04];


let ort: InferenceSession;
beforeAll(async () => {
  ort = await loadSession(join(RDP_DIR, contract.files.decoder), "rdp decoder");
});
afterAll(async () => {
  await ort?.release();
});

/** onnxruntime's decoder run over a latent, one touch feature vector per step: the reference actions (absolute). */
async function ortDecode(latent: Float32Array, touchPerStep: Float32Array[]): Promise<Float64Array[]> {
  let hidden: Float32Array = new Float32Array(contract.hiddenSize);
  const out: Float64Array[] = [];
  const repeat = contract.chunkSteps / contract.latentSteps;
  for (let k = 0; k < touchPerStep.length; k++) {
    const l = latent.slice(Math.floor(k / repeat) * contract.latentWidth, (Math.floor(k / repeat) + 1) * contract.latentWidth);
    const res = await ort.run({
      latent_step: new Tensor("float32", l, [1, contract.latentWidth]),
      touch: new Tensor("float32", touchPerStep[k], [1, touchPerStep[k].length]),
      hidden: new Tensor("float32", hidden, [1, contract.hiddenSize]),
    });
    hidden = res.hidden_out.data as Float32Array;
    const a = res.action.data as Float32Array;
    out.push(Float64Array.from(a, (v, d) => contract.action.low[d] + 0.5 * (v + 1) * (contract.action.high[d] - contract.action.low[d])));
  }
  return out;
}

function sensorsWith(state: SharedRuntimeState, fz: number, taxel = 0): SensorSnapshot {
  const s = state.createSensorSnapshot();
  s.positions.set(READY);
  s.wrench[2] = fz;
  s.tactile.fill(taxel);
  return s;
}

function featuresOf(s: SensorSnapshot): Float32Array {
  const f = new Float64Array(contract.touch.wrench + contract.touch.tactile);
  touchFeaturesInto(s.wrench, s.tactile, contract, f, 0);
  return Float32Array.from(f);
}

function smoothChunk(steps: number, seed: number): Float64Array {
  const rand = prng(seed);
  const phase = Array.from({ length: 7 }, () => rand() * 6);
  const out = new Float64Array(steps * 7);
  for (let s = 0; s < steps; s++) {
    for (let d = 0; d < 7; d++) out[s * 7 + d] = d === 6 ? 0.03 + 0.01 * Math.sin(s / 4) : READY[d] + 0.3 * Math.sin(s / 6 + phase[d]);
  }
  return out;
}

function newState(latentSize = 128): SharedRuntimeState {
  return SharedRuntimeState.create({ dim: 7, tactileCount: 16, maxChunkSteps: 64, latentSize });
}

describe("decoder weights and contract", () => {
  it("reads the contract the export wrote", () => {
    expect(contract).toMatchObject({ chunkSteps: 32, latentSteps: 8, latentWidth: 16, hiddenSize: 32, action: { dim: 7 }, touch: { wrench: 6, tactile: 16 } });
    expect(decoder.inputSize).toBe(16 + 22);
  });

  it("the TypeScript GRU step matches onnxruntime within 1e-5 over 64 chained steps", async () => {
    const rand = prng(7);
    const x = new Float64Array(decoder.inputSize);
    const h = new Float64Array(decoder.hiddenSize);
    const action = new Float64Array(7);
    let ortHidden: Float32Array = new Float32Array(decoder.hiddenSize);
    let worst = 0;
    for (let step = 0; step < 64; step++) {
      for (let i = 0; i < x.length; i++) x[i] = (rand() * 2 - 1) * (i < 16 ? 2 : 3);
      const xf = Float32Array.from(x);
      const res = await ort.run({
        latent_step: new Tensor("float32", xf.slice(0, 16), [1, 16]),
        touch: new Tensor("float32", xf.slice(16), [1, 22]),
        hidden: new Tensor("float32", ortHidden, [1, 32]),
      });
      decoder.step(Float64Array.from(xf), h, h, action);
      ortHidden = res.hidden_out.data as Float32Array;
      const a = res.action.data as Float32Array;
      for (let i = 0; i < 7; i++) worst = Math.max(worst, Math.abs(a[i] - action[i]));
      for (let i = 0; i < 32; i++) worst = Math.max(worst, Math.abs(ortHidden[i] - h[i]));
    }
    expect(worst).toBeLessThan(1e-5);
    expect(worst).toBeGreaterThan(0); // float32 (onnxruntime) vs float64 (here): equal to the bit would be suspicious
  });

  it("rejects weights files that are truncated, mistyped or of the wrong shape", () => {
    const header = (obj: unknown, dataBytes: number) => {
      const json = new TextEncoder().encode(JSON.stringify(obj));
      const bytes = new Uint8Array(8 + json.length + dataBytes);
      new DataView(bytes.buffer).setBigUint64(0, BigInt(json.length), true);
      bytes.set(json, 8);
      return bytes;
    };
    expect(() => parseSafetensors(new Uint8Array(4))).toThrow(/expected at least an 8-byte header length, got 4 bytes/);
    expect(() => parseSafetensors(header({ w: { dtype: "F16", shape: [2], data_offsets: [0, 4] } }, 4))).toThrow(/expected tensor "w" of dtype F32, got "F16"/);
    expect(() => parseSafetensors(header({ w: { dtype: "F32", shape: [2], data_offsets: [0, 12] } }, 8))).toThrow(/data_offsets \[begin, end\] within the 8 data bytes, got \[0,12\]/);
    expect(() => parseSafetensors(header({ w: { dtype: "F32", shape: [3], data_offsets: [0, 8] } }, 8))).toThrow(/expected 12 bytes for tensor "w" of shape \[3\], got 8/);
    const big = new Uint8Array(16);
    new DataView(big.buffer).setBigUint64(0, 1n << 40n, true);
    expect(() => parseSafetensors(big)).toThrow(/expected a header of at most 8 bytes, got a length field of/);
    const ok = parseSafetensors(header({ w: { dtype: "F32", shape: [2], data_offsets: [0, 8] }, __metadata__: { a: "b" } }, 8));
    expect(ok.get("w")?.shape).toEqual([2]);
    const dir = mkdtempSync(join(tmpdir(), "rdp-weights-"));
    try {
      writeFileSync(join(dir, "w.safetensors"), header({ weight_ih: { dtype: "F32", shape: [2], data_offsets: [0, 8] } }, 8));
      expect(() => RdpGruDecoder.fromSafetensors(join(dir, "w.safetensors"), contract)).toThrow(/expected "weight_ih" of shape \[96, 38\], got \[2\]/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("rejects contracts that cannot be right", () => {
    const good = JSON.parse(JSON.stringify({ ...contract, format: "rdp-asymmetric-tokenizer/1" }));
    expect(parseRdpContract(good).chunkSteps).toBe(32);
    expect(() => parseRdpContract({ ...good, format: "x" })).toThrow(/expected format "rdp-asymmetric-tokenizer\/1", got "x"/);
    expect(() => parseRdpContract({ ...good, latentSteps: 5 })).toThrow(/expected chunkSteps \(32\) to be a multiple of latentSteps, got 5/);
    expect(() => parseRdpContract({ ...good, action: { ...good.action, low: [0] } })).toThrow(/expected action.low to be 7 finite numbers/);
    expect(() => parseRdpContract({ ...good, touch: { ...good.touch, scale: good.touch.scale.map(() => 0) } })).toThrow(/expected positive touch.scale entries/);
    expect(parseRdpContract(good).output).toBe("absolute");
    const residual = { low: Array(7).fill(-0.02), high: Array(7).fill(0.02) };
    expect(parseRdpContract({ ...good, residual })).toMatchObject({ output: "residual", residual });
    expect(() => parseRdpContract({ ...good, residual: { ...residual, high: Array(7).fill(-0.02) } })).toThrow(/expected residual.high\[0\] > residual.low\[0\]/);
    expect(() => parseRdpContract({ ...good, residual: "small" })).toThrow(/expected residual to be an object with low and high, got "small"/);
  });
});

describe("encoder (slow side)", () => {
  let encoder: RdpEncoder;
  beforeAll(async () => {
    encoder = await RdpEncoder.load(RDP_DIR);
  });
  afterAll(async () => {
    await encoder?.release();
  });

  it("refuses a file with another contract", async () => {
    await expect(RdpEncoder.load(RDP_DIR, undefined, { ...contract, files: { ...contract.files, encoder: "rdp_decoder.onnx" } })).rejects.toThrow(
      /^rdp encoder: expected input actions float32\[batch,32,7\] and output latent float32\[batch,8,16\], got inputs latent_step float32\[batch,16\], touch/,
    );
  });

  it("resamples by linear interpolation in time and holds the last step", () => {
    const actions = Float64Array.from([0, 10, 1, 20, 2, 30]); // 3 steps x 2, 100 ms apart
    const out = resampleChunk(actions, 3, 2, 100e6, 5, 60e6);
    expect(Array.from(out)).toEqual([0, 10, 0.6, 16, 1.2, 22, 1.8, 28, 2, 30].map((v) => expect.closeTo(v, 12)));
  });

  it("normalizes with the contract's limits and clips", () => {
    const c = Float64Array.from([contract.action.high[0], contract.action.low[1], 0, 0, 0, 0, 0.04, 99, -99, 0, 0, 0, 0, 0]);
    const n = normalizeCommands(c, contract);
    expect([n[0], n[1], n[6], n[7], n[8]]).toEqual([1, -1, 0, 1, -1]);
  });

  it("chunk -> latent (onnxruntime) -> decoder without touch gives the chunk back within the model's error", async () => {
    let sumSq = 0;
    let count = 0;
    for (const seed of [1, 2, 3]) {
      const chunk = smoothChunk(10, seed); // 10 steps at 0.1 s, as the VLA gives them
      const latent = await encodeChunkToLatent(encoder, chunk, 10, 100e6);
      expect(latent.length).toBe(128);
      const back = decodeLatentToChunk(decoder, contract, latent, new Float64Array(6), new Float64Array(16));
      const grid = resampleChunk(chunk, 10, 7, 100e6, 32, PERIOD_NS);
      for (let i = 0; i < back.length; i++) {
        const d = i % 7;
        const e = (2 * (back[i] - grid[i])) / (contract.action.high[d] - contract.action.low[d]);
        sumSq += e * e;
        count++;
      }
    }
    // The export reports a normalized RMS of about 0.03 on its own synthetic chunks.
    expect(Math.sqrt(sumSq / count)).toBeLessThan(0.08);
  });
});

describe("RDP step in the fast loop", () => {
  const latentFor = (seed: number) => Float32Array.from({ length: 128 }, prng(seed)).map((v) => v * 2 - 1);
  // The decoder's own steps (the tests of timing and state compare them with onnxruntime step by step).
  const HOLD = { smoothing: "hold" } as const;
  // Interpolation and handover without the output filter (their values can be checked exactly).
  const NO_FILTER = { smoothing: "smooth", filterS: 0 } as const;

  it("before any latent it leaves the scheduler's target alone", () => {
    const state = newState();
    const step = new RdpReactiveStep(state, contract, decoder, HOLD);
    const target = Float64Array.from(READY);
    step.step(1e9, target, sensorsWith(state, 0));
    expect(Array.from(target)).toEqual(READY);
    expect(step.counters.ticksWithoutLatent).toBe(1);
  });

  it("decodes step k = (now - observation time) / step period every tick, and holds the last action past the end", async () => {
    const state = newState();
    const step = new RdpReactiveStep(state, contract, decoder, HOLD);
    const sensors = sensorsWith(state, 5, 1);
    const latent = latentFor(11);
    const t0 = 5e9;
    state.writeLatent(latent, 1, t0, t0);
    const reference = await ortDecode(latent, Array.from({ length: 32 }, () => featuresOf(sensors)));
    const target = new Float64Array(7);
    let checked = 0;
    for (let now = t0 + 1e6; now < t0 + 34 * PERIOD_NS; now += 2e6) {
      target.set(READY);
      step.step(now, target, sensors);
      const k = Math.min(31, Math.floor((now - t0) / PERIOD_NS));
      for (let d = 0; d < 7; d++) expect(Math.abs(target[d] - reference[k][d])).toBeLessThan(1e-4);
      checked++;
    }
    expect(checked).toBeGreaterThan(600);
    expect(step.counters.latentsTaken).toBe(1);
    expect(step.counters.ticksHeld).toBeGreaterThan(0);
  });

  it("a latent that arrives late starts at the present step, with the missed steps folded into the state", async () => {
    const state = newState();
    const step = new RdpReactiveStep(state, contract, decoder, HOLD);
    const sensors = sensorsWith(state, 0, 2);
    const latent = latentFor(12);
    const t0 = 5e9;
    state.writeLatent(latent, 1, t0, t0 + 5.5 * PERIOD_NS);
    const reference = await ortDecode(latent, Array.from({ length: 8 }, () => featuresOf(sensors)));
    const target = new Float64Array(7);
    step.step(t0 + 5.5 * PERIOD_NS, target, sensors);
    expect(step.currentStep).toBe(5);
    for (let d = 0; d < 7; d++) expect(target[d]).toBeCloseTo(reference[5][d], 4);
    step.step(t0 + 7.2 * PERIOD_NS, target, sensors);
    for (let d = 0; d < 7; d++) expect(target[d]).toBeCloseTo(reference[7][d], 4);
  });

  it("uses the newest touch every tick; the state carries the last touch seen in each step", async () => {
    const state = newState();
    const step = new RdpReactiveStep(state, contract, decoder, HOLD);
    const latent = latentFor(13);
    const t0 = 1e9;
    state.writeLatent(latent, 1, t0, t0);
    const a = sensorsWith(state, 0, 0);
    const b = sensorsWith(state, 30, 4); // contact arrives within step 0
    const c = sensorsWith(state, -10, 8);
    const target = new Float64Array(7);
    step.step(t0 + 0.2 * PERIOD_NS, target, a);
    const first = Float64Array.from(target);
    step.step(t0 + 0.7 * PERIOD_NS, target, b);
    const second = Float64Array.from(target);
    step.step(t0 + 1.3 * PERIOD_NS, target, c);
    const [refA] = await ortDecode(latent, [featuresOf(a)]);
    const [refB, refC] = await ortDecode(latent, [featuresOf(b), featuresOf(c)]);
    for (let d = 0; d < 7; d++) {
      expect(first[d]).toBeCloseTo(refA[d], 4);
      expect(second[d]).toBeCloseTo(refB[d], 4);
      expect(target[d]).toBeCloseTo(refC[d], 4);
    }
    expect(Math.max(...first.map((v, d) => Math.abs(v - second[d])))).toBeGreaterThan(1e-6); // touch reached the output
  });

  it("a new latent restarts the recurrent state; a latent of the wrong length or with NaN is ignored and counted", async () => {
    const state = newState();
    const step = new RdpReactiveStep(state, contract, decoder, HOLD);
    const sensors = sensorsWith(state, 3, 1);
    const target = new Float64Array(7);
    state.writeLatent(latentFor(14), 1, 1e9, 1e9);
    for (let now = 1e9; now < 1e9 + 10 * PERIOD_NS; now += 2e6) step.step(now, target, sensors);
    const second = latentFor(15);
    const t1 = 1e9 + 10 * PERIOD_NS;
    state.writeLatent(second, 2, t1, t1);
    const reference = await ortDecode(second, Array.from({ length: 3 }, () => featuresOf(sensors)));
    for (let now = t1 + 1e6; now < t1 + 3 * PERIOD_NS; now += 2e6) {
      step.step(now, target, sensors);
      const k = Math.floor((now - t1) / PERIOD_NS);
      for (let d = 0; d < 7; d++) expect(target[d]).toBeCloseTo(reference[k][d], 4);
    }
    state.writeLatent(new Float32Array(100), 3, t1, t1);
    step.step(t1 + 3.5 * PERIOD_NS, target, sensors);
    const nan = latentFor(16);
    nan[40] = Number.NaN;
    state.writeLatent(nan, 4, t1, t1);
    step.step(t1 + 3.6 * PERIOD_NS, target, sensors);
    expect(step.counters).toMatchObject({ latentsTaken: 2, latentsRejected: 2 });
    const more = await ortDecode(second, Array.from({ length: 4 }, () => featuresOf(sensors)));
    for (let d = 0; d < 7; d++) expect(target[d]).toBeCloseTo(more[3][d], 4); // still the second latent
  });

  it("a non-finite touch reading counts as no touch", () => {
    const state = newState();
    const stepA = new RdpReactiveStep(state, contract, decoder, HOLD);
    const stepB = new RdpReactiveStep(state, contract, decoder, HOLD);
    state.writeLatent(latentFor(17), 1, 1e9, 1e9);
    const clean = sensorsWith(state, 0, 2);
    const broken = sensorsWith(state, 0, 2);
    broken.wrench[2] = Number.NaN;
    broken.tactile[3] = Number.POSITIVE_INFINITY;
    const ta = new Float64Array(7);
    const tb = new Float64Array(7);
    clean.tactile[3] = 0; // what the broken readings should count as
    stepA.step(1.001e9, ta, clean);
    stepB.step(1.001e9, tb, broken);
    expect(Array.from(tb)).toEqual(Array.from(ta));
    expect(stepB.counters.nonFiniteTouch).toBe(2);
  });

  it("smooth: at each step boundary the decoder's step, in between a straight line to the next step", async () => {
    const state = newState();
    const step = new RdpReactiveStep(state, contract, decoder, NO_FILTER);
    const sensors = sensorsWith(state, 5, 1);
    const latent = latentFor(21);
    const t0 = 5e9;
    state.writeLatent(latent, 1, t0, t0);
    const reference = await ortDecode(latent, Array.from({ length: 32 }, () => featuresOf(sensors)));
    const target = new Float64Array(7);
    for (const u of [0, 0.25, 0.5, 0.75, 1, 1.5, 2, 3.4, 30.5]) {
      step.step(t0 + u * PERIOD_NS, target, sensors);
      const k = Math.floor(u);
      const f = u - k;
      for (let d = 0; d < 7; d++) expect(target[d]).toBeCloseTo(reference[k][d] + f * (reference[k + 1][d] - reference[k][d]), 4);
    }
    // The last step has nothing to move to: it is held.
    step.step(t0 + 31.5 * PERIOD_NS, target, sensors);
    for (let d = 0; d < 7; d++) expect(target[d]).toBeCloseTo(reference[31][d], 4);
  });

  it("smooth: a new latent starts from the last command and reaches its own actions after the handover", async () => {
    const state = newState();
    const handoverS = 0.05;
    const step = new RdpReactiveStep(state, contract, decoder, { ...NO_FILTER, handoverS });
    const sensors = sensorsWith(state, 3, 1);
    const target = new Float64Array(7);
    state.writeLatent(latentFor(22), 1, 1e9, 1e9);
    for (let now = 1e9; now < 1e9 + 5 * PERIOD_NS; now += 2e6) step.step(now, target, sensors);
    const last = Float64Array.from(target);
    const t1 = 1e9 + 5 * PERIOD_NS;
    const second = latentFor(23);
    state.writeLatent(second, 2, t1, t1);
    const reference = await ortDecode(second, Array.from({ length: 4 }, () => featuresOf(sensors)));
    step.step(t1, target, sensors);
    for (let d = 0; d < 7; d++) expect(target[d]).toBeCloseTo(last[d], 9); // no jump
    expect(Math.max(...reference[0].map((v, d) => Math.abs(v - last[d])))).toBeGreaterThan(1e-3); // there was one to hide
    step.step(t1 + handoverS * 1e9, target, sensors); // the handover is over
    const u = (handoverS * 1e9) / PERIOD_NS;
    const k = Math.floor(u);
    for (let d = 0; d < 7; d++) expect(target[d]).toBeCloseTo(reference[k][d] + (u - k) * (reference[k + 1][d] - reference[k][d]), 4);
    expect(step.counters.handovers).toBe(1);
  });

  it("smooth moves in far smaller increments per tick than hold", () => {
    const largestTickChange = (options: RdpStepOptions) => {
      const state = newState();
      const step = new RdpReactiveStep(state, contract, decoder, options);
      const sensors = sensorsWith(state, 4, 1);
      const target = new Float64Array(7);
      const previous = new Float64Array(7);
      let largest = 0;
      for (let i = 0; i < 2000; i++) {
        const now = 1e9 + i * 2e6;
        if (i % 100 === 0) state.writeLatent(latentFor(30 + i / 100), i / 100 + 1, now, now);
        step.step(now, target, sensors);
        if (i > 0) for (let d = 0; d < 6; d++) largest = Math.max(largest, Math.abs(target[d] - previous[d]));
        previous.set(target);
      }
      return largest;
    };
    expect(largestTickChange({ smoothing: "smooth" })).toBeLessThan(largestTickChange(HOLD) / 5);
  });

  it("smooth: the output filter keeps the acceleration of a jittery touch response bounded, and follows a steady one", () => {
    // Touch that flips every tick between two readings: hold passes the flip straight to the command.
    const secondDifferences = (options: RdpStepOptions) => {
      const state = newState();
      const step = new RdpReactiveStep(state, contract, decoder, options);
      const a = sensorsWith(state, 0, 0);
      const b = sensorsWith(state, -12, 3);
      state.writeLatent(latentFor(40), 1, 1e9, 1e9);
      const outputs: Float64Array[] = [];
      for (let i = 0; i < 200; i++) {
        const target = Float64Array.from(READY);
        step.step(1e9 + i * 2e6, target, i % 2 === 0 ? a : b);
        outputs.push(target);
      }
      let largest = 0;
      for (let i = 100; i < outputs.length; i++) {
        for (let d = 0; d < 6; d++) largest = Math.max(largest, Math.abs(outputs[i][d] - 2 * outputs[i - 1][d] + outputs[i - 2][d]) / (2e-3) ** 2);
      }
      return { largest, last: outputs[outputs.length - 1] };
    };
    const filtered = secondDifferences({ smoothing: "smooth", filterS: 0.025 });
    const unfiltered = secondDifferences(NO_FILTER);
    expect(filtered.largest).toBeLessThan(unfiltered.largest / 20);
    // With steady touch the filtered output settles on the unfiltered one.
    const steady = (options: RdpStepOptions) => {
      const state = newState();
      const step = new RdpReactiveStep(state, contract, decoder, options);
      const s = sensorsWith(state, -5, 1);
      state.writeLatent(latentFor(41), 1, 1e9, 1e9);
      const target = Float64Array.from(READY);
      for (let i = 0; i <= 1400; i++) {
        target.set(READY);
        step.step(1e9 + i * 2e6, target, s); // past the latent's end at 1.33 s: the last action is held
      }
      return target;
    };
    const settled = steady({ smoothing: "smooth", filterS: 0.025 });
    const reference = steady(NO_FILTER);
    for (let d = 0; d < 7; d++) expect(settled[d]).toBeCloseTo(reference[d], 4);
  });

  it("a residual decoder adds its correction to the scheduler's target instead of replacing it", async () => {
    const residualRad = 0.03;
    const residualContract = { ...contract, output: "residual" as const, residual: { low: Array(7).fill(-residualRad), high: Array(7).fill(residualRad) } };
    const state = newState();
    const step = new RdpReactiveStep(state, residualContract, decoder, HOLD);
    const sensors = sensorsWith(state, 2, 1);
    const latent = latentFor(24);
    state.writeLatent(latent, 1, 1e9, 1e9);
    // The same network: its normalized output a gives the correction a * 0.03 rad here.
    const absolute = await ortDecode(latent, Array.from({ length: 3 }, () => featuresOf(sensors)));
    const normalizedOf = (v: number, d: number) => (2 * (v - contract.action.low[d])) / (contract.action.high[d] - contract.action.low[d]) - 1;
    for (const [k, plan] of [[0, 0.5], [2, -0.25]] as const) {
      const target = Float64Array.from(READY, (q) => q + plan);
      step.step(1e9 + (k + 0.5) * PERIOD_NS, target, sensors);
      for (let d = 0; d < 7; d++) expect(target[d]).toBeCloseTo(READY[d] + plan + normalizedOf(absolute[k][d], d) * residualRad, 5);
    }
    expect(() => decodeLatentToChunk(decoder, residualContract, latent, new Float64Array(6), new Float64Array(16))).toThrow(/a residual decoder corrects a plan/);
  });

  it("rejects bad smoothing options", () => {
    expect(() => new RdpReactiveStep(newState(), contract, decoder, { smoothing: "cubic" as "hold" })).toThrow(/expected smoothing "smooth" or "hold", got "cubic"/);
    expect(() => new RdpReactiveStep(newState(), contract, decoder, { filterS: 2 })).toThrow(/expected filterS in \[0, 1\] s, got 2/);
    expect(() => new RdpReactiveStep(newState(), contract, decoder, { handoverS: -1 })).toThrow(/expected handoverS in \[0, 10\] s, got -1/);
  });

  it("refuses shared memory that does not fit the model", () => {
    expect(() => new RdpReactiveStep(newState(64), contract, decoder)).toThrow(/expected a latent slot of at least 128 values \(8 x 16\), got latentSize 64/);
    const taxels = SharedRuntimeState.create({ dim: 7, tactileCount: 9, maxChunkSteps: 8, latentSize: 128 });
    expect(() => new RdpReactiveStep(taxels, contract, decoder)).toThrow(/expected the model's 16 taxels to match the sensor slot's tactileCount, got 9/);
    const dims = SharedRuntimeState.create({ dim: 6, tactileCount: 16, maxChunkSteps: 8, latentSize: 128 });
    expect(() => new RdpReactiveStep(dims, contract, decoder)).toThrow(/expected the arm's command dim 6 in the model's action dim, got 7/);
  });

  it("allocates nothing per tick", () => {
    const state = newState();
    const step = new RdpReactiveStep(state, contract, decoder);
    const sensors = sensorsWith(state, 4, 1);
    const target = new Float64Array(7);
    const clock = new Float64Array([1e9]);
    let latents = 0;
    const run = (ticks: number) => {
      let now = clock[0];
      for (let i = 0; i < ticks; i++) {
        if (i % 400 === 0) state.writeLatent(latentFor(latents++ % 4), latents, now, now); // a new latent every 0.8 s
        now += 2e6;
        step.step(now, target, sensors);
      }
      clock[0] = now;
    };
    // latentFor allocates in the harness: prepare the latents first and write those.
    const prepared = [0, 1, 2, 3].map(latentFor);
    const runPrepared = (ticks: number) => {
      let now = clock[0];
      for (let i = 0; i < ticks; i++) {
        if (i % 400 === 0) state.writeLatent(prepared[latents++ % 4], latents, now, now);
        now += 2e6;
        step.step(now, target, sensors);
      }
      clock[0] = now;
    };
    run(5000);
    expect(steadyBytesPerTick(runPrepared)).toBeLessThanOrEqual(24);
  });
});
