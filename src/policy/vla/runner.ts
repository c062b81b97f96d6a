// The VLA runner: three ONNX Runtime sessions in the Qwen2-VL split (vision encoder, token embedding, decoder with
// a KV cache), NORA's prompt, and greedy decoding restricted to the action tokens and the end tokens.
//
// Per call: preprocess the image and build the prompt (typed arrays), run the vision encoder, embed the prompt and
// put the image features in place of the image pads, prefill the decoder with an empty cache, then feed one token
// at a time with the cache until an end token or maxNewTokens. Every session run is timed, so the runtime's own
// overhead (everything outside the runs) is measured on every call.
import { join } from "node:path";
import type { ImageFrame } from "../../runtime/slowExecutor.js";
import { floatOutput, loadSession, type FloatOutput, RunClock, Tensor, type InferenceSession, type OrtFeeds, type OrtOutputs, type SessionSettings } from "../onnx.js";
import { actionTokenRange, constrainedArgmax, restrictedArgmax, type ActionTokenRange } from "./actionTokens.js";
import { loadVlaConfig, type VlaModelConfig } from "./config.js";
import { checkDecoder, checkEmbedTokens, checkVisionEncoder, type DecoderContract, type VisionContract } from "./contract.js";
import { VlaImagePreprocessor } from "./image.js";
import { buildPrompt, promptTokens, ropePositions, type PromptTokens } from "./prompt.js";
import { VlaTextTokenizer } from "./tokenizer.js";
import { FastTokenizer } from "../../tokenizers/fast.js";
import type { FastLengthGrammar } from "../../tokenizers/fastGrammar.js";

export interface VlaRunnerOptions {
  /** Folder with the ONNX files, tokenizer.json and (optionally) vla_config.json. */
  dir: string;
  /** Use this instead of the folder's vla_config.json (or NORA's defaults). */
  config?: VlaModelConfig;
  session?: SessionSettings;
  /**
   * Embed every action token once at load and look generated tokens up instead of running the embedding session
   * per token (one session run less per token). Default true.
   */
  cacheActionEmbeddings?: boolean;
}

/** Timings and counts of one generate() call. All times in ms. */
export interface VlaCallStats {
  /** Image conversion, resize, normalization, patches, prompt ids and positions (JavaScript). */
  preprocessMs: number;
  visionMs: number;
  /** From the vision encoder's start until the first generated token is chosen (vision + embedding + first decoder pass). */
  prefillMs: number;
  /** After the first token: the cached decoder passes. */
  decodeMs: number;
  /** decodeMs per cached decoder pass (NaN when the first token ended the call). */
  msPerToken: number;
  /** Generated ids, end token included. */
  generatedTokens: number;
  actionTokens: number;
  promptTokens: number;
  totalMs: number;
  /** Time inside session.run (vision, embedding, decoder). */
  sessionMs: number;
  sessionCalls: number;
  /** totalMs - preprocessMs - sessionMs: the runner's own work between the runs. */
  overheadMs: number;
  /** overheadMs / (totalMs - preprocessMs). */
  overheadFraction: number;
  stop: "end" | "maxTokens";
  /** Tokens where the chunk grammar (config.constrainToChunk) ruled out the model's first choice. */
  grammarOverrides: number;
}

export interface VlaGeneration {
  /** Generated action ids in the model's vocabulary (end token excluded). */
  modelIds: number[];
  /** The same as FAST ids (0 .. count-1). */
  fastIds: number[];
  stop: "end" | "maxTokens";
  stats: VlaCallStats;
}

function ms(start: number): number {
  return performance.now() - start;
}

export class VlaRunner {
  readonly config: VlaModelConfig;
  readonly tokenizer: VlaTextTokenizer;
  readonly vision: VisionContract;
  readonly decoderContract: DecoderContract;
  /** Ids that end generation. */
  readonly endIds: readonly number[];
  private readonly sessions: { vision: InferenceSession; embed: InferenceSession; decoder: InferenceSession };
  private readonly preprocessor: VlaImagePreprocessor;
  private readonly prompt: PromptTokens;
  private readonly clock = new RunClock();
  private readonly cacheEmbeddings: boolean;
  private range: ActionTokenRange | null = null;
  private vocabSize: number | null;
  /** [count * hidden] embeddings of the action ids, in FAST id order. */
  private actionEmbeddings: Float32Array | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private released = false;
  /** Set when config.constrainToChunk: the FAST ids each greedy step may choose. */
  private readonly grammar: FastLengthGrammar | null;
  private grammarOverrides = 0;

