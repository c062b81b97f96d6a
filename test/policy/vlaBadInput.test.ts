// What the VLA does with bad input: model files with the wrong contract, malformed or missing images, a model that
// emits no end token, aborted calls. Each is a one-line error saying what was expected and what came, it is counted,
// and through the slow executor nothing reaches the chunk slot (so nothing reaches the arm).
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadArmDescription } from "../../src/kinematics/description.js";
import { actionTokenRange, loadVlaConfig, parseVlaConfig, restrictedArgmax, StatePrompt, VlaPolicy, VlaRunner, vlaChunkCodec, type VlaModelConfig } from "../../src/policy/vla.js";
import { SharedRuntimeState } from "../../src/runtime/sharedState.js";
import { SlowExecutor, type ImageFrame } from "../../src/runtime/slowExecutor.js";
import { loadGolden, RDP_DIR, recipeImage, TINY_VLA_DIR } from "./vlaGolden.js";

const golden = loadGolden();
const base = loadVlaConfig(TINY_VLA_DIR);
const arm = loadArmDescription(join(TINY_VLA_DIR, "..", "..", "sim", "arm", "description.json"));
const sample = golden.samples[0];

function withFiles(files: Partial<VlaModelConfig["files"]>): VlaModelConfig {
  return { ...base, files: { ...base.files, ...files } };
}

