// One episode of the embedded arm driven by the whole runtime: slow executor (policy -> tokens -> decode ->
// unnormalize -> chunk), fast loop (scheduler, reactive step, safety) and the MuJoCo arm. Real time runs the fast
// loop in its worker thread against the wall clock; lockstep runs the same parts on this thread on a simulated
// clock, as fast as the machine allows (tests, evaluation).
import { join, resolve } from "node:path";
import type { RuntimeConfig } from "../config/schema.js";
import { commandDim, loadArmDescription, type ArmDescription } from "../kinematics/description.js";
import { ArmKinematics } from "../kinematics/kinematics.js";
import { actionConverter, fastDecoder } from "../policy/chunkCodec.js";
import { fastOptionsFromConfig, Runtime } from "../runtime/runtime.js";
import { EpisodeRecording, type EpisodeRecordingResult } from "../observability/episodeRecording.js";
import type { LiveView } from "../observability/liveView.js";
import { attachTeleop, type TeleopEndpoint } from "../transports/teleop/index.js";
import { connectGzArm } from "../transports/gz/index.js";
import { buildFastLoop, createBuiltinRegistry, type FastLoopConfig } from "../runtime/fastLoop.js";
import { registerEmbeddedArm } from "../runtime/fastWorker.js";
import { durationQuantileNs, SharedRuntimeState, type FastStatusSnapshot } from "../runtime/sharedState.js";
import { SlowExecutor, type ActionConverter, type ChunkDecoder, type SlowExecutorStats, type SlowPolicy } from "../runtime/slowExecutor.js";
import { latentSizeOf, loadRdpContract, RdpComposedPolicy, RdpEncoder, rdpPluginUrl, registerFastParts as registerRdpParts } from "../policy/rdp.js";
import { solidImageFrame, vlaChunkCodec, VlaPolicy, VlaRunner } from "../policy/vla.js";
import { monotonicNowNs } from "../runtime/clock.js";
import type { SafetyReasonName } from "../runtime/types.js";
import { BUNDLED_POLICY, loadBundledExpertModel, ScriptedExpertPolicy, type BundledExpertModel } from "./expertPolicy.js";
import { loadNormStats } from "../policy/normalization.js";
import { createRemotePolicy } from "../policy/remote/index.js";
import { buildWipeScene } from "./mjcf.js";
import { publicSpec, resolveWipeTask, sampleWipeTask, type WipeEpisodeMetrics, type WipeTask, type WipeTaskSpec } from "./task.js";

export interface EpisodeProgress {
  elapsedS: number;
  durationS: number;
  ticks: number;
  chunksAccepted: number;
  safetyInterventions: number;
  policyPhase: string;
}

export interface EpisodeSummary {
  mode: "realtime" | "lockstep";
  policy: string;
  backend: string;
  reactive: string;
  durationS: number;
  loop: {
    rateHz: number;
    achievedRateHz: number;
    ticks: number;
    overruns: number;
    periodErrorP50Us: number;
    periodErrorP99Us: number;
    periodErrorMaxUs: number;
    tactileToCommandP99Us: number;
  };
  chunks: { policyCalls: number; published: number; acceptedByFastLoop: number; rejectedByFastLoop: number; decodeFailures: number; otherFailures: number };
  safety: Record<SafetyReasonName, number>;
  task: WipeEpisodeMetrics | null;
  errors: string[];
  /** The MCAP file written (null: none), and what could not be written to it. */
  recording: { path: string | null; droppedMessages: number; writeError: string | null } | null;
}

export interface EpisodeOptions {
  /** Folder with sim/ and models/ (the package root). */
  packageRoot: string;
  onProgress?: (progress: EpisodeProgress) => void;
  /** Real time: how often onProgress is called (ms). */
  progressPeriodMs?: number;
  /** Put something between the runtime and the policy (fault injection in tests, latency models in evaluation). */
  wrapPolicy?: (policy: SlowPolicy) => SlowPolicy;
  /** Real time: the fast worker's script (default: the compiled one next to the executor). */
  workerUrl?: URL;
  /** A running live view to publish the episode to (the recording path comes from the config). */
  liveView?: LiveView;
}

