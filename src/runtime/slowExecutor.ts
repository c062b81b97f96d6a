// The slow executor (main thread, async): observation -> policy -> decode -> convert -> chunk in shared memory.
//
// It never blocks the fast loop: the only thing they share is the chunk (and latent) slot. A policy that throws,
// hangs past the timeout or returns something malformed costs one recorded one-line error and nothing is published;
// the loop goes on, and the fast side plays out (or holds at the end of) the chunk it has.
import { monotonicNowNs } from "./clock.js";
import type { SharedRuntimeState } from "./sharedState.js";
import { chunkLinearAt } from "./interpolation.js";
import type { ActionChunk } from "./types.js";

/** A camera frame as the caller hands it over (row-major, interleaved channels). */
export interface ImageFrame {
  width: number;
  height: number;
  channels: number;
  data: Uint8Array;
  /** Monotonic time the frame was captured. */
  timeNs: number;
}

/** What a policy sees: the sensor slot at one instant plus the caller's newest image and instruction. */
export interface Observation {
  /** Monotonic time of the sensor sample; the chunk made from this observation is stamped with it. */
  timeNs: number;
  positions: Float64Array;
  velocities: Float64Array;
  wrench: Float64Array;
  tactile: Float64Array;
  image?: ImageFrame;
  instruction: string;
  /** Where the newest published chunk puts the arm at timeNs (joints + gripper); absent before the first chunk.
   * Delta action spaces may start from it instead of the measured positions (see DeltaOrigin). */
  plannedPositions?: Float64Array;
}

export type PolicyOutput =
  | { kind: "tokens"; tokens: number[] }
  | { kind: "actions"; actions: Float64Array; steps: number; dim: number }
  | { kind: "latent"; latent: Float32Array };

export interface SlowPolicy {
  readonly name: string;
  /** Infer from one observation; should stop work when `signal` aborts (timeout or shutdown). */
  infer(obs: Observation, signal: AbortSignal): Promise<PolicyOutput>;
}

/** Tokens -> normalized actions, row-major [steps * policyDim], or an Error saying what was wrong. */
export type ChunkDecoder = (tokens: readonly number[]) => Float64Array | Error;

/**
 * Normalized policy actions [steps * policyDim] -> absolute arm commands [steps * dim] (unnormalize, then map the
 * action space, e.g. joint deltas onto the observed positions). Returns an Error when it cannot.
 */
export type ActionConverter = (actions: Float64Array, steps: number, policyDim: number, obs: Observation) => Float64Array | Error;

export interface SlowExecutorOptions {
  state: SharedRuntimeState;
  policy: SlowPolicy;
  /** The newest image and instruction (the caller owns the camera and the task text). */
  inputs: () => { image?: ImageFrame; instruction: string };
  /** Needed when the policy answers with tokens. */
  decoder?: ChunkDecoder;
  /** Default: identity (the policy already speaks absolute commands). */
  convert?: ActionConverter;
  /** Width of one policy action before conversion. Default: the command dim. */
  policyDim?: number;
  /** Time between the steps of a chunk (ns). */
  stepPeriodNs: number;
  /** How often to ask the policy (Hz); a slower policy runs back to back. */
  rateHz: number;
  /** A call that takes longer is abandoned (its signal aborts) and counted as a timeout. */
  timeoutMs: number;
  /** Called with every one-line error, e.g. for the log. */
  onError?: (message: string) => void;
  /** Clock (tests inject one). Default: the monotonic clock. */
  nowNs?: () => number;
}

export type SlowFailureKind = "noSensors" | "threw" | "timedOut" | "malformed" | "decode" | "convert";

export interface SlowExecutorStats {
  calls: number;
  chunksPublished: number;
  latentsPublished: number;
  failures: Record<SlowFailureKind, number>;
  consecutiveFailures: number;
  lastError: string | null;
  lastInferenceMs: number;
  lastChunkSequence: number;
}

