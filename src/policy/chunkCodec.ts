// Between a policy's output and the scheduler: token decoding (FAST/FAST+, BEAST, binning) into normalized
// actions, then unnormalization and the action space into absolute joint commands. Built once from the config;
// each call allocates only its result (once per policy call, never per control tick).
import type { ArmKinematics } from "../kinematics/kinematics.js";
import { deltaOriginState, toJointChunk, type ActionSpace, type DeltaOrigin } from "../runtime/actionSpace.js";
import type { ActionConverter, ChunkDecoder } from "../runtime/slowExecutor.js";
import type { BeastTokenizer } from "../tokenizers/beast.js";
import type { BinningTokenizer } from "../tokenizers/binning.js";
import type { FastTokenizer } from "../tokenizers/fast.js";
import { unnormalizeInto, type NormStats } from "./normalization.js";

/** FAST/FAST+ tokens -> [steps * dim] normalized actions; a malformed sequence is an error, never actions. */
export function fastDecoder(tokenizer: FastTokenizer, steps: number, dim: number): ChunkDecoder {
  return (tokens) => {
    const out = new Float64Array(steps * dim);
    const error = tokenizer.decodeInto(tokens, steps, dim, out);
    return error === null ? out : new Error(error);
  };
}

export function beastDecoder(tokenizer: BeastTokenizer): ChunkDecoder {
  return (tokens) => {
    try {
      const out = new Float64Array(tokenizer.seqLen * tokenizer.numDof);
      tokenizer.decodeInto(tokens, out);
      return out;
    } catch (error) {
      return error instanceof Error ? error : new Error(String(error));
    }
  };
}

export function binningDecoder(tokenizer: BinningTokenizer, steps: number): ChunkDecoder {
  return (tokens) => {
    try {
      return Float64Array.from(tokenizer.decode(Array.from(tokens), steps).flat());
    } catch (error) {
      return error instanceof Error ? error : new Error(String(error));
    }
  };
}

/**
 * Policy actions -> absolute joint targets + gripper: unnormalize with q01/q99 (when the policy's actions are
 * normalized: `stats` given), then apply the action space; delta spaces start from `origin` (see DeltaOrigin).
 */
export function actionConverter(stats: NormStats | null, space: ActionSpace, kinematics: ArmKinematics, origin: DeltaOrigin = "measured"): ActionConverter {
  return (actions, steps, policyDim, observation) => {
    if (stats && stats.q01.length !== policyDim) {
      return new Error(`normalization: expected statistics for ${policyDim} action dimensions, got ${stats.q01.length}`);
    }
    let raw = actions;
    if (stats) {
      raw = new Float64Array(actions.length);
      unnormalizeInto(actions, policyDim, stats, raw);
    }
    try {
      const start = deltaOriginState(origin, observation.positions, observation.plannedPositions, kinematics.jointCount);
      return toJointChunk(raw, steps, space, start, kinematics);
    } catch (error) {
      return error instanceof Error ? error : new Error(String(error));
    }
  };
}
