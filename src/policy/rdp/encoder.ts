// The slow side of the RDP tokenizer: a chunk of absolute commands -> the decoder's time grid -> normalized ->
// the encoder session -> a latent (VAE mean) for the latent slot.
import { join } from "node:path";
import { floatOutput, formatSpecs, inputSpecs, loadSession, outputSpecs, RunClock, staticDim, Tensor, type InferenceSession, type SessionSettings } from "../onnx.js";
import { chunkLinearAt } from "../../runtime/interpolation.js";
import { latentSizeOf, loadRdpContract, type RdpContract } from "./contract.js";

/**
 * Resample a chunk ([steps * dim], step i at i * stepPeriodNs) to `outSteps` steps at `outPeriodNs` by linear
 * interpolation in time; past the chunk's last step its last action is held.
 */
export function resampleChunk(actions: Float64Array, steps: number, dim: number, stepPeriodNs: number, outSteps: number, outPeriodNs: number, out = new Float64Array(outSteps * dim)): Float64Array {
  if (!Number.isInteger(steps) || steps < 1 || actions.length < steps * dim) throw new Error(`rdp resample: expected ${steps} x ${dim} actions, got ${actions.length} values`);
  if (!(stepPeriodNs > 0) || !(outPeriodNs > 0)) throw new Error(`rdp resample: expected positive step periods, got ${stepPeriodNs} and ${outPeriodNs}`);
  for (let k = 0; k < outSteps; k++) chunkLinearAt(actions, steps, dim, (k * outPeriodNs) / stepPeriodNs, out, k * dim);
  return out;
}

/** Absolute commands -> [-1, 1] with the contract's low/high, clipped (as the encoder was trained). */
export function normalizeCommands(commands: Float64Array, contract: RdpContract, out = new Float32Array(commands.length)): Float32Array {
  const { dim, low, high } = contract.action;
  for (let i = 0; i < commands.length; i++) {
    const d = i % dim;
    const n = (2 * (commands[i] - low[d])) / (high[d] - low[d]) - 1;
    out[i] = n < -1 ? -1 : n > 1 ? 1 : n;
  }
  return out;
}

export class RdpEncoder {
  readonly contract: RdpContract;
  readonly clock = new RunClock();
  private readonly session: InferenceSession;

  private constructor(session: InferenceSession, contract: RdpContract) {
    this.session = session;
    this.contract = contract;
  }

  /** Load rdp_encoder.onnx of a model folder and check it against rdp.json. */
  static async load(dir: string, settings?: SessionSettings, contract: RdpContract = loadRdpContract(dir)): Promise<RdpEncoder> {
    const session = await loadSession(join(dir, contract.files.encoder), "rdp encoder", settings);
    const ins = inputSpecs(session);
    const outs = outputSpecs(session);
    const a = ins.find((s) => s.name === "actions");
    const l = outs.find((s) => s.name === "latent");
    const fits =
      ins.length === 1 && a?.type === "float32" && a.shape.length === 3 && staticDim(a, 1) === contract.chunkSteps && staticDim(a, 2) === contract.action.dim &&
      l?.type === "float32" && l.shape.length === 3 && staticDim(l, 1) === contract.latentSteps && staticDim(l, 2) === contract.latentWidth;
    if (!fits) {
      await session.release();
      const c = contract;
      throw new Error(`rdp encoder: expected input actions float32[batch,${c.chunkSteps},${c.action.dim}] and output latent float32[batch,${c.latentSteps},${c.latentWidth}], got inputs ${formatSpecs(ins)}; outputs ${formatSpecs(outs)}`);
    }
    return new RdpEncoder(session, contract);
  }

  /** Normalized chunk [chunkSteps * dim] -> latent [latentSteps * latentWidth]. */
  async encode(normalized: Float32Array): Promise<Float32Array> {
    const c = this.contract;
    if (normalized.length !== c.chunkSteps * c.action.dim) throw new Error(`rdp encoder: expected ${c.chunkSteps} x ${c.action.dim} normalized actions, got ${normalized.length} values`);
    const out = await this.clock.run(this.session, { actions: new Tensor("float32", normalized, [1, c.chunkSteps, c.action.dim]) }, "rdp encoder");
    const latent = floatOutput(out, "latent", "rdp encoder");
    if (latent.data.length !== latentSizeOf(c)) throw new Error(`rdp encoder: expected a latent of ${latentSizeOf(c)} values, got [${latent.dims.join(", ")}]`);
    for (let i = 0; i < latent.data.length; i++) {
      if (!Number.isFinite(latent.data[i])) throw new Error("rdp encoder: expected a finite latent, got a non-finite value");
    }
    return latent.data.slice();
  }

  release(): Promise<void> {
    return this.session.release();
  }
}

/**
 * What the slow side hands the fast side: a chunk of absolute commands ([steps * dim], step i at i * stepPeriodNs
 * after the observation) as the latent the RDP decoder expands again, on the decoder's own time grid.
 */
export async function encodeChunkToLatent(encoder: RdpEncoder, commands: Float64Array, steps: number, stepPeriodNs: number): Promise<Float32Array> {
  const c = encoder.contract;
  const grid = resampleChunk(commands, steps, c.action.dim, stepPeriodNs, c.chunkSteps, c.stepPeriodS * 1e9);
  return encoder.encode(normalizeCommands(grid, c));
}
