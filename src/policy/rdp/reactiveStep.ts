// The RDP decoder as the fast loop's reactive step: every tick it decodes the current action from the newest latent
// and the newest touch. An "absolute" decoder's action replaces the scheduler's target (the decoder is the action
// source; the chunk published with the latent keeps the scheduler "ok" and is the fallback before the first
// latent); a "residual" decoder's action is a correction added to the target, the plan the scheduler plays.
//
// Timing: step k of a latent is due at observationTimeNs + k * stepPeriod (the same time base as the chunk). The
// recurrent state advances once per decoder step, as the decoder was trained: each tick recomputes step k from the
// state after step k-1 with the newest touch, and when k moves on, the last computation of step k-1 becomes the
// state. Steps already in the past when a latent arrives (inference latency) are run through at once with the
// newest touch, so the state is aligned with the present; RDP's fixed skip of the first steps is this, measured.
// A new latent resets the state. Past the latent's last step the last action is held until the next latent.
//
// Smoothing ("smooth", the default): the decoder runs at 24 Hz and the arm at 500 Hz or more, so holding each
// decoded step makes a staircase the safety stage's velocity and acceleration limits clip. Each tick therefore
// also decodes step k + 1 (from the live state, the same newest touch) and moves linearly from step k to it over
// the step period; a new latent takes over through a handover (the gap between the last output and the new
// latent's first action fades out over `handoverS`); and a critically damped second-order filter (time constant
// `filterS`) takes out the tick-to-tick jitter live touch puts in the output, so its acceleration stays bounded.
// "hold" gives the decoder's steps as they are.
// Nothing here allocates per tick.
import type { LatentSample, SharedRuntimeState } from "../../runtime/sharedState.js";
import type { ReactiveStep, SensorSnapshot } from "../../runtime/types.js";
import { latentSizeOf, type RdpContract } from "./contract.js";
import { touchFeaturesInto, type RdpGruDecoder } from "./gru.js";

export interface RdpStepCounters {
  latentsTaken: number;
  /** Latents of the wrong length or with non-finite values (ignored: the previous latent stays). */
  latentsRejected: number;
  /** Ticks that decoded an action. */
  ticksDecoded: number;
  /** Ticks past the latent's last step (last action held). */
  ticksHeld: number;
  /** Ticks before any latent (scheduler target passed through). */
  ticksWithoutLatent: number;
  /** Touch readings replaced by 0 because they were not finite. */
  nonFiniteTouch: number;
  /** Decoded actions that were not finite (the scheduler's target was used instead). */
  nonFiniteActions: number;
  /** New latents taken over with a faded handover. */
  handovers: number;
}

export type RdpSmoothing = "smooth" | "hold";

export interface RdpStepOptions {
  /** Default "smooth". */
  smoothing?: RdpSmoothing;
  /** How long a new latent's jump is faded in (s); default 0.1. Used with "smooth". */
  handoverS?: number;
  /** Time constant of the output filter (s); default 0.025 (about 50 ms of lag); 0: no filter. Used with "smooth". */
  filterS?: number;
}

export class RdpReactiveStep implements ReactiveStep {
  readonly name = "rdp";
  readonly counters: RdpStepCounters = { latentsTaken: 0, latentsRejected: 0, ticksDecoded: 0, ticksHeld: 0, ticksWithoutLatent: 0, nonFiniteTouch: 0, nonFiniteActions: 0, handovers: 0 };
  private readonly state: SharedRuntimeState;
  private readonly contract: RdpContract;
  private readonly decoder: RdpGruDecoder;
  private readonly dim: number;
  private readonly stepPeriodNs: number;
  private readonly repeat: number;
  private readonly sample: LatentSample;
  private readonly latent: Float64Array;
  private readonly x: Float64Array;
  private readonly hCommitted: Float64Array;
  private readonly hLive: Float64Array;
  private readonly hNext: Float64Array;
  private readonly normalized: Float64Array;
  private readonly normalizedNext: Float64Array;
  private readonly smooth: boolean;
  private readonly filterOmega: number;
  private readonly filtered: Float64Array;
  private readonly filteredVelocity: Float64Array;
  private filterPrimed = false;
  private lastTickNs = Number.NaN;
  private readonly handoverNs: number;
  private readonly handoverOffset: Float64Array;
  /** A new latent came while a command was out: the next decoded tick starts the handover. */
  private handoverPending = false;
  private handoverStartNs = Number.NaN;
  private readonly scratchAction: Float64Array;
  /** The last decoded output: a command (absolute) or a correction (residual). */
  private readonly lastOutput: Float64Array;
  /** The same before the output filter. */
  private readonly lastDecoded: Float64Array;
  private readonly residual: boolean;
  private readonly low: Float64Array;
  private readonly span: Float64Array;
  private seenVersion = 0;
  private active = false;
  private originNs = 0;
  /** Decoder steps folded into hCommitted. */
  private committed = 0;
  /** Step hLive was last computed for (-1: none since the latent arrived). */
  private liveStep = -1;
  private haveCommand = false;

