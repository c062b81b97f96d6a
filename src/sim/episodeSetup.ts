// Everything an episode is made of, from the config: the arm, the task, the shared memory, the fast loop's parts
// and the slow policy with how its answers become joint commands (scripted expert, ONNX VLA, remote server,
// optionally composed with the RDP encoder).
import { join, resolve } from "node:path";
import type { RuntimeConfig } from "../config/schema.js";
import { commandDim, loadArmDescription, type ArmDescription } from "../kinematics/description.js";
import { ArmKinematics } from "../kinematics/kinematics.js";
import { actionConverter, fastDecoder } from "../policy/chunkCodec.js";
import { loadNormStats } from "../policy/normalization.js";
import { latentSizeOf, loadRdpContract, RdpComposedPolicy, RdpEncoder, rdpPluginUrl } from "../policy/rdp.js";
import { createRemotePolicy } from "../policy/remote/index.js";
import { loadVlaPolicy, solidImageFrame, vlaChunkCodec } from "../policy/vla.js";
import type { FastLoopConfig } from "../runtime/fastLoop.js";
import { fastOptionsFromConfig } from "../runtime/runtime.js";
import { SharedRuntimeState } from "../runtime/sharedState.js";
import type { ActionConverter, ChunkDecoder, SlowExecutor, SlowPolicy } from "../runtime/slowExecutor.js";
import type { EpisodeOptions } from "./episode.js";
import { BUNDLED_POLICY, loadBundledExpertModel, ScriptedExpertPolicy, type BundledExpertModel } from "./expertPolicy.js";
import { WipeCamera, withWipeCamera } from "./camera.js";
import { buildWipeScene } from "./mjcf.js";
import { publicSpec, resolveWipeTask, sampleWipeTask, type WipeTask, type WipeTaskSpec } from "./task.js";

export interface EpisodeSetup {
  arm: ArmDescription;
  /** The shared memory of this episode's runtime (the RDP composition writes its latent slot). */
  state: SharedRuntimeState;
  sceneLayout: ReturnType<typeof buildWipeScene>["layout"];
  task: WipeTask;
  tactileCount: number;
  fastConfig: FastLoopConfig;
  policy: EpisodePolicy;
  slowOptions: Omit<ConstructorParameters<typeof SlowExecutor>[0], "state">;
  close: () => Promise<void> | void;
}

export async function setUpEpisode(config: RuntimeConfig, options: EpisodeOptions, errors: string[]): Promise<EpisodeSetup> {
  const arm = loadArmDescription(join(options.packageRoot, "sim", "arm", "description.json"));
  // A Gazebo world is generated from the default task (sim/gazebo); the embedded arm samples one from the seed.
  const task = config.backend.kind === "gz" ? resolveWipeTask() : sampleWipeTask(config.episode.seed, { perturbations: config.episode.perturbations });
  const sceneLayout = buildWipeScene(arm, task).layout;
  const tactileCount = sceneLayout.tactileRows * sceneLayout.tactileCols;
  const model = loadBundledExpertModel(options.packageRoot);
  const dim = commandDim(arm);
  const rdpDir = config.reactive.kind === "rdp" ? resolve(options.packageRoot, config.reactive.modelDir) : null;
  const state = SharedRuntimeState.create({ dim, tactileCount, maxChunkSteps: 256, latentSize: rdpDir ? latentSizeOf(loadRdpContract(rdpDir)) : 0 });
  const chosen = await choosePolicy(config, arm, publicSpec(task), model, options.packageRoot);
  const fastOptions = fastOptionsFromConfig(config);
  const fastConfig: FastLoopConfig = {
    ...fastOptions,
    arm,
    backend: { kind: "mujoco", options: { task, timestepS: 1 / Math.max(500, config.control.rateHz) } },
    ...(rdpDir ? { reactive: { ...fastOptions.reactive, modelDir: rdpDir }, plugins: [rdpPluginUrl()] } : {}),
  };
  // With RDP the policy's chunk goes through the RDP encoder on this side; the fast loop decodes the latent with touch.
  let policy: EpisodePolicy = chosen.policy;
  let decoder: ChunkDecoder | undefined = chosen.decoder;
  let convert: ActionConverter | undefined = chosen.convert;
  let policyDim = chosen.policyDim;
  if (rdpDir) {
    const encoder = await RdpEncoder.load(rdpDir, { intraOpNumThreads: 1 });
    const inner = chosen.policy;
    const composed = new RdpComposedPolicy({ inner, state, encoder, decoder, convert, policyDim, stepPeriodNs: chosen.stepPeriodNs });
    policy = { name: composed.name, infer: (obs, signal) => composed.infer(obs, signal), get phase() { return inner.phase; } };
    decoder = undefined;
    convert = undefined;
    policyDim = dim;
  }
  // Remote policies are sent a plain grey frame: the synthesized camera is the bundled VLA's own input format.
  const camera = chosen.needsImage ? solidImageFrame(224, 224, [128, 128, 128]) : undefined;
  const slowOptions = {
    policy: options.wrapPolicy ? options.wrapPolicy(policy) : policy,
    inputs: () => ({ instruction: config.episode.instruction, image: camera }),
    decoder,
    convert,
    policyDim,
    stepPeriodNs: chosen.stepPeriodNs,
    rateHz: config.policy.rateHz,
    timeoutMs: config.policy.timeoutMs,
    onError: (message: string) => pushError(errors, message),
  };
  return { arm, sceneLayout, task, tactileCount, state, fastConfig, policy, slowOptions, close: chosen.close };
}

