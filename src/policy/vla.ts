// A NORA-style VLA as the slow executor's policy: camera image + instruction in, FAST ids out. The slow executor
// then decodes them with the strict FAST decoder, unnormalizes and converts them (see vlaChunkCodec), so a
// malformed token sequence never becomes a chunk.
import { join, resolve } from "node:path";
import type { ArmDescription } from "../kinematics/description.js";
import { ArmKinematics } from "../kinematics/kinematics.js";
import { ACTION_SPACES, DELTA_ORIGINS, type ActionSpace, type DeltaOrigin } from "../runtime/actionSpace.js";
import type { ActionConverter, ChunkDecoder, Observation, PolicyOutput, SlowPolicy } from "../runtime/slowExecutor.js";
import { FastTokenizer } from "../tokenizers/fast.js";
import { actionConverter, fastDecoder } from "./chunkCodec.js";
import { loadNormStats } from "./normalization.js";
import type { VlaModelConfig } from "./vla/config.js";
import { frameProblem } from "./vla/image.js";
import { VlaRunner, type VlaCallStats, type VlaRunnerOptions } from "./vla/runner.js";
import { StatePrompt } from "./vla/statePrompt.js";

export { actionTokenRange, restrictedArgmax, type ActionTokenRange } from "./vla/actionTokens.js";
export { loadVlaConfig, noraDefaults, parseVlaConfig, VLA_STATE_SOURCES, type VlaChunkConfig, type VlaImageConfig, type VlaModelConfig, type VlaStateConfig, type VlaStateSource } from "./vla/config.js";
export { BicubicResizer, solidImageFrame, VlaImagePreprocessor, type PixelValues } from "./vla/image.js";
export { VlaTextTokenizer } from "./vla/tokenizer.js";
export { VlaRunner, type VlaCallStats, type VlaGeneration, type VlaRunnerOptions } from "./vla/runner.js";
export { StatePrompt } from "./vla/statePrompt.js";

export type VlaFailureKind = "noImage" | "badImage" | "badState" | "maxTokens" | "aborted" | "model";

export interface VlaPolicyStats {
  calls: number;
  succeeded: number;
  failures: Record<VlaFailureKind, number>;
  lastError: string | null;
  /** Timings of the last successful call. */
  last: VlaCallStats | null;
}

/** SlowPolicy over a VlaRunner. Every failure is a thrown one-line error (the slow executor counts it) and counted here. */
export class VlaPolicy implements SlowPolicy {
  readonly name: string;
  readonly runner: VlaRunner;
  private readonly s: VlaPolicyStats = {
    calls: 0,
    succeeded: 0,
    failures: { noImage: 0, badImage: 0, badState: 0, maxTokens: 0, aborted: 0, model: 0 },
    lastError: null,
    last: null,
  };

  /** Set when the model's prompt carries the robot state (vla_config.json prompt.state). */
  readonly statePrompt: StatePrompt | null;

  constructor(runner: VlaRunner, name = "vla", statePrompt: StatePrompt | null = null) {
    if (runner.config.state && statePrompt === null) {
      throw new Error("vla: this model's prompt carries the robot state (prompt.state): load it with loadVlaPolicy, or pass a StatePrompt");
    }
    this.runner = runner;
    this.name = name;
    this.statePrompt = statePrompt;
  }

  stats(): VlaPolicyStats {
    return { ...this.s, failures: { ...this.s.failures } };
  }