  constructor(state: SharedRuntimeState, contract: RdpContract, decoder: RdpGruDecoder, options: RdpStepOptions = {}) {
    const smoothing = options.smoothing ?? "smooth";
    if (smoothing !== "smooth" && smoothing !== "hold") throw new Error(`rdp step: expected smoothing "smooth" or "hold", got ${JSON.stringify(smoothing)}`);
    const handoverS = options.handoverS ?? 0.1;
    if (!(handoverS >= 0 && handoverS <= 10)) throw new Error(`rdp step: expected handoverS in [0, 10] s, got ${handoverS}`);
    const filterS = options.filterS ?? 0.025;
    if (!(filterS >= 0 && filterS <= 1)) throw new Error(`rdp step: expected filterS in [0, 1] s, got ${filterS}`);
    const latentSize = latentSizeOf(contract);
    if (state.layout.latentSize < latentSize) {
      throw new Error(`rdp step: expected a latent slot of at least ${latentSize} values (${contract.latentSteps} x ${contract.latentWidth}), got latentSize ${state.layout.latentSize}`);
    }
    if (contract.action.dim !== state.layout.dim) throw new Error(`rdp step: expected the arm's command dim ${state.layout.dim} in the model's action dim, got ${contract.action.dim}`);
    if (contract.touch.tactile !== state.layout.tactileCount) {
      throw new Error(`rdp step: expected the model's ${contract.touch.tactile} taxels to match the sensor slot's tactileCount, got ${state.layout.tactileCount}`);
    }
    if (decoder.actionDim !== contract.action.dim || decoder.hiddenSize !== contract.hiddenSize) {
      throw new Error(`rdp step: expected a decoder with hidden ${contract.hiddenSize} and ${contract.action.dim} actions, got ${decoder.hiddenSize} and ${decoder.actionDim}`);
    }
    this.state = state;
    this.contract = contract;
    this.decoder = decoder;
    this.dim = contract.action.dim;
    this.stepPeriodNs = contract.stepPeriodS * 1e9;
    this.repeat = contract.chunkSteps / contract.latentSteps;
    this.sample = state.createLatentSample();
    this.latent = new Float64Array(latentSize);
    this.x = new Float64Array(decoder.inputSize);
    this.hCommitted = new Float64Array(contract.hiddenSize);
    this.hLive = new Float64Array(contract.hiddenSize);
    this.hNext = new Float64Array(contract.hiddenSize);
    this.normalized = new Float64Array(this.dim);
    this.normalizedNext = new Float64Array(this.dim);
    this.smooth = smoothing === "smooth";
    this.filterOmega = this.smooth && filterS > 0 ? 1 / filterS : 0;
    this.filtered = new Float64Array(this.dim);
    this.filteredVelocity = new Float64Array(this.dim);
    this.handoverNs = handoverS * 1e9;
    this.handoverOffset = new Float64Array(this.dim);
    this.scratchAction = new Float64Array(this.dim);
    this.lastOutput = new Float64Array(this.dim);
    this.lastDecoded = new Float64Array(this.dim);
    this.residual = contract.output === "residual";
    const range = contract.residual ?? contract.action;
    this.low = Float64Array.from(range.low);
    this.span = Float64Array.from(range.high.map((h, i) => h - range.low[i]));
  }

  /** Decoder step the last tick used (-1 before any latent). */
  get currentStep(): number {
    return this.liveStep;
  }

