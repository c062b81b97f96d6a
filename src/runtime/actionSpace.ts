// What a policy's actions mean, turned into what the scheduler executes: absolute joint targets + gripper
// (command dim = joints + 1). The gripper entry is absolute in every space (as in Bridge / OpenVLA-style data)
// and passes through unchanged.
import { ArmKinematics, matrixToRpy, rpyToMatrix, type IkResult } from "../kinematics/kinematics.js";

export type ActionSpace = "joint-absolute" | "joint-delta" | "ee-delta";
export const ACTION_SPACES: readonly ActionSpace[] = ["joint-absolute", "joint-delta", "ee-delta"];

/**
 * Where a delta chunk starts. "measured": the joint positions of the observation (what most datasets record).
 * "plan": where the previous chunk put the arm at the observation's time, so a contact that drags or deflects the
 * arm (friction, a pressed sponge) is not folded into the next plan every time the policy answers; it falls back to
 * the measured positions before the first chunk and whenever the two differ by more than `PLAN_ORIGIN_MAX_GAP_RAD`.
 */
export type DeltaOrigin = "measured" | "plan";
export const DELTA_ORIGINS: readonly DeltaOrigin[] = ["measured", "plan"];

/** Largest joint gap (rad) between the previous plan and the measured positions at which "plan" is still used:
 * beyond it (a takeover, a safety stop, a collision) the plan no longer describes the arm. */
export const PLAN_ORIGIN_MAX_GAP_RAD = 0.1;

/** The positions a delta chunk starts from for `origin` (see DeltaOrigin). */
export function deltaOriginState(origin: DeltaOrigin, measured: ArrayLike<number>, planned: ArrayLike<number> | undefined, joints: number): ArrayLike<number> {
  if (origin === "measured" || planned === undefined || planned.length < joints) return measured;
  for (let j = 0; j < joints; j++) {
    if (!(Math.abs(planned[j] - measured[j]) <= PLAN_ORIGIN_MAX_GAP_RAD)) return measured;
  }
  return planned;
}

/** Values per ee-delta action: dx, dy, dz (m), droll, dpitch, dyaw (rad), gripper. */
export const EE_DELTA_WIDTH = 7;

/**
 * How much each step's IK holds on to the previous step's joints (IkOptions.seedWeight, m per rad). Without it,
 * near a singular configuration (the bundled arm presses with wrist_2 near 0) the exact answer to a few
 * milliradians of rotation noise, or to a few millimetres along y, swings the wrist by up to a radian and more along
 * the arm's self-motion; the joint-space path between two such answers sweeps the tool off its line and into the
 * surface (behind some of the 80-220 N peaks of earlier evaluations). With it a step moves the joints about as far
 * as it would in a well-conditioned pose and leaves a fraction of a millimetre, and the rotation out of reach, as a
 * near miss.
 */
const EE_SEED_WEIGHT = 0.02;

/** IK tolerances for ee-delta: tight enough that errors do not accumulate over a chunk. */
const EE_IK_OPTIONS = { maxIterations: 200, positionTolM: 1e-4, rotationTolRad: 1e-3, seedWeight: EE_SEED_WEIGHT } as const;
/** Solves of one step, each from where the last one got to, before a step counts as out of reach. */
const EE_IK_ROUNDS = 4;
/**
 * A step whose best IK solution lands this close to the asked pose (m, rad) is taken as it lands: near the joint
 * limits the solver stops a fraction of a millimetre short, and refusing the whole chunk for that (the arm then
 * brakes and the policy is asked again from the same state) costs far more than the miss. Anything further is an
 * error: the pose is outside the workspace or the joint limits.
 */
const EE_NEAR_MISS_M = 2e-3;
const EE_NEAR_MISS_RAD = 2e-2;

function closeEnough(solution: IkResult): boolean {
  return solution.ok || (solution.positionErrorM <= EE_NEAR_MISS_M && solution.rotationErrorRad <= EE_NEAR_MISS_RAD);
}