/** A slow policy, and (the scripted expert) which phase of the task it is in, for the progress line. */
export type EpisodePolicy = SlowPolicy & { readonly phase?: string };

interface ChosenPolicy {
  policy: EpisodePolicy;
  decoder?: ChunkDecoder;
  convert: ActionConverter;
  policyDim: number;
  stepPeriodNs: number;
  /** The policy looks at the camera. */
  needsImage: boolean;
  close: () => Promise<void> | void;
}

/** The slow policy from the config, with how its answers become joint commands. */
async function choosePolicy(config: RuntimeConfig, arm: ArmDescription, spec: WipeTaskSpec, model: BundledExpertModel, packageRoot: string): Promise<ChosenPolicy> {
  const kinematics = new ArmKinematics(arm);
  const dim = commandDim(arm);
  const p = config.policy;
  // Token answers of the scripted expert (local or served) are decoded with the bundled FAST tokenizer.
  const expertDecoder = fastDecoder(model.tokenizer, BUNDLED_POLICY.chunkSteps, dim);
  switch (p.kind) {
    case "scripted-expert":
      return {
        policy: new ScriptedExpertPolicy(arm, spec, model, config.episode.seed),
        decoder: expertDecoder,
        // The bundled expert speaks normalized per-step joint deltas (see models/wipe_expert).
        convert: actionConverter(model.stats, "joint-delta", kinematics),
        policyDim: dim,
        stepPeriodNs: BUNDLED_POLICY.stepPeriodS * 1e9,
        needsImage: false,
        close: () => {},
      };
    case "onnx-vla": {
      const dir = resolve(packageRoot, p.modelDir);
      const vla = await loadVlaPolicy({ dir, session: { intraOpNumThreads: p.intraOpThreads }, name: `onnx-vla (${p.modelDir})` });
      const codec = vlaChunkCodec(dir, vla.runner.config, arm);
      // The VLA looks through the synthesized top-down camera it was trained with (src/sim/camera.ts).
      return {
        policy: withWipeCamera(vla, new WipeCamera(arm, spec)),
        decoder: codec.decoder,
        convert: codec.convert,
        policyDim: codec.policyDim,
        stepPeriodNs: codec.stepPeriodNs,
        needsImage: false, // the camera wrapper supplies the frame
        close: () => {},
      };
    }
    case "openpi":
    case "zmq": {
      const stats = p.normalizedActions ? (p.normStatsPath ? loadNormStats(p.normStatsPath) : model.stats) : null;
      const client =
        p.kind === "openpi"
          ? createRemotePolicy({ kind: "openpi", url: p.url || "ws://127.0.0.1:8000", keys: p.openpiKeys, timeoutMs: p.timeoutMs, maxMessageBytes: p.maxMessageBytes, stateDtype: p.stateDtype, actionDim: dim })
          : createRemotePolicy({ kind: "zmq", endpoint: p.url || "tcp://127.0.0.1:5555", timeoutMs: p.timeoutMs, maxMessageBytes: p.maxMessageBytes, stepPeriodS: p.stepPeriodMs / 1000, tokenizer: "fast", includeImage: p.includeImage });
      return {
        policy: client,
        decoder: expertDecoder,
        convert: actionConverter(stats, p.actionSpace, kinematics, p.deltaOrigin),
        policyDim: dim,
        stepPeriodNs: p.stepPeriodMs * 1e6,
        needsImage: p.kind === "openpi" || p.includeImage,
        close: () => client.close(),
      };
    }
  }
}

export function pushError(errors: string[], message: string): void {
  if (errors.length < 50) errors.push(message);
}
