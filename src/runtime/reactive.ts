// Reactive steps: corrections the fast loop applies to the scheduler's target every tick, before safety.
import type { ArmDescription } from "../kinematics/description.js";
import { ArmKinematics } from "../kinematics/kinematics.js";
import type { ReactiveStep, SensorSnapshot } from "./types.js";

/** Leaves the target alone. */
export class PassthroughReactiveStep implements ReactiveStep {
  readonly name = "passthrough";
  step(_nowNs: number, _target: Float64Array, _sensors: SensorSnapshot): void {}
  onNewChunk(): void {}
}

/** What the compliance step needs of the arm's kinematics. Implementations must not allocate per call. */
export interface ToolKinematics {
  /** Arm joints (the command vector is these joints followed by the gripper width). */
  readonly jointCount: number;
  /** Tool rotation in the base frame, 3x3 row-major, for joint angles q (first jointCount entries). */
  toolRotation(q: Float64Array, outRotation: Float64Array): void;
  /** Linear-velocity (position) Jacobian of the tool point in the base frame, 3 x jointCount row-major. */
  positionJacobian(q: Float64Array, outJacobian: Float64Array): void;
}

/** ToolKinematics of an arm description (the serial-chain kinematics; allocation-free). */
export function armToolKinematics(arm: ArmDescription): ToolKinematics {
  const kin = new ArmKinematics(arm);
  const n = kin.jointCount;
  const position = new Float64Array(3);
  const jacobian6 = new Float64Array(6 * n);
  return {
    jointCount: n,
    toolRotation: (q, outRotation) => kin.forward(q, position, outRotation),
    positionJacobian: (q, outJacobian) => {
      kin.jacobian(q, jacobian6);
      for (let i = 0; i < 3 * n; i++) outJacobian[i] = jacobian6[i]; // the linear rows come first
    },
  };
}

export interface ComplianceOptions {
  kinematics: ToolKinematics;
  /** "regulate": hold the contact force near targetForceN (back off above it, lean in below it);
   *  "limit": only back off when the force exceeds targetForceN. Default "limit". */
  mode?: "regulate" | "limit";
  /** Contact force to hold or not to exceed (N). Default 10. */
  targetForceN?: number;
  /** Tool offset per newton of force error (m/N). Default 0.0004. */
  gainMPerN?: number;
  /** Largest Cartesian offset of the tool (m). Default 0.02. */
  maxOffsetM?: number;
  /** Below this force magnitude the tool is not in contact: the offset relaxes to zero. Default 1 N. */
  contactThresholdN?: number;
  /** Time constant of the first-order filter the offset follows its set point with (s). Default 0.03. */
  filterTimeConstantS?: number;
  /** Damping of the least-squares map from the Cartesian offset to joints (m). Default 0.02. */
  dampingM?: number;
  /** Largest correction of any one joint (rad). Default 0.1. */
  maxJointOffsetRad?: number;
  /** Total fingertip normal force above which the gripper opens a little (N). Default 30. */
  gripForceLimitN?: number;
  /** Gripper opening per newton above the limit (m/N). Default 0.0005. */
  gripGainMPerN?: number;
  /** Largest gripper correction (m). Default 0.01. */
  maxGripOffsetM?: number;
}

/**
 * Force-feedback correction (admittance-like). The wrist wrench is taken as the force the environment applies
 * to the tool, in the tool frame; rotated into the base frame it gives the contact force F. The tool target moves
 * along F (the way the environment pushes) by gain * (|F| - target), filtered and bounded, mapped to joints with
 * one damped least-squares step dq = J^T (J J^T + lambda^2 I)^-1 dx at the measured pose. The fingertip taxels
 * give the total grip force; above a limit the gripper target opens a little. Every correction is bounded.
 * Allocates no objects per step (plain arithmetic on preallocated arrays; no Math.hypot/min/max calls, which
 * V8 does not always inline and then boxes their double arguments).
 */
