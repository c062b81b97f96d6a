// Reactive Diffusion Policy's asymmetric tokenizer in this runtime: the encoder on the slow side, the GRU decoder in
// the fast loop (src/policy/rdp/fastPlugin.ts), and the composition that joins them to any slow policy.
//
// RdpComposedPolicy wraps the slow policy: its chunk (a VLA's FAST tokens, decoded and converted, or plain actions)
// goes through the encoder into the latent slot, and the same chunk, in absolute commands, is returned for the
// chunk slot. The fast loop's "rdp" step then decodes the latent with live touch every tick. A latent-producing
// policy (RDP's own latent diffusion) is accepted as well: its latent goes to the slot unchanged, and the chunk is
// the decoder's touch-free expansion of it. The chunk is what keeps the scheduler (and so the safety stage) in
// its normal state and is the fallback until the first latent arrives.
//
// Slow executor settings with it: no decoder, the default (identity) convert, policyDim = the command dim, and
// stepPeriodNs = the inner policy's step period (or the decoder's, for a latent-producing policy).
import { monotonicNowNs } from "../runtime/clock.js";
import type { SharedRuntimeState } from "../runtime/sharedState.js";
import { ChunkDecodeError, type ActionConverter, type ChunkDecoder, type Observation, type PolicyOutput, type SlowPolicy } from "../runtime/slowExecutor.js";
import { latentSizeOf, type RdpContract } from "./rdp/contract.js";
import { encodeChunkToLatent, type RdpEncoder } from "./rdp/encoder.js";
import { touchFeaturesInto, type RdpGruDecoder } from "./rdp/gru.js";

export { decoderInputSize, latentSizeOf, loadRdpContract, parseRdpContract, type RdpContract } from "./rdp/contract.js";
export { encodeChunkToLatent, normalizeCommands, RdpEncoder, resampleChunk } from "./rdp/encoder.js";
export { RdpGruDecoder, touchFeaturesInto, type GruWeights } from "./rdp/gru.js";
export { RdpReactiveStep, type RdpSmoothing, type RdpStepCounters, type RdpStepOptions } from "./rdp/reactiveStep.js";
export { parseSafetensors, readSafetensors, type Float32Tensor } from "./rdp/safetensors.js";
export { createRdpReactiveStep, registerFastParts, type RdpReactiveConfig } from "./rdp/fastPlugin.js";

/** URL of the fast-worker plugin module that registers the "rdp" reactive step (for FastLoopConfig.plugins). */
export function rdpPluginUrl(): string {
  return new URL("./rdp/fastPlugin.js", import.meta.url).href;
}

/** Expand a latent into absolute commands [chunkSteps * dim] with the decoder, touch held at `touch` features. */
export function decodeLatentToChunk(decoder: RdpGruDecoder, contract: RdpContract, latent: Float32Array, wrench: Float64Array, tactile: Float64Array): Float64Array {
  const { chunkSteps, latentSteps, latentWidth, action } = contract;
  if (contract.output === "residual") throw new Error("rdp: a residual decoder corrects a plan; it cannot turn a latent alone into commands");
  if (latent.length !== latentSizeOf(contract)) throw new Error(`rdp: expected a latent of ${latentSizeOf(contract)} values, got ${latent.length}`);
  const x = new Float64Array(decoder.inputSize);
  touchFeaturesInto(wrench, tactile, contract, x, latentWidth);
  const h = new Float64Array(decoder.hiddenSize);
  const a = new Float64Array(action.dim);
  const out = new Float64Array(chunkSteps * action.dim);
  const repeat = chunkSteps / latentSteps;
  for (let k = 0; k < chunkSteps; k++) {
    const base = Math.floor(k / repeat) * latentWidth;
    for (let i = 0; i < latentWidth; i++) x[i] = latent[base + i];
    decoder.step(x, h, h, a);
    for (let d = 0; d < action.dim; d++) out[k * action.dim + d] = action.low[d] + 0.5 * (a[d] + 1) * (action.high[d] - action.low[d]);
  }
  return out;
}

export interface RdpComposedOptions {
  inner: SlowPolicy;
  /** Where the latent goes (the latent slot must hold latentSteps * latentWidth values). */
  state: SharedRuntimeState;
  encoder: RdpEncoder;
  /** Needed when the inner policy answers with tokens (e.g. vlaChunkCodec(...).decoder). */
  decoder?: ChunkDecoder;
  /** The inner policy's normalized actions -> absolute commands. Default: identity. */
  convert?: ActionConverter;
  /** Width of one inner action. Default: the command dim. */
  policyDim?: number;
  /** Step period of the inner policy's chunks (ns). */
  stepPeriodNs: number;
  /** Accept a latent-producing inner policy: expands its latent into the chunk published with it. */
  latentDecoder?: RdpGruDecoder;
  nowNs?: () => number;
}

export interface RdpComposedStats {
  calls: number;
  latentsWritten: number;
  failures: number;
  lastError: string | null;
  /** Time in the encoder session on the last call (ms). */
  lastEncoderMs: number;
}

