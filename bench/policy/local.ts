// Local policies on this machine: the bundled tiny VLA through the real ONNX Runtime sessions (prefill, per token,
// tokens per chunk, end-to-end chunk latency through the slow executor, and the runner's overhead above the bare
// session.run calls), and the RDP decoder step in the fast loop (TypeScript GRU vs an onnxruntime call per step).
import { join } from "node:path";
import { loadArmDescription } from "../../src/kinematics/description.js";
import { loadSession, Tensor, type OrtOutputs } from "../../src/policy/onnx.js";
import { encodeChunkToLatent, loadRdpContract, RdpEncoder, RdpGruDecoder, RdpReactiveStep, type RdpSmoothing } from "../../src/policy/rdp.js";
import { loadVlaConfig, VlaImagePreprocessor, VlaPolicy, VlaRunner, vlaChunkCodec, type VlaCallStats } from "../../src/policy/vla.js";
import { buildPrompt, promptTokens, ropePositions } from "../../src/policy/vla/prompt.js";
import { SharedRuntimeState } from "../../src/runtime/sharedState.js";
import { SlowExecutor, type ImageFrame } from "../../src/runtime/slowExecutor.js";
import { findRepoRoot, medianMicros, printTable, quantile, type Row } from "../lib/harness.js";

const CALLS = 30;
const WARMUP_CALLS = 3;
const CONTROL_PERIOD_US = 2000; // 500 Hz

/** A 320x240 test picture (the runner resizes it to 224x224, as a camera frame would be). */
function cameraFrame(): ImageFrame {
  const width = 320;
  const height = 240;
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) for (let c = 0; c < 3; c++) data[(y * width + x) * 3 + c] = (x + 3 * y + 113 * c + ((x ^ y) & 63) + 3) % 256;
  return { width, height, channels: 3, data, timeNs: 0 };
}

const INSTRUCTION = "lift the sponge off the table";

function median(values: number[]): number {
  return quantile(values, 0.5);
}

/**
 * The same session calls the runner makes for one chunk, with every input prepared beforehand: the floor that
 * ONNX Runtime itself sets (ms). `tokens` are the ids the runner generated (end token included).
 */
async function rawSessionCalls(dir: string, runner: VlaRunner, frame: ImageFrame, tokens: number[]): Promise<() => Promise<number>> {
  const config = runner.config;
  const vision = await loadSession(join(dir, config.files.visionEncoder), "vision");
  const embed = await loadSession(join(dir, config.files.embedTokens), "embed");
  const decoder = await loadSession(join(dir, config.files.decoder), "decoder");
  const pixels = new VlaImagePreprocessor(config.image).process(frame);
  const pixelData = pixels.data.slice();
  const prompt = buildPrompt(runner.tokenizer, promptTokens(runner.tokenizer, config.systemPrompt), INSTRUCTION, pixels.imageTokens);
  const rope = ropePositions(prompt, pixels.gridThw, config.image.mergeSize);
  const n = prompt.ids.length;
  const ids = BigInt64Array.from(prompt.ids.map(BigInt));
  const { hidden, layers, kvHeads, headDim } = runner.decoderContract;
  const tokenEmbeds = await Promise.all(
    tokens.slice(0, -1).map(async (t) => (await embed.run({ input_ids: new Tensor("int64", BigInt64Array.of(BigInt(t)), [1, 1]) })).inputs_embeds),
  );
  const grid = new Tensor("int64", BigInt64Array.from(pixels.gridThw.map(BigInt)), [1, 3]);
  return async () => {
    const start = performance.now();
    const v = await vision.run({ pixel_values: new Tensor("float32", pixelData, [pixels.patches, pixels.patchDim]), grid_thw: grid });
    const e = await embed.run({ input_ids: new Tensor("int64", ids, [1, n]) });
    (e.inputs_embeds.data as Float32Array).set(v.image_features.data as Float32Array, prompt.imageStart * hidden);
    const feeds: Record<string, Tensor> = {
      inputs_embeds: e.inputs_embeds,
      attention_mask: new Tensor("int64", new BigInt64Array(n).fill(1n), [1, n]),
      position_ids: new Tensor("int64", rope.positions, [3, 1, n]),
    };
    for (let i = 0; i < layers; i++) for (const kv of ["key", "value"]) feeds[`past_key_values.${i}.${kv}`] = new Tensor("float32", new Float32Array(0), [1, kvHeads, 0, headDim]);
    let out: OrtOutputs = await decoder.run(feeds);
    for (let k = 0; k < tokenEmbeds.length; k++) {
      const length = n + k + 1;
      const p = BigInt(n + k + rope.ropeDelta);
      const step: Record<string, Tensor> = {
        inputs_embeds: tokenEmbeds[k],
        attention_mask: new Tensor("int64", new BigInt64Array(length).fill(1n), [1, length]),
        position_ids: new Tensor("int64", BigInt64Array.of(p, p, p), [3, 1, 1]),
      };
      for (let i = 0; i < layers; i++) for (const kv of ["key", "value"]) step[`past_key_values.${i}.${kv}`] = out[`present.${i}.${kv}`];
      out = await decoder.run(step);
    }
    return performance.now() - start;
  };
}

