// A test-only lockstep runner: the same pieces and order as the episode's lockstep mode (fast loop with the embedded
// MuJoCo arm on this thread, the bundled FAST-token expert through the slow executor, simulated policy latency), with
// the recording hooks wired the way docs/observability.md tells the episode to wire them.
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseConfig } from "../../src/config/load.js";
import type { RuntimeConfigInput } from "../../src/config/schema.js";
import { commandDim, loadArmDescription } from "../../src/kinematics/description.js";
import { ArmKinematics } from "../../src/kinematics/kinematics.js";
import { EpisodeRecording, type EpisodeRecordingResult } from "../../src/observability/episodeRecording.js";
import type { LiveView } from "../../src/observability/liveView.js";
import { actionConverter, fastDecoder } from "../../src/policy/chunkCodec.js";
import { buildFastLoop, createBuiltinRegistry, type FastLoopConfig } from "../../src/runtime/fastLoop.js";
import { registerEmbeddedArm } from "../../src/runtime/fastWorker.js";
import { SharedRuntimeState } from "../../src/runtime/sharedState.js";
import { SlowExecutor, type ChunkDecoder, type ActionConverter, type SlowPolicy } from "../../src/runtime/slowExecutor.js";
import { BUNDLED_POLICY, loadBundledExpertModel, ScriptedExpertPolicy } from "../../src/sim/expertPolicy.js";
import { buildWipeScene } from "../../src/sim/mjcf.js";
import { publicSpec, sampleWipeTask } from "../../src/sim/task.js";

export const packageRoot = fileURLToPath(new URL("../../", import.meta.url));

export interface LockstepRunOptions {
  config?: RuntimeConfigInput;
  /** MCAP file to record into. */
  path?: string;
  liveView?: LiveView;
  /** Called before tick k at time t (after the recording's poll): inject control changes, teleop events... */
  beforeTick?: (k: number, nowNs: number, state: SharedRuntimeState, recording: EpisodeRecording) => void;
  wrapPolicy?: (policy: SlowPolicy) => SlowPolicy;
}

export interface LockstepRunResult {
  recording: EpisodeRecordingResult;
  ticks: number;
  chunksPublished: number;
  decoder: ChunkDecoder;
  convert: ActionConverter;
}

