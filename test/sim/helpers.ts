// Shared helpers for the sim tests: the bundled arm and a closed-form "pad pointing down" IK for its layout
// (pan about z, three pitch joints about y, the wrist roll and last pitch held at zero), derived from the description.
import { fileURLToPath } from "node:url";
import { loadArmDescription, type ArmDescription } from "../../src/kinematics/description.js";
import type { SensorSnapshot } from "../../src/runtime/types.js";

export function bundledArm(): ArmDescription {
  return loadArmDescription(fileURLToPath(new URL("../../sim/arm/description.json", import.meta.url)));
}

/** Joint angles that put the tool centre at (x, y, z) with the tool pointing straight down (elbow-up branch). */
export function padDownIk(arm: ArmDescription, x: number, y: number, z: number): number[] {
  const j = arm.joints;
  const shoulderZ = arm.baseXyzM[2] + j[0].originXyzM[2] + j[1].originXyzM[2];
  const upper = j[2].originXyzM[2];
  const fore = j[3].originXyzM[2];
  const tool = j[4].originXyzM[2] + j[5].originXyzM[2] + arm.toolXyzM[2];
  const pan = Math.atan2(y, x);
  const r = Math.hypot(x, y);
  const wx = r;
  const wz = z + tool - shoulderZ;
  const d2 = wx * wx + wz * wz;
  const c = (d2 - upper * upper - fore * fore) / (2 * upper * fore);
  if (Math.abs(c) > 1) throw new Error(`padDownIk: (${x}, ${y}, ${z}) is out of reach`);
  const elbow = Math.acos(c);
  const lift = Math.atan2(wx, wz) - Math.atan2(fore * Math.sin(elbow), upper + fore * Math.cos(elbow));
  return [pan, lift, elbow, Math.PI - lift - elbow, 0, 0];
}

export function makeSnapshot(dim: number, tactile: number): SensorSnapshot {
  return {
    timeNs: 0,
    positions: new Float64Array(dim),
    velocities: new Float64Array(dim),
    wrench: new Float64Array(6),
    tactile: new Float64Array(tactile),
  };
}

export function sum(values: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i];
  return s;
}
