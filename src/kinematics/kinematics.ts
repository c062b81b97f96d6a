// Forward kinematics, the geometric Jacobian and damped-least-squares inverse kinematics for the serial arm in an
// ArmDescription. Small hand-rolled 3x3 algebra (row-major) in preallocated buffers: forward() runs in the fast
// loop's workspace check every tick and must not allocate.
import type { ArmDescription } from "./description.js";

export interface IkTarget {
  positionM: ArrayLike<number>;
  /** Row-major 3x3 rotation of the tool in the world; omit for a position-only solve. */
  rotation?: ArrayLike<number>;
}

export interface IkOptions {
  /** Linearizations tried at most (default 100). */
  maxIterations?: number;
  /** Initial damping lambda of the least squares (default 0.05); adapted Levenberg-Marquardt style. */
  damping?: number;
  /** Converged when the tool is this close to the target position (default 1e-4 m). */
  positionTolM?: number;
  /** ... and this close to the target orientation (default 1e-3 rad), when a rotation is given. */
  rotationTolRad?: number;
  /** Metres one radian of orientation error counts for (default 0.3). */
  orientationWeight?: number;
  /**
   * Metres one radian away from the seed counts for (default 0: not at all). The solver then minimizes
   * |error|^2 + seedWeight^2 |q - seed|^2: where the arm can hold the same pose many ways (a self-motion, as when
   * two wrist axes line up) it stays at the seed instead of drifting along it, and it turns toward an orientation
   * it can barely reach only as far as that is worth. A small weight (0.02) leaves a step about 1 % short of its
   * target in well-conditioned poses: a caller that needs the tolerances solves again from the answer.
   */
  seedWeight?: number;
}

export interface IkResult {
  ok: boolean;
  q: Float64Array;
  positionErrorM: number;
  rotationErrorRad: number;
  iterations: number;
}

/** Largest joint change of one IK iteration (rad): keeps the linearization honest far from the target. */
const MAX_IK_STEP_RAD = 0.5;

/** Row-major rotation from fixed-axis roll, pitch, yaw (URDF convention: R = Rz(yaw) Ry(pitch) Rx(roll)). */
export function rpyToMatrix(roll: number, pitch: number, yaw: number, out: Float64Array, offset = 0): void {
  const cr = Math.cos(roll), sr = Math.sin(roll);
  const cp = Math.cos(pitch), sp = Math.sin(pitch);
  const cy = Math.cos(yaw), sy = Math.sin(yaw);
  out[offset] = cy * cp;
  out[offset + 1] = cy * sp * sr - sy * cr;
  out[offset + 2] = cy * sp * cr + sy * sr;
  out[offset + 3] = sy * cp;
  out[offset + 4] = sy * sp * sr + cy * cr;
  out[offset + 5] = sy * sp * cr - cy * sr;
  out[offset + 6] = -sp;
  out[offset + 7] = cp * sr;
  out[offset + 8] = cp * cr;
}

/** Inverse of rpyToMatrix for a row-major rotation (pitch in [-pi/2, pi/2]) into out[0..2] = roll, pitch, yaw. */
export function matrixToRpy(r: ArrayLike<number>, out: Float64Array): Float64Array {
  out[0] = Math.atan2(r[7], r[8]);
  out[1] = -Math.asin(Math.max(-1, Math.min(1, r[6])));
  out[2] = Math.atan2(r[3], r[0]);
  return out;
}

/** Rotation of `angle` about the unit axis (Rodrigues). */
function axisAngleToMatrix(x: number, y: number, z: number, angle: number, out: Float64Array): void {
  const c = Math.cos(angle), s = Math.sin(angle), t = 1 - c;
  out[0] = t * x * x + c;
  out[1] = t * x * y - s * z;
  out[2] = t * x * z + s * y;
  out[3] = t * x * y + s * z;
  out[4] = t * y * y + c;
  out[5] = t * y * z - s * x;
  out[6] = t * x * z - s * y;
  out[7] = t * y * z + s * x;
  out[8] = t * z * z + c;
}

