// The scripted wipe expert dressed as a slow policy that speaks FAST tokens, the way a VLA answers: it plans a chunk
// of joint targets, turns it into per-step joint deltas, normalizes them with the bundled statistics and encodes them
// with the bundled FAST tokenizer. The runtime then decodes those tokens exactly as it would decode a model's.
// It stands in for a learned policy until the bundled models exist, and is labelled as such everywhere it shows up.
import { join } from "node:path";
import type { ArmDescription } from "../kinematics/description.js";
import { loadNormStats, normalizeInto, type NormStats } from "../policy/normalization.js";
import type { Observation, PolicyOutput, SlowPolicy } from "../runtime/slowExecutor.js";
import { FastTokenizer } from "../tokenizers/fast.js";
import { WipeExpert } from "./expert.js";
import type { WipeTaskSpec } from "./task.js";

/** Chunk shape and rates of the bundled scripted-expert policy (the tokenizer was fitted on exactly these chunks). */
export const BUNDLED_POLICY = Object.freeze({
  stepPeriodS: 0.1,
  chunkSteps: 10,
  /** The expert replans this often (the slow executor's rate). */
  replanPeriodS: 0.2,
  /** FAST coefficient scale the bundled tokenizer was fitted with. */
  fastScale: 30,
  /** Folder under the package root. */
  modelDir: join("models", "wipe_expert"),
  normStatsKey: "vla_arm6_wipe",
});

/** Absolute chunk [steps * dim] -> per-step joint deltas (the first from the observed state), gripper left absolute. */
export function chunkToDeltas(chunk: ArrayLike<number>, state: ArrayLike<number>, steps: number, dim: number, out: Float64Array = new Float64Array(steps * dim)): Float64Array {
  for (let i = 0; i < steps; i++) {
    for (let d = 0; d < dim - 1; d++) {
      const previous = i === 0 ? state[d] : chunk[(i - 1) * dim + d];
      out[i * dim + d] = chunk[i * dim + d] - previous;
    }
    out[i * dim + dim - 1] = chunk[i * dim + dim - 1];
  }
  return out;
}

export interface BundledExpertModel {
  tokenizer: FastTokenizer;
  stats: NormStats;
}

export function loadBundledExpertModel(packageRoot: string): BundledExpertModel {
  const dir = join(packageRoot, BUNDLED_POLICY.modelDir);
  return {
    tokenizer: FastTokenizer.load(join(dir, "fast_tokenizer")),
    stats: loadNormStats(join(dir, "norm_stats.json"), BUNDLED_POLICY.normStatsKey),
  };
}

export class ScriptedExpertPolicy implements SlowPolicy {
  readonly name = "scripted expert (FAST tokens)";
  private readonly expert: WipeExpert;
  private readonly dim: number;
  private readonly chunk: Float64Array;
  private readonly deltas: Float64Array;
  private readonly normalized: Float64Array;

  constructor(arm: ArmDescription, spec: WipeTaskSpec, private readonly model: BundledExpertModel, seed = 0) {
    this.expert = new WipeExpert(arm, spec, { seed, stepPeriodS: BUNDLED_POLICY.stepPeriodS, chunkSteps: BUNDLED_POLICY.chunkSteps });
    this.dim = this.expert.dim;
    this.chunk = new Float64Array(BUNDLED_POLICY.chunkSteps * this.dim);
    this.deltas = new Float64Array(this.chunk.length);
    this.normalized = new Float64Array(this.deltas.length);
  }

  get phase(): string {
    return this.expert.phase;
  }

  async infer(observation: Observation): Promise<PolicyOutput> {
    const steps = BUNDLED_POLICY.chunkSteps;
    this.expert.plan(observation, this.chunk);
    chunkToDeltas(this.chunk, observation.positions, steps, this.dim, this.deltas);
    normalizeInto(this.deltas, this.dim, this.model.stats, this.normalized, { clip: true });
    const rows = Array.from({ length: steps }, (_, i) => Array.from(this.normalized.subarray(i * this.dim, (i + 1) * this.dim)));
    return { kind: "tokens", tokens: this.model.tokenizer.encode(rows) };
  }
}