/**
 * Turn a decoded (unnormalized) chunk into absolute joint targets + gripper, row-major [steps][joints + 1].
 * - joint-absolute: copied.
 * - joint-delta: step i = state + cumulative sum of the joint deltas up to i.
 * - ee-delta: [dx, dy, dz, droll, dpitch, dyaw, gripper] per step, accumulated on the tool pose starting from the
 *   pose at `stateAtObservation` (translation added in the world frame, rotation R_i = R(droll, dpitch, dyaw) R_{i-1},
 *   both in the base frame as Bridge/NORA data is), solved by IK step by step seeded with the previous solution.
 * Throws a one-line error for a malformed chunk or a pose the IK cannot reach.
 */
export function toJointChunk(
  actions: ArrayLike<number>[] | Float64Array,
  steps: number,
  space: ActionSpace,
  stateAtObservation: ArrayLike<number>,
  kinematics: ArmKinematics,
  out?: Float64Array,
): Float64Array {
  if (!ACTION_SPACES.includes(space)) throw new Error(`action space: expected ${ACTION_SPACES.join(" | ")}, got ${String(space)}`);
  const joints = kinematics.jointCount;
  const dim = joints + 1;
  const width = space === "ee-delta" ? EE_DELTA_WIDTH : dim;
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`action space: expected steps >= 1 (integer), got ${steps}`);
  const value = readerFor(actions, steps, width, space);
  if (!stateAtObservation || stateAtObservation.length < joints) {
    throw new Error(`action space: expected a state with at least ${joints} joint positions, got ${stateAtObservation ? stateAtObservation.length : String(stateAtObservation)}`);
  }
  for (let j = 0; j < joints; j++) {
    if (!Number.isFinite(stateAtObservation[j])) throw new Error(`action space: expected a finite state, got ${stateAtObservation[j]} at joint ${j}`);
  }
  const result = out ?? new Float64Array(steps * dim);
  if (result.length < steps * dim) throw new Error(`action space: expected an output buffer of ${steps * dim} numbers, got ${result.length}`);

  switch (space) {
    case "joint-absolute":
      for (let i = 0; i < steps; i++) for (let d = 0; d < dim; d++) result[i * dim + d] = value(i, d);
      break;
    case "joint-delta":
      for (let i = 0; i < steps; i++) {
        for (let j = 0; j < joints; j++) {
          const previous = i === 0 ? stateAtObservation[j] : result[(i - 1) * dim + j];
          result[i * dim + j] = previous + value(i, j);
        }
        result[i * dim + joints] = value(i, joints);
      }
      break;
    case "ee-delta":
      eeDeltaToJoints(value, steps, stateAtObservation, kinematics, result);
      break;
  }
  return result;
}

function eeDeltaToJoints(
  value: (step: number, k: number) => number,
  steps: number,
  state: ArrayLike<number>,
  kinematics: ArmKinematics,
  result: Float64Array,
): void {
  const joints = kinematics.jointCount;
  const dim = joints + 1;
  const position = new Float64Array(3);
  const rotation = new Float64Array(9);
  const delta = new Float64Array(9);
  const next = new Float64Array(9);
  const reachedPosition = new Float64Array(3);
  let seed: ArrayLike<number> = state;
  kinematics.forward(state, position, rotation);
  for (let i = 0; i < steps; i++) {
    position[0] += value(i, 0);
    position[1] += value(i, 1);
    position[2] += value(i, 2);
    rpyToMatrix(value(i, 3), value(i, 4), value(i, 5), delta);
    for (let r = 0; r < 3; r++) {
      for (let c = 0; c < 3; c++) {
        next[r * 3 + c] = delta[r * 3] * rotation[c] + delta[r * 3 + 1] * rotation[3 + c] + delta[r * 3 + 2] * rotation[6 + c];
      }
    }
    rotation.set(next);
    const target = { positionM: position, rotation };
    let solution = kinematics.solve(target, seed, EE_IK_OPTIONS);
    // Holding on to the seed keeps a long step short of its target: go on from where it got to, a few times.
    for (let round = 1; round < EE_IK_ROUNDS && !closeEnough(solution); round++) solution = kinematics.solve(target, solution.q, EE_IK_OPTIONS);
    if (!closeEnough(solution)) {
      throw new Error(
        `action space: ee-delta step ${i} of ${steps}: IK could not reach the tool pose ` +
          `(position error ${solution.positionErrorM.toExponential(2)} m, rotation error ${solution.rotationErrorRad.toExponential(2)} rad): ` +
          `outside the workspace or the joint limits`,
      );
    }
    result.set(solution.q, i * dim);
    result[i * dim + joints] = value(i, 6);
    seed = solution.q;
    // The next rotation builds on the orientation reached, so a rotation the arm cannot make here is not asked for
    // again and again, growing step by step (the miss stays that of one step; asked rotations come out about 1 %
    // short). Positions stay on the plan: a fraction of a millimetre held back is made up by the next step.
    kinematics.forward(solution.q, reachedPosition, rotation);
  }
}