  async infer(obs: Observation, signal: AbortSignal): Promise<PolicyOutput> {
    this.s.calls++;
    if (obs.image === undefined) this.fail("noImage", "vla: expected a camera image in the observation, got none");
    const problem = frameProblem(obs.image);
    if (problem !== null) this.fail("badImage", `vla image: ${problem}`);
    let instruction = obs.instruction;
    if (this.statePrompt !== null) {
      try {
        instruction = this.statePrompt.instruction(obs.instruction, obs);
      } catch (error) {
        this.fail("badState", (error as Error).message);
      }
    }
    let result;
    try {
      result = await this.runner.generate(obs.image!, instruction, signal);
    } catch (error) {
      const message = error instanceof Error ? error.message.split("\n")[0] : String(error);
      this.fail(message.includes("aborted") ? "aborted" : "model", message);
    }
    const { fastIds, stop, stats } = result!;
    if (stop === "maxTokens" && this.runner.config.onMaxTokens === "error") {
      this.fail("maxTokens", `vla: no end token within ${this.runner.config.maxNewTokens} new tokens (${fastIds.length} action tokens): chunk discarded`);
    }
    this.s.succeeded++;
    this.s.last = stats;
    return { kind: "tokens", tokens: fastIds };
  }

  private fail(kind: VlaFailureKind, message: string): never {
    this.s.failures[kind]++;
    this.s.lastError = message;
    throw new Error(message);
  }
}

/** Load a model folder (ONNX split + tokenizer.json + optional vla_config.json) as a slow policy. */
export async function loadVlaPolicy(options: VlaRunnerOptions & { name?: string }): Promise<VlaPolicy> {
  const runner = await VlaRunner.load(options);
  const { state, chunk } = runner.config;
  // parseVlaConfig makes prompt.state require the chunk section, whose norm stats hold the state's statistics.
  const statePrompt = state && chunk ? new StatePrompt(state, loadNormStats(join(options.dir, chunk.normStats), chunk.normStatsKey, "state")) : null;
  return new VlaPolicy(runner, options.name ?? `vla (${resolve(options.dir).split(/[\\/]/).pop()})`, statePrompt);
}

export interface VlaChunkCodec {
  decoder: ChunkDecoder;
  convert: ActionConverter;
  /** Width of one decoded action (before conversion). */
  policyDim: number;
  steps: number;
  stepPeriodNs: number;
}

/**
 * The slow executor's decoder and converter for a model folder whose vla_config.json has a "chunk" section:
 * strict FAST decoding with its tokenizer, q01/q99 unnormalization, and its action space onto the arm.
 */
export function vlaChunkCodec(dir: string, config: VlaModelConfig, arm: ArmDescription): VlaChunkCodec {
  const chunk = config.chunk;
  if (chunk === undefined) throw new Error(`vla config in ${dir}: expected a "chunk" section (steps, dim, stepPeriodS, fastTokenizer, normStats, actionSpace), got none`);
  if (!ACTION_SPACES.includes(chunk.actionSpace as ActionSpace)) {
    throw new Error(`vla config in ${dir}: expected chunk.actionSpace ${ACTION_SPACES.join(" | ")}, got ${JSON.stringify(chunk.actionSpace)}`);
  }
  const origin = (chunk.deltaOrigin ?? "measured") as DeltaOrigin;
  if (!DELTA_ORIGINS.includes(origin)) throw new Error(`vla config in ${dir}: expected chunk.deltaOrigin ${DELTA_ORIGINS.join(" | ")}, got ${JSON.stringify(chunk.deltaOrigin)}`);
  const tokenizer = FastTokenizer.load(join(dir, chunk.fastTokenizer));
  if (tokenizer.bpe.vocabSize !== config.actionTokens.count) {
    throw new Error(`vla config in ${dir}: expected actionTokens.count ${tokenizer.bpe.vocabSize} (the FAST tokenizer's vocabulary), got ${config.actionTokens.count}`);
  }
  const stats = loadNormStats(join(dir, chunk.normStats), chunk.normStatsKey);
  return {
    decoder: fastDecoder(tokenizer, chunk.steps, chunk.dim),
    convert: actionConverter(stats, chunk.actionSpace as ActionSpace, new ArmKinematics(arm), origin),
    policyDim: chunk.dim,
    steps: chunk.steps,
    stepPeriodNs: chunk.stepPeriodS * 1e9,
  };
}
