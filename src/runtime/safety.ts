// The safety stage: the last thing every command passes before any backend. Always on; nothing here can be
// configured away, only tightened.
//
// Per tick, in order: a latched emergency stop (freeze where the stop happened); a hold (smooth brake to rest) when
// the sensors are stale, the proposed command is not finite, the scheduler has nothing (empty) or ran out
// (exhausted: the policy is late); joint/gripper position limits; acceleration and velocity limits from the arm
// description; a stopping-distance bound so no limit needs more than the allowed deceleration; a maximum step
// per tick (catches stalls where the elapsed time would permit a big jump); and a workspace box for the tool
// (forward kinematics of the command: a command that would leave it is replaced by the last safe one).
// Every intervention is counted per SafetyReason.
import type { ArmDescription, Vec3 } from "../kinematics/description.js";
import { ArmKinematics } from "../kinematics/kinematics.js";
import { SafetyReason, type SafetyGate, type SafetyReasonName, type SampleState, type SensorSnapshot } from "./types.js";

export interface SafetyOptions {
  arm: ArmDescription;
  /** Nominal control period (ns): the time step assumed for the first tick and when the clock does not advance. */
  controlPeriodNs: number;
  /** Hold when the newest sensor sample is older than this (ns). */
  sensorMaxAgeNs: number;
  /** Box the tool centre point must stay in (world frame, m). Without it the tool position is not limited. */
  workspace?: { minM: Vec3; maxM: Vec3 };
  /** Largest change of an arm joint per tick (rad). Default 1.5 * that joint's velocity limit * control period. */
  maxStepPerTick?: number;
  /**
   * Contact force limit (N) on the wrist wrench: above it the tool may not move further into the contact (the
   * command that would keep the last safe one instead); moving away is always allowed. Default: no limit.
   */
  maxContactForceN?: number;
}
/** Same options under the name the fast loop imports. */
export type SafetyStageOptions = SafetyOptions;

const REASON_NAMES = Object.keys(SafetyReason) as SafetyReasonName[];

/**
 * Jerk budget of a brake, as a multiple of the acceleration limit (1/s). A fault (stale sensors, a non-finite
 * command) reaches full deceleration in 1/20 s; a late policy is no emergency and brakes over 1/5 s. Either way
 * the deceleration ramps in, so stopping never produces a jerk spike.
 */
const FAULT_BRAKE_JERK_PER_ACCELERATION = 20;
const LATE_BRAKE_JERK_PER_ACCELERATION = 5;

/** A command moving the tool into a contact by less than this (m per tick) is rounding noise, not pressing. */
const CONTACT_MOTION_TOLERANCE_M = 1e-7;

/** Relative slack before a clamp counts as an intervention (a trajectory exactly at a limit is not one). */
const LIMIT_SLACK = 1e-9;

/**
 * Fastest speed from which the remaining `distance` can still be stopped in with deceleration `aMax`, when the
 * speed is held for one tick dt first: v dt + v^2 / (2 aMax) = distance. Speeds that obey it at every tick never
 * need more than aMax * dt of slowing per tick.
 */
function stoppingSpeed(aMax: number, dtS: number, distance: number): number {
  const adt = aMax * dtS;
  return -adt + Math.sqrt(adt * adt + 2 * aMax * distance);
}

function exceeds(value: number, limit: number): boolean {
  return value - limit > LIMIT_SLACK * Math.abs(limit) + 1e-12;
}

export class SafetyStage implements SafetyGate {
  readonly dim: number;
  readonly controlPeriodNs: number;
  readonly sensorMaxAgeNs: number;
  readonly lowerLimit: Float64Array;
  readonly upperLimit: Float64Array;
  readonly maxVelocity: Float64Array;
  readonly maxAcceleration: Float64Array;
  readonly maxStep: Float64Array;

  private readonly last: Float64Array;
  /** Velocity of the last step (last - previous) / dt: what the per-tick limits compare against. */
  private readonly lastVel: Float64Array;
  private readonly velocityNow: Float64Array;
  private readonly lastAcc: Float64Array;
  private lastTimeNs = NaN;
  private seeded = false;

