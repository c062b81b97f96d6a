// Main-thread side of the fast executor: starts, stops, monitors and restarts the worker that runs the fast loop,
// and (for backends that must live on the main thread) the bridge that moves sensors and commands through the
// shared slots.
//
// Crash policy: a worker that throws, exits or stops beating is reported once as a one-line error (health
// "crashed" / "stalled"); the process stays up. There is no automatic restart: a control loop that crashed is a
// fault an operator (or the supervising node) should see, and restarting in a loop could hide a persistent bug
// while the arm keeps twitching. restart() starts a fresh worker on the same shared state; it only plays chunks
// published after it started, so the arm holds until the slow side sends a fresh one. While no worker runs, a
// main-thread backend is held by the bridge (it repeats the last safe command once the command slot goes silent);
// the embedded simulator lives in the worker and stops with it.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { monotonicNowNs } from "./clock.js";
import { FAST_WORKER_MARK, type FastWorkerConfig, type FastWorkerData, type FastWorkerMessage } from "./fastWorker.js";
import type { CommandRecord, FastStatusSnapshot, SharedRuntimeState } from "./sharedState.js";
import type { ArmBackend, SensorSnapshot } from "./types.js";

export type FastExecutorHealth = "starting" | "running" | "stalled" | "crashed" | "stopped";

/** What the worker reported when it became ready. */
export interface FastWorkerInfo {
  backend: string;
  reactive: string;
  /** Niceness the loop's thread runs at. */
  threadNice: number;
  /** Why the requested niceness was not granted (null: it was, or none was requested). */
  niceError: string | null;
}

export interface FastExecutorOptions {
  state: SharedRuntimeState;
  config: FastWorkerConfig;
  /** Worker script. Default: the compiled fastWorker.js next to this module. */
  workerUrl?: URL;
  /** No heartbeat for this long while running: health "stalled" (reported once). Default 250 ms. */
  heartbeatTimeoutMs?: number;
  /** The worker must report ready within this time. Default 15 s (the simulator compiles its model first). */
  startTimeoutMs?: number;
  /** Called with every one-line error (crash, exit, stall, recovery). */
  onError?: (message: string) => void;
}

export class FastExecutor {
  private worker: Worker | null = null;
  private healthState: FastExecutorHealth = "stopped";
  private error: string | null = null;
  private readonly errors: string[] = [];
  private monitor: NodeJS.Timeout | null = null;
  private lastBeat = 0;
  private lastBeatChangeNs = 0;
  private stopping = false;
  private exited: Promise<void> = Promise.resolve();
  private starts = 0;
  private info: FastWorkerInfo | null = null;
  private finalReport: { ticks: number; backendReport: unknown } | null = null;

  private constructor(private readonly options: FastExecutorOptions) {}

  /** Start the worker; resolves once it runs, rejects with a one-line error when it cannot start. */
  static async start(options: FastExecutorOptions): Promise<FastExecutor> {
    const executor = new FastExecutor(options);
    await executor.launch();
    return executor;
  }

  get health(): FastExecutorHealth {
    return this.healthState;
  }

  /** The last one-line error (null when none happened). */
  get lastError(): string | null {
    return this.error;
  }

  /** Every error reported so far, oldest first (at most 100 kept). */
  get errorLog(): readonly string[] {
    return this.errors;
  }

  /** What the running worker reported at start (null before the first start). */
  get workerInfo(): FastWorkerInfo | null {
    return this.info;
  }

  /** What the last worker reported when it stopped cleanly (ticks and the backend's own report), null before that. */
  get stopReport(): { ticks: number; backendReport: unknown } | null {
    return this.finalReport;
  }

  /** How many times a worker was started (1 + restarts). */
  get startCount(): number {
    return this.starts;
  }

  status(): FastStatusSnapshot {
    return this.options.state.readStatus();
  }

  emergencyStop(): void {
    this.options.state.requestEmergencyStop();
  }

  resetEmergencyStop(): void {
    this.options.state.requestEmergencyStopReset();
  }

  setPolicyEnabled(enabled: boolean): void {
    this.options.state.setPolicyEnabled(enabled);
  }

  /** Stop the current worker (if any) and start a fresh one on the same shared state. */
  async restart(): Promise<void> {
    await this.stop();
    await this.launch();
  }

