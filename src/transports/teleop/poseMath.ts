// Small rotation helpers for pose teleop (row-major 3x3 matrices, quaternions as w, x, y, z) and the mapping
// TactAR uses: target position = scale * A (p - p0) + p_robot0, target rotation = A (R_u R_u0^T) A^T R_robot0,
// where A turns operator-frame vectors into robot-base-frame vectors (identity when the frames agree).

export type Mat3 = Float64Array; // length 9, row-major

export function quaternionToMatrix(w: number, x: number, y: number, z: number, out: Mat3 = new Float64Array(9)): Mat3 {
  const n = Math.hypot(w, x, y, z);
  if (!(n > 0)) throw new Error(`pose: expected a non-zero quaternion, got (${w}, ${x}, ${y}, ${z})`);
  w /= n;
  x /= n;
  y /= n;
  z /= n;
  out[0] = 1 - 2 * (y * y + z * z);
  out[1] = 2 * (x * y - w * z);
  out[2] = 2 * (x * z + w * y);
  out[3] = 2 * (x * y + w * z);
  out[4] = 1 - 2 * (x * x + z * z);
  out[5] = 2 * (y * z - w * x);
  out[6] = 2 * (x * z - w * y);
  out[7] = 2 * (y * z + w * x);
  out[8] = 1 - 2 * (x * x + y * y);
  return out;
}

/** Unit quaternion (w >= 0) of a rotation matrix (Shepperd's method: the largest diagonal term picks the branch). */
export function matrixToQuaternion(m: ArrayLike<number>): [number, number, number, number] {
  const trace = m[0] + m[4] + m[8];
  let w: number, x: number, y: number, z: number;
  if (trace > 0) {
    const s = 2 * Math.sqrt(1 + trace);
    w = 0.25 * s;
    x = (m[7] - m[5]) / s;
    y = (m[2] - m[6]) / s;
    z = (m[3] - m[1]) / s;
  } else if (m[0] > m[4] && m[0] > m[8]) {
    const s = 2 * Math.sqrt(1 + m[0] - m[4] - m[8]);
    w = (m[7] - m[5]) / s;
    x = 0.25 * s;
    y = (m[1] + m[3]) / s;
    z = (m[2] + m[6]) / s;
  } else if (m[4] > m[8]) {
    const s = 2 * Math.sqrt(1 + m[4] - m[0] - m[8]);
    w = (m[2] - m[6]) / s;
    x = (m[1] + m[3]) / s;
    y = 0.25 * s;
    z = (m[5] + m[7]) / s;
  } else {
    const s = 2 * Math.sqrt(1 + m[8] - m[0] - m[4]);
    w = (m[3] - m[1]) / s;
    x = (m[2] + m[6]) / s;
    y = (m[5] + m[7]) / s;
    z = 0.25 * s;
  }
  const sign = w < 0 ? -1 : 1;
  const n = Math.hypot(w, x, y, z) * sign;
  return [w / n, x / n, y / n, z / n];
}

/** out = a * b. */
export function mul3(a: ArrayLike<number>, b: ArrayLike<number>, out: Mat3 = new Float64Array(9)): Mat3 {
  const r = new Float64Array(9);
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 3; j++) r[i * 3 + j] = a[i * 3] * b[j] + a[i * 3 + 1] * b[3 + j] + a[i * 3 + 2] * b[6 + j];
  }
  out.set(r);
  return out;
}

export function transpose3(a: ArrayLike<number>, out: Mat3 = new Float64Array(9)): Mat3 {
  const r = [a[0], a[3], a[6], a[1], a[4], a[7], a[2], a[5], a[8]];
  out.set(r);
  return out;
}

export function mulVec3(a: ArrayLike<number>, v: ArrayLike<number>): [number, number, number] {
  return [a[0] * v[0] + a[1] * v[1] + a[2] * v[2], a[3] * v[0] + a[4] * v[1] + a[5] * v[2], a[6] * v[0] + a[7] * v[1] + a[8] * v[2]];
}

/** The operator's hand and the robot's tool at the moment of engagement (the clutch). */
export interface EngageAnchor {
  handPositionM: [number, number, number];
  handRotation: Mat3;
  robotPositionM: [number, number, number];
  robotRotation: Mat3;
}

/** TactAR's relative mapping of a hand pose to a tool target (robot base frame). */
export function mapHandToTool(
  anchor: EngageAnchor,
  handPositionM: ArrayLike<number>,
  handRotation: ArrayLike<number>,
  scale: number,
  operatorToRobot: ArrayLike<number>,
): { positionM: [number, number, number]; rotation: Mat3 } {
  const delta = [handPositionM[0] - anchor.handPositionM[0], handPositionM[1] - anchor.handPositionM[1], handPositionM[2] - anchor.handPositionM[2]];
  const d = mulVec3(operatorToRobot, delta);
  const positionM: [number, number, number] = [
    anchor.robotPositionM[0] + scale * d[0],
    anchor.robotPositionM[1] + scale * d[1],
    anchor.robotPositionM[2] + scale * d[2],
  ];
  // The hand's rotation since engagement (operator frame), expressed in the robot frame, applied on the left.
  const relative = mul3(handRotation, transpose3(anchor.handRotation));
  const relativeRobot = mul3(mul3(operatorToRobot, relative), transpose3(operatorToRobot));
  return { positionM, rotation: mul3(relativeRobot, anchor.robotRotation) };
}