export class RdpComposedPolicy implements SlowPolicy {
  readonly name: string;
  private readonly o: RdpComposedOptions;
  private readonly dim: number;
  private readonly policyDim: number;
  private sequence = 0;
  private readonly s: RdpComposedStats = { calls: 0, latentsWritten: 0, failures: 0, lastError: null, lastEncoderMs: NaN };

  constructor(options: RdpComposedOptions) {
    const contract = options.encoder.contract;
    const dim = options.state.layout.dim;
    if (contract.action.dim !== dim) throw new Error(`rdp: expected the model's action dim ${contract.action.dim} to be the command dim, got ${dim}`);
    if (options.state.layout.latentSize < latentSizeOf(contract)) {
      throw new Error(`rdp: expected a latent slot of at least ${latentSizeOf(contract)} values, got latentSize ${options.state.layout.latentSize}`);
    }
    if (!(options.stepPeriodNs > 0)) throw new Error(`rdp: expected a positive stepPeriodNs, got ${options.stepPeriodNs}`);
    this.o = options;
    this.dim = dim;
    this.policyDim = options.policyDim ?? dim;
    if (options.convert === undefined && this.policyDim !== dim) throw new Error(`rdp: expected a convert function when policyDim (${this.policyDim}) differs from the command dim (${dim})`);
    this.name = `${options.inner.name} + rdp`;
  }

  stats(): RdpComposedStats {
    return { ...this.s };
  }

  async infer(obs: Observation, signal: AbortSignal): Promise<PolicyOutput> {
    this.s.calls++;
    try {
      return await this.compose(obs, signal);
    } catch (error) {
      this.s.failures++;
      this.s.lastError = error instanceof Error ? error.message.split("\n")[0] : String(error);
      throw error;
    }
  }

  private async compose(obs: Observation, signal: AbortSignal): Promise<PolicyOutput> {
    const o = this.o;
    const contract = o.encoder.contract;
    const output = await o.inner.infer(obs, signal);
    let commands: Float64Array;
    let steps: number;
    let latent: Float32Array;
    if (output?.kind === "latent") {
      if (!o.latentDecoder) throw new Error(`rdp: policy "${o.inner.name}" answered with a latent, but no latentDecoder is configured`);
      const period = contract.stepPeriodS * 1e9;
      if (Math.abs(o.stepPeriodNs - period) > 1) throw new Error(`rdp: a latent policy's chunk runs at the decoder's step period ${period} ns, got stepPeriodNs ${o.stepPeriodNs}`);
      latent = output.latent;
      commands = decodeLatentToChunk(o.latentDecoder, contract, latent, obs.wrench, obs.tactile);
      steps = contract.chunkSteps;
    } else {
      let normalized: Float64Array;
      if (output?.kind === "tokens") {
        if (!o.decoder) throw new Error(`rdp: policy "${o.inner.name}" answered with tokens, but no decoder is configured`);
        const decoded = o.decoder(output.tokens);
        if (decoded instanceof Error) throw new ChunkDecodeError(`rdp: decoding ${output.tokens.length} tokens of policy "${o.inner.name}" failed: ${decoded.message.split("\n")[0]}`);
        normalized = decoded;
      } else if (output?.kind === "actions") {
        if (output.dim !== this.policyDim || output.actions.length !== output.steps * output.dim) {
          throw new Error(`rdp: expected ${this.policyDim}-wide actions from policy "${o.inner.name}", got steps=${output.steps} dim=${output.dim} with ${output.actions.length} values`);
        }
        normalized = output.actions;
      } else {
        throw new Error(`rdp: expected policy "${o.inner.name}" to answer with tokens, actions or a latent, got ${JSON.stringify((output as { kind?: unknown } | null)?.kind)}`);
      }
      if (normalized.length === 0 || normalized.length % this.policyDim !== 0) throw new Error(`rdp: expected steps x ${this.policyDim} actions, got ${normalized.length} values`);
      steps = normalized.length / this.policyDim;
      const converted = o.convert ? o.convert(normalized, steps, this.policyDim, obs) : normalized;
      if (converted instanceof Error) throw new Error(`rdp: converting the actions of policy "${o.inner.name}" failed: ${converted.message.split("\n")[0]}`);
      if (converted.length !== steps * this.dim) throw new Error(`rdp: expected ${steps * this.dim} commands after conversion, got ${converted.length}`);
      for (let i = 0; i < converted.length; i++) if (!Number.isFinite(converted[i])) throw new Error("rdp: expected finite commands, got a non-finite value");
      commands = converted;
      const before = o.encoder.clock.totalMs;
      latent = await encodeChunkToLatent(o.encoder, commands, steps, o.stepPeriodNs);
      this.s.lastEncoderMs = o.encoder.clock.totalMs - before;
    }
    if (signal.aborted) throw new Error("rdp: call aborted before the latent was published");
    // The latent goes first: the fast loop resets its decoder on it, and the chunk published right after this
    // returns is the same motion, so the two never disagree for longer than the gap between two writes.
    o.state.writeLatent(latent, ++this.sequence, obs.timeNs, (o.nowNs ?? monotonicNowNs)());
    this.s.latentsWritten++;
    return { kind: "actions", actions: commands, steps, dim: this.dim };
  }
}