/** out = a * b (3x3, row-major); out must not alias a or b. */
function mul3(a: Float64Array, ao: number, b: Float64Array, bo: number, out: Float64Array): void {
  for (let r = 0; r < 3; r++) {
    const a0 = a[ao + r * 3], a1 = a[ao + r * 3 + 1], a2 = a[ao + r * 3 + 2];
    out[r * 3] = a0 * b[bo] + a1 * b[bo + 3] + a2 * b[bo + 6];
    out[r * 3 + 1] = a0 * b[bo + 1] + a1 * b[bo + 4] + a2 * b[bo + 7];
    out[r * 3 + 2] = a0 * b[bo + 2] + a1 * b[bo + 5] + a2 * b[bo + 8];
  }
}

/**
 * Rotation vector (axis * angle) of target * current^T, i.e. the world-frame rotation that takes the current
 * orientation to the target one. Returns the angle.
 */
export function rotationError(target: ArrayLike<number>, current: ArrayLike<number>, out: Float64Array): number {
  // E = T * C^T
  const e = (r: number, c: number) =>
    target[r * 3] * current[c * 3] + target[r * 3 + 1] * current[c * 3 + 1] + target[r * 3 + 2] * current[c * 3 + 2];
  const e00 = e(0, 0), e01 = e(0, 1), e02 = e(0, 2);
  const e10 = e(1, 0), e11 = e(1, 1), e12 = e(1, 2);
  const e20 = e(2, 0), e21 = e(2, 1), e22 = e(2, 2);
  const cos = Math.max(-1, Math.min(1, (e00 + e11 + e22 - 1) / 2));
  const angle = Math.acos(cos);
  const vx = e21 - e12, vy = e02 - e20, vz = e10 - e01;
  if (angle < 1e-7) {
    out[0] = 0.5 * vx;
    out[1] = 0.5 * vy;
    out[2] = 0.5 * vz;
  } else if (Math.PI - angle > 1e-4) {
    const k = angle / (2 * Math.sin(angle));
    out[0] = k * vx;
    out[1] = k * vy;
    out[2] = k * vz;
  } else {
    // Near a half turn the skew part vanishes: the axis comes from (E + I) / 2 = n n^T.
    const xx = Math.max(0, (e00 + 1) / 2), yy = Math.max(0, (e11 + 1) / 2), zz = Math.max(0, (e22 + 1) / 2);
    let x: number, y: number, z: number;
    if (xx >= yy && xx >= zz) {
      x = Math.sqrt(xx);
      y = (e01 + e10) / (4 * x);
      z = (e02 + e20) / (4 * x);
    } else if (yy >= zz) {
      y = Math.sqrt(yy);
      x = (e01 + e10) / (4 * y);
      z = (e12 + e21) / (4 * y);
    } else {
      z = Math.sqrt(zz);
      x = (e02 + e20) / (4 * z);
      y = (e12 + e21) / (4 * z);
    }
    // Sign from what is left of the skew part (its direction is still meaningful unless exactly pi).
    if (x * vx + y * vy + z * vz < 0) {
      x = -x;
      y = -y;
      z = -z;
    }
    const norm = Math.hypot(x, y, z) || 1;
    out[0] = (angle * x) / norm;
    out[1] = (angle * y) / norm;
    out[2] = (angle * z) / norm;
  }
  return angle;
}

function checkVector(name: string, v: ArrayLike<number> | undefined, length: number): void {
  if (!v || typeof v.length !== "number" || v.length < length) {
    throw new Error(`kinematics: expected ${name} with ${length} numbers, got ${v ? `length ${v.length}` : String(v)}`);
  }
  for (let i = 0; i < length; i++) {
    if (!Number.isFinite(v[i])) throw new Error(`kinematics: expected finite ${name}, got ${v[i]} at index ${i}`);
  }
}