export async function runRecordedLockstep(options: LockstepRunOptions): Promise<LockstepRunResult> {
  const config = parseConfig({ ...options.config, control: { realtime: false, ...options.config?.control } });
  const arm = loadArmDescription(join(packageRoot, "sim", "arm", "description.json"));
  const task = sampleWipeTask(config.episode.seed, { perturbations: config.episode.perturbations });
  const layout = buildWipeScene(arm, task).layout;
  const tactileCount = layout.tactileRows * layout.tactileCols;
  const model = loadBundledExpertModel(packageRoot);
  const dim = commandDim(arm);
  const fastConfig: FastLoopConfig = {
    rateHz: config.control.rateHz,
    arm,
    backend: { kind: "mujoco", options: { task, timestepS: 1 / Math.max(500, config.control.rateHz), timeOriginNs: 0 } },
    reactive:
      config.reactive.kind === "compliance"
        ? { kind: "compliance", mode: config.reactive.mode, targetForceN: config.reactive.targetForceN, gainMPerN: config.reactive.gainMPerN, maxOffsetM: config.reactive.maxOffsetM }
        : { kind: "passthrough" },
    scheduler: { mode: config.scheduler.mode, crossfadeSteps: config.scheduler.crossfadeSteps, ensembleDecayPerStep: config.scheduler.ensembleDecayPerStep, interpolation: config.scheduler.interpolation },
    safety: { sensorMaxAgeNs: config.safety.sensorMaxAgeMs * 1e6, workspace: { minM: config.safety.workspaceMinM, maxM: config.safety.workspaceMaxM } },
  };
  let simNowNs = 0;
  const recording = await EpisodeRecording.create({
    path: options.path,
    liveView: options.liveView,
    mode: "lockstep",
    arm,
    tactile: { rows: layout.tactileRows, cols: layout.tactileCols, pitchM: layout.taxelPitchM },
    fastLoop: fastConfig,
    policyName: "scripted expert (FAST tokens)",
    notes: { seed: config.episode.seed, instruction: config.episode.instruction },
    startNs: 0,
  });
  const state = SharedRuntimeState.create({ dim, tactileCount, maxChunkSteps: 256, latentSize: 0 });
  const registry = createBuiltinRegistry();
  registerEmbeddedArm(registry);
  const built = await buildFastLoop(fastConfig, state, registry);
  const decoder = fastDecoder(model.tokenizer, BUNDLED_POLICY.chunkSteps, dim);
  const convert = actionConverter(model.stats, "joint-delta", new ArmKinematics(arm));
  let policy: SlowPolicy = new ScriptedExpertPolicy(arm, publicSpec(task), model, config.episode.seed);
  if (options.wrapPolicy) policy = options.wrapPolicy(policy);
  const latency = new HeldAnswers(config.control.lockstepPolicyLatencyMs * 1e6);
  // Outermost, so a call is stamped when its answer reaches the executor (after the simulated latency).
  policy = recording.wrapPolicy(latency.wrap(policy), () => simNowNs);
  const slow = new SlowExecutor({
    state,
    policy,
    inputs: () => ({ instruction: config.episode.instruction }),
    decoder,
    convert,
    stepPeriodNs: BUNDLED_POLICY.stepPeriodS * 1e9,
    rateHz: config.policy.rateHz,
    timeoutMs: config.policy.timeoutMs,
    nowNs: () => simNowNs,
  });
  recording.attach({ state, slowStats: () => slow.stats(), policyName: policy.name, nowNs: () => simNowNs });
  recording.instruction(config.episode.instruction, 0);
  const periodNs = 1e9 / config.control.rateHz;
  const policyPeriodNs = 1e9 / config.policy.rateHz;
  const durationNs = config.episode.durationS * 1e9;
  let nextPolicyNs = 0;
  let inFlight: Promise<unknown> | null = null;
  let k = 0;
  try {
    for (; simNowNs < durationNs; k++) {
      simNowNs = k * periodNs;
      options.beforeTick?.(k, simNowNs, state, recording);
      const wait = recording.beforeTick(simNowNs);
      if (wait) await wait;
      built.loop.tick(simNowNs);
      if (latency.release(simNowNs)) await new Promise((resolve) => setImmediate(resolve));
      if (simNowNs >= nextPolicyNs && !inFlight) {
        const call = slow.runOnce().finally(() => {
          if (inFlight === call) inFlight = null;
        });
        inFlight = call;
        nextPolicyNs += policyPeriodNs;
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
  } finally {
    latency.release(Infinity);
    await inFlight;
    await built.close();
  }
  const result = await recording.stop(simNowNs + periodNs);
  return { recording: result, ticks: k, chunksPublished: slow.stats().chunksPublished, decoder, convert };
}

/** A policy's answers held back until the simulated clock reaches observation time + latency. */
class HeldAnswers {
  private readonly pending: { dueNs: number; resolve: () => void }[] = [];
  constructor(private readonly latencyNs: number) {}

  wrap(policy: SlowPolicy): SlowPolicy {
    return {
      name: policy.name,
      infer: async (observation, signal) => {
        const output = await policy.infer(observation, signal);
        await new Promise<void>((resolve) => this.pending.push({ dueNs: observation.timeNs + this.latencyNs, resolve }));
        return output;
      },
    };
  }

  release(nowNs: number): boolean {
    let released = false;
    for (let i = this.pending.length - 1; i >= 0; i--) {
      if (this.pending[i].dueNs <= nowNs) {
        this.pending[i].resolve();
        this.pending.splice(i, 1);
        released = true;
      }
    }
    return released;
  }
}
