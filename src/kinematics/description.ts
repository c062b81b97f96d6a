// The arm's description: one source of truth for kinematics, the MJCF model and (later) the SDF world.
import { readFileSync } from "node:fs";

export type Vec3 = [number, number, number];

/** A revolute joint of the serial chain, in chain order (base to tool). */
export interface JointDescription {
  name: string;
  /** Joint frame relative to the previous joint frame (or the arm base for the first joint). */
  originXyzM: Vec3;
  originRpyRad: Vec3;
  /** Rotation axis in the joint frame (unit vector). */
  axis: Vec3;
  lowerRad: number;
  upperRad: number;
  maxVelocityRadPerS: number;
  maxAccelerationRadPerS2: number;
  maxEffortNm: number;
  /** Link that this joint moves: a capsule from the joint frame origin to `linkEndM`. */
  linkEndM: Vec3;
  linkRadiusM: number;
  linkMassKg: number;
}

export interface GripperDescription {
  name: string;
  /** Opening width between the fingers, the last entry of every command vector. */
  lowerM: number;
  upperM: number;
  maxVelocityMPerS: number;
  maxAccelerationMPerS2: number;
}

export interface ArmDescription {
  name: string;
  /** Pose of the arm base in the world. */
  baseXyzM: Vec3;
  joints: JointDescription[];
  /** Tool centre point relative to the last joint frame. */
  toolXyzM: Vec3;
  toolRpyRad: Vec3;
  gripper: GripperDescription;
}

/** Number of entries in a command vector: every arm joint plus the gripper width. */
export function commandDim(arm: ArmDescription): number {
  return arm.joints.length + 1;
}

export function loadArmDescription(path: string): ArmDescription {
  const parsed = JSON.parse(readFileSync(path, "utf8")) as ArmDescription;
  if (!Array.isArray(parsed.joints) || parsed.joints.length === 0) {
    throw new Error(`arm description ${path}: expected a non-empty "joints" array`);
  }
  return parsed;
}