export type SlowStepOutcome =
  | { ok: true; published: "chunk" | "latent"; sequence: number; inferenceMs: number }
  | { ok: false; kind: SlowFailureKind; error: string };

class PolicyTimeout extends Error {}

/** A wrapping policy (e.g. the RDP composition) that decodes the inner policy's tokens throws this when they do not
 * decode, so the call counts as a decode failure like one the executor's own decoder refused. */
export class ChunkDecodeError extends Error {}

export class SlowExecutor {
  private readonly o: Required<Omit<SlowExecutorOptions, "decoder" | "onError">> & Pick<SlowExecutorOptions, "decoder" | "onError">;
  private readonly s: SlowExecutorStats;
  private sequence = 0;
  private running: Promise<void> | null = null;
  private stopRequested = false;
  private current: AbortController | null = null;
  private wake: (() => void) | null = null;
  private lastChunk: ActionChunk | null = null;

  constructor(options: SlowExecutorOptions) {
    const dim = options.state.layout.dim;
    const policyDim = options.policyDim ?? dim;
    const check = (ok: boolean, what: string, got: unknown) => {
      if (!ok) throw new Error(`slow executor: expected ${what}, got ${String(got)}`);
    };
    check(typeof options.policy?.infer === "function", "a policy with an infer() method", typeof options.policy);
    check(Number.isInteger(policyDim) && policyDim >= 1, "policyDim to be a positive integer", policyDim);
    check(options.stepPeriodNs > 0 && Number.isFinite(options.stepPeriodNs), "a positive finite stepPeriodNs", options.stepPeriodNs);
    check(options.rateHz > 0 && Number.isFinite(options.rateHz), "a positive finite rateHz", options.rateHz);
    check(options.timeoutMs > 0 && Number.isFinite(options.timeoutMs), "a positive finite timeoutMs", options.timeoutMs);
    check(options.convert !== undefined || policyDim === dim, `a convert function when policyDim (${policyDim}) differs from the command dim (${dim})`, "none");
    this.o = {
      ...options,
      policyDim,
      convert: options.convert ?? ((actions) => actions),
      nowNs: options.nowNs ?? monotonicNowNs,
    };
    this.s = {
      calls: 0,
      chunksPublished: 0,
      latentsPublished: 0,
      failures: { noSensors: 0, threw: 0, timedOut: 0, malformed: 0, decode: 0, convert: 0 },
      consecutiveFailures: 0,
      lastError: null,
      lastInferenceMs: NaN,
      lastChunkSequence: 0,
    };
  }

  /** A copy of the counters. */
  stats(): SlowExecutorStats {
    return { ...this.s, failures: { ...this.s.failures } };
  }

  get isRunning(): boolean {
    return this.running !== null;
  }

  /** Snapshot an observation from the sensor slot plus the caller's inputs; null when no sensor sample exists yet. */
  snapshotObservation(): Observation | null {
    const sensors = this.o.state.createSensorSnapshot();
    if (!this.o.state.readSensors(sensors)) return null;
    const inputs = this.o.inputs();
    const observation: Observation = { ...sensors, image: inputs.image, instruction: inputs.instruction };
    if (this.lastChunk) observation.plannedPositions = chunkAt(this.lastChunk, sensors.timeNs);
    return observation;
  }

  /** One round: observe, infer (with the timeout), decode, convert, publish. Never throws. */
  async runOnce(): Promise<SlowStepOutcome> {
    const obs = this.snapshotObservation();
    if (obs === null) return this.fail("noSensors", "no sensor sample in shared memory yet");
    this.s.calls++;
    const name = this.o.policy.name;
    const started = this.o.nowNs();
    let output: PolicyOutput;
    try {
      output = await this.inferWithTimeout(obs);
    } catch (err) {
      if (err instanceof PolicyTimeout) return this.fail("timedOut", `policy "${name}" timed out after ${this.o.timeoutMs} ms`);
      if (err instanceof ChunkDecodeError) return this.fail("decode", `policy "${name}": ${oneLine(err)}`);
      return this.fail("threw", `policy "${name}" threw: ${oneLine(err)}`);
    }
    const inferenceMs = (this.o.nowNs() - started) / 1e6;
    this.s.lastInferenceMs = inferenceMs;
    // A synchronous (CPU-bound) policy cannot be interrupted by the timer: judge the elapsed time as well.
    if (inferenceMs > this.o.timeoutMs) return this.fail("timedOut", `policy "${name}" timed out after ${this.o.timeoutMs} ms (took ${inferenceMs.toFixed(1)} ms)`);
    return this.publish(obs, output, inferenceMs);
  }