interface EpisodeSetup {
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

async function setUp(config: RuntimeConfig, options: EpisodeOptions, errors: string[]): Promise<EpisodeSetup> {
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
  const fastConfig: FastLoopConfig = {
    ...fastOptionsFromConfig(config),
    arm,
    backend: { kind: "mujoco", options: { task, timestepS: 1 / Math.max(500, config.control.rateHz) } },
    ...(rdpDir ? { reactive: { kind: "rdp", modelDir: rdpDir }, plugins: [rdpPluginUrl()] } : {}),
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
  // The simulator has no camera yet: a policy that looks gets a plain grey frame (stated in the README).
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
type EpisodePolicy = SlowPolicy & { readonly phase?: string };

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
      const runner = await VlaRunner.load({ dir, session: { intraOpNumThreads: p.intraOpThreads } });
      const codec = vlaChunkCodec(dir, runner.config, arm);
      return {
        policy: new VlaPolicy(runner, `onnx-vla (${p.modelDir})`),
        decoder: codec.decoder,
        convert: codec.convert,
        policyDim: codec.policyDim,
        stepPeriodNs: codec.stepPeriodNs,
        needsImage: true,
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
        convert: actionConverter(stats, p.actionSpace, kinematics),
        policyDim: dim,
        stepPeriodNs: p.stepPeriodMs * 1e6,
        needsImage: p.kind === "openpi" || p.includeImage,
        close: () => client.close(),
      };
    }
  }
}

export async function runEpisode(config: RuntimeConfig, options: EpisodeOptions): Promise<EpisodeSummary> {
  if (!config.control.realtime && config.backend.kind !== "mujoco") {
    throw new Error(`lockstep (control.realtime false) needs the embedded simulator: expected backend.kind "mujoco", got "${config.backend.kind}"`);
  }
  return config.control.realtime ? runRealtime(config, options) : runLockstep(config, options);
}

async function runRealtime(config: RuntimeConfig, options: EpisodeOptions): Promise<EpisodeSummary> {
  const errors: string[] = [];
  const setup = await setUp(config, options, errors);
  const { arm: _arm, backend, ...fast } = setup.fastConfig;
  const recording = await createRecording(config, options, setup, "realtime", setup.fastConfig, monotonicNowNs());
  const policy = recording ? recording.wrapPolicy(setup.slowOptions.policy, monotonicNowNs) : setup.slowOptions.policy;
  // A Gazebo arm does its I/O on this thread (the bridge moves it through shared memory); the embedded arm lives in the worker.
  const gzArm = config.backend.kind === "gz" ? await connectGzArm(setup.arm, config.gz, { tactileCount: setup.tactileCount, onError: (message) => pushError(errors, message) }) : null;
  const runtime = await Runtime.start({
    arm: setup.arm,
    state: setup.state,
    fast,
    backend: gzArm ? { kind: "main-thread", backend: gzArm } : { kind: "worker", config: backend },
    tactileCount: setup.tactileCount,
    slow: { ...setup.slowOptions, policy },
    workerUrl: options.workerUrl,
    onError: (message) => pushError(errors, message),
  }).catch(async (error) => {
    await gzArm?.close();
    await setup.close();
    throw error;
  });
  recording?.attach({ state: runtime.state, slowStats: () => runtime.slow.stats(), policyName: policy.name });
  recording?.startPolling(1);
  const teleop = config.teleop.enabled ? await startTeleop(config, setup, runtime, errors).catch(async (error) => {
    await runtime.stop();
    throw error;
  }) : null;
  teleop?.onIntervention((event) => recording?.teleop({ timeNs: event.timeNs, kind: event.kind, client: event.client, detail: event.reason }));
  recording?.instruction(config.episode.instruction, monotonicNowNs());
  const startNs = monotonicNowNs();
  const durationS = config.episode.durationS;
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const elapsedS = (monotonicNowNs() - startNs) / 1e9;
      options.onProgress?.(progressOf(runtime.state.readStatus(), elapsedS, durationS, setup.policy.phase ?? "remote"));
      if (elapsedS >= durationS) {
        clearInterval(timer);
        resolve();
      }
    }, options.progressPeriodMs ?? 250);
  });
  await teleop?.stop();
  const report = await runtime.stop();
  await gzArm?.close();
  await setup.close();
  const recorded = await recording?.stop();
  const elapsedS = (monotonicNowNs() - startNs) / 1e9;
  const metrics = (report.backendReport as { metrics?: WipeEpisodeMetrics } | undefined)?.metrics ?? null;
  return summarize("realtime", config, setup, report.status, report.slow, elapsedS, metrics, gzArm?.name ?? report.backendName, errors, recorded);
}