  private latched = false;
  private latchPending = false;
  private readonly latchPosition: Float64Array;

  private braking = false;
  private brakeStartNs = 0;
  private brakeDurationS = 0;
  private brakeRampS = 0;
  private readonly brakeP0: Float64Array;
  private readonly brakeV0: Float64Array;
  private readonly brakeA0: Float64Array;
  private readonly brakeP1: Float64Array;
  private readonly brakeV1: Float64Array;

  private readonly candidate: Float64Array;
  /** The previous tick's target (after the position clamp), for the target speed. */
  private readonly lastTarget: Float64Array;
  private hasLastTarget = false;
  private readonly reasonCounts = new Float64Array(REASON_NAMES.length);

  private readonly kinematics: ArmKinematics | null;
  private readonly boxMin = new Float64Array(3);
  private readonly boxMax = new Float64Array(3);
  private readonly toolPos = new Float64Array(3);
  private readonly toolRot = new Float64Array(9);
  /** How far (m, summed over axes) the last command's tool is outside the box: 0 inside. */
  private lastBoxViolationM = 0;
  private readonly maxContactForceN: number;
  private readonly lastToolPos = new Float64Array(3);
  private readonly contactForceWorld = new Float64Array(3);

  constructor(options: SafetyOptions) {
    const arm = options?.arm;
    if (!arm || !Array.isArray(arm.joints) || arm.joints.length === 0 || !arm.gripper) {
      throw new Error("safety: expected options.arm to be an arm description with joints and a gripper");
    }
    if (!(options.controlPeriodNs > 0) || !Number.isFinite(options.controlPeriodNs)) {
      throw new Error(`safety: expected controlPeriodNs > 0, got ${options.controlPeriodNs}`);
    }
    if (!(options.sensorMaxAgeNs > 0)) throw new Error(`safety: expected sensorMaxAgeNs > 0, got ${options.sensorMaxAgeNs}`);
    const n = arm.joints.length;
    const dim = n + 1;
    this.dim = dim;
    this.controlPeriodNs = options.controlPeriodNs;
    this.sensorMaxAgeNs = options.sensorMaxAgeNs;
    this.lowerLimit = new Float64Array(dim);
    this.upperLimit = new Float64Array(dim);
    this.maxVelocity = new Float64Array(dim);
    this.maxAcceleration = new Float64Array(dim);
    this.maxStep = new Float64Array(dim);
    const periodS = options.controlPeriodNs * 1e-9;
    if (options.maxStepPerTick !== undefined && !(options.maxStepPerTick > 0)) {
      throw new Error(`safety: expected maxStepPerTick > 0 (rad), got ${options.maxStepPerTick}`);
    }
    const limits = (i: number, name: string, lower: number, upper: number, v: number, a: number) => {
      if (!(lower < upper) || !(v > 0) || !(a > 0) || ![lower, upper, v, a].every(Number.isFinite)) {
        throw new Error(`safety: ${name}: expected lower < upper and positive velocity/acceleration limits, got ${lower}, ${upper}, ${v}, ${a}`);
      }
      this.lowerLimit[i] = lower;
      this.upperLimit[i] = upper;
      this.maxVelocity[i] = v;
      this.maxAcceleration[i] = a;
    };
    arm.joints.forEach((j, i) => {
      limits(i, `joint ${j.name}`, j.lowerRad, j.upperRad, j.maxVelocityRadPerS, j.maxAccelerationRadPerS2);
      this.maxStep[i] = options.maxStepPerTick ?? 1.5 * j.maxVelocityRadPerS * periodS;
    });
    const g = arm.gripper;
    limits(n, `gripper ${g.name}`, g.lowerM, g.upperM, g.maxVelocityMPerS, g.maxAccelerationMPerS2);
    this.maxStep[n] = 1.5 * g.maxVelocityMPerS * periodS;

    if (options.workspace) {
      const { minM, maxM } = options.workspace;
      for (let k = 0; k < 3; k++) {
        if (!Number.isFinite(minM?.[k]) || !Number.isFinite(maxM?.[k]) || !(minM[k] < maxM[k])) {
          throw new Error(`safety: expected workspace minM < maxM per axis, got ${JSON.stringify(minM)} and ${JSON.stringify(maxM)}`);
        }
        this.boxMin[k] = minM[k];
        this.boxMax[k] = maxM[k];
      }
    } else {
      this.boxMin.fill(-Infinity);
      this.boxMax.fill(Infinity);
    }
    const maxForce = options.maxContactForceN;
    if (maxForce !== undefined && !(maxForce > 0)) throw new Error(`safety: expected maxContactForceN > 0 (N), got ${maxForce}`);
    this.maxContactForceN = maxForce ?? Infinity;
    this.kinematics = options.workspace || maxForce !== undefined ? new ArmKinematics(arm) : null;

    this.last = new Float64Array(dim);
    this.lastVel = new Float64Array(dim);
    this.velocityNow = new Float64Array(dim);
    this.lastAcc = new Float64Array(dim);
    this.latchPosition = new Float64Array(dim);
    this.brakeP0 = new Float64Array(dim);
    this.brakeV0 = new Float64Array(dim);
    this.brakeA0 = new Float64Array(dim);
    this.brakeP1 = new Float64Array(dim);
    this.brakeV1 = new Float64Array(dim);
    this.candidate = new Float64Array(dim);
    this.lastTarget = new Float64Array(dim);
  }