  /** Ask the loop to finish, wait for the worker to exit (terminating it if it does not within 2 s). */
  async stop(): Promise<void> {
    const worker = this.worker;
    this.stopMonitor();
    if (!worker) {
      if (this.healthState !== "crashed") this.healthState = "stopped";
      return;
    }
    this.stopping = true;
    this.options.state.requestShutdown();
    const timer = setTimeout(() => void worker.terminate(), 2000);
    await this.exited;
    clearTimeout(timer);
    this.worker = null;
    this.stopping = false;
    if (this.healthState !== "crashed") this.healthState = "stopped";
  }

  private async launch(): Promise<void> {
    const { state, config } = this.options;
    const url = this.options.workerUrl ?? new URL("./fastWorker.js", import.meta.url);
    if (url.protocol === "file:" && !existsSync(fileURLToPath(url))) {
      throw new Error(`fast executor: worker script ${fileURLToPath(url)} not found (run from the build output, or pass workerUrl)`);
    }
    state.clearShutdown();
    const data: FastWorkerData = { mark: FAST_WORKER_MARK, buffers: state.buffers, config };
    let worker: Worker;
    try {
      worker = new Worker(url, { workerData: data, name: "vla-fast-loop" });
    } catch (err) {
      throw new Error(`fast executor: could not start the worker: ${oneLine(err)}`);
    }
    this.worker = worker;
    this.healthState = "starting";
    this.starts++;
    this.stopping = false;

    let settle: { resolve: () => void; reject: (e: Error) => void } | null = null;
    const ready = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
    const startTimer = setTimeout(() => {
      settle?.reject(new Error(`fast executor: the worker did not report ready within ${this.options.startTimeoutMs ?? 15_000} ms`));
      void worker.terminate();
    }, this.options.startTimeoutMs ?? 15_000);

    worker.on("message", (message: FastWorkerMessage) => {
      if (message?.type === "ready") {
        this.info = { backend: message.backend, reactive: message.reactive, threadNice: message.threadNice, niceError: message.niceError };
        this.healthState = "running";
        this.startMonitor();
        settle?.resolve();
        settle = null;
      } else if (message?.type === "stopped") {
        this.finalReport = { ticks: message.ticks, backendReport: message.backendReport };
      }
    });
    worker.on("error", (err) => {
      const text = this.healthState === "starting" ? `fast worker failed to start: ${oneLine(err)}` : `fast worker crashed: ${oneLine(err)}`;
      this.healthState = "crashed";
      this.record(text);
      settle?.reject(new Error(text));
      settle = null;
    });
    this.exited = new Promise<void>((resolve) => {
      worker.once("exit", (code) => {
        clearTimeout(startTimer);
        this.stopMonitor();
        if (this.worker === worker) this.worker = null;
        if (!this.stopping && this.healthState !== "crashed") {
          this.healthState = "crashed";
          this.record(`fast worker exited unexpectedly with code ${code}`);
        }
        settle?.reject(new Error(this.error ?? `fast worker exited with code ${code} before it was ready`));
        settle = null;
        resolve();
      });
    });
    try {
      await ready;
    } finally {
      clearTimeout(startTimer);
    }
  }

  private startMonitor(): void {
    this.stopMonitor();
    const timeoutMs = this.options.heartbeatTimeoutMs ?? 250;
    this.lastBeat = this.options.state.heartbeat();
    this.lastBeatChangeNs = monotonicNowNs();
    this.monitor = setInterval(() => this.checkHeartbeat(timeoutMs), Math.max(5, timeoutMs / 4));
    this.monitor.unref(); // monitoring must not keep the process alive
  }

  private stopMonitor(): void {
    if (this.monitor) clearInterval(this.monitor);
    this.monitor = null;
  }

  private checkHeartbeat(timeoutMs: number): void {
    const beat = this.options.state.heartbeat();
    const now = monotonicNowNs();
    if (beat !== this.lastBeat) {
      this.lastBeat = beat;
      this.lastBeatChangeNs = now;
      if (this.healthState === "stalled") {
        this.healthState = "running";
        this.record("fast worker heartbeat is back");
      }
      return;
    }
    const silentMs = (now - this.lastBeatChangeNs) / 1e6;
    if (this.healthState === "running" && silentMs > timeoutMs) {
      this.healthState = "stalled";
      this.record(`fast worker stalled: no heartbeat for ${silentMs.toFixed(0)} ms`);
    }
  }