export class ArmKinematics {
  readonly jointCount: number;
  readonly lowerRad: Float64Array;
  readonly upperRad: Float64Array;
  private readonly originRot: Float64Array; // 9 per joint
  private readonly originPos: Float64Array; // 3 per joint
  private readonly axisLocal: Float64Array; // 3 per joint
  private readonly basePos: Float64Array;
  private readonly toolRot: Float64Array;
  private readonly toolPos: Float64Array;
  // Chain scratch: running pose, per-joint world axes and origins, rotation temporaries.
  private readonly rot = new Float64Array(9);
  private readonly pos = new Float64Array(3);
  private readonly tmpRot = new Float64Array(9);
  private readonly jointRot = new Float64Array(9);
  private readonly axisWorld: Float64Array;
  private readonly jointPosWorld: Float64Array;
  // IK scratch.
  private readonly ikJac: Float64Array;
  private readonly ikA = new Float64Array(36);
  private readonly ikErr = new Float64Array(6);
  private readonly ikY = new Float64Array(6);
  private readonly ikJointA: Float64Array;
  private readonly ikRotErr = new Float64Array(3);

  constructor(arm: ArmDescription) {
    if (!arm || !Array.isArray(arm.joints) || arm.joints.length === 0) {
      throw new Error(`kinematics: expected an arm description with a non-empty joints array, got ${arm ? typeof arm.joints : arm}`);
    }
    const n = arm.joints.length;
    this.jointCount = n;
    this.originRot = new Float64Array(9 * n);
    this.originPos = new Float64Array(3 * n);
    this.axisLocal = new Float64Array(3 * n);
    this.lowerRad = new Float64Array(n);
    this.upperRad = new Float64Array(n);
    arm.joints.forEach((joint, i) => {
      checkVector(`joints[${i}].originXyzM`, joint.originXyzM, 3);
      checkVector(`joints[${i}].originRpyRad`, joint.originRpyRad, 3);
      checkVector(`joints[${i}].axis`, joint.axis, 3);
      const [ax, ay, az] = joint.axis;
      const norm = Math.hypot(ax, ay, az);
      if (!(norm > 1e-9)) throw new Error(`kinematics: joint ${joint.name} has a zero rotation axis`);
      if (!(joint.lowerRad < joint.upperRad)) {
        throw new Error(`kinematics: joint ${joint.name}: expected lowerRad < upperRad, got ${joint.lowerRad} and ${joint.upperRad}`);
      }
      rpyToMatrix(joint.originRpyRad[0], joint.originRpyRad[1], joint.originRpyRad[2], this.originRot, 9 * i);
      this.originPos.set(joint.originXyzM, 3 * i);
      this.axisLocal[3 * i] = ax / norm;
      this.axisLocal[3 * i + 1] = ay / norm;
      this.axisLocal[3 * i + 2] = az / norm;
      this.lowerRad[i] = joint.lowerRad;
      this.upperRad[i] = joint.upperRad;
    });
    checkVector("baseXyzM", arm.baseXyzM, 3);
    checkVector("toolXyzM", arm.toolXyzM, 3);
    checkVector("toolRpyRad", arm.toolRpyRad, 3);
    this.basePos = Float64Array.from(arm.baseXyzM);
    this.toolPos = Float64Array.from(arm.toolXyzM);
    this.toolRot = new Float64Array(9);
    rpyToMatrix(arm.toolRpyRad[0], arm.toolRpyRad[1], arm.toolRpyRad[2], this.toolRot);
    this.axisWorld = new Float64Array(3 * n);
    this.jointPosWorld = new Float64Array(3 * n);
    this.ikJac = new Float64Array(6 * n);
    this.ikJointA = new Float64Array(n * n);
  }