export class ComplianceReactiveStep implements ReactiveStep {
  readonly name = "compliance";
  private readonly kin: ToolKinematics;
  private readonly n: number;
  private readonly mode: "regulate" | "limit";
  private readonly targetForceN: number;
  private readonly gainMPerN: number;
  private readonly maxOffsetM: number;
  private readonly contactThresholdN: number;
  private readonly tauS: number;
  private readonly damping2: number;
  private readonly maxJointOffsetRad: number;
  private readonly gripForceLimitN: number;
  private readonly gripGainMPerN: number;
  private readonly maxGripOffsetM: number;

  private readonly rotation = new Float64Array(9);
  private readonly jacobian: Float64Array;
  private readonly forceBase = new Float64Array(3);
  private readonly offsetM = new Float64Array(3);
  private readonly desiredM = new Float64Array(3);
  private readonly solved = new Float64Array(3);
  private readonly jointOffsetRad: Float64Array;
  private gripOffsetM = 0;
  private lastNs = NaN;
  private contactForce = 0;
  private tactileTotal = 0;

  constructor(options: ComplianceOptions) {
    this.kin = options.kinematics;
    this.n = this.kin.jointCount;
    this.mode = options.mode ?? "limit";
    this.targetForceN = positive("targetForceN", options.targetForceN ?? 10, true);
    this.gainMPerN = positive("gainMPerN", options.gainMPerN ?? 0.0004, true);
    this.maxOffsetM = positive("maxOffsetM", options.maxOffsetM ?? 0.02, true);
    this.contactThresholdN = positive("contactThresholdN", options.contactThresholdN ?? 1, true);
    this.tauS = positive("filterTimeConstantS", options.filterTimeConstantS ?? 0.03, true);
    const damping = positive("dampingM", options.dampingM ?? 0.02, false);
    this.damping2 = damping * damping;
    this.maxJointOffsetRad = positive("maxJointOffsetRad", options.maxJointOffsetRad ?? 0.1, true);
    this.gripForceLimitN = positive("gripForceLimitN", options.gripForceLimitN ?? 30, true);
    this.gripGainMPerN = positive("gripGainMPerN", options.gripGainMPerN ?? 0.0005, true);
    this.maxGripOffsetM = positive("maxGripOffsetM", options.maxGripOffsetM ?? 0.01, true);
    if (this.mode !== "regulate" && this.mode !== "limit") {
      throw new Error(`compliance: expected mode "regulate" or "limit", got ${JSON.stringify(options.mode)}`);
    }
    if (!Number.isInteger(this.n) || this.n < 1) throw new Error(`compliance: expected kinematics with at least one joint, got ${this.n}`);
    this.jacobian = new Float64Array(3 * this.n);
    this.jointOffsetRad = new Float64Array(this.n);
  }

  /** Magnitude of the contact force seen at the last step (N). */
  get contactForceN(): number {
    return this.contactForce;
  }

  /** Sum of the fingertip normal forces at the last step (N). */
  get tactileTotalForceN(): number {
    return this.tactileTotal;
  }

  /** Current Cartesian tool offset (m, base frame); a live view, do not modify. */
  get toolOffsetM(): Float64Array {
    return this.offsetM;
  }

  get gripperOffsetM(): number {
    return this.gripOffsetM;
  }