  /** The last command sent (live view: do not modify). */
  get lastCommand(): Float64Array {
    return this.last;
  }

  /** Velocity at the last command's instant (per second; live view), e.g. for ChunkScheduler.submit. */
  get lastVelocity(): Float64Array {
    return this.velocityNow;
  }

  get emergencyStopped(): boolean {
    return this.latched;
  }

  /** Seed the hold position (e.g. measured state at start / takeover): at rest there. Does not clear an emergency stop. */
  holdAt(positions: ArrayLike<number>): void {
    if (!positions || positions.length < this.dim) {
      throw new Error(`safety: holdAt expected ${this.dim} positions, got ${positions ? positions.length : String(positions)}`);
    }
    for (let d = 0; d < this.dim; d++) {
      if (!Number.isFinite(positions[d])) throw new Error(`safety: holdAt expected finite positions, got ${positions[d]} at index ${d}`);
    }
    for (let d = 0; d < this.dim; d++) this.last[d] = positions[d];
    this.lastVel.fill(0);
    this.velocityNow.fill(0);
    this.lastAcc.fill(0);
    this.braking = false;
    this.hasLastTarget = false;
    this.seeded = true;
    this.lastBoxViolationM = this.boxViolation(this.last);
    if (this.latchPending) this.takeLatchPosition();
  }

  emergencyStop(): void {
    if (this.latched) return;
    this.latched = true;
    if (this.seeded) this.takeLatchPosition();
    else this.latchPending = true;
  }

  resetEmergencyStop(): void {
    if (!this.latched) return;
    this.latched = false;
    this.latchPending = false;
    // Continue from where the arm was frozen, at rest.
    this.lastVel.fill(0);
    this.velocityNow.fill(0);
    this.lastAcc.fill(0);
    this.braking = false;
    this.hasLastTarget = false;
  }

  counts(): Record<SafetyReasonName, number> {
    const out = {} as Record<SafetyReasonName, number>;
    REASON_NAMES.forEach((name, i) => (out[name] = this.reasonCounts[i]));
    return out;
  }