  /** Tool pose: position (m) into outPosM[3], rotation matrix row-major into outRot[9]. No allocation. */
  forward(q: ArrayLike<number>, outPosM: Float64Array, outRot: Float64Array): void {
    if (q.length < this.jointCount) throw new Error(`kinematics: expected ${this.jointCount} joint positions, got ${q.length}`);
    this.chain(q);
    outPosM[0] = this.pos[0];
    outPosM[1] = this.pos[1];
    outPosM[2] = this.pos[2];
    outRot.set(this.rot);
  }

  /** Geometric Jacobian 6 x n row-major (linear rows first), in the world frame. No allocation. */
  jacobian(q: ArrayLike<number>, out: Float64Array): void {
    const n = this.jointCount;
    if (q.length < n) throw new Error(`kinematics: expected ${n} joint positions, got ${q.length}`);
    if (out.length < 6 * n) throw new Error(`kinematics: expected a Jacobian buffer of ${6 * n} numbers, got ${out.length}`);
    this.chain(q);
    this.fillJacobian(out, 1);
  }

  /** Damped least squares IK (Levenberg-Marquardt damping), joint limits respected. */
  solve(target: IkTarget, seed: ArrayLike<number>, options: IkOptions = {}): IkResult {
    const n = this.jointCount;
    checkVector("target.positionM", target?.positionM, 3);
    const rotation = target.rotation;
    if (rotation !== undefined) checkVector("target.rotation (row-major 3x3)", rotation, 9);
    checkVector("IK seed", seed, n);
    const maxIterations = options.maxIterations ?? 100;
    const damping = options.damping ?? 0.05;
    const positionTolM = options.positionTolM ?? 1e-4;
    const rotationTolRad = options.rotationTolRad ?? 1e-3;
    const weight = options.orientationWeight ?? 0.3;
    const seedWeight = options.seedWeight ?? 0;
    if (!(maxIterations >= 1) || !(damping > 0) || !(positionTolM > 0) || !(rotationTolRad > 0) || !(weight > 0) || !(seedWeight >= 0)) {
      throw new Error(
        `kinematics: expected positive IK options, got maxIterations ${maxIterations}, damping ${damping}, ` +
          `positionTolM ${positionTolM}, rotationTolRad ${rotationTolRad}, orientationWeight ${weight}, seedWeight ${seedWeight}`,
      );
    }
    const rows = rotation ? 6 : 3;
    const q = new Float64Array(n);
    const trial = new Float64Array(n);
    for (let i = 0; i < n; i++) q[i] = Math.min(this.upperRad[i], Math.max(this.lowerRad[i], seed[i]));
    const start = Float64Array.from(q);
    const mu2 = seedWeight * seedWeight;
    const seedCost = (x: Float64Array) => {
      let sum = 0;
      for (let i = 0; i < n; i++) sum += (x[i] - start[i]) * (x[i] - start[i]);
      return mu2 * sum;
    };
    let cost = this.ikError(q, target.positionM, rotation, weight);
    let positionErrorM = Math.hypot(this.ikErr[0], this.ikErr[1], this.ikErr[2]);
    let rotationErrorRad = rotation ? this.ikRotAngle : 0;
    let lambda = damping;
    let iterations = 0;
    const converged = () => positionErrorM <= positionTolM && (!rotation || rotationErrorRad <= rotationTolRad);
    while (!converged() && iterations < maxIterations) {
      iterations++;
      // ikError left the chain at q: Jacobian (rotation rows weighted) and error vector are current.
      this.fillJacobian(this.ikJac, weight);
      const J = this.ikJac;
      const largest = mu2 > 0 ? this.jointSpaceStep(J, rows, lambda, mu2, q, start, trial) : this.taskSpaceStep(J, rows, lambda, trial);
      const shrink = largest > MAX_IK_STEP_RAD ? MAX_IK_STEP_RAD / largest : 1;
      for (let i = 0; i < n; i++) trial[i] = Math.min(this.upperRad[i], Math.max(this.lowerRad[i], q[i] + shrink * trial[i]));
      const trialCost = this.ikError(trial, target.positionM, rotation, weight) + seedCost(trial);
      if (trialCost < cost) {
        q.set(trial);
        cost = trialCost;
        positionErrorM = Math.hypot(this.ikErr[0], this.ikErr[1], this.ikErr[2]);
        rotationErrorRad = rotation ? this.ikRotAngle : 0;
        lambda = Math.max(lambda * 0.5, 1e-6);
      } else {
        lambda *= 4;
        // Restore the chain (and error) at q for the next linearization.
        this.ikError(q, target.positionM, rotation, weight);
        if (lambda > 1e4) break;
      }
    }
    return { ok: converged(), q, positionErrorM, rotationErrorRad, iterations };
  }