async function runLockstep(config: RuntimeConfig, options: EpisodeOptions): Promise<EpisodeSummary> {
  const errors: string[] = [];
  const setup = await setUp(config, options, errors);
  const state = setup.state;
  const periodNs = 1e9 / config.control.rateHz;
  let simNowNs = 0;
  const registry = createBuiltinRegistry();
  registerEmbeddedArm(registry);
  registerRdpParts(registry);
  const backendConfig = { ...setup.fastConfig.backend, options: { ...(setup.fastConfig.backend.options as object), timeOriginNs: 0 } };
  const built = await buildFastLoop({ ...setup.fastConfig, backend: backendConfig }, state, registry);
  const latency = new SimulatedLatency(config.control.lockstepPolicyLatencyMs * 1e6, config.policy.timeoutMs);
  const recording = await createRecording(config, options, setup, "lockstep", { ...setup.fastConfig, backend: backendConfig }, 0);
  const timed = latency.wrap(setup.slowOptions.policy);
  // The recording's wrapper is outermost: a call is stamped when its answer reaches the runtime.
  const policy = recording ? recording.wrapPolicy(timed, () => simNowNs) : timed;
  const slow = new SlowExecutor({ state, ...setup.slowOptions, policy, nowNs: () => simNowNs });
  recording?.attach({ state, slowStats: () => slow.stats(), policyName: setup.slowOptions.policy.name, nowNs: () => simNowNs });
  recording?.instruction(config.episode.instruction, 0);
  const policyPeriodNs = 1e9 / config.policy.rateHz;
  const timeoutNs = config.policy.timeoutMs * 1e6;
  const durationNs = config.episode.durationS * 1e9;
  const progressEveryTicks = Math.max(1, Math.round(config.control.rateHz / 2));
  let nextPolicyNs = 0;
  let inFlight: Promise<unknown> | null = null;
  let inFlightSinceNs = 0;
  let metrics: WipeEpisodeMetrics | null = null;
  try {
    for (let k = 0; simNowNs < durationNs; k++) {
      simNowNs = k * periodNs;
      const diskWait = recording?.beforeTick(simNowNs);
      if (diskWait) await diskWait;
      built.loop.tick(simNowNs);
      // A policy answer due by now (simulated inference time) is published at this tick.
      if (latency.hasDue(simNowNs) && (await latency.release(simNowNs))) await new Promise((resolve) => setImmediate(resolve));
      // Past the timeout in simulated time, let the real timeout end the call (a hung policy).
      if (inFlight && simNowNs - inFlightSinceNs >= timeoutNs) await inFlight;
      // Like the real executor: ask at the policy rate, never two calls at once.
      if (simNowNs >= nextPolicyNs && !inFlight) {
        const call = slow.runOnce().finally(() => {
          if (inFlight === call) inFlight = null;
        });
        inFlight = call;
        inFlightSinceNs = simNowNs;
        nextPolicyNs += policyPeriodNs;
        await new Promise((resolve) => setImmediate(resolve));
      }
      if (k % progressEveryTicks === 0) options.onProgress?.(progressOf(state.readStatus(), simNowNs / 1e9, config.episode.durationS, setup.policy.phase ?? "remote"));
    }
    metrics = (built.report() as { metrics?: WipeEpisodeMetrics } | undefined)?.metrics ?? null;
  } finally {
    await latency.release(Infinity);
    await inFlight;
    await built.close();
    await setup.close();
  }
  const recorded = await recording?.stop(simNowNs + periodNs);
  return summarize("lockstep", config, setup, state.readStatus(), slow.stats(), simNowNs / 1e9, metrics, built.backend.name, errors, recorded);
}