async function vlaFigures(root: string): Promise<{ rows: Row[]; json: object }> {
  const dir = join(root, "models", "tiny_vla");
  const runner = await VlaRunner.load({ dir });
  try {
    const frame = cameraFrame();
    const ids = (await runner.generate(frame, INSTRUCTION)).modelIds;
    const raw = await rawSessionCalls(dir, runner, frame, [...ids, runner.endIds[0]]);
    for (let i = 0; i < WARMUP_CALLS; i++) {
      await runner.generate(frame, INSTRUCTION);
      await raw();
    }
    // Runner and bare calls alternate, so load from other processes hits both alike; the overhead is the median of
    // the paired differences.
    const stats: VlaCallStats[] = [];
    const rawMs: number[] = [];
    const pairedOverhead: number[] = [];
    for (let i = 0; i < CALLS; i++) {
      const s = (await runner.generate(frame, INSTRUCTION)).stats;
      const r = await raw();
      stats.push(s);
      rawMs.push(r);
      pairedOverhead.push((s.totalMs - s.preprocessMs - r) / r);
    }

    // End to end through the slow executor: observation -> tokens -> strict FAST decode -> joint deltas -> chunk slot.
    const config = loadVlaConfig(dir);
    const arm = loadArmDescription(join(root, "sim", "arm", "description.json"));
    const codec = vlaChunkCodec(dir, config, arm);
    const state = SharedRuntimeState.create({ dim: 7, tactileCount: 16, maxChunkSteps: 64, latentSize: 128 });
    const sensors = state.createSensorSnapshot();
    sensors.positions.set([0, 0.37, 0.78, 2.0, 0, 0, 0.04]);
    state.writeSensors(sensors);
    const slow = new SlowExecutor({ state, policy: new VlaPolicy(runner), inputs: () => ({ image: frame, instruction: INSTRUCTION }), decoder: codec.decoder, convert: codec.convert, policyDim: 7, stepPeriodNs: codec.stepPeriodNs, rateHz: 5, timeoutMs: 10_000 });
    const endToEndMs: number[] = [];
    for (let i = 0; i < CALLS + WARMUP_CALLS; i++) {
      const start = performance.now();
      const outcome = await slow.runOnce();
      if (!outcome.ok) throw new Error(`bench: the tiny VLA did not publish a chunk: ${outcome.error}`);
      if (i >= WARMUP_CALLS) endToEndMs.push(performance.now() - start);
    }

    const pick = (f: (s: VlaCallStats) => number) => median(stats.map(f));
    const overheadVsRaw = median(pairedOverhead);
    const figures = {
      promptTokens: stats[0].promptTokens,
      tokensPerChunk: pick((s) => s.actionTokens),
      preprocessMs: pick((s) => s.preprocessMs),
      visionMs: pick((s) => s.visionMs),
      prefillMs: pick((s) => s.prefillMs),
      msPerToken: pick((s) => s.msPerToken),
      generateMsP50: pick((s) => s.totalMs),
      generateMsP90: quantile(stats.map((s) => s.totalMs), 0.9),
      endToEndChunkMsP50: median(endToEndMs),
      endToEndChunkMsP90: quantile(endToEndMs, 0.9),
      sessionRunMs: pick((s) => s.sessionMs),
      overheadBetweenRunsFraction: pick((s) => s.overheadFraction),
      rawSessionCallsMs: median(rawMs),
      overheadVsRawFraction: overheadVsRaw,
    };
    const rows: Row[] = [
      { figure: "tiny VLA prefill (vision + prompt + first token)", value: figures.prefillMs, unit: "ms" },
      { figure: "tiny VLA per token (cached decoder pass)", value: figures.msPerToken, unit: "ms" },
      { figure: "tokens per chunk (10x7 FAST)", value: figures.tokensPerChunk, unit: "tokens" },
      { figure: "image + prompt preprocessing (TypeScript)", value: figures.preprocessMs, unit: "ms" },
      { figure: "generate(), p50 / p90", value: `${figures.generateMsP50.toFixed(1)} / ${figures.generateMsP90.toFixed(1)}`, unit: "ms" },
      { figure: "end-to-end chunk (slow executor), p50 / p90", value: `${figures.endToEndChunkMsP50.toFixed(1)} / ${figures.endToEndChunkMsP90.toFixed(1)}`, unit: "ms" },
      { figure: "same session calls, inputs prepared (raw ONNX Runtime)", value: figures.rawSessionCallsMs, unit: "ms" },
      { figure: "runner overhead vs raw, paired median (target < 5%)", value: `${(100 * overheadVsRaw).toFixed(1)}%`, unit: "" },
      { figure: "runner time outside session.run", value: `${(100 * figures.overheadBetweenRunsFraction).toFixed(1)}%`, unit: "" },
    ];
    return { rows, json: figures };
  } finally {
    await runner.release();
  }
}