  /** Levenberg-Marquardt step dq = J^T (J J^T + lambda^2 I)^-1 e into `step`; returns its largest entry. */
  private taskSpaceStep(J: Float64Array, rows: number, lambda: number, step: Float64Array): number {
    const n = this.jointCount;
    const A = this.ikA;
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c <= r; c++) {
        let s = 0;
        for (let i = 0; i < n; i++) s += J[r * n + i] * J[c * n + i];
        A[r * rows + c] = s;
        A[c * rows + r] = s;
      }
      A[r * rows + r] += lambda * lambda;
    }
    const y = this.ikY;
    y.set(this.ikErr.subarray(0, rows));
    solveSpd(A, rows, y);
    let largest = 0;
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let r = 0; r < rows; r++) s += J[r * n + i] * y[r];
      step[i] = s;
      largest = Math.max(largest, Math.abs(s));
    }
    return largest;
  }

  /**
   * The step with the pull toward the seed (IkOptions.seedWeight, mu2 = its square), in joint space:
   * dq = (J^T J + (lambda^2 + mu2) I)^-1 (J^T e - mu2 (q - seed)) into `step`; returns its largest entry.
   */
  private jointSpaceStep(J: Float64Array, rows: number, lambda: number, mu2: number, q: Float64Array, seed: Float64Array, step: Float64Array): number {
    const n = this.jointCount;
    const A = this.ikJointA;
    const e = this.ikErr;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j <= i; j++) {
        let s = 0;
        for (let r = 0; r < rows; r++) s += J[r * n + i] * J[r * n + j];
        A[i * n + j] = s;
        A[j * n + i] = s;
      }
      A[i * n + i] += lambda * lambda + mu2;
      let b = -mu2 * (q[i] - seed[i]);
      for (let r = 0; r < rows; r++) b += J[r * n + i] * e[r];
      step[i] = b;
    }
    solveSpd(A, n, step);
    let largest = 0;
    for (let i = 0; i < n; i++) largest = Math.max(largest, Math.abs(step[i]));
    return largest;
  }

  private ikRotAngle = 0;

  /** Error vector at q into ikErr (position, then weighted rotation); returns its squared norm. Leaves the chain at q. */
  private ikError(q: ArrayLike<number>, positionM: ArrayLike<number>, rotation: ArrayLike<number> | undefined, weight: number): number {
    this.chain(q);
    const e = this.ikErr;
    e[0] = positionM[0] - this.pos[0];
    e[1] = positionM[1] - this.pos[1];
    e[2] = positionM[2] - this.pos[2];
    let sum = e[0] * e[0] + e[1] * e[1] + e[2] * e[2];
    if (rotation) {
      this.ikRotAngle = rotationError(rotation, this.rot, this.ikRotErr);
      for (let k = 0; k < 3; k++) {
        e[3 + k] = weight * this.ikRotErr[k];
        sum += e[3 + k] * e[3 + k];
      }
    }
    return sum;
  }

  /** Jacobian of the last chain() into out (6 x n), angular rows scaled by angularScale. */
  private fillJacobian(out: Float64Array, angularScale: number): void {
    const n = this.jointCount;
    const px = this.pos[0], py = this.pos[1], pz = this.pos[2];
    for (let i = 0; i < n; i++) {
      const zx = this.axisWorld[3 * i], zy = this.axisWorld[3 * i + 1], zz = this.axisWorld[3 * i + 2];
      const rx = px - this.jointPosWorld[3 * i], ry = py - this.jointPosWorld[3 * i + 1], rz = pz - this.jointPosWorld[3 * i + 2];
      out[i] = zy * rz - zz * ry;
      out[n + i] = zz * rx - zx * rz;
      out[2 * n + i] = zx * ry - zy * rx;
      out[3 * n + i] = angularScale * zx;
      out[4 * n + i] = angularScale * zy;
      out[5 * n + i] = angularScale * zz;
    }
  }

  /** Walk the chain at q: tool pose into rot/pos, joint axes and origins in the world. */
  private chain(q: ArrayLike<number>): void {
    const R = this.rot;
    const p = this.pos;
    R.fill(0);
    R[0] = 1;
    R[4] = 1;
    R[8] = 1;
    p.set(this.basePos);
    for (let i = 0; i < this.jointCount; i++) {
      this.translate(this.originPos, 3 * i);
      mul3(R, 0, this.originRot, 9 * i, this.tmpRot);
      R.set(this.tmpRot);
      const ax = this.axisLocal[3 * i], ay = this.axisLocal[3 * i + 1], az = this.axisLocal[3 * i + 2];
      this.axisWorld[3 * i] = R[0] * ax + R[1] * ay + R[2] * az;
      this.axisWorld[3 * i + 1] = R[3] * ax + R[4] * ay + R[5] * az;
      this.axisWorld[3 * i + 2] = R[6] * ax + R[7] * ay + R[8] * az;
      this.jointPosWorld[3 * i] = p[0];
      this.jointPosWorld[3 * i + 1] = p[1];
      this.jointPosWorld[3 * i + 2] = p[2];
      axisAngleToMatrix(ax, ay, az, q[i], this.jointRot);
      mul3(R, 0, this.jointRot, 0, this.tmpRot);
      R.set(this.tmpRot);
    }
    this.translate(this.toolPos, 0);
    mul3(R, 0, this.toolRot, 0, this.tmpRot);
    R.set(this.tmpRot);
  }

  /** pos += rot * v[offset..offset+2]. */
  private translate(v: Float64Array, offset: number): void {
    const R = this.rot;
    const x = v[offset], y = v[offset + 1], z = v[offset + 2];
    this.pos[0] += R[0] * x + R[1] * y + R[2] * z;
    this.pos[1] += R[3] * x + R[4] * y + R[5] * z;
    this.pos[2] += R[6] * x + R[7] * y + R[8] * z;
  }
}

/** Solve A x = b in place (b becomes x) for a small symmetric positive definite A (rows x rows), by Cholesky. */
function solveSpd(A: Float64Array, rows: number, b: Float64Array): void {
  // In-place lower Cholesky factor L (A = L L^T).
  for (let j = 0; j < rows; j++) {
    let d = A[j * rows + j];
    for (let k = 0; k < j; k++) d -= A[j * rows + k] * A[j * rows + k];
    const ljj = Math.sqrt(Math.max(d, 1e-300));
    A[j * rows + j] = ljj;
    for (let i = j + 1; i < rows; i++) {
      let s = A[i * rows + j];
      for (let k = 0; k < j; k++) s -= A[i * rows + k] * A[j * rows + k];
      A[i * rows + j] = s / ljj;
    }
  }
  for (let i = 0; i < rows; i++) {
    let s = b[i];
    for (let k = 0; k < i; k++) s -= A[i * rows + k] * b[k];
    b[i] = s / A[i * rows + i];
  }
  for (let i = rows - 1; i >= 0; i--) {
    let s = b[i];
    for (let k = i + 1; k < rows; k++) s -= A[k * rows + i] * b[k];
    b[i] = s / A[i * rows + i];
  }
}