/**
 * Inference time on the simulated clock: a policy's answer is held back until the simulation reaches the
 * observation time plus the latency, so chunks arrive as late in lockstep as they would on a real machine. A
 * policy that really computes or talks to a server is waited for (in wall time) when its simulated deadline comes,
 * so the simulated clock never runs ahead of a real answer.
 */
class SimulatedLatency {
  private readonly pending: { dueNs: number; answer: Promise<unknown>; open: () => void }[] = [];

  constructor(
    private readonly latencyNs: number,
    private readonly waitLimitMs: number,
  ) {}

  wrap(policy: SlowPolicy): SlowPolicy {
    return {
      name: policy.name,
      infer: (observation, signal) => {
        let open = () => {};
        const gate = new Promise<void>((resolve) => (open = resolve));
        const answer = policy.infer(observation, signal);
        this.pending.push({ dueNs: observation.timeNs + this.latencyNs, answer, open });
        return answer.then((output) => gate.then(() => output));
      },
    };
  }

  /** Answers due by `nowNs` go through (waiting for any that is still being computed); true when one did. */
  async release(nowNs: number): Promise<boolean> {
    let released = false;
    for (let i = 0; i < this.pending.length; ) {
      const entry = this.pending[i];
      if (entry.dueNs > nowNs) {
        i++;
        continue;
      }
      let timer: NodeJS.Timeout | undefined;
      const limit = new Promise<void>((resolve) => (timer = setTimeout(resolve, this.waitLimitMs)));
      await Promise.race([entry.answer.then(() => undefined, () => undefined), limit]);
      clearTimeout(timer);
      entry.open();
      this.pending.splice(i, 1);
      released = true;
    }
    return released;
  }

  hasDue(nowNs: number): boolean {
    for (const entry of this.pending) if (entry.dueNs <= nowNs) return true;
    return false;
  }
}


function progressOf(status: FastStatusSnapshot, elapsedS: number, durationS: number, policyPhase: string): EpisodeProgress {
  const safetyInterventions = Object.values(status.safetyCounts).reduce((a, b) => a + b, 0);
  return { elapsedS, durationS, ticks: status.ticks, chunksAccepted: status.chunksAccepted, safetyInterventions, policyPhase };
}

function summarize(
  mode: EpisodeSummary["mode"],
  config: RuntimeConfig,
  setup: EpisodeSetup,
  status: FastStatusSnapshot,
  slow: SlowExecutorStats,
  elapsedS: number,
  task: WipeEpisodeMetrics | null,
  backend: string,
  errors: string[],
  recorded?: EpisodeRecordingResult,
): EpisodeSummary {
  const us = (ns: number) => ns / 1e3;
  const failures = slow.failures;
  return {
    mode,
    policy: setup.slowOptions.policy.name,
    backend,
    reactive: setup.fastConfig.reactive.kind,
    durationS: elapsedS,
    loop: {
      rateHz: config.control.rateHz,
      achievedRateHz: status.ticks / Math.max(elapsedS, 1e-9),
      ticks: status.ticks,
      overruns: status.overruns,
      periodErrorP50Us: us(durationQuantileNs(status.periodErrorHistogram, 0.5, status.periodErrorMaxNs)),
      periodErrorP99Us: us(durationQuantileNs(status.periodErrorHistogram, 0.99, status.periodErrorMaxNs)),
      periodErrorMaxUs: us(status.periodErrorMaxNs),
      tactileToCommandP99Us: us(durationQuantileNs(status.latencyHistogram, 0.99, status.latencyMaxNs)),
    },
    chunks: {
      policyCalls: slow.calls,
      published: slow.chunksPublished,
      acceptedByFastLoop: status.chunksAccepted,
      rejectedByFastLoop: status.chunksRejected,
      decodeFailures: failures.decode + failures.malformed,
      otherFailures: failures.threw + failures.timedOut + failures.convert + failures.noSensors,
    },
    safety: status.safetyCounts,
    task,
    errors,
    recording: recorded ? { path: recorded.path, droppedMessages: recorded.droppedMessages, writeError: recorded.writeError } : null,
  };
}