  private constructor(
    config: VlaModelConfig,
    tokenizer: VlaTextTokenizer,
    sessions: { vision: InferenceSession; embed: InferenceSession; decoder: InferenceSession },
    vision: VisionContract,
    decoder: DecoderContract,
    cacheEmbeddings: boolean,
    grammar: FastLengthGrammar | null,
  ) {
    this.grammar = grammar;
    this.config = config;
    this.tokenizer = tokenizer;
    this.sessions = sessions;
    this.vision = vision;
    this.decoderContract = decoder;
    this.preprocessor = new VlaImagePreprocessor(config.image);
    this.prompt = promptTokens(tokenizer, config.systemPrompt);
    this.endIds = config.endTokens.map((t) => tokenizer.requireTokenId(t, "end"));
    this.cacheEmbeddings = cacheEmbeddings;
    this.vocabSize = decoder.vocabSize;
  }

  /** Load the three sessions and the tokenizer and check them against each other. One-line errors on any mismatch. */
  static async load(options: VlaRunnerOptions): Promise<VlaRunner> {
    const config = options.config ?? loadVlaConfig(options.dir);
    const file = (name: string) => join(options.dir, name);
    const tokenizer = VlaTextTokenizer.load(file(config.files.tokenizer));
    const sessions: { vision?: InferenceSession; embed?: InferenceSession; decoder?: InferenceSession } = {};
    try {
      sessions.vision = await loadSession(file(config.files.visionEncoder), "vla vision encoder", options.session);
      sessions.embed = await loadSession(file(config.files.embedTokens), "vla token embedding", options.session);
      sessions.decoder = await loadSession(file(config.files.decoder), "vla decoder", options.session);
      const img = config.image;
      const vision = checkVisionEncoder(sessions.vision, 3 * img.temporalPatchSize * img.patchSize * img.patchSize);
      const { hidden } = checkEmbedTokens(sessions.embed);
      if (vision.featureWidth !== null && vision.featureWidth !== hidden) {
        throw new Error(`vla vision encoder: expected image_features of width ${hidden} (the token embedding's), got ${vision.featureWidth}`);
      }
      const decoder = checkDecoder(sessions.decoder, hidden);
      const runner = new VlaRunner(config, tokenizer, sessions as Required<typeof sessions>, vision, decoder, options.cacheActionEmbeddings ?? true, chunkGrammar(options.dir, config));
      for (const id of runner.endIds) {
        if (decoder.vocabSize !== null && id >= decoder.vocabSize) throw new Error(`vla decoder: expected end token id ${id} inside the vocabulary of ${decoder.vocabSize} logits`);
      }
      if (decoder.vocabSize !== null) await runner.learnVocab(decoder.vocabSize);
      return runner;
    } catch (error) {
      await Promise.all(Object.values(sessions).map((s) => s?.release().catch(() => undefined)));
      throw error;
    }
  }

  /** The action range (known once the vocabulary size is: at load for files that state it, else after the first call). */
  get actionRange(): ActionTokenRange | null {
    return this.range;
  }

  get hidden(): number {
    return this.decoderContract.hidden;
  }

  /** Generate the action tokens for one image and instruction. Calls are served one at a time, in order. */
  generate(frame: ImageFrame, instruction: string, signal?: AbortSignal): Promise<VlaGeneration> {
    const run = this.queue.then(() => this.generateNow(frame, instruction, signal));
    this.queue = run.catch(() => undefined);
    return run;
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    await this.queue;
    await Promise.all([this.sessions.vision.release(), this.sessions.embed.release(), this.sessions.decoder.release()]);
  }

  private async learnVocab(vocabSize: number): Promise<void> {
    if (this.range !== null) {
      if (vocabSize !== this.vocabSize) throw new Error(`vla decoder: expected logits over ${this.vocabSize} ids, got ${vocabSize}`);
      return;
    }
    const a = this.config.actionTokens;
    this.range = actionTokenRange(a.mapping, a.count, a.firstId, vocabSize);
    this.vocabSize = vocabSize;
    for (const id of this.endIds) {
      if (id >= vocabSize) throw new Error(`vla decoder: expected end token id ${id} inside the vocabulary of ${vocabSize} logits`);
      if (id >= this.range.lowId && id <= this.range.highId) throw new Error(`vla config: end token id ${id} lies inside the action range ${this.range.lowId}..${this.range.highId}`);
    }
    if (this.cacheEmbeddings) {
      const n = this.range.count;
      const ids = new BigInt64Array(n);
      for (let f = 0; f < n; f++) ids[f] = BigInt(this.range.toModelId(f));
      const out = await this.clock.run(this.sessions.embed, { input_ids: new Tensor("int64", ids, [1, n]) }, "vla token embedding");
      const embeds = floatOutput(out, "inputs_embeds", "vla token embedding");
      this.actionEmbeddings = embeds.data.slice(0, n * this.hidden);
    }
  }

