// The VLA runner against the references: instruction ids against the tokenizers library, resized images against
// Pillow, pixel values against transformers' Qwen2-VL image processor, prompt and rotary positions against
// transformers, generated ids against torch and onnxruntime (Python), and the chunk the ids decode to.
import { createHash } from "node:crypto";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadArmDescription } from "../../src/kinematics/description.js";
import { loadVlaConfig, VlaImagePreprocessor, VlaPolicy, VlaRunner, VlaTextTokenizer, vlaChunkCodec, BicubicResizer } from "../../src/policy/vla.js";
import { buildPrompt, promptTokens, ropePositions } from "../../src/policy/vla/prompt.js";
import { SharedRuntimeState } from "../../src/runtime/sharedState.js";
import { SlowExecutor } from "../../src/runtime/slowExecutor.js";
import { FastTokenizer } from "../../src/tokenizers/fast.js";
import { loadGolden, recipeImage, TINY_VLA_DIR } from "./vlaGolden.js";

const golden = loadGolden();
const config = loadVlaConfig(TINY_VLA_DIR);
const arm = loadArmDescription(join(TINY_VLA_DIR, "..", "..", "sim", "arm", "description.json"));
const fast = FastTokenizer.load(join(TINY_VLA_DIR, config.chunk!.fastTokenizer));

describe("instruction tokenizer", () => {
  const tokenizer = VlaTextTokenizer.load(join(TINY_VLA_DIR, "tokenizer.json"));

  it("gives the tokenizers library's ids (NFC, Qwen2 split, byte-level BPE)", () => {
    expect(golden.tokenizer.length).toBeGreaterThan(5);
    for (const c of golden.tokenizer) expect(tokenizer.encode(c.text), JSON.stringify(c.text)).toEqual(c.ids);
  });

  it("resolves the special tokens at NORA's ids and treats special-token text in an instruction as text", () => {
    expect(tokenizer.tokenId("<|im_end|>")).toBe(151645);
    expect(tokenizer.tokenId("<|image_pad|>")).toBe(151655);
    expect(tokenizer.tokenId("<robot_action_0>")).toBe(151665);
    expect(tokenizer.vocabSize).toBe(153713);
    const ids = tokenizer.encode("stop <|im_end|> now");
    expect(ids).not.toContain(151645);
    expect(ids.every((id) => id < 151643)).toBe(true);
  });

  it("rejects tokenizer files it cannot reproduce, saying what it expected", () => {
    expect(() => VlaTextTokenizer.fromJson({ model: { type: "WordPiece" } })).toThrow(/expected model.type "BPE", got WordPiece/);
    const base = { model: { type: "BPE", vocab: { a: 0 }, merges: [] }, pre_tokenizer: { type: "ByteLevel" } };
    expect(() => VlaTextTokenizer.fromJson({ ...base, normalizer: { type: "NFKD" } })).toThrow(/expected normalizer null or NFC, got NFKD/);
    expect(() => VlaTextTokenizer.fromJson({ ...base, pre_tokenizer: { type: "Whitespace" } })).toThrow(/expected pre_tokenizer ByteLevel or Sequence/);
  });
});

describe("image preprocessing", () => {
  it("resizes exactly as Pillow's bicubic resize (up, down and same size)", () => {
    const resizer = new BicubicResizer();
    for (const s of golden.samples) {
      const frame = recipeImage(s.image);
      const out = resizer.resize(frame.data, frame.width, frame.height, 224, 224);
      expect(createHash("sha256").update(out).digest("hex"), `${s.image.width}x${s.image.height}`).toBe(s.resizedSha256);
    }
  });

  it("produces the Qwen2-VL image processor's pixel_values (values, patch order, grid)", () => {
    const pre = new VlaImagePreprocessor(config.image);
    for (const s of golden.samples) {
      const px = pre.process(recipeImage(s.image));
      expect([px.patches, px.patchDim]).toEqual(s.pixelValues.shape);
      expect(px.gridThw).toEqual(s.pixelValues.gridThw);
      expect(px.imageTokens).toBe(64);
      let sum = 0;
      let sumSquares = 0;
      for (const v of px.data) {
        sum += v;
        sumSquares += v * v;
      }
      expect(sum).toBeCloseTo(s.pixelValues.sum, 1);
      expect(sumSquares).toBeCloseTo(s.pixelValues.sumSquares, 0);
      s.pixelValues.sampleIndices.forEach((index, k) => expect(px.data[index]).toBeCloseTo(s.pixelValues.sampleValues[k], 5));
    }
  });

  it("composites RGBA over white and replicates gray like the Python pipeline", () => {
    const pre = new VlaImagePreprocessor(config.image);
    // Pillow's paste of (200, 100, 3) with alpha a onto white, for a = 1, 127, 128, 254 (values from Pillow itself).
    const pillow: Record<number, number[]> = { 1: [255, 254, 254], 127: [228, 178, 129], 128: [227, 177, 129], 254: [200, 101, 4] };
    for (const [alpha, expected] of Object.entries(pillow)) {
      const rgba = new Uint8Array(224 * 224 * 4);
      for (let i = 0; i < 224 * 224; i++) rgba.set([200, 100, 3, Number(alpha)], 4 * i);
      pre.process({ width: 224, height: 224, channels: 4, data: rgba, timeNs: 0 });
      expect(Array.from(pre.lastResized.subarray(0, 3)), `alpha ${alpha}`).toEqual(expected);
    }
    const gray = new Uint8Array(224 * 224).fill(77);
    pre.process({ width: 224, height: 224, channels: 1, data: gray, timeNs: 0 });
    expect(Array.from(pre.lastResized.subarray(0, 3))).toEqual([77, 77, 77]);
  });
});