/** Operators can watch, take over and hand back while the episode runs (real time only). */
async function startTeleop(config: RuntimeConfig, setup: EpisodeSetup, runtime: Runtime, errors: string[]): Promise<TeleopEndpoint> {
  return attachTeleop(config.teleop, {
    state: runtime.state,
    arm: setup.arm,
    policyStatus: () => {
      const stats = runtime.slow.stats();
      return { chunksPublished: stats.chunksPublished, lastError: stats.lastError, policyEnabled: runtime.state.policyEnabled() };
    },
    onError: (message) => pushError(errors, message),
  });
}

/** The MCAP recording and/or live view of an episode, when the config or the caller asks for one. */
async function createRecording(
  config: RuntimeConfig,
  options: EpisodeOptions,
  setup: EpisodeSetup,
  mode: "lockstep" | "realtime",
  fastLoop: FastLoopConfig,
  startNs: number,
): Promise<EpisodeRecording | null> {
  const path = config.observability.recordPath;
  if (!path && !options.liveView) return null;
  const layout = setup.sceneLayout;
  return EpisodeRecording.create({
    path: path || undefined,
    liveView: options.liveView,
    mode,
    arm: setup.arm,
    tactile: { rows: layout.tactileRows, cols: layout.tactileCols, pitchM: layout.taxelPitchM },
    fastLoop,
    policyName: setup.slowOptions.policy.name,
    notes: { seed: config.episode.seed, instruction: config.episode.instruction, perturbations: config.episode.perturbations },
    startNs,
    mcap: { flushIntervalMs: config.observability.flushIntervalMs, maxBufferedBytes: config.observability.maxBufferedMiB * 2 ** 20 },
  });
}

function pushError(errors: string[], message: string): void {
  if (errors.length < 50) errors.push(message);
}

/** A short human-readable summary. */
export function formatSummary(summary: EpisodeSummary): string {
  const l = summary.loop;
  const c = summary.chunks;
  const safety = Object.entries(summary.safety).filter(([, n]) => n > 0);
  const lines = [
    `episode (${summary.mode}): ${summary.durationS.toFixed(1)} s, policy "${summary.policy}", backend ${summary.backend}, reactive ${summary.reactive}`,
    `  fast loop   ${l.achievedRateHz.toFixed(1)} Hz achieved of ${l.rateHz} Hz, ${l.ticks} ticks, ${l.overruns} overruns`,
    summary.mode === "realtime"
      ? `  jitter      period error p50 ${l.periodErrorP50Us.toFixed(0)} us, p99 ${l.periodErrorP99Us.toFixed(0)} us, max ${l.periodErrorMaxUs.toFixed(0)} us; tactile->command p99 ${l.tactileToCommandP99Us.toFixed(0)} us`
      : `  jitter      n/a (lockstep: simulated clock)`,
    `  chunks      ${c.policyCalls} policy calls, ${c.published} decoded and published, ${c.decodeFailures} rejected by the decoder, ${c.otherFailures} other failures; fast loop accepted ${c.acceptedByFastLoop}, rejected ${c.rejectedByFastLoop}`,
    `  safety      ${safety.length === 0 ? "no interventions" : safety.map(([name, n]) => `${name} ${n} ticks`).join(", ")}`,
  ];
  const t = summary.task;
  if (t) {
    lines.push(
      `  task        wipe ${t.success ? "SUCCEEDED" : "not finished"}: coverage ${(100 * t.coverage).toFixed(0)}%` +
        (t.completionTimeS !== null ? ` at ${t.completionTimeS.toFixed(1)} s` : "") +
        `, force-band violations ${t.forceBandViolationCount} (${t.forceBandViolationTimeS.toFixed(2)} s out of band), peak force ${t.peakForceN.toFixed(1)} N, contact ${t.contactTimeS.toFixed(1)} s`,
    );
  }
  const r = summary.recording;
  if (r?.path) lines.push(`  recording   ${r.path}${r.droppedMessages ? ` (${r.droppedMessages} messages dropped)` : ""}${r.writeError ? ` write error: ${r.writeError}` : ""}`);
  for (const error of summary.errors.slice(0, 5)) lines.push(`  error       ${error}`);
  if (summary.errors.length > 5) lines.push(`  ...         ${summary.errors.length - 5} more errors`);
  return lines.join("\n");
}
