// The arm's URDF, generated from the same description as the kinematics and the MJCF, for 3-D views (Foxglove's and
// Lichtblick's 3D panel read it from the /robot_description topic or parameter), and the /tf transforms of its movable
// joints for a measured joint vector (what robot_state_publisher would publish).
import type { ArmDescription, Vec3 } from "../kinematics/description.js";

type Quat = [number, number, number, number]; // w, x, y, z

/** Quaternion of a URDF fixed-axis roll-pitch-yaw (R = Rz(yaw) Ry(pitch) Rx(roll)). */
export function quatFromRpy(roll: number, pitch: number, yaw: number): Quat {
  const cr = Math.cos(roll / 2), sr = Math.sin(roll / 2);
  const cp = Math.cos(pitch / 2), sp = Math.sin(pitch / 2);
  const cy = Math.cos(yaw / 2), sy = Math.sin(yaw / 2);
  return [cr * cp * cy + sr * sp * sy, sr * cp * cy - cr * sp * sy, cr * sp * cy + sr * cp * sy, cr * cp * sy - sr * sp * cy];
}

function quatMul(a: Quat, b: Quat): Quat {
  return [
    a[0] * b[0] - a[1] * b[1] - a[2] * b[2] - a[3] * b[3],
    a[0] * b[1] + a[1] * b[0] + a[2] * b[3] - a[3] * b[2],
    a[0] * b[2] - a[1] * b[3] + a[2] * b[0] + a[3] * b[1],
    a[0] * b[3] + a[1] * b[2] - a[2] * b[1] + a[3] * b[0],
  ];
}

function unit(v: readonly number[]): Vec3 {
  const n = Math.hypot(v[0], v[1], v[2]);
  if (!(n > 0)) throw new Error(`urdf: expected a non-zero joint axis, got [${v.join(", ")}]`);
  return [v[0] / n, v[1] / n, v[2] / n];
}

const num = (v: number) => String(Number((Math.abs(v) < 1e-12 ? 0 : v).toPrecision(10)));
const vec = (v: readonly number[]) => v.map(num).join(" ");

/** Frame names the URDF uses (and /tf publishes). */
export function linkNames(arm: ArmDescription): { world: string; base: string; links: string[]; gripper: string; tool: string; fingers: [string, string] } {
  return {
    world: "world",
    base: `${arm.name}_base_link`,
    links: arm.joints.map((j) => `${j.name}_link`),
    gripper: `${arm.name}_gripper_link`,
    tool: `${arm.name}_tool`,
    fingers: [`${arm.name}_finger_left`, `${arm.name}_finger_right`],
  };
}

/** Finger joint names (the gripper width splits evenly between them). */
export function fingerJointNames(arm: ArmDescription): [string, string] {
  return [`${arm.name}_finger_left_joint`, `${arm.name}_finger_right_joint`];
}

/** A capsule-like link drawn as a cylinder from the joint frame origin to `end`. */
function linkVisual(end: readonly number[], radius: number, color: string): string {
  const length = Math.hypot(end[0], end[1], end[2]);
  if (length < 1e-6) return `    <visual><geometry><sphere radius="${num(radius)}"/></geometry><material name="${color}"/></visual>`;
  // Rotate the cylinder's z axis onto the link direction: pitch about y, then yaw about z.
  const pitch = Math.atan2(Math.hypot(end[0], end[1]), end[2]);
  const yaw = Math.atan2(end[1], end[0]);
  return (
    `    <visual><origin xyz="${vec(end.map((e) => e / 2))}" rpy="0 ${num(pitch)} ${num(yaw)}"/>` +
    `<geometry><cylinder radius="${num(radius)}" length="${num(length)}"/></geometry><material name="${color}"/></visual>`
  );
}