  private record(message: string): void {
    this.error = message;
    this.errors.push(message);
    if (this.errors.length > 100) this.errors.shift();
    this.options.onError?.(message);
  }
}

export interface SharedMemoryBridgeOptions {
  state: SharedRuntimeState;
  /** The main-thread backend (ROS 2, Gazebo, ...). */
  backend: ArmBackend;
  /** The command slot counts as silent after this long without a new command (ns). Default 50 ms. */
  staleAfterNs?: number;
  nowNs?: () => number;
  onError?: (message: string) => void;
}

export type BridgeState = "idle" | "forwarding" | "holding";

/**
 * Main-thread adapter for a backend that cannot live in the worker: copies its sensor samples into the sensor
 * slot and forwards each new command from the command slot. When the command slot goes silent (the fast loop
 * stopped, crashed or is starved), it holds: it keeps sending the last safe command it forwarded, never anything
 * new. Before the first command it sends nothing.
 */
export class SharedMemoryBridge {
  private readonly state: SharedRuntimeState;
  private readonly backend: ArmBackend;
  private readonly staleAfterNs: number;
  private readonly now: () => number;
  private readonly sensors: SensorSnapshot;
  private readonly record: CommandRecord;
  private readonly held: Float64Array;
  private seenVersion = 0;
  private lastNewCommandNs = 0;
  private hasCommand = false;
  private mode: BridgeState = "idle";
  private timer: NodeJS.Timeout | null = null;
  private forwarded = 0;
  private holdTicks = 0;

  constructor(private readonly options: SharedMemoryBridgeOptions) {
    this.state = options.state;
    this.backend = options.backend;
    if (options.backend.dim !== options.state.layout.dim) {
      throw new Error(`shared-memory bridge: expected a backend of dim ${options.state.layout.dim}, got "${options.backend.name}" with dim ${options.backend.dim}`);
    }
    this.staleAfterNs = options.staleAfterNs ?? 50e6;
    this.now = options.nowNs ?? monotonicNowNs;
    this.sensors = options.state.createSensorSnapshot();
    this.record = options.state.createCommandRecord();
    this.held = new Float64Array(options.state.layout.dim);
  }

  get bridgeState(): BridgeState {
    return this.mode;
  }

  get commandsForwarded(): number {
    return this.forwarded;
  }

  /** Pumps that repeated the held command. */
  get holdCount(): number {
    return this.holdTicks;
  }

  /** The command being held (valid while holding). */
  get heldCommand(): Float64Array {
    return this.held;
  }

  /** Copy the backend's newest sample into the sensor slot; false when it has none. */
  pushSensors(): boolean {
    if (!this.backend.readSensors(this.sensors)) return false;
    this.state.writeSensors(this.sensors);
    return true;
  }

  /** Forward a new command, or hold when the slot has been silent too long. */
  pumpCommands(): BridgeState {
    const now = this.now();
    const version = this.state.commandVersion();
    if (version !== 0 && version !== this.seenVersion && (version & 1) === 0) {
      const read = this.state.readCommand(this.record);
      if (read !== 0) {
        this.seenVersion = read;
        this.lastNewCommandNs = now;
        this.hasCommand = true;
        this.held.set(this.record.command);
        this.backend.sendCommand(this.record.command, now);
        this.forwarded++;
        if (this.mode === "holding") this.options.onError?.("shared-memory bridge: the fast loop is back, forwarding its commands again");
        this.mode = "forwarding";
        return this.mode;
      }
    }
    if (!this.hasCommand) return (this.mode = "idle");
    if (now - this.lastNewCommandNs > this.staleAfterNs) {
      if (this.mode !== "holding") {
        this.options.onError?.(`shared-memory bridge: no new command for ${((now - this.lastNewCommandNs) / 1e6).toFixed(0)} ms, holding the last safe command`);
      }
      this.mode = "holding";
      this.holdTicks++;
      this.backend.sendCommand(this.held, now);
    }
    return this.mode;
  }

  /** Pump sensors and commands every `periodMs` on the main thread's timers. */
  start(periodMs = 1): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      this.pushSensors();
      this.pumpCommands();
    }, periodMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}

function oneLine(err: unknown): string {
  const text = err instanceof Error ? err.message || err.name : String(err);
  return text.split("\n")[0].slice(0, 300);
}
