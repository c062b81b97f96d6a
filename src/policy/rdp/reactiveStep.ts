// The RDP decoder as the fast loop's reactive step: every tick it decodes the current action from the newest latent
// and the newest touch, and that action replaces the scheduler's target (RDP's decoder is the action source; the
// chunk published with the latent keeps the scheduler "ok" and is the fallback before the first latent).
//
// Timing: step k of a latent is due at observationTimeNs + k * stepPeriod (the same time base as the chunk). The
// recurrent state advances once per decoder step, as the decoder was trained: each tick recomputes step k from the
// state after step k-1 with the newest touch, and when k moves on, the last computation of step k-1 becomes the
// state. Steps already in the past when a latent arrives (inference latency) are run through at once with the
// newest touch, so the state is aligned with the present; RDP's fixed skip of the first steps is this, measured.
// A new latent resets the state. Past the latent's last step the last action is held until the next latent.
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
}

export class RdpReactiveStep implements ReactiveStep {
  readonly name = "rdp";
  readonly counters: RdpStepCounters = { latentsTaken: 0, latentsRejected: 0, ticksDecoded: 0, ticksHeld: 0, ticksWithoutLatent: 0, nonFiniteTouch: 0, nonFiniteActions: 0 };
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
  private readonly normalized: Float64Array;
  private readonly scratchAction: Float64Array;
  private readonly command: Float64Array;
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

  constructor(state: SharedRuntimeState, contract: RdpContract, decoder: RdpGruDecoder) {
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
    this.normalized = new Float64Array(this.dim);
    this.scratchAction = new Float64Array(this.dim);
    this.command = new Float64Array(this.dim);
    this.low = Float64Array.from(contract.action.low);
    this.span = Float64Array.from(contract.action.high.map((h, i) => h - contract.action.low[i]));
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
      if (this.haveCommand) for (let i = 0; i < dim; i++) target[i] = this.command[i];
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

    const out = this.scratchAction;
    for (let i = 0; i < dim; i++) {
      const v = this.low[i] + 0.5 * (this.normalized[i] + 1) * this.span[i];
      if (!(v === v) || v === Infinity || v === -Infinity) {
        this.counters.nonFiniteActions++;
        return; // the scheduler's target stands; the safety stage judges it as usual
      }
      out[i] = v;
    }
    for (let i = 0; i < dim; i++) target[i] = this.command[i] = out[i];
    this.haveCommand = true;
    this.counters.ticksDecoded++;
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
    this.counters.latentsTaken++;
  }

  private loadLatentStep(k: number): void {
    const width = this.contract.latentWidth;
    const base = Math.floor(k / this.repeat) * width;
    for (let i = 0; i < width; i++) this.x[i] = this.latent[base + i];
  }
}