/**
 * The inverse of the ee-delta mapping: absolute joint targets + gripper [steps][joints + 1] -> per-step tool pose
 * deltas [steps][7] (dx, dy, dz in the world frame; droll, dpitch, dyaw of R_i R_{i-1}^T; gripper absolute), the
 * first step relative to the pose at `origin`. For turning recorded joint plans into ee-delta training data.
 */
export function jointChunkToEeDeltas(chunk: ArrayLike<number>, steps: number, origin: ArrayLike<number>, kinematics: ArmKinematics, out = new Float64Array(steps * EE_DELTA_WIDTH)): Float64Array {
  const joints = kinematics.jointCount;
  const dim = joints + 1;
  if (chunk.length !== steps * dim) throw new Error(`action space: expected a joint chunk of ${steps} x ${dim} values, got ${chunk.length}`);
  const position = new Float64Array(3);
  const rotation = new Float64Array(9);
  const nextPosition = new Float64Array(3);
  const nextRotation = new Float64Array(9);
  const delta = new Float64Array(9);
  const rpy = new Float64Array(3);
  kinematics.forward(origin, position, rotation);
  for (let i = 0; i < steps; i++) {
    const q = Array.prototype.slice.call(chunk, i * dim, i * dim + joints) as number[];
    kinematics.forward(q, nextPosition, nextRotation);
    // delta = R_i R_{i-1}^T
    for (let r = 0; r < 3; r++) {
      for (let c = 0; c < 3; c++) {
        delta[r * 3 + c] = nextRotation[r * 3] * rotation[c * 3] + nextRotation[r * 3 + 1] * rotation[c * 3 + 1] + nextRotation[r * 3 + 2] * rotation[c * 3 + 2];
      }
    }
    matrixToRpy(delta, rpy);
    const o = i * EE_DELTA_WIDTH;
    for (let k = 0; k < 3; k++) out[o + k] = nextPosition[k] - position[k];
    out.set(rpy, o + 3);
    out[o + 6] = chunk[i * dim + joints];
    position.set(nextPosition);
    rotation.set(nextRotation);
  }
  return out;
}

/** Validate the chunk's shape and values; return an accessor (step, k) -> number. */
function readerFor(
  actions: ArrayLike<number>[] | Float64Array,
  steps: number,
  width: number,
  space: ActionSpace,
): (step: number, k: number) => number {
  if (actions instanceof Float64Array) {
    if (actions.length !== steps * width) {
      throw new Error(`action space: ${space} expected ${steps} x ${width} = ${steps * width} values, got ${actions.length}`);
    }
    for (let k = 0; k < actions.length; k++) {
      if (!Number.isFinite(actions[k])) {
        throw new Error(`action space: expected finite actions, got ${actions[k]} at step ${Math.floor(k / width)}, index ${k % width}`);
      }
    }
    return (step, k) => actions[step * width + k];
  }
  if (!Array.isArray(actions)) throw new Error(`action space: expected a Float64Array or an array of rows, got ${typeof actions}`);
  if (actions.length !== steps) throw new Error(`action space: ${space} expected ${steps} rows, got ${actions.length}`);
  actions.forEach((row, i) => {
    if (!row || row.length !== width) {
      throw new Error(`action space: ${space} expected rows of ${width} values, got ${row ? row.length : String(row)} at step ${i}`);
    }
    for (let k = 0; k < width; k++) {
      if (!Number.isFinite(row[k])) throw new Error(`action space: expected finite actions, got ${row[k]} at step ${i}, index ${k}`);
    }
  });
  return (step, k) => actions[step][k];
}