  step(nowNs: number, target: Float64Array, sensors: SensorSnapshot): void {
    this.takeNewLatent();
    if (!this.active) {
      this.counters.ticksWithoutLatent++;
      return;
    }
    const dim = this.dim;
    let k = Math.floor((nowNs - this.originNs) / this.stepPeriodNs);
    if (!(k >= 0)) k = 0; // a latent stamped after now (clock skew) starts at its first step
    if (k >= this.contract.chunkSteps) {
      this.counters.ticksHeld++;
      if (this.haveCommand) {
        // The filter keeps settling on the last decoded action.
        if (this.filterOmega > 0) {
          this.scratchAction.set(this.lastDecoded);
          this.filter(nowNs, this.scratchAction);
          this.lastOutput.set(this.scratchAction);
        }
        this.apply(target);
      }
      return;
    }
    const width = this.contract.latentWidth;
    this.counters.nonFiniteTouch += touchFeaturesInto(sensors.wrench, sensors.tactile, this.contract, this.x, width);
    // Fold finished steps into the state: the last live computation of the step just finished, then any step
    // skipped entirely (first tick after a late latent, or a stalled loop) with the newest touch.
    if (this.liveStep >= 0 && this.liveStep === this.committed && k > this.liveStep) {
      this.hCommitted.set(this.hLive);
      this.committed++;
    }
    while (this.committed < k) {
      this.loadLatentStep(this.committed);
      this.decoder.step(this.x, this.hCommitted, this.hCommitted, this.scratchAction);
      this.committed++;
    }
    this.loadLatentStep(k);
    this.decoder.step(this.x, this.hCommitted, this.hLive, this.normalized);
    this.liveStep = k;
    // Step k + 1 from the live state with the same touch: where the output is heading at the next step boundary.
    const lookAhead = this.smooth && k + 1 < this.contract.chunkSteps;
    if (lookAhead) {
      this.loadLatentStep(k + 1);
      this.decoder.step(this.x, this.hLive, this.hNext, this.normalizedNext);
    }
    const f = lookAhead ? Math.min(1, Math.max(0, (nowNs - this.originNs) / this.stepPeriodNs - k)) : 0;

    const out = this.scratchAction;
    for (let i = 0; i < dim; i++) {
      const a = f > 0 ? this.normalized[i] + f * (this.normalizedNext[i] - this.normalized[i]) : this.normalized[i];
      const v = this.low[i] + 0.5 * (a + 1) * this.span[i];
      if (!(v === v) || v === Infinity || v === -Infinity) {
        this.counters.nonFiniteActions++;
        return; // the scheduler's target stands; the safety stage judges it as usual
      }
      out[i] = v;
    }
    if (this.handoverPending) {
      this.handoverPending = false;
      this.handoverStartNs = nowNs;
      for (let i = 0; i < dim; i++) this.handoverOffset[i] = this.lastOutput[i] - out[i];
      this.counters.handovers++;
    }
    const fade = this.handoverNs > 0 ? 1 - (nowNs - this.handoverStartNs) / this.handoverNs : 0;
    if (fade > 0) for (let i = 0; i < dim; i++) out[i] += fade * this.handoverOffset[i];
    this.lastDecoded.set(out);
    if (this.filterOmega > 0) this.filter(nowNs, out);
    this.lastOutput.set(out);
    this.apply(target);
    this.haveCommand = true;
    this.counters.ticksDecoded++;
  }

  /** Critically damped second-order low-pass of `out` in place (substeps keep it stable after a stalled tick). */
  private filter(nowNs: number, out: Float64Array): void {
    const dim = this.dim;
    if (!this.filterPrimed) {
      this.filtered.set(out);
      this.filteredVelocity.fill(0);
      this.filterPrimed = true;
    } else {
      const w = this.filterOmega;
      const dtS = Math.min(0.1, Math.max(0, (nowNs - this.lastTickNs) * 1e-9));
      const substeps = Math.max(1, Math.ceil(dtS * w * 4));
      const h = dtS / substeps;
      for (let s = 0; s < substeps; s++) {
        for (let i = 0; i < dim; i++) {
          const acceleration = w * w * (out[i] - this.filtered[i]) - 2 * w * this.filteredVelocity[i];
          this.filteredVelocity[i] += acceleration * h;
          this.filtered[i] += this.filteredVelocity[i] * h;
        }
      }
      out.set(this.filtered);
    }
    this.lastTickNs = nowNs;
  }

  private apply(target: Float64Array): void {
    if (this.residual) for (let i = 0; i < this.dim; i++) target[i] += this.lastOutput[i];
    else for (let i = 0; i < this.dim; i++) target[i] = this.lastOutput[i];
  }

  onNewChunk(): void {
    // The latent, not the chunk, restarts the recurrent state (they arrive together from the composed policy).
  }

  private takeNewLatent(): void {
    const version = this.state.latentVersion();
    if (version === 0 || version === this.seenVersion || (version & 1) === 1) return;
    const read = this.state.readLatent(this.sample);
    if (read === 0) return; // the writer kept us out: next tick
    this.seenVersion = read;
    const n = this.latent.length;
    let ok = this.sample.length === n && Number.isFinite(this.sample.observationTimeNs);
    for (let i = 0; ok && i < n; i++) ok = Number.isFinite(this.sample.latent[i]);
    if (!ok) {
      this.counters.latentsRejected++;
      return;
    }
    for (let i = 0; i < n; i++) this.latent[i] = this.sample.latent[i];
    this.originNs = this.sample.observationTimeNs;
    this.hCommitted.fill(0);
    this.committed = 0;
    this.liveStep = -1;
    this.active = true;
    this.handoverPending = this.smooth && this.haveCommand && this.handoverNs > 0;
    this.counters.latentsTaken++;
  }

  private loadLatentStep(k: number): void {
    const width = this.contract.latentWidth;
    const base = Math.floor(k / this.repeat) * width;
    for (let i = 0; i < width; i++) this.x[i] = this.latent[base + i];
  }
}