  private checkAbort(signal: AbortSignal | undefined, tokens: number): void {
    if (this.released) throw new Error("vla: the runner was released");
    if (signal?.aborted) throw new Error(`vla: generation aborted after ${tokens} tokens`);
  }

  private async generateNow(frame: ImageFrame, instruction: string, signal: AbortSignal | undefined): Promise<VlaGeneration> {
    if (typeof instruction !== "string") throw new Error(`vla: expected the instruction as a string, got ${typeof instruction}`);
    this.checkAbort(signal, 0);
    const start = performance.now();
    const clock = this.clock;
    clock.reset();
    const { hidden, layers, kvHeads, headDim, positionRank, hasUseCacheBranch } = this.decoderContract;

    // ---- JavaScript preprocessing
    const pixels = this.preprocessor.process(frame);
    const prompt = buildPrompt(this.tokenizer, this.prompt, instruction, pixels.imageTokens);
    const n = prompt.ids.length;
    const rope = positionRank === 3 ? ropePositions(prompt, pixels.gridThw, this.config.image.mergeSize) : null;
    const preprocessMs = ms(start);

    // ---- vision encoder
    const prefillStart = performance.now();
    const grid = BigInt64Array.from(pixels.gridThw.map(BigInt));
    const visionOut = await clock.run(
      this.sessions.vision,
      { pixel_values: new Tensor("float32", pixels.data, [pixels.patches, pixels.patchDim]), [this.vision.gridName]: new Tensor("int64", grid, [1, 3]) },
      "vla vision encoder",
    );
    const visionMs = ms(prefillStart);
    const features = floatOutput(visionOut, "image_features", "vla vision encoder");
    if (features.dims.length !== 2 || features.dims[0] !== prompt.imageTokens || features.dims[1] !== hidden) {
      throw new Error(`vla vision encoder: expected image_features [${prompt.imageTokens}, ${hidden}] for a ${pixels.gridThw.join("x")} grid, got [${features.dims.join(", ")}]`);
    }
    this.checkAbort(signal, 0);

    // ---- prompt embedding with the image features in place of the pads
    const ids = BigInt64Array.from(prompt.ids.map(BigInt));
    const embedOut = await clock.run(this.sessions.embed, { input_ids: new Tensor("int64", ids, [1, n]) }, "vla token embedding");
    const embeds = floatOutput(embedOut, "inputs_embeds", "vla token embedding");
    if (embeds.data.length !== n * hidden) throw new Error(`vla token embedding: expected inputs_embeds [1, ${n}, ${hidden}], got [${embeds.dims.join(", ")}]`);
    embeds.data.set(features.data.subarray(0, prompt.imageTokens * hidden), prompt.imageStart * hidden);
    this.checkAbort(signal, 0);

    // ---- prefill
    let past: Record<string, Tensor> = {};
    for (let i = 0; i < layers; i++) {
      past[`past_key_values.${i}.key`] = new Tensor("float32", new Float32Array(0), [1, kvHeads, 0, headDim]);
      past[`past_key_values.${i}.value`] = new Tensor("float32", new Float32Array(0), [1, kvHeads, 0, headDim]);
    }
    let positions: Tensor;
    if (rope !== null) positions = new Tensor("int64", rope.positions, [3, 1, n]);
    else positions = new Tensor("int64", BigInt64Array.from({ length: n }, (_, i) => BigInt(i)), [1, n]);
    let out = await this.runDecoder({ inputs_embeds: embeds.tensor, attention_mask: ones(n), position_ids: positions, ...past }, hasUseCacheBranch, false);
    if (this.range === null) await this.learnVocab(out.logits.dims[2]);
    const range = this.range!;

    const modelIds: number[] = [];
    this.grammar?.reset();
    this.grammarOverrides = 0;
    let length = n;
    let generated = 0;
    let stop: "end" | "maxTokens" = "maxTokens";
    let prefillMs = NaN;
    let decodeStart = 0;
    for (;;) {
      const token = this.pick(out.logits, range);
      generated++;
      if (generated === 1) {
        prefillMs = ms(prefillStart);
        decodeStart = performance.now();
      }
      if (this.endIds.includes(token)) {
        stop = "end";
        break;
      }
      modelIds.push(token);
      if (generated >= this.config.maxNewTokens) break;
      this.checkAbort(signal, generated);
      // ---- one cached step
      past = {};
      for (let i = 0; i < layers; i++) {
        past[`past_key_values.${i}.key`] = out.outputs[`present.${i}.key`];
        past[`past_key_values.${i}.value`] = out.outputs[`present.${i}.value`];
      }
      const embed = await this.embedOne(token, range);
      const position = rope !== null ? BigInt(length + rope.ropeDelta) : BigInt(length);
      const pos = rope !== null ? new Tensor("int64", BigInt64Array.of(position, position, position), [3, 1, 1]) : new Tensor("int64", BigInt64Array.of(position), [1, 1]);
      length++;
      out = await this.runDecoder({ inputs_embeds: embed, attention_mask: ones(length), position_ids: pos, ...past }, hasUseCacheBranch, true);
      if (out.logits.dims[2] !== this.vocabSize) throw new Error(`vla decoder: expected logits over ${this.vocabSize} ids, got ${out.logits.dims[2]}`);
    }
    const decodeMs = ms(decodeStart);
    const totalMs = ms(start);
    const decodePasses = generated - 1;
    const modelMs = totalMs - preprocessMs;
    const overheadMs = Math.max(0, modelMs - clock.totalMs);
    return {
      modelIds,
      fastIds: modelIds.map((id) => range.toFastId(id)),
      stop,
      stats: {
        preprocessMs,
        visionMs,
        prefillMs,
        decodeMs,
        msPerToken: decodePasses > 0 ? decodeMs / decodePasses : NaN,
        generatedTokens: generated,
        actionTokens: modelIds.length,
        promptTokens: n,
        totalMs,
        sessionMs: clock.totalMs,
        sessionCalls: clock.calls,
        overheadMs,
        overheadFraction: modelMs > 0 ? overheadMs / modelMs : 0,
        stop,
        grammarOverrides: this.grammarOverrides,
      },
    };
  }