describe("model files with the wrong contract", () => {
  it("a vision encoder in the decoder's place", async () => {
    await expect(VlaRunner.load({ dir: TINY_VLA_DIR, config: withFiles({ decoder: "vision_encoder.onnx" }) })).rejects.toThrow(
      /^vla decoder: expected inputs inputs_embeds, attention_mask, position_ids, past_key_values\.N\.key\/value, got pixel_values float32\[num_patches,1176\], grid_thw int64\[num_images,3\]$/,
    );
  });

  it("the RDP encoder in the vision encoder's place", async () => {
    await expect(VlaRunner.load({ dir: TINY_VLA_DIR, config: withFiles({ visionEncoder: join("..", "rdp", "rdp_encoder.onnx") }) })).rejects.toThrow(
      /^vla vision encoder: expected inputs pixel_values float32\[patches,1176\], grid_thw int64\[images,3\] and output image_features .*got inputs actions float32\[batch,32,7\]; outputs latent float32\[batch,8,16\]$/,
    );
  });

  it("the decoder in the token embedding's place", async () => {
    await expect(VlaRunner.load({ dir: TINY_VLA_DIR, config: withFiles({ embedTokens: "decoder_model_merged.onnx" }) })).rejects.toThrow(/^vla token embedding: expected input input_ids int64\[batch,sequence\].*got inputs inputs_embeds/);
  });

  it("a vision encoder whose patches do not fit the configured patch size", async () => {
    const config = { ...base, image: { ...base.image, patchSize: 16, width: 224, height: 224 } };
    await expect(VlaRunner.load({ dir: TINY_VLA_DIR, config })).rejects.toThrow(/^vla (vision encoder|image): expected/);
  });

  it("a missing file and a file that is not ONNX", async () => {
    await expect(VlaRunner.load({ dir: TINY_VLA_DIR, config: withFiles({ decoder: "nope.onnx" }) })).rejects.toThrow(/^vla decoder: cannot find the model file .*nope\.onnx$/);
    await expect(VlaRunner.load({ dir: TINY_VLA_DIR, config: withFiles({ decoder: "vla_config.json" }) })).rejects.toThrow(/^vla decoder: cannot load .*vla_config\.json: /);
  });

  it("action ids outside the decoder's vocabulary and an end token inside the action range", async () => {
    const far = { ...base, actionTokens: { mapping: "offset" as const, firstId: 153000, count: 1024 } };
    await expect(VlaRunner.load({ dir: TINY_VLA_DIR, config: far })).rejects.toThrow(/^vla action tokens: expected ids 153000\.\.154023 inside the decoder's vocabulary of 153713 logits/);
    const overlap = { ...base, actionTokens: { mapping: "offset" as const, firstId: 151640, count: 1024 } };
    await expect(VlaRunner.load({ dir: TINY_VLA_DIR, config: overlap })).rejects.toThrow(/^vla config: end token id 151645 lies inside the action range/);
  });

  it("config files that cannot be right", () => {
    expect(() => parseVlaConfig({ image: { width: 220, height: 224 } })).toThrow(/expected image width and height to be multiples of 28 \(patch 14 x merge 2\), got 220x224/);
    expect(() => parseVlaConfig({ actionTokens: { mapping: "bins" } })).toThrow(/expected actionTokens.mapping "offset" or "pi0-fast", got "bins"/);
    expect(() => parseVlaConfig({ maxNewTokens: 0 })).toThrow(/expected maxNewTokens to be an integer in \[1, 4096\], got 0/);
    expect(() => parseVlaConfig({ endTokens: [] })).toThrow(/expected endTokens to be a non-empty array/);
  });
});

describe("restricted decoding", () => {
  it("never picks an id outside the action range and the end tokens, even when another id has the largest logit", () => {
    const vocab = 1000;
    const range = actionTokenRange("offset", 100, 500, vocab);
    const logits = new Float32Array(2 * vocab).fill(-5);
    logits[vocab + 3] = 100; // a text id in the second row
    logits[vocab + 650] = 90; // above the range
    logits[vocab + 520] = 10;
    expect(restrictedArgmax(logits, vocab, range, [7])).toBe(520);
    logits[vocab + 7] = 50; // the end token
    expect(restrictedArgmax(logits, vocab, range, [7])).toBe(7);
    logits.fill(Number.NaN, vocab);
    expect(restrictedArgmax(logits, vocab, range, [7])).toBe(-1);
  });

  it("maps FAST ids both ways for NORA's offset and pi0-FAST's end-of-vocabulary layout", () => {
    const nora = actionTokenRange("offset", 2048, 151665, 153713);
    expect([nora.lowId, nora.highId, nora.toFastId(151665), nora.toFastId(153712), nora.toModelId(7)]).toEqual([151665, 153712, 0, 2047, 151672]);
    const pi0 = actionTokenRange("pi0-fast", 2048, 0, 257152);
    // PaliGemma: 257152 ids; FAST id 0 is 257152 - 1 - 128 = 257023
    expect([pi0.highId, pi0.lowId, pi0.toModelId(0), pi0.toFastId(257023 - 5)]).toEqual([257023, 257023 - 2047, 257023, 5]);
    expect(() => actionTokenRange("pi0-fast", 2048, 0, 1000)).toThrow(/expected a vocabulary of more than 2176 logits for pi0-FAST ids, got 1000/);
  });

  it("with the pi0-FAST mapping on the tiny model every generated id is inside that range", async () => {
    const config = { ...base, actionTokens: { mapping: "pi0-fast" as const, firstId: 0, count: 1024 }, maxNewTokens: 12 };
    const runner = await VlaRunner.load({ dir: TINY_VLA_DIR, config });
    try {
      const range = runner.actionRange!;
      expect([range.highId, range.lowId]).toEqual([153713 - 1 - 128, 153713 - 1 - 128 - 1023]);
      const result = await runner.generate(recipeImage(sample.image), sample.instruction);
      expect(result.modelIds.length).toBeGreaterThan(0);
      for (const id of result.modelIds) expect(id >= range.lowId && id <= range.highId).toBe(true);
      result.fastIds.forEach((f, i) => expect(f).toBe(range.highId - result.modelIds[i]));
    } finally {
      await runner.release();
    }
  });
});

describe("bad calls through the policy and the slow executor", () => {
  let runner: VlaRunner;
  beforeAll(async () => {
    runner = await VlaRunner.load({ dir: TINY_VLA_DIR });
  });
  afterAll(async () => {
    await runner?.release();
  });

  function executor(policy: VlaPolicy, image: () => ImageFrame | undefined, configForCodec: VlaModelConfig = base) {
    const state = SharedRuntimeState.create({ dim: 7, tactileCount: 16, maxChunkSteps: 64, latentSize: 0 });
    const sensors = state.createSensorSnapshot();
    sensors.timeNs = 1;
    sensors.positions.set([0, 0.37, 0.78, 2.0, 0, 0, 0.04]);
    state.writeSensors(sensors);
    const codec = vlaChunkCodec(TINY_VLA_DIR, configForCodec, arm);
    const errors: string[] = [];
    const slow = new SlowExecutor({
      state,
      policy,
      inputs: () => ({ image: image(), instruction: sample.instruction }),
      decoder: codec.decoder,
      convert: codec.convert,
      policyDim: 7,
      stepPeriodNs: codec.stepPeriodNs,
      rateHz: 5,
      timeoutMs: 10_000,
      onError: (m) => errors.push(m),
    });
    return { state, slow, errors };
  }

  it("a missing image, a frame whose bytes do not match its size, an unsupported channel count", async () => {
    const policy = new VlaPolicy(runner, "tiny vla");
    let frame: ImageFrame | undefined;
    const { state, slow, errors } = executor(policy, () => frame);
    expect(await slow.runOnce()).toMatchObject({ ok: false, kind: "threw" });
    frame = { width: 224, height: 224, channels: 3, data: new Uint8Array(100), timeNs: 0 };
    expect(await slow.runOnce()).toMatchObject({ ok: false, kind: "threw" });
    frame = { width: 10, height: 10, channels: 2, data: new Uint8Array(200), timeNs: 0 };
    expect(await slow.runOnce()).toMatchObject({ ok: false, kind: "threw" });
    expect(errors).toEqual([
      'policy "tiny vla" threw: vla: expected a camera image in the observation, got none',
      'policy "tiny vla" threw: vla image: expected 150528 bytes for 224x224x3, got 100',
      'policy "tiny vla" threw: vla image: expected 1 (gray), 3 (RGB) or 4 (RGBA) channels, got 2',
    ]);
    expect(policy.stats().failures).toMatchObject({ noImage: 1, badImage: 2 });
    expect(state.chunkVersion()).toBe(0);
  });

  it("a state the model's prompt cannot carry: one line, counted, nothing published", async () => {
    // Statistics for 3 values where the observation has 7 joint positions.
    const policy = new VlaPolicy(runner, "tiny vla", new StatePrompt({ sources: ["positions"], bins: 256 }, { q01: [0, 0, 0], q99: [1, 1, 1] }));
    const { state, slow, errors } = executor(policy, () => recipeImage(sample.image));
    expect(await slow.runOnce()).toMatchObject({ ok: false, kind: "threw" });
    expect(errors).toEqual(['policy "tiny vla" threw: vla state: expected 3 values (positions), got more from "positions"']);
    expect(policy.stats().failures).toMatchObject({ badState: 1, model: 0 });
    expect(state.chunkVersion()).toBe(0);
  });

  it("a model whose prompt carries the state is refused without its state statistics", async () => {
    const withState = await VlaRunner.load({ dir: TINY_VLA_DIR, config: { ...base, state: { sources: ["positions"], bins: 256 } } });
    try {
      expect(() => new VlaPolicy(withState, "tiny vla")).toThrow(/^vla: this model's prompt carries the robot state \(prompt.state\): load it with loadVlaPolicy, or pass a StatePrompt$/);
      const prompt = new StatePrompt({ sources: ["positions"], bins: 256 }, { q01: new Array(7).fill(-1), q99: new Array(7).fill(1) });
      expect(new VlaPolicy(withState, "tiny vla", prompt).statePrompt).toBe(prompt);
    } finally {
      await withState.release();
    }
  });

  it("no end token within maxNewTokens: an error by default, nothing published", async () => {
    const short = await VlaRunner.load({ dir: TINY_VLA_DIR, config: { ...base, maxNewTokens: 6 } });
    try {
      const policy = new VlaPolicy(short, "tiny vla");
      const { state, slow, errors } = executor(policy, () => recipeImage(sample.image));
      expect(await slow.runOnce()).toMatchObject({ ok: false, kind: "threw" });
      expect(errors[0]).toBe('policy "tiny vla" threw: vla: no end token within 6 new tokens (6 action tokens): chunk discarded');
      expect(policy.stats().failures.maxTokens).toBe(1);
      expect(state.chunkVersion()).toBe(0);
    } finally {
      await short.release();
    }
  });

  it("no end token with onMaxTokens 'truncate': the truncated ids reach the strict FAST decoder, which rejects them", async () => {
    const config = { ...base, maxNewTokens: 6, onMaxTokens: "truncate" as const };
    const short = await VlaRunner.load({ dir: TINY_VLA_DIR, config });
    try {
      const policy = new VlaPolicy(short, "tiny vla");
      const { state, slow, errors } = executor(policy, () => recipeImage(sample.image), config);
      const outcome = await slow.runOnce();
      expect(outcome).toMatchObject({ ok: false, kind: "decode" });
      expect(errors[0]).toMatch(/^decoding 6 tokens of policy "tiny vla" failed: FAST decode: /);
      expect(slow.stats().failures.decode).toBe(1);
      expect(state.chunkVersion()).toBe(0);
    } finally {
      await short.release();
    }
  });

  it("an aborted call stops between session runs and is counted", async () => {
    const policy = new VlaPolicy(runner, "tiny vla");
    const controller = new AbortController();
    controller.abort();
    const obs = { timeNs: 0, positions: new Float64Array(7), velocities: new Float64Array(7), wrench: new Float64Array(6), tactile: new Float64Array(16), image: recipeImage(sample.image), instruction: "x" };
    await expect(policy.infer(obs, controller.signal)).rejects.toThrow(/^vla: generation aborted after 0 tokens$/);
    expect(policy.stats().failures.aborted).toBe(1);
  });

  it("a non-string instruction", async () => {
    await expect(runner.generate(recipeImage(sample.image), 42 as unknown as string)).rejects.toThrow(/^vla: expected the instruction as a string, got number$/);
  });
});

describe("vla chunk codec", () => {
  it("refuses a config without a chunk section or with an action count that is not the FAST vocabulary", () => {
    const { chunk: _chunk, ...noChunk } = base;
    expect(() => vlaChunkCodec(TINY_VLA_DIR, noChunk, arm)).toThrow(/expected a "chunk" section/);
    expect(() => vlaChunkCodec(TINY_VLA_DIR, { ...base, actionTokens: { ...base.actionTokens, count: 2048 } }, arm)).toThrow(/expected actionTokens.count 1024 \(the FAST tokenizer's vocabulary\), got 2048/);
    expect(() => vlaChunkCodec(TINY_VLA_DIR, { ...base, chunk: { ...base.chunk!, deltaOrigin: "previous" } }, arm)).toThrow(/expected chunk.deltaOrigin measured \| plan, got "previous"/);
    expect(() => parseVlaConfig({ constrainToChunk: "yes" })).toThrow(/expected constrainToChunk to be true or false, got "yes"/);
    expect(() => parseVlaConfig({ constrainToChunk: true })).toThrow(/constrainToChunk needs a "chunk" section/);
  });

  it("is not confused by the RDP folder (no vla_config.json: NORA defaults)", () => {
    expect(loadVlaConfig(RDP_DIR).actionTokens).toEqual({ mapping: "offset", firstId: 151665, count: 2048 });
  });
});
