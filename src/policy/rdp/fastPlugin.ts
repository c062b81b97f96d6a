// Fast-worker plugin: registers the reactive step kind "rdp". The worker imports this module by URL
// (FastLoopConfig.plugins) and calls registerFastParts; the step is then chosen with
// `reactive: { kind: "rdp", modelDir: "<folder with rdp.json>" }`. No ONNX Runtime here: the worker runs the
// decoder's GRU step from the exported weights.
import { join } from "node:path";
import type { FastPartsRegistry, PartConfig, PartContext } from "../../runtime/fastLoop.js";
import { loadRdpContract } from "./contract.js";
import { RdpGruDecoder } from "./gru.js";
import { RdpReactiveStep, type RdpSmoothing } from "./reactiveStep.js";

export interface RdpReactiveConfig extends PartConfig {
  kind: "rdp";
  /** Folder with rdp.json and the decoder weights (absolute, or relative to the worker's working directory). */
  modelDir: string;
  /** "smooth" (default) or "hold": see RdpReactiveStep. */
  smoothing?: RdpSmoothing;
  /** Fade-in of a new latent (s); default 0.1. */
  handoverS?: number;
  /** Output filter time constant (s); default 0.025. */
  filterS?: number;
}

export function createRdpReactiveStep(config: PartConfig, context: PartContext): RdpReactiveStep {
  const dir = config.modelDir;
  if (typeof dir !== "string" || dir.length === 0) throw new Error(`rdp step: expected reactive.modelDir to be a folder with rdp.json, got ${JSON.stringify(dir)}`);
  const contract = loadRdpContract(dir);
  const decoder = RdpGruDecoder.fromSafetensors(join(dir, contract.files.decoderWeights), contract);
  return new RdpReactiveStep(context.state, contract, decoder, { smoothing: config.smoothing as RdpSmoothing | undefined, handoverS: config.handoverS as number | undefined, filterS: config.filterS as number | undefined });
}

export function registerFastParts(registry: FastPartsRegistry): void {
  registry.registerReactive("rdp", createRdpReactiveStep);
}