  private async runDecoder(feeds: OrtFeeds, hasUseCacheBranch: boolean, cached: boolean): Promise<{ outputs: OrtOutputs; logits: FloatOutput }> {
    const all = hasUseCacheBranch ? { ...feeds, use_cache_branch: new Tensor("bool", [cached], [1]) } : feeds;
    const outputs = await this.clock.run(this.sessions.decoder, all, "vla decoder");
    const logits = floatOutput(outputs, "logits", "vla decoder");
    if (logits.dims.length !== 3 || logits.dims[0] !== 1 || logits.dims[1] < 1) throw new Error(`vla decoder: expected logits [1, sequence, vocab], got [${logits.dims.join(", ")}]`);
    return { outputs, logits };
  }

  /** The restricted greedy choice on the last logits row. */
  private pick(logits: FloatOutput, range: ActionTokenRange): number {
    const vocab = logits.dims[2];
    const offset = (logits.dims[1] - 1) * vocab;
    const free = restrictedArgmax(logits.data, offset, range, this.endIds);
    if (free < 0) throw new Error("vla decoder: expected finite logits, got NaN for every action and end token");
    if (this.grammar === null) return free;
    const token = constrainedArgmax(logits.data, offset, range, this.endIds, this.grammar);
    if (token < 0) throw new Error("vla decoder: expected finite logits, got NaN for every token the chunk grammar allows");
    if (token !== free) this.grammarOverrides++;
    if (!this.endIds.includes(token)) this.grammar.accept(range.toFastId(token));
    return token;
  }

  private async embedOne(token: number, range: ActionTokenRange): Promise<Tensor> {
    const h = this.hidden;
    if (this.actionEmbeddings !== null) {
      const f = range.toFastId(token);
      return new Tensor("float32", this.actionEmbeddings.slice(f * h, (f + 1) * h), [1, 1, h]);
    }
    const out = await this.clock.run(this.sessions.embed, { input_ids: new Tensor("int64", BigInt64Array.of(BigInt(token)), [1, 1]) }, "vla token embedding");
    return floatOutput(out, "inputs_embeds", "vla token embedding").tensor;
  }
}

function ones(n: number): Tensor {
  return new Tensor("int64", new BigInt64Array(n).fill(1n), [1, n]);
}

/** The chunk grammar of a config with constrainToChunk (its FAST tokenizer, relative to the model folder). */
function chunkGrammar(dir: string, config: VlaModelConfig): FastLengthGrammar | null {
  if (!config.constrainToChunk || config.chunk === undefined) return null;
  const fast = FastTokenizer.load(join(dir, config.chunk.fastTokenizer));
  if (fast.bpe.vocabSize !== config.actionTokens.count) {
    throw new Error(`vla config: constrainToChunk needs actionTokens.count ${fast.bpe.vocabSize} (the FAST tokenizer's vocabulary), got ${config.actionTokens.count}`);
  }
  return fast.lengthGrammar(config.chunk.steps, config.chunk.dim);
}