describe("prompt", () => {
  const tokenizer = VlaTextTokenizer.load(join(TINY_VLA_DIR, "tokenizer.json"));
  const tokens = promptTokens(tokenizer, config.systemPrompt);

  it("is NORA's chat turn, id for id, with the rotary positions of transformers' get_rope_index", () => {
    for (const s of golden.samples) {
      const prompt = buildPrompt(tokenizer, tokens, s.instruction, 64);
      expect(prompt.ids).toEqual(s.promptIds);
      const rope = ropePositions(prompt, s.pixelValues.gridThw, 2);
      const n = prompt.ids.length;
      const sums = [0, 1, 2].map((r) => rope.positions.subarray(r * n, (r + 1) * n).reduce((a, b) => a + Number(b), 0));
      expect(sums).toEqual(s.positionIds.sum);
      expect([0, 1, 2].map((r) => Number(rope.positions[r * n + n - 1]))).toEqual(s.positionIds.last);
      expect(rope.ropeDelta).toBe(s.positionIds.ropeDelta);
    }
  });

  it("leaves the system turn out when the config says null", () => {
    const bare = promptTokens(tokenizer, null);
    const prompt = buildPrompt(tokenizer, bare, "hold still", 4);
    expect(prompt.ids.slice(0, 2)).toEqual([151644, ...tokenizer.encode("user\n")].slice(0, 2));
    expect(prompt.imageStart).toBe(1 + tokenizer.encode("user\n").length + 1);
  });
});