async function rdpFigures(root: string): Promise<{ rows: Row[]; json: object }> {
  const dir = join(root, "models", "rdp");
  const contract = loadRdpContract(dir);
  const gru = RdpGruDecoder.fromSafetensors(join(dir, contract.files.decoderWeights), contract);
  const state = SharedRuntimeState.create({ dim: 7, tactileCount: 16, maxChunkSteps: 64, latentSize: 128 });
  const sensors = state.createSensorSnapshot();
  sensors.wrench[2] = 8;
  sensors.tactile.fill(1);
  const target = new Float64Array(7);
  const latent = Float32Array.from({ length: 128 }, (_, i) => Math.sin(i));
  // One tick of the reactive step at 500 Hz; a fresh latent every 300 ticks (0.6 s, as RDP's slow side delivers
  // them) keeps it inside the latent's horizon and includes the reset and catch-up work. "smooth" (the default)
  // decodes two steps a tick and filters; "hold" decodes one.
  const tickTimeUs = (smoothing: RdpSmoothing) => {
    const step = new RdpReactiveStep(state, contract, gru, { smoothing });
    const clock = new Float64Array([1e9, 0]);
    const tick = () => {
      const now = clock[0] + 2e6;
      if (++clock[1] >= 300) {
        clock[1] = 0;
        state.writeLatent(latent, 1, now, now);
      }
      step.step(now, target, sensors);
      clock[0] = now;
    };
    return medianMicros(tick, { warmup: 20_000, batches: 41, perBatch: 200 });
  };
  const stepUs = tickTimeUs("smooth");
  const holdStepUs = tickTimeUs("hold");
  const x = new Float64Array(gru.inputSize).fill(0.1);
  const h = new Float64Array(gru.hiddenSize);
  const a = new Float64Array(7);
  const gruUs = medianMicros(() => gru.step(x, h, h, a), { warmup: 20_000, batches: 41, perBatch: 200 });

  // The same step as an onnxruntime call (async run, awaited), as the fast loop would need it without the GRU here.
  const session = await loadSession(join(dir, contract.files.decoder), "rdp decoder");
  const feeds = {
    latent_step: new Tensor("float32", new Float32Array(16), [1, 16]),
    touch: new Tensor("float32", new Float32Array(22), [1, 22]),
    hidden: new Tensor("float32", new Float32Array(32), [1, 32]),
  };
  for (let i = 0; i < 500; i++) await session.run(feeds);
  const ortUs: number[] = [];
  for (let b = 0; b < 21; b++) {
    const start = performance.now();
    for (let i = 0; i < 100; i++) await session.run(feeds);
    ortUs.push(((performance.now() - start) * 1000) / 100);
  }
  await session.release();

  const encoder = await RdpEncoder.load(dir);
  const chunk = Float64Array.from({ length: 70 }, (_, i) => 0.1 * Math.sin(i));
  for (let i = 0; i < 50; i++) await encodeChunkToLatent(encoder, chunk, 10, 100e6);
  const encodeMs: number[] = [];
  for (let i = 0; i < 200; i++) {
    const start = performance.now();
    await encodeChunkToLatent(encoder, chunk, 10, 100e6);
    encodeMs.push(performance.now() - start);
  }
  await encoder.release();

  const figures = {
    reactiveStepUs: stepUs,
    reactiveStepHoldUs: holdStepUs,
    gruStepUs: gruUs,
    onnxruntimeStepUs: median(ortUs),
    reactiveStepShareOfPeriod: stepUs / CONTROL_PERIOD_US,
    onnxruntimeShareOfPeriod: median(ortUs) / CONTROL_PERIOD_US,
    encoderMsP50: median(encodeMs),
  };
  const rows: Row[] = [
    { figure: "RDP step per tick, smooth (TypeScript GRU, latent + touch -> action)", value: stepUs, unit: "us" },
    { figure: "  the same, hold (one decoder step a tick, no filter)", value: holdStepUs, unit: "us" },
    { figure: "  of which one GRU step + head", value: gruUs, unit: "us" },
    { figure: "same step as an onnxruntime call (async run)", value: median(ortUs), unit: "us" },
    { figure: "share of a 2 ms control period: TypeScript / onnxruntime", value: `${(100 * figures.reactiveStepShareOfPeriod).toFixed(2)}% / ${(100 * figures.onnxruntimeShareOfPeriod).toFixed(1)}%`, unit: "" },
    { figure: "RDP encoder: chunk -> latent (slow side, onnxruntime)", value: figures.encoderMsP50, unit: "ms" },
  ];
  return { rows, json: figures };
}

export async function runLocalPolicyBench(): Promise<{ rows: Row[]; json: object }> {
  const root = findRepoRoot();
  const vla = await vlaFigures(root);
  printTable(`Tiny VLA on ONNX Runtime (CPU, 1 intra-op thread), median of ${CALLS} calls`, vla.rows);
  const rdp = await rdpFigures(root);
  printTable("RDP decoder in the fast loop", rdp.rows);
  return { rows: [...vla.rows, ...rdp.rows], json: { tinyVla: vla.json, rdp: rdp.json } };
}