/** URDF XML of the arm: a world frame, the base, one revolute joint per description joint, gripper, two fingers, tool. */
export function armUrdf(arm: ArmDescription): string {
  if (!Array.isArray(arm?.joints) || arm.joints.length === 0) throw new Error("urdf: expected an arm description with a non-empty joints array");
  const names = linkNames(arm);
  const [leftJoint, rightJoint] = fingerJointNames(arm);
  const lines: string[] = [];
  const out = (s: string) => lines.push(s);
  out(`<?xml version="1.0"?>`);
  out(`<robot name="${arm.name}">`);
  out(`  <material name="grey"><color rgba="0.75 0.75 0.78 1"/></material>`);
  out(`  <material name="dark"><color rgba="0.25 0.25 0.28 1"/></material>`);
  out(`  <material name="blue"><color rgba="0.2 0.5 0.9 1"/></material>`);
  out(`  <link name="${names.world}"/>`);
  const first = arm.joints[0];
  const baseHeight = Math.max(0.01, first.originXyzM[2]);
  out(`  <link name="${names.base}">`);
  out(`    <visual><origin xyz="0 0 ${num(baseHeight / 2)}"/><geometry><cylinder radius="0.07" length="${num(baseHeight)}"/></geometry><material name="dark"/></visual>`);
  out(`  </link>`);
  out(`  <joint name="${arm.name}_base_mount" type="fixed"><parent link="${names.world}"/><child link="${names.base}"/><origin xyz="${vec(arm.baseXyzM)}" rpy="0 0 0"/></joint>`);
  arm.joints.forEach((j, i) => {
    const parent = i === 0 ? names.base : names.links[i - 1];
    out(`  <link name="${names.links[i]}">`);
    out(linkVisual(j.linkEndM, j.linkRadiusM, "grey"));
    out(`  </link>`);
    out(`  <joint name="${j.name}" type="revolute">`);
    out(`    <parent link="${parent}"/><child link="${names.links[i]}"/>`);
    out(`    <origin xyz="${vec(j.originXyzM)}" rpy="${vec(j.originRpyRad)}"/>`);
    out(`    <axis xyz="${vec(unit(j.axis))}"/>`);
    out(`    <limit lower="${num(j.lowerRad)}" upper="${num(j.upperRad)}" effort="${num(j.maxEffortNm)}" velocity="${num(j.maxVelocityRadPerS)}"/>`);
    out(`  </joint>`);
  });
  const last = arm.joints[arm.joints.length - 1];
  const lastLink = names.links[names.links.length - 1];
  const halfWidth = arm.gripper.upperM / 2;
  out(`  <link name="${names.gripper}">`);
  out(`    <visual><origin xyz="0 0 0.01"/><geometry><box size="0.04 ${num(arm.gripper.upperM + 0.024)} 0.02"/></geometry><material name="dark"/></visual>`);
  out(`  </link>`);
  out(`  <joint name="${arm.name}_flange" type="fixed"><parent link="${lastLink}"/><child link="${names.gripper}"/><origin xyz="${vec(last.linkEndM)}" rpy="${vec(arm.toolRpyRad)}"/></joint>`);
  for (const [sign, link, joint] of [[1, names.fingers[0], leftJoint], [-1, names.fingers[1], rightJoint]] as const) {
    out(`  <link name="${link}">`);
    out(`    <visual><origin xyz="0 ${num(sign * 0.006)} 0.05"/><geometry><box size="0.024 0.012 0.06"/></geometry><material name="grey"/></visual>`);
    out(`  </link>`);
    out(`  <joint name="${joint}" type="prismatic">`);
    out(`    <parent link="${names.gripper}"/><child link="${link}"/><origin xyz="0 0 0" rpy="0 0 0"/><axis xyz="0 ${sign} 0"/>`);
    out(`    <limit lower="0" upper="${num(halfWidth)}" effort="50" velocity="${num(arm.gripper.maxVelocityMPerS / 2)}"/>`);
    out(`  </joint>`);
  }
  out(`  <link name="${names.tool}">`);
  out(`    <visual><origin xyz="0 0 -0.006"/><geometry><box size="0.056 0.056 0.012"/></geometry><material name="blue"/></visual>`);
  out(`  </link>`);
  out(`  <joint name="${arm.name}_tool_joint" type="fixed"><parent link="${lastLink}"/><child link="${names.tool}"/><origin xyz="${vec(arm.toolXyzM)}" rpy="${vec(arm.toolRpyRad)}"/></joint>`);
  out(`</robot>`);
  return lines.join("\n") + "\n";
}

export interface FrameTransform {
  parent: string;
  child: string;
  translation: { x: number; y: number; z: number };
  rotation: { x: number; y: number; z: number; w: number };
}

/** Transforms of the movable joints (arm joints and fingers) for measured positions: joints (rad) then gripper width (m). */
export class ArmTransforms {
  private readonly origins: Quat[];
  private readonly axes: Vec3[];
  private readonly names: ReturnType<typeof linkNames>;

  constructor(private readonly arm: ArmDescription) {
    this.origins = arm.joints.map((j) => quatFromRpy(j.originRpyRad[0], j.originRpyRad[1], j.originRpyRad[2]));
    this.axes = arm.joints.map((j) => unit(j.axis));
    this.names = linkNames(arm);
  }

  transforms(positions: ArrayLike<number>): FrameTransform[] {
    const joints = this.arm.joints;
    if (positions.length < joints.length + 1) throw new Error(`urdf transforms: expected ${joints.length + 1} positions (joints + gripper), got ${positions.length}`);
    const out: FrameTransform[] = [];
    joints.forEach((j, i) => {
      const q = Number.isFinite(positions[i]) ? positions[i] : 0;
      const [ax, ay, az] = this.axes[i];
      const s = Math.sin(q / 2);
      const [w, x, y, z] = quatMul(this.origins[i], [Math.cos(q / 2), ax * s, ay * s, az * s]);
      out.push({
        parent: i === 0 ? this.names.base : this.names.links[i - 1],
        child: this.names.links[i],
        translation: { x: j.originXyzM[0], y: j.originXyzM[1], z: j.originXyzM[2] },
        rotation: { x, y, z, w },
      });
    });
    const width = positions[joints.length];
    const half = Number.isFinite(width) ? Math.max(0, width) / 2 : 0;
    out.push({ parent: this.names.gripper, child: this.names.fingers[0], translation: { x: 0, y: half, z: 0 }, rotation: { x: 0, y: 0, z: 0, w: 1 } });
    out.push({ parent: this.names.gripper, child: this.names.fingers[1], translation: { x: 0, y: -half, z: 0 }, rotation: { x: 0, y: 0, z: 0, w: 1 } });
    return out;
  }
}