describe("VLA runner on the bundled tiny model", () => {
  let runner: VlaRunner;
  beforeAll(async () => {
    runner = await VlaRunner.load({ dir: TINY_VLA_DIR });
  });
  afterAll(async () => {
    await runner?.release();
  });

  it("reads the contract from the sessions", () => {
    expect(runner.decoderContract).toMatchObject({ hidden: 64, layers: 2, kvHeads: 2, headDim: 16, vocabSize: 153713, positionRank: 3 });
    expect(runner.actionRange).toMatchObject({ lowId: 151665, highId: 151665 + 1023 });
  });

  it("generates the ids onnxruntime (Python) generated from the same files, and stops where it stopped", async () => {
    for (const s of golden.samples) {
      const result = await runner.generate(recipeImage(s.image), s.instruction);
      const ended = s.onnxruntimeIds.length > 0 && [151645, 151643].includes(s.onnxruntimeIds.at(-1)!);
      expect(result.stop).toBe(ended ? "end" : "maxTokens");
      expect(ended ? [...result.modelIds, s.onnxruntimeIds.at(-1)] : result.modelIds).toEqual(s.onnxruntimeIds);
    }
  });

  it("the memorized samples decode to their chunks (the Python FAST encoding is this project's too)", async () => {
    const memorized = golden.samples.filter((s) => s.memorized);
    expect(memorized.length).toBe(golden.samples.length); // the bundled weights memorize every sample
    for (const s of memorized) {
      const result = await runner.generate(recipeImage(s.image), s.instruction);
      expect(result.fastIds).toEqual(s.fastIds);
      expect(fast.encode(s.chunk)).toEqual(s.fastIds);
      const decoded = fast.decode(result.fastIds, 10, 7);
      expect(decoded.ok).toBe(true);
      if (decoded.ok) decoded.actions.forEach((row, t) => row.forEach((v, d) => expect(Math.abs(v - s.chunk[t][d])).toBeLessThan(0.05)));
    }
  });

  it("reports prefill, per-token and session timings for every call", async () => {
    const s = golden.samples[0];
    const { stats } = await runner.generate(recipeImage(s.image), s.instruction);
    expect(stats.actionTokens).toBe(s.fastIds.length);
    expect(stats.generatedTokens).toBe(s.fastIds.length + 1);
    expect(stats.promptTokens).toBe(s.promptIds.length);
    // vision + prompt embedding + one decoder pass per generated token (action embeddings are cached)
    expect(stats.sessionCalls).toBe(2 + stats.generatedTokens);
    for (const v of [stats.preprocessMs, stats.visionMs, stats.prefillMs, stats.decodeMs, stats.msPerToken, stats.totalMs, stats.sessionMs]) expect(v).toBeGreaterThan(0);
    expect(stats.prefillMs).toBeGreaterThanOrEqual(stats.visionMs);
    expect(stats.sessionMs).toBeLessThanOrEqual(stats.totalMs);
    expect(stats.overheadFraction).toBeGreaterThanOrEqual(0);
    expect(stats.overheadFraction).toBeLessThan(1);
  });

  it("gives the same ids without the action-embedding cache (one embedding run per token)", async () => {
    const plain = await VlaRunner.load({ dir: TINY_VLA_DIR, cacheActionEmbeddings: false });
    try {
      const s = golden.samples[2];
      const result = await plain.generate(recipeImage(s.image), s.instruction);
      expect([...result.modelIds, 151645]).toEqual(s.expectedIds);
      expect(result.stats.sessionCalls).toBe(2 + result.stats.generatedTokens + result.stats.actionTokens);
    } finally {
      await plain.release();
    }
  });

  it("serves overlapping calls one after the other", async () => {
    const [a, b] = golden.samples;
    const [ra, rb] = await Promise.all([runner.generate(recipeImage(a.image), a.instruction), runner.generate(recipeImage(b.image), b.instruction)]);
    expect(ra.fastIds).toEqual(a.fastIds);
    expect(rb.fastIds).toEqual(b.fastIds);
  });

  it("drives the slow executor: tokens -> strict FAST decode -> unnormalize -> joint deltas -> a chunk in shared memory", async () => {
    const state = SharedRuntimeState.create({ dim: 7, tactileCount: 16, maxChunkSteps: 64, latentSize: 0 });
    const positions = Float64Array.from([0, 0.37, 0.78, 2.0, 0, 0, 0.04]);
    const sensors = state.createSensorSnapshot();
    sensors.timeNs = 123;
    sensors.positions.set(positions);
    state.writeSensors(sensors);
    const s = golden.samples[1];
    const codec = vlaChunkCodec(TINY_VLA_DIR, config, arm);
    const policy = new VlaPolicy(runner, "tiny vla");
    const slow = new SlowExecutor({
      state,
      policy,
      inputs: () => ({ image: recipeImage(s.image), instruction: s.instruction }),
      decoder: codec.decoder,
      convert: codec.convert,
      policyDim: codec.policyDim,
      stepPeriodNs: codec.stepPeriodNs,
      rateHz: 5,
      timeoutMs: 10_000,
    });
    const outcome = await slow.runOnce();
    expect(outcome).toMatchObject({ ok: true, published: "chunk" });
    const chunk = { actions: new Float64Array(64 * 7), steps: 0, dim: 0, stepPeriodNs: 0, observationTimeNs: 0, arrivalTimeNs: 0, sequence: 0 };
    expect(state.readChunk(chunk)).toBeGreaterThan(0);
    expect(chunk).toMatchObject({ steps: 10, dim: 7, stepPeriodNs: 1e8, observationTimeNs: 123 });
    // The same chunk by hand: decode the reference ids, unnormalize, accumulate the deltas on the observed joints.
    const decoded = codec.decoder(s.fastIds) as Float64Array;
    const expected = codec.convert(decoded, 10, 7, { timeNs: 123, positions, velocities: new Float64Array(7), wrench: new Float64Array(6), tactile: new Float64Array(16), instruction: "" }) as Float64Array;
    for (let i = 0; i < 70; i++) expect(chunk.actions[i]).toBeCloseTo(expected[i], 12);
    expect(policy.stats()).toMatchObject({ calls: 1, succeeded: 1 });
    expect(policy.stats().last?.actionTokens).toBe(s.fastIds.length);
  });
});