  /** Run rounds at rateHz until stop(). */
  start(): void {
    if (this.running) return;
    this.stopRequested = false;
    this.running = this.loop().finally(() => {
      this.running = null;
    });
  }

  /** Stop after aborting the call in flight; resolves when the loop has ended. */
  async stop(): Promise<void> {
    this.stopRequested = true;
    this.current?.abort(new Error("slow executor stopping"));
    this.wake?.();
    await this.running;
  }

  private async loop(): Promise<void> {
    const periodNs = 1e9 / this.o.rateHz;
    let next = this.o.nowNs();
    while (!this.stopRequested) {
      await this.runOnce();
      next += periodNs;
      const now = this.o.nowNs();
      if (next < now) next = now; // a slow policy runs back to back instead of trying to catch up
      const waitMs = (next - now) / 1e6;
      // Always yield to the event loop, even when late, so the rest of the main thread gets its turn.
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, waitMs);
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.wake = done;
      });
      this.wake = null;
    }
  }

  private async inferWithTimeout(obs: Observation): Promise<PolicyOutput> {
    const controller = new AbortController();
    this.current = controller;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const error = new PolicyTimeout("timeout");
        controller.abort(error);
        reject(error);
      }, this.o.timeoutMs);
    });
    try {
      const call = Promise.resolve().then(() => this.o.policy.infer(obs, controller.signal));
      return await Promise.race([call, timeout]);
    } finally {
      clearTimeout(timer);
      this.current = null;
    }
  }

  private publish(obs: Observation, output: PolicyOutput, inferenceMs: number): SlowStepOutcome {
    const name = this.o.policy.name;
    const state = this.o.state;
    const { dim, maxChunkSteps, latentSize } = state.layout;
    if (typeof output !== "object" || output === null) return this.fail("malformed", `policy "${name}" returned malformed output: expected an object with a kind, got ${output === null ? "null" : typeof output}`);

    if (output.kind === "latent") {
      if (!(output.latent instanceof Float32Array)) return this.fail("malformed", `policy "${name}" returned malformed output: expected latent to be a Float32Array, got ${describe(output.latent)}`);
      if (output.latent.length === 0 || output.latent.length > latentSize) {
        return this.fail("malformed", `policy "${name}" returned malformed output: expected a latent of 1..${latentSize} values, got ${output.latent.length}`);
      }
      if (!allFinite(output.latent)) return this.fail("malformed", `policy "${name}" returned malformed output: latent holds a non-finite value`);
      const sequence = ++this.sequence;
      state.writeLatent(output.latent, sequence, obs.timeNs, this.o.nowNs());
      this.s.latentsPublished++;
      return this.succeed("latent", sequence, inferenceMs);
    }

    let normalized: Float64Array;
    let steps: number;
    const policyDim = this.o.policyDim;
    if (output.kind === "tokens") {
      if (!Array.isArray(output.tokens)) return this.fail("malformed", `policy "${name}" returned malformed output: expected tokens to be an array of ids, got ${describe(output.tokens)}`);
      if (!this.o.decoder) return this.fail("decode", `policy "${name}" returned tokens but no chunk decoder is configured`);
      let decoded: Float64Array | Error;
      try {
        decoded = this.o.decoder(output.tokens);
      } catch (err) {
        decoded = err instanceof Error ? err : new Error(String(err));
      }
      if (decoded instanceof Error) return this.fail("decode", `decoding ${output.tokens.length} tokens of policy "${name}" failed: ${oneLine(decoded)}`);
      if (!(decoded instanceof Float64Array) || decoded.length === 0 || decoded.length % policyDim !== 0) {
        return this.fail("decode", `decoding policy "${name}" tokens: expected a Float64Array of steps x ${policyDim} values, got ${describe(decoded)}`);
      }
      normalized = decoded;
      steps = decoded.length / policyDim;
    } else if (output.kind === "actions") {
      const { actions } = output;
      if (!(actions instanceof Float64Array)) return this.fail("malformed", `policy "${name}" returned malformed output: expected actions to be a Float64Array, got ${describe(actions)}`);
      if (output.dim !== policyDim || !Number.isInteger(output.steps) || output.steps < 1 || actions.length !== output.steps * output.dim) {
        return this.fail("malformed", `policy "${name}" returned malformed output: expected steps x ${policyDim} actions, got steps=${output.steps} dim=${output.dim} with ${actions.length} values`);
      }
      normalized = actions;
      steps = output.steps;
    } else {
      return this.fail("malformed", `policy "${name}" returned malformed output: expected kind "tokens", "actions" or "latent", got ${JSON.stringify((output as { kind?: unknown }).kind)}`);
    }
    if (steps > maxChunkSteps) return this.fail("malformed", `policy "${name}" returned ${steps} steps, more than the ${maxChunkSteps} the chunk slot holds`);
    if (!allFinite(normalized)) return this.fail("malformed", `policy "${name}" returned malformed output: a non-finite action value`);

    let commands: Float64Array | Error;
    try {
      commands = this.o.convert(normalized, steps, policyDim, obs);
    } catch (err) {
      commands = err instanceof Error ? err : new Error(String(err));
    }
    if (commands instanceof Error) return this.fail("convert", `converting policy "${name}" actions failed: ${oneLine(commands)}`);
    if (!(commands instanceof Float64Array) || commands.length !== steps * dim || !allFinite(commands)) {
      return this.fail("convert", `converting policy "${name}" actions: expected ${steps * dim} finite values (${steps}x${dim}), got ${describe(commands)}`);
    }

    const sequence = ++this.sequence;
    const chunk: ActionChunk = {
      actions: commands,
      steps,
      dim,
      stepPeriodNs: this.o.stepPeriodNs,
      observationTimeNs: obs.timeNs,
      arrivalTimeNs: this.o.nowNs(),
      sequence,
    };
    state.writeChunk(chunk);
    this.lastChunk = chunk;
    this.s.chunksPublished++;
    this.s.lastChunkSequence = sequence;
    return this.succeed("chunk", sequence, inferenceMs);
  }

  private succeed(published: "chunk" | "latent", sequence: number, inferenceMs: number): SlowStepOutcome {
    this.s.consecutiveFailures = 0;
    return { ok: true, published, sequence, inferenceMs };
  }

  private fail(kind: SlowFailureKind, error: string): SlowStepOutcome {
    this.s.failures[kind]++;
    this.s.consecutiveFailures++;
    this.s.lastError = error;
    this.o.onError?.(error);
    return { ok: false, kind, error };
  }
}

/** The chunk's command at timeNs: linear between its steps, held before the first and after the last. */
function chunkAt(chunk: ActionChunk, timeNs: number): Float64Array {
  const out = new Float64Array(chunk.dim);
  chunkLinearAt(chunk.actions, chunk.steps, chunk.dim, (timeNs - chunk.observationTimeNs) / chunk.stepPeriodNs, out);
  return out;
}

function allFinite(values: ArrayLike<number>): boolean {
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) return false;
  return true;
}

function oneLine(err: unknown): string {
  const text = err instanceof Error ? err.message || err.name : String(err);
  return text.split("\n")[0].slice(0, 300);
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (ArrayBuffer.isView(value)) return `${value.constructor.name}(${(value as unknown as ArrayLike<number>).length})`;
  if (Array.isArray(value)) return `an array of ${value.length}`;
  return typeof value;
}
