// The fast executor's worker thread: attaches to the shared state, builds the loop from the serializable config,
// then runs it at the control rate against absolute deadlines until the main thread asks it to shut down.
// All control goes through the shared control slot (the loop never yields to the event loop while it runs).
import { getPriority, setPriority } from "node:os";
import { isMainThread, parentPort, workerData } from "node:worker_threads";
import { HybridWaiter, monotonicNowNs, type HybridWaiterOptions } from "./clock.js";
import { buildFastLoop, createBuiltinRegistry, type FastLoop, type FastLoopConfig, type FastPartsRegistry, type PartConfig, type SteppedArmBackend } from "./fastLoop.js";
import { SharedRuntimeState, type SharedLayout, type SharedRuntimeBuffers, type StatusWriter } from "./sharedState.js";
import type { SensorSnapshot } from "./types.js";

/** Marks workerData as ours, so importing this module anywhere else does nothing. */
export const FAST_WORKER_MARK = "vla-runtime-fast-worker";

/** Wait strategy of the worker (serializable). */
export type FastWaiterConfig = Pick<HybridWaiterOptions, "minSpinNs" | "maxSpinNs" | "initialSpinNs">;

export interface FastWorkerConfig extends FastLoopConfig {
  waiter?: FastWaiterConfig;
  /**
   * Scheduling niceness to ask for this thread (Linux nice values are per thread): -20 (most favoured) .. 19.
   * Default -10. Lowering it below 0 needs CAP_SYS_NICE (or root); without it the loop runs at the normal
   * priority and the ready message says why. null: leave the priority alone.
   */
  threadNice?: number | null;
  /**
   * Ticks of a private dry run before going real time (default 20000, 0: none): a copy of the loop on its own
   * shared memory and the shared-memory backend (never the real arm), fed synthetic sensors and chunks, so the
   * JIT has compiled the tick, chunk arrival and hold paths before the first real deadline.
   */
  warmupTicks?: number;
}

/** Default niceness of the fast loop's thread: favoured over the main thread's inference work when allowed. */
export const DEFAULT_FAST_THREAD_NICE = -10;

export interface FastWorkerData {
  mark: typeof FAST_WORKER_MARK;
  buffers: SharedRuntimeBuffers;
  config: FastWorkerConfig;
}

/** Messages the worker posts to its parent. */
export type FastWorkerMessage =
  | { type: "ready"; backend: string; reactive: string; threadNice: number; niceError: string | null }
  | { type: "stopped"; ticks: number; backendReport: unknown };

/** The embedded MuJoCo arm, built in this thread from its (serializable) options. */
export interface MujocoBackendConfig extends PartConfig {
  kind: "mujoco";
  /** MujocoArmOptions without `arm` (the loop's arm description is used) and without the time origin (set here). */
  options?: Record<string, unknown>;
}

/** Add the embedded MuJoCo arm. Imported lazily: only a worker that uses it loads the simulator. */
export function registerEmbeddedArm(registry: FastPartsRegistry): void {
  registry.registerBackend("mujoco", async (config, ctx) => {
    const { MujocoArm } = await import("../sim/mujocoArm.js");
    const options = (config as MujocoBackendConfig).options ?? {};
    const arm = await MujocoArm.create({ ...options, arm: ctx.arm, timeOriginNs: (options.timeOriginNs as number | undefined) ?? monotonicNowNs() });
    if (arm.tactileCount !== ctx.state.layout.tactileCount) {
      arm.close();
      throw new Error(`fast worker: the embedded arm has ${arm.tactileCount} taxels but the shared layout has tactileCount ${ctx.state.layout.tactileCount}`);
    }
    const backend: SteppedArmBackend = {
      name: arm.name,
      dim: arm.dim,
      advanceTo: (nowNs: number) => void arm.stepTo(nowNs),
      readSensors: (into: SensorSnapshot) => arm.readSensors(into),
      sendCommand: (command: Float64Array, timeNs: number) => arm.sendCommand(command, timeNs),
      close: () => arm.close(),
    };
    return { backend, publishSensors: true, report: () => ({ kind: "wipe-task", metrics: arm.metrics() }) };
  });
}

