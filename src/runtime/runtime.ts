// The runtime assembled: shared state, the fast executor (its worker runs the loop), the slow executor, and for
// backends that do I/O on the main thread (ROS 2, Gazebo) the bridge that moves their samples and commands
// through the shared slots. Transports and the simulator build on this; it knows none of them.
import type { RuntimeConfig } from "../config/schema.js";
import type { ArmDescription } from "../kinematics/description.js";
import { commandDim } from "../kinematics/description.js";
import { FastExecutor, SharedMemoryBridge } from "./fastExecutor.js";
import type { FastLoopConfig, PartConfig } from "./fastLoop.js";
import type { FastWorkerConfig } from "./fastWorker.js";
import { SharedRuntimeState, type FastStatusSnapshot } from "./sharedState.js";
import { SlowExecutor, type SlowExecutorOptions, type SlowExecutorStats } from "./slowExecutor.js";
import type { ArmBackend } from "./types.js";

/** Where the arm is: a backend built inside the worker (the embedded simulator), or one living on this thread. */
export type RuntimeBackend =
  | { kind: "worker"; config: PartConfig }
  | { kind: "main-thread"; backend: ArmBackend; /** How often the bridge moves samples and commands (ms). Default 1. */ pumpPeriodMs?: number };

export interface RuntimeOptions {
  arm: ArmDescription;
  /** Shared memory made by the caller (e.g. a policy that writes the latent slot needs it first); default: made here. */
  state?: SharedRuntimeState;
  /** The fast side without the arm and the backend (rate, reactive step, scheduler, safety, plugins). */
  fast: Omit<FastLoopConfig, "arm" | "backend"> & Pick<FastWorkerConfig, "waiter" | "threadNice">;
  backend: RuntimeBackend;
  tactileCount: number;
  maxChunkSteps?: number;
  latentSize?: number;
  slow: Omit<SlowExecutorOptions, "state">;
  /** The fast worker's script (default: the compiled one next to the executor). */
  workerUrl?: URL;
  /** Ask the policy only once the arm has reported; give up after this long (ms). Default 5000. */
  firstSampleTimeoutMs?: number;
  onError?: (message: string) => void;
}

export interface RuntimeReport {
  status: FastStatusSnapshot;
  slow: SlowExecutorStats;
  /** What the backend reported when the loop stopped (e.g. the simulator's task metrics); undefined for none. */
  backendReport: unknown;
  backendName: string;
}

export class Runtime {
  private stopped = false;

  private constructor(
    readonly state: SharedRuntimeState,
    readonly fast: FastExecutor,
    readonly slow: SlowExecutor,
    readonly bridge: SharedMemoryBridge | null,
  ) {}

  static async start(options: RuntimeOptions): Promise<Runtime> {
    const state = options.state ?? SharedRuntimeState.create({
      dim: commandDim(options.arm),
      tactileCount: options.tactileCount,
      maxChunkSteps: options.maxChunkSteps ?? 256,
      latentSize: options.latentSize ?? 0,
    });
    const backendConfig: PartConfig = options.backend.kind === "worker" ? options.backend.config : { kind: "shared-memory" };
    let bridge: SharedMemoryBridge | null = null;
    if (options.backend.kind === "main-thread") {
      bridge = new SharedMemoryBridge({ state, backend: options.backend.backend, onError: options.onError });
      bridge.start(options.backend.pumpPeriodMs ?? 1);
    }
    let fast: FastExecutor;
    try {
      fast = await FastExecutor.start({ state, config: { ...options.fast, arm: options.arm, backend: backendConfig }, workerUrl: options.workerUrl, onError: options.onError });
    } catch (error) {
      bridge?.stop();
      throw error;
    }
    const slow = new SlowExecutor({ ...options.slow, state });
    const runtime = new Runtime(state, fast, slow, bridge);
    try {
      await waitForFirstSensorSample(state, options.firstSampleTimeoutMs ?? 5000);
    } catch (error) {
      await runtime.stop();
      throw error;
    }
    slow.start();
    return runtime;
  }

  emergencyStop(): void {
    this.state.requestEmergencyStop();
  }

  resetEmergencyStop(): void {
    this.state.requestEmergencyStopReset();
  }

  setPolicyEnabled(enabled: boolean): void {
    this.state.setPolicyEnabled(enabled);
  }

  /** Stop the slow side, then the fast loop (the arm holds its last safe command), then the bridge. */
  async stop(): Promise<RuntimeReport> {
    if (!this.stopped) {
      this.stopped = true;
      await this.slow.stop();
    }
    const status = this.state.readStatus();
    await this.fast.stop();
    this.bridge?.stop();
    return {
      status,
      slow: this.slow.stats(),
      backendReport: this.fast.stopReport?.backendReport,
      backendName: this.fast.workerInfo?.backend ?? "unknown",
    };
  }
}

/** The fast side of the runtime from the config (the arm and the backend are added by the runtime). */
export function fastOptionsFromConfig(config: RuntimeConfig): RuntimeOptions["fast"] {
  return {
    rateHz: config.control.rateHz,
    // "rdp" is registered by a plugin (the caller adds it to `plugins`); without it the worker names what is missing.
    reactive:
      config.reactive.kind === "compliance"
        ? { kind: "compliance", mode: config.reactive.mode, targetForceN: config.reactive.targetForceN, gainMPerN: config.reactive.gainMPerN, maxOffsetM: config.reactive.maxOffsetM }
        : config.reactive.kind === "rdp"
          ? { kind: "rdp", modelDir: config.reactive.modelDir, smoothing: config.reactive.rdpSmoothing, handoverS: config.reactive.rdpHandoverMs / 1000, filterS: config.reactive.rdpFilterMs / 1000 }
          : { kind: "passthrough" },
    scheduler: {
      mode: config.scheduler.mode,
      crossfadeSteps: config.scheduler.crossfadeSteps,
      ensembleDecayPerStep: config.scheduler.ensembleDecayPerStep,
      interpolation: config.scheduler.interpolation,
    },
    safety: {
      sensorMaxAgeNs: config.safety.sensorMaxAgeMs * 1e6,
      workspace: { minM: config.safety.workspaceMinM, maxM: config.safety.workspaceMaxM },
      maxContactForceN: config.safety.maxContactForceN,
    },
  };
}

/** The fast loop publishes the arm's first sample on its first tick (or the bridge does); wait for it. */
export async function waitForFirstSensorSample(state: SharedRuntimeState, timeoutMs: number): Promise<void> {
  const sample = state.createSensorSnapshot();
  const deadline = Date.now() + timeoutMs;
  while (!state.readSensors(sample)) {
    if (Date.now() > deadline) throw new Error(`runtime: no sensor sample from the arm within ${timeoutMs} ms of starting`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}
