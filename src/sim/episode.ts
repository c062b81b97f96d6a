// One episode of the embedded arm driven by the whole runtime: slow executor (policy -> tokens -> decode ->
// unnormalize -> chunk), fast loop (scheduler, reactive step, safety) and the MuJoCo arm. Real time runs the fast
// loop in its worker thread against the wall clock; lockstep runs the same parts on this thread on a simulated
// clock, as fast as the machine allows (tests, evaluation).
import type { RuntimeConfig } from "../config/schema.js";
import { EpisodeRecording } from "../observability/episodeRecording.js";
import type { LiveView } from "../observability/liveView.js";
import { registerFastParts as registerRdpParts } from "../policy/rdp.js";
import { monotonicNowNs } from "../runtime/clock.js";
import { buildFastLoop, createBuiltinRegistry, type FastLoopConfig } from "../runtime/fastLoop.js";
import { registerEmbeddedArm } from "../runtime/fastWorker.js";
import { Runtime } from "../runtime/runtime.js";
import { SlowExecutor, type SlowPolicy } from "../runtime/slowExecutor.js";
import type { ReactiveStep } from "../runtime/types.js";
import { connectGzArm } from "../transports/gz/index.js";
import { attachTeleop, type TeleopEndpoint } from "../transports/teleop/index.js";
import { pushError, setUpEpisode, type EpisodeSetup } from "./episodeSetup.js";
import { progressOf, summarize, type EpisodeProgress, type EpisodeSummary } from "./episodeSummary.js";
import { SimulatedLatency } from "./simulatedLatency.js";
import type { WipeEpisodeMetrics } from "./task.js";

export { formatSummary, type EpisodeProgress, type EpisodeSummary } from "./episodeSummary.js";

export interface EpisodeOptions {
  /** Folder with sim/ and models/ (the package root). */
  packageRoot: string;
  onProgress?: (progress: EpisodeProgress) => void;
  /** Real time: how often onProgress is called (ms). */
  progressPeriodMs?: number;
  /** Put something between the runtime and the policy (fault injection in tests, latency models in evaluation). */
  wrapPolicy?: (policy: SlowPolicy) => SlowPolicy;
  /** Lockstep: put something around the fast loop's reactive step (recording what it did, for training data). */
  wrapReactive?: (step: ReactiveStep) => ReactiveStep;
  /** Real time: the fast worker's script (default: the compiled one next to the executor). */
  workerUrl?: URL;
  /** A running live view to publish the episode to (the recording path comes from the config). */
  liveView?: LiveView;
}

export async function runEpisode(config: RuntimeConfig, options: EpisodeOptions): Promise<EpisodeSummary> {
  if (!config.control.realtime && config.backend.kind !== "mujoco") {
    throw new Error(`lockstep (control.realtime false) needs the embedded simulator: expected backend.kind "mujoco", got "${config.backend.kind}"`);
  }
  return config.control.realtime ? runRealtime(config, options) : runLockstep(config, options);
}

async function runRealtime(config: RuntimeConfig, options: EpisodeOptions): Promise<EpisodeSummary> {
  const errors: string[] = [];
  const setup = await setUpEpisode(config, options, errors);
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
      options.onProgress?.(progressOf(runtime.state.readStatus(), elapsedS, durationS, setup.policy.phase ?? "running"));
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
  const setup = await setUpEpisode(config, options, errors);
  const state = setup.state;
  const periodNs = 1e9 / config.control.rateHz;
  let simNowNs = 0;
  const registry = createBuiltinRegistry();
  registerEmbeddedArm(registry);
  registerRdpParts(registry);
  if (options.wrapReactive) registry.wrapReactives(options.wrapReactive);
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
      if (k % progressEveryTicks === 0) options.onProgress?.(progressOf(state.readStatus(), simNowNs / 1e9, config.episode.durationS, setup.policy.phase ?? "running"));
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