export interface RunAtRateOptions {
  rateHz: number;
  waiter: { waitUntil(deadlineNs: number): number; readonly spinMarginNs?: number };
  nowNs: () => number;
  shouldStop: () => boolean;
  /** Counter that, when it changes, clears the timing statistics (benchmark warm-up). */
  timingResets?: () => number;
}

/**
 * Run `loop.tick` at `rateHz` on absolute deadlines (deadline k = start + k * period, so errors never accumulate).
 * Records per tick: |actual period - nominal| (period error), wake lateness, work time, and the latency from a
 * fresh sensor sample to the published command. A tick that ends past the next deadline is an overrun; the next
 * tick then runs at once if it is less than half a period late, otherwise the missed deadlines are skipped
 * (counted as overruns too) rather than run as a burst of catch-up ticks.
 */
export function runAtRate(loop: FastLoop, options: RunAtRateOptions): void {
  const periodNs = 1e9 / options.rateHz;
  const status: StatusWriter = loop.status;
  const timingResets = options.timingResets ?? (() => 0);
  let seenResets = timingResets();
  const start = options.nowNs() + periodNs;
  status.set("rateHz", options.rateHz);
  status.set("startTimeNs", start);
  let k = 0;
  let previousWakeNs = NaN;
  while (!options.shouldStop()) {
    const deadline = start + k * periodNs;
    const wake = options.waiter.waitUntil(deadline);
    const resets = timingResets();
    if (resets !== seenResets) {
      seenResets = resets;
      status.resetTiming();
      previousWakeNs = NaN;
    }
    if (previousWakeNs === previousWakeNs) status.recordPeriodError(Math.abs(wake - previousWakeNs - periodNs));
    previousWakeNs = wake;
    status.max("wakeLatenessMaxNs", wake - deadline);
    status.set("spinMarginNs", options.waiter.spinMarginNs ?? 0);

    loop.tick(wake);

    const end = options.nowNs();
    const workNs = end - wake;
    status.set("lastTickWorkNs", workNs);
    status.max("maxTickWorkNs", workNs);
    const sensorTime = loop.freshSensorTimeNs;
    if (sensorTime === sensorTime) {
      const latency = end - sensorTime;
      if (latency >= 0 && latency < 1e9) status.recordLatency(latency); // a simulator's own time base is not comparable
    }
    k++;
    const next = start + k * periodNs;
    if (end > next) {
      status.add("overruns", 1);
      const skipped = Math.floor((end - next) / periodNs + 0.5);
      if (skipped > 0) {
        status.add("overruns", skipped);
        k += skipped;
      }
    }
  }
}

export const DEFAULT_WARMUP_TICKS = 20_000;

/**
 * Run `ticks` ticks of a private copy of the loop (own shared memory, shared-memory backend) on simulated time:
 * a following arm, contact forces that come and go, a chunk every 50 ticks, a stretch of stale sensors, one
 * emergency stop and reset. Only the code gets warm; nothing touches the real state or the real backend.
 */