  apply(nowNs: number, proposed: Float64Array, state: SampleState, sensors: SensorSnapshot, out: Float64Array): number {
    const dim = this.dim;
    if (proposed.length < dim || out.length < dim) {
      throw new Error(`safety: expected proposed and out of length ${dim}, got ${proposed.length} and ${out.length}`);
    }
    if (!this.seeded) this.seed(proposed, sensors);
    const elapsedS = (nowNs - this.lastTimeNs) * 1e-9;
    const dtS = elapsedS > 0 && Number.isFinite(elapsedS) ? elapsedS : this.controlPeriodNs * 1e-9;

    if (this.latched) {
      if (this.latchPending) this.takeLatchPosition();
      for (let d = 0; d < dim; d++) out[d] = this.latchPosition[d];
      this.commit(nowNs, out, dtS, true);
      return this.count(SafetyReason.EmergencyStop);
    }

    let reasons = 0;
    if (!(nowNs - sensors.timeNs <= this.sensorMaxAgeNs)) reasons |= SafetyReason.StaleSensors;
    for (let d = 0; d < dim; d++) {
      if (!Number.isFinite(proposed[d])) {
        reasons |= SafetyReason.NonFinite;
        break;
      }
    }
    if (state === "exhausted") reasons |= SafetyReason.PolicyLate;
    const candidate = this.candidate;
    if (reasons !== 0 || state === "empty") {
      // Hold: brake smoothly to rest from the current motion (ignores the proposed command).
      if (!this.braking) {
        const fault = (reasons & (SafetyReason.StaleSensors | SafetyReason.NonFinite)) !== 0;
        this.startBrake(fault ? FAULT_BRAKE_JERK_PER_ACCELERATION : LATE_BRAKE_JERK_PER_ACCELERATION);
      }
      this.brakeAt(nowNs, candidate);
    } else {
      this.braking = false;
      for (let d = 0; d < dim; d++) candidate[d] = proposed[d];
    }

    reasons |= this.limit(candidate, dtS, out);
    this.hasLastTarget = true;

    let stopped = false;
    if (this.kinematics) {
      const violation = this.boxViolation(out);
      // Outside the box: keep the last safe command, unless this command brings an outside tool back towards it.
      if (violation > 0 && violation >= this.lastBoxViolationM) {
        for (let d = 0; d < dim; d++) out[d] = this.last[d];
        reasons |= SafetyReason.Workspace;
        stopped = true;
      } else {
        this.lastBoxViolationM = violation;
      }
      // Pressing harder than the limit: keep the last safe command unless this one moves the tool away.
      if (!stopped && this.pushesIntoContact(out, sensors)) {
        for (let d = 0; d < dim; d++) out[d] = this.last[d];
        reasons |= SafetyReason.ForceLimit;
        stopped = true;
      }
    }
    this.commit(nowNs, out, dtS, stopped);
    return this.count(reasons);
  }

  /**
   * True when the wrist force exceeds the contact limit and `command` moves the tool against it (further into the
   * contact). The wrench is the force the environment applies to the tool, in the tool frame.
   */
  private pushesIntoContact(command: ArrayLike<number>, sensors: SensorSnapshot): boolean {
    const f = sensors.wrench;
    const fx = f[0];
    const fy = f[1];
    const fz = f[2];
    const magnitude = Math.sqrt(fx * fx + fy * fy + fz * fz);
    if (!(magnitude > this.maxContactForceN) || !this.kinematics) return false;
    const rot = this.toolRot;
    const world = this.contactForceWorld;
    this.kinematics.forward(sensors.positions, this.toolPos, rot);
    for (let r = 0; r < 3; r++) world[r] = rot[3 * r] * fx + rot[3 * r + 1] * fy + rot[3 * r + 2] * fz;
    this.kinematics.forward(this.last, this.lastToolPos, rot);
    this.kinematics.forward(command, this.toolPos, rot);
    let along = 0;
    for (let k = 0; k < 3; k++) along += (this.toolPos[k] - this.lastToolPos[k]) * world[k];
    // Tool motion along the contact force (m), with a tolerance far below any real motion per tick.
    return along / magnitude < -CONTACT_MOTION_TOLERANCE_M;
  }