/**
 * Joint velocities for a tool twist by damped least squares: qdot = J^T (J J^T + lambda^2 I)^-1 [v; w]
 * (J: 6 x n geometric Jacobian, row-major, linear rows first). Damping keeps it bounded near singularities.
 */
export function twistToJointVelocities(jacobian: ArrayLike<number>, n: number, twist: ArrayLike<number>, damping = 0.01): Float64Array {
  const A = new Float64Array(36);
  for (let r = 0; r < 6; r++) {
    for (let c = 0; c < 6; c++) {
      let s = 0;
      for (let i = 0; i < n; i++) s += jacobian[r * n + i] * jacobian[c * n + i];
      A[r * 6 + c] = s + (r === c ? damping * damping : 0);
    }
  }
  const y = Float64Array.from({ length: 6 }, (_, i) => twist[i]);
  solveInPlace(A, y, 6);
  const qdot = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let r = 0; r < 6; r++) s += jacobian[r * n + i] * y[r];
    qdot[i] = s;
  }
  return qdot;
}

/** Gaussian elimination with partial pivoting: A x = b, x into b (A is overwritten). */
function solveInPlace(A: Float64Array, b: Float64Array, n: number): void {
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(A[r * n + col]) > Math.abs(A[pivot * n + col])) pivot = r;
    if (pivot !== col) {
      for (let c = 0; c < n; c++) [A[col * n + c], A[pivot * n + c]] = [A[pivot * n + c], A[col * n + c]];
      [b[col], b[pivot]] = [b[pivot], b[col]];
    }
    const p = A[col * n + col];
    for (let r = col + 1; r < n; r++) {
      const f = A[r * n + col] / p;
      if (f === 0) continue;
      for (let c = col; c < n; c++) A[r * n + c] -= f * A[col * n + c];
      b[r] -= f * b[col];
    }
  }
  for (let r = n - 1; r >= 0; r--) {
    let s = b[r];
    for (let c = r + 1; c < n; c++) s -= A[r * n + c] * b[c];
    b[r] = s / A[r * n + r];
  }
}

/** Damping of the differential IK steps (singular values of the Jacobian below it are attenuated). */
const FOLLOW_DAMPING = 0.03;
/** Metres one radian of orientation error counts for in the differential IK. */
const FOLLOW_ORIENTATION_WEIGHT = 0.3;

/** What differential IK needs of the arm's kinematics (ArmKinematics provides it). */
export interface DifferentialKinematics {
  readonly jointCount: number;
  forward(q: ArrayLike<number>, outPosM: Float64Array, outRot: Float64Array): void;
  jacobian(q: ArrayLike<number>, out: Float64Array): void;
}

export interface FollowResult {
  q: Float64Array;
  positionErrorM: number;
  rotationErrorRad: number;
}

/**
 * Differential IK for a stream of nearby targets: from `seed`, a few damped least-squares steps
 * dq = J^T (J J^T + lambda^2 I)^-1 [e_pos; e_rot]. Each step is the smallest joint motion that reduces the error, so
 * consecutive targets give consecutive solutions: no drift along the null space of a redundant or singular arm
 * (which a general solver, stopping anywhere within its tolerance, lets through as joint noise). Joint limits clamp.
 */
export function followPose(
  kinematics: DifferentialKinematics,
  rotationError: (target: ArrayLike<number>, current: ArrayLike<number>, out: Float64Array) => number,
  targetPositionM: ArrayLike<number>,
  targetRotation: ArrayLike<number>,
  seed: ArrayLike<number>,
  lowerRad: ArrayLike<number>,
  upperRad: ArrayLike<number>,
  iterations = 8,
): FollowResult {
  const n = kinematics.jointCount;
  const q = Float64Array.from({ length: n }, (_, i) => seed[i]);
  const pos = new Float64Array(3);
  const rot = new Float64Array(9);
  const jac = new Float64Array(6 * n);
  const rotErr = new Float64Array(3);
  const error = new Float64Array(6);
  let positionErrorM = Infinity;
  let rotationErrorRad = Infinity;
  for (let it = 0; ; it++) {
    kinematics.forward(q, pos, rot);
    for (let k = 0; k < 3; k++) error[k] = targetPositionM[k] - pos[k];
    rotationErrorRad = rotationError(targetRotation, rot, rotErr);
    error.set(rotErr, 3);
    positionErrorM = Math.hypot(error[0], error[1], error[2]);
    if (it === iterations || (positionErrorM < 1e-6 && rotationErrorRad < 1e-5)) break;
    kinematics.jacobian(q, jac);
    // Orientation rows weighted in metres per radian (as ArmKinematics.solve does), so wrist joints do not chase
    // small orientation errors with large motions.
    for (let r = 3; r < 6; r++) {
      error[r] *= FOLLOW_ORIENTATION_WEIGHT;
      for (let i = 0; i < n; i++) jac[r * n + i] *= FOLLOW_ORIENTATION_WEIGHT;
    }
    // Damping: directions the arm can barely move in (near a singularity) are not chased with large joint motions;
    // what is left of the error there is judged by the caller's tolerance.
    const dq = twistToJointVelocities(jac, n, error, FOLLOW_DAMPING);
    for (let i = 0; i < n; i++) q[i] = Math.min(upperRad[i], Math.max(lowerRad[i], q[i] + dq[i]));
  }
  return { q, positionErrorM, rotationErrorRad };
}