export async function warmUp(config: FastLoopConfig, layout: SharedLayout, registry: FastPartsRegistry, ticks: number): Promise<void> {
  if (!Number.isInteger(ticks) || ticks < 0) throw new Error(`fast worker: expected warmupTicks to be a non-negative integer, got ${String(ticks)}`);
  if (ticks === 0) return;
  const state = SharedRuntimeState.create(layout);
  const built = await buildFastLoop({ ...config, backend: { kind: "shared-memory" } }, state, registry);
  try {
    const dim = layout.dim;
    const periodNs = 1e9 / config.rateHz;
    const sensors = state.createSensorSnapshot();
    const command = state.createCommandRecord();
    const arm = config.arm;
    const home = new Float64Array(dim);
    arm.joints.forEach((j, i) => (home[i] = Math.min(Math.max(0, j.lowerRad), j.upperRad)));
    home[dim - 1] = (arm.gripper.lowerM + arm.gripper.upperM) / 2;
    sensors.positions.set(home);
    const steps = Math.min(20, layout.maxChunkSteps);
    const actions = new Float64Array(steps * dim);
    let now = 1e9;
    for (let k = 0; k < ticks; k++) {
      now += periodNs;
      if (state.readCommand(command) !== 0) sensors.positions.set(command.command);
      sensors.wrench[2] = 12 * (1 + Math.sin(k / 400)); // 0..24 N: out of and into contact
      for (let i = 0; i < sensors.tactile.length; i++) sensors.tactile[i] = 3 * (1 + Math.sin(k / 300 + i));
      sensors.timeNs = now;
      if (k % 5000 < 4900) state.writeSensors(sensors); // the last 100 of every 5000 ticks: stale sensors
      if (k % 50 === 0) {
        for (let s = 0; s < steps; s++) {
          for (let d = 0; d < dim; d++) actions[s * dim + d] = home[d] + (d < dim - 1 ? 0.02 * Math.sin(k / 500 + s / 10 + d) : 0);
        }
        state.writeChunk({ actions, steps, dim, stepPeriodNs: 100e6, observationTimeNs: now - 2 * periodNs, arrivalTimeNs: now, sequence: k / 50 + 1 });
      }
      if (k === Math.floor(ticks / 2)) state.requestEmergencyStop();
      if (k === Math.floor(ticks / 2) + 100) state.requestEmergencyStopReset();
      built.loop.tick(now);
    }
  } finally {
    await built.close();
  }
}

/** Ask for a niceness for the calling thread; returns why it was not granted (null when it was or none was asked). */
function raisePriority(nice: number | null): string | null {
  if (nice === null) return null;
  if (!Number.isInteger(nice) || nice < -20 || nice > 19) throw new Error(`fast worker: expected threadNice to be an integer in [-20, 19] or null, got ${String(nice)}`);
  try {
    setPriority(0, nice); // pid 0 = the calling thread on Linux
    return null;
  } catch (error) {
    return `could not set thread niceness ${nice}: ${error instanceof Error ? error.message : String(error)}`;
  }
}

async function main(data: FastWorkerData): Promise<void> {
  const state = SharedRuntimeState.attach(data.buffers);
  const config = data.config;
  const registry = createBuiltinRegistry();
  registerEmbeddedArm(registry);
  for (const url of config.plugins ?? []) {
    const plugin = (await import(url)) as { registerFastParts?: (registry: FastPartsRegistry) => void };
    if (typeof plugin.registerFastParts !== "function") throw new Error(`fast worker: plugin ${url} does not export registerFastParts(registry)`);
    plugin.registerFastParts(registry);
  }
  const niceError = raisePriority(config.threadNice === undefined ? DEFAULT_FAST_THREAD_NICE : config.threadNice);
  await warmUp(config, state.layout, registry, config.warmupTicks ?? DEFAULT_WARMUP_TICKS);
  const built = await buildFastLoop(config, state, registry);
  const waiter = new HybridWaiter(config.waiter ?? {});
  parentPort?.postMessage({
    type: "ready",
    backend: built.backend.name,
    reactive: config.reactive.kind,
    threadNice: getPriority(0),
    niceError,
  } satisfies FastWorkerMessage);
  let backendReport: unknown;
  try {
    runAtRate(built.loop, {
      rateHz: config.rateHz,
      waiter,
      nowNs: monotonicNowNs,
      shouldStop: () => state.shutdownRequested(),
      timingResets: () => state.timingResets(),
    });
    backendReport = built.report();
  } finally {
    await built.close();
  }
  parentPort?.postMessage({ type: "stopped", ticks: built.loop.ticks, backendReport } satisfies FastWorkerMessage);
}

const data = workerData as Partial<FastWorkerData> | null;
if (!isMainThread && data?.mark === FAST_WORKER_MARK) {
  // An exception here ends the worker with an "error" event on the main side: that is the crash report.
  await main(data as FastWorkerData);
}