  /** Position, acceleration, velocity, stopping-distance and per-tick step limits, from `target` into `out`. */
  private limit(target: Float64Array, dtS: number, out: Float64Array): number {
    let reasons = 0;
    for (let d = 0; d < this.dim; d++) {
      const lower = this.lowerLimit[d];
      const upper = this.upperLimit[d];
      const vMax = this.maxVelocity[d];
      const aMax = this.maxAcceleration[d];
      const prev = this.last[d];
      let x = target[d];
      if (x > upper) {
        if (exceeds(x, upper)) reasons |= SafetyReason.PositionLimit;
        x = upper;
      } else if (x < lower) {
        if (exceeds(lower, x)) reasons |= SafetyReason.PositionLimit;
        x = lower;
      }
      const vNeed = (x - prev) / dtS;
      const vPrev = this.lastVel[d];
      const dv = aMax * dtS;
      // Target speed from consecutive targets (capped): what the approach below must keep up with.
      const vTarget = this.hasLastTarget ? Math.max(-vMax, Math.min(vMax, (x - this.lastTarget[d]) / dtS)) : 0;
      this.lastTarget[d] = x;
      let v = vNeed;
      const tooFast = exceeds(Math.abs(vNeed), vMax);
      const tooHard = exceeds(vNeed, vPrev + dv) || exceeds(vPrev - dv, vNeed);
      if (tooFast || tooHard) {
        if (tooFast) reasons |= SafetyReason.VelocityLimit;
        if (tooHard) reasons |= SafetyReason.AccelerationLimit;
        // Out of reach this tick: move at the target's speed plus the relative speed that can still stop on it
        // (gap measured as if moving at the target's speed), so the command converges on a moving target instead
        // of overshooting, ringing, or settling a tick ahead of it.
        const gap = x - prev - vTarget * dtS;
        const approach = stoppingSpeed(aMax, dtS, Math.abs(gap));
        v = vTarget + (gap >= 0 ? approach : -approach);
        v = Math.max(vPrev - dv, Math.min(vPrev + dv, v));
        v = Math.max(-vMax, Math.min(vMax, v));
      }
      // Never faster than what can still stop at the limit with the allowed deceleration.
      const vUp = stoppingSpeed(aMax, dtS, Math.max(0, upper - prev));
      const vDown = -stoppingSpeed(aMax, dtS, Math.max(0, prev - lower));
      if (v > vUp) {
        if (exceeds(v, vUp)) reasons |= SafetyReason.PositionLimit;
        v = vUp;
      } else if (v < vDown) {
        if (exceeds(vDown, v)) reasons |= SafetyReason.PositionLimit;
        v = vDown;
      }
      let step = v * dtS;
      const maxStep = this.maxStep[d];
      if (step > maxStep) {
        if (exceeds(step, maxStep)) reasons |= SafetyReason.MaxStep;
        step = maxStep;
      } else if (step < -maxStep) {
        if (exceeds(-maxStep, step)) reasons |= SafetyReason.MaxStep;
        step = -maxStep;
      }
      // Untouched targets go out bit for bit (prev + (x - prev) is not always x in floating point).
      if (step !== vNeed * dtS) x = prev + step;
      out[d] = x > upper ? upper : x < lower ? lower : x;
    }
    return reasons;
  }

  /**
   * Plan a stop from the last command's position p0, velocity v0 and acceleration a0, in two phases shared by all
   * dimensions (they stop together, so the tool keeps its path):
   * 1. the acceleration ramps linearly from a0 to 0 over tA = max |a0| / fault jerk budget;
   * 2. from the velocity v1 reached then, the velocity falls along the cubic 2s^3 - 3s^2 + 1 to 0 over T, chosen
   *    so the deceleration (1.5 |v1| / T) and the jerk (6 |v1| / T^2) stay within their budgets.
   * Position, velocity and acceleration stay continuous throughout: no jerk spike.
   */
  private startBrake(jerkPerAcceleration: number): void {
    const periodS = this.controlPeriodNs * 1e-9;
    // The acceleration in progress is taken out at the fault budget whatever the reason: carried on any longer it
    // would push the joint faster in the direction it was accelerating (by a0^2 / 2 jerk).
    let tA = 0;
    for (let d = 0; d < this.dim; d++) {
      tA = Math.max(tA, Math.abs(this.lastAcc[d]) / (FAULT_BRAKE_JERK_PER_ACCELERATION * this.maxAcceleration[d]));
    }
    let T = 2 * periodS;
    for (let d = 0; d < this.dim; d++) {
      const v0 = this.velocityNow[d];
      const a0 = this.lastAcc[d];
      const v1 = v0 + 0.5 * a0 * tA;
      const p1 = this.last[d] + v0 * tA + (a0 * tA * tA) / 3; // integral of a(t) = a0 (1 - t / tA), twice
      this.brakeP0[d] = this.last[d];
      this.brakeV0[d] = v0;
      this.brakeA0[d] = a0;
      this.brakeP1[d] = p1;
      this.brakeV1[d] = v1;
      const aMax = this.maxAcceleration[d];
      T = Math.max(T, (1.5 * Math.abs(v1)) / aMax, Math.sqrt((6 * Math.abs(v1)) / (jerkPerAcceleration * aMax)));
    }
    this.brakeRampS = tA;
    this.brakeDurationS = T;
    this.brakeStartNs = Number.isFinite(this.lastTimeNs) ? this.lastTimeNs : 0;
    this.braking = true;
  }