  step(nowNs: number, target: Float64Array, sensors: SensorSnapshot): void {
    const n = this.n;
    if (target.length < n) return;
    let dtS = (nowNs - this.lastNs) / 1e9; // NaN on the first step
    if (!(dtS > 0)) dtS = 0;
    else if (dtS > 0.1) dtS = 0.1;
    this.lastNs = nowNs;
    const alpha = dtS / (this.tauS + dtS); // first-order filter weight for this step (0 on the first step)

    // Contact force magnitude (a rotation does not change it, so free motion needs no kinematics).
    const w = sensors.wrench;
    let magnitude = Math.sqrt(w[0] * w[0] + w[1] * w[1] + w[2] * w[2]);
    if (!(magnitude < Infinity)) magnitude = 0; // NaN or infinite: a broken sensor reading must not steer the arm
    this.contactForce = magnitude;

    // Set point of the offset: along the contact force (in the base frame), proportional to the force error, bounded.
    const d = this.desiredM;
    if (magnitude < this.contactThresholdN) {
      d[0] = d[1] = d[2] = 0;
    } else {
      const R = this.rotation;
      this.kin.toolRotation(sensors.positions, R);
      const f = this.forceBase;
      for (let r = 0; r < 3; r++) f[r] = R[3 * r] * w[0] + R[3 * r + 1] * w[1] + R[3 * r + 2] * w[2];
      let error = magnitude - this.targetForceN;
      if (this.mode === "limit" && error < 0) error = 0;
      let length = this.gainMPerN * error;
      if (length > this.maxOffsetM) length = this.maxOffsetM;
      else if (length < -this.maxOffsetM) length = -this.maxOffsetM;
      length /= magnitude;
      for (let i = 0; i < 3; i++) d[i] = f[i] * length;
    }
    const o = this.offsetM;
    for (let i = 0; i < 3; i++) o[i] += alpha * (d[i] - o[i]);
    const offsetNorm = Math.sqrt(o[0] * o[0] + o[1] * o[1] + o[2] * o[2]);
    if (offsetNorm > this.maxOffsetM) for (let i = 0; i < 3; i++) o[i] *= this.maxOffsetM / offsetNorm;

    if (offsetNorm > 1e-9) this.mapToJoints(sensors.positions, target);

    // Grip force limit from the taxels.
    let total = 0;
    const t = sensors.tactile;
    for (let i = 0; i < t.length; i++) if (t[i] > 0) total += t[i];
    if (!(total < Infinity)) total = 0;
    this.tactileTotal = total;
    const excessN = total > this.gripForceLimitN ? total - this.gripForceLimitN : 0;
    let gripDesired = this.gripGainMPerN * excessN;
    if (gripDesired > this.maxGripOffsetM) gripDesired = this.maxGripOffsetM;
    this.gripOffsetM += alpha * (gripDesired - this.gripOffsetM);
    if (target.length > n) target[n] += this.gripOffsetM;
  }

  onNewChunk(): void {
    // The offset is a property of the contact, not of the chunk: it carries over so a new chunk does not jerk.
  }

  /** dq = J^T (J J^T + lambda^2 I)^-1 offset, each entry bounded, added to the joint targets. */
  private mapToJoints(q: Float64Array, target: Float64Array): void {
    const n = this.n;
    const J = this.jacobian;
    this.kin.positionJacobian(q, J);
    // A = J J^T + lambda^2 I (symmetric 3x3)
    let a00 = this.damping2, a01 = 0, a02 = 0, a11 = this.damping2, a12 = 0, a22 = this.damping2;
    for (let k = 0; k < n; k++) {
      const x = J[k], y = J[n + k], z = J[2 * n + k];
      a00 += x * x; a01 += x * y; a02 += x * z;
      a11 += y * y; a12 += y * z; a22 += z * z;
    }
    // Solve A s = offset by the adjugate (A is positive definite thanks to the damping).
    const c00 = a11 * a22 - a12 * a12, c01 = a02 * a12 - a01 * a22, c02 = a01 * a12 - a02 * a11;
    const c11 = a00 * a22 - a02 * a02, c12 = a01 * a02 - a00 * a12, c22 = a00 * a11 - a01 * a01;
    const det = a00 * c00 + a01 * c01 + a02 * c02;
    if (!(Math.abs(det) > 1e-18)) return;
    const o = this.offsetM;
    const s = this.solved;
    s[0] = (c00 * o[0] + c01 * o[1] + c02 * o[2]) / det;
    s[1] = (c01 * o[0] + c11 * o[1] + c12 * o[2]) / det;
    s[2] = (c02 * o[0] + c12 * o[1] + c22 * o[2]) / det;
    for (let k = 0; k < n; k++) {
      const dq = J[k] * s[0] + J[n + k] * s[1] + J[2 * n + k] * s[2];
      const limit = this.maxJointOffsetRad;
      const bounded = dq > limit ? limit : dq < -limit ? -limit : dq;
      this.jointOffsetRad[k] = bounded === bounded ? bounded : 0; // NaN (a broken Jacobian) gives no correction
      target[k] += this.jointOffsetRad[k];
    }
  }
}

function positive(name: string, value: number, allowZero: boolean): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0 || (!allowZero && value === 0)) {
    throw new Error(`compliance: expected ${name} to be a ${allowZero ? "non-negative" : "positive"} finite number, got ${String(value)}`);
  }
  return value;
}