  private brakeAt(nowNs: number, out: Float64Array): void {
    let t = (nowNs - this.brakeStartNs) * 1e-9;
    if (!(t > 0)) t = 0;
    const tA = this.brakeRampS;
    if (t < tA) {
      // Phase 1: a(t) = a0 (1 - t / tA).
      for (let d = 0; d < this.dim; d++) {
        const a0 = this.brakeA0[d];
        out[d] = this.brakeP0[d] + this.brakeV0[d] * t + 0.5 * a0 * t * t - (a0 * t * t * t) / (6 * tA);
      }
      return;
    }
    const T = this.brakeDurationS;
    let s = (t - tA) / T;
    if (s > 1) s = 1;
    // Phase 2: v = v1 (2s^3 - 3s^2 + 1), integrated: T v1 (s - s^3 + s^4 / 2).
    const i00 = s - s * s * s + 0.5 * s * s * s * s;
    for (let d = 0; d < this.dim; d++) out[d] = this.brakeP1[d] + T * this.brakeV1[d] * i00;
  }

  private commit(nowNs: number, out: Float64Array, dtS: number, atRest: boolean): void {
    for (let d = 0; d < this.dim; d++) {
      const v = atRest ? 0 : (out[d] - this.last[d]) / dtS;
      const a = atRest ? 0 : (v - this.lastVel[d]) / dtS;
      this.lastAcc[d] = a;
      this.lastVel[d] = v;
      // The step velocity belongs half a tick back; at the command's own instant it is half a tick of a further.
      this.velocityNow[d] = v + 0.5 * a * dtS;
      this.last[d] = out[d];
    }
    this.lastTimeNs = nowNs;
  }

  private count(reasons: number): number {
    for (let i = 0; i < REASON_NAMES.length; i++) {
      if (reasons & (1 << i)) this.reasonCounts[i]++;
    }
    return reasons;
  }

  /** First apply without holdAt(): start at rest at the measured position (or, failing that, the proposed one). */
  private seed(proposed: Float64Array, sensors: SensorSnapshot): void {
    const pick = (source: ArrayLike<number> | undefined) => {
      if (!source || source.length < this.dim) return false;
      for (let d = 0; d < this.dim; d++) if (!Number.isFinite(source[d])) return false;
      return true;
    };
    if (pick(sensors?.positions)) this.holdAt(sensors.positions);
    else if (pick(proposed)) {
      for (let d = 0; d < this.dim; d++) this.candidate[d] = Math.min(this.upperLimit[d], Math.max(this.lowerLimit[d], proposed[d]));
      this.holdAt(this.candidate);
    } else {
      throw new Error("safety: no finite position to hold (sensors and command are not finite): call holdAt() with the measured state first");
    }
  }

  private takeLatchPosition(): void {
    this.latchPosition.set(this.last);
    this.latchPending = false;
  }

  private boxViolation(command: ArrayLike<number>): number {
    if (!this.kinematics) return 0;
    this.kinematics.forward(command, this.toolPos, this.toolRot);
    let violation = 0;
    for (let k = 0; k < 3; k++) {
      const p = this.toolPos[k];
      if (p < this.boxMin[k]) violation += this.boxMin[k] - p;
      else if (p > this.boxMax[k]) violation += p - this.boxMax[k];
    }
    return violation;
  }
}
