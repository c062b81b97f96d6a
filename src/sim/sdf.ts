// Generates the Gazebo (gz-sim) world of the wipe task from the same arm description and task as the MJCF
// (mjcf.ts): the arm with its links, joints, limits and inertias; a JointPositionController per joint and per
// finger; a JointStatePublisher; a force/torque sensor at the wrist; a contact sensor on the pad's taxels; the
// table and the wiping platform. SDFormat 1.9, so Fortress (SDFormat 12) and Harmonic (SDFormat 14) load it.
//
// Modelling choices that keep it close to the embedded simulator:
// - Arm and tool links ignore gravity, as the MJCF's gravcomp="1" bodies do: the wrist sensor then reads the
//   contact wrench only, like the embedded arm's tared sensor.
// - MuJoCo's joint armature (reflected rotor inertia) has no SDF element; the same amount is added to each
//   link's inertia (isotropically, so the tensor stays physically valid), which keeps the position
//   controllers stable at a 1 ms step.
// - Position gains match the MJCF servos (25 Nm/rad per Nm of effort); damping is critical for the inertia
//   each joint moves in the zero pose; the integral term is off (no gravity to hold).
import type { ArmDescription, Vec3 } from "../kinematics/description.js";
import { rpyToQuat, validateArmDescription } from "./mjcf.js";
import type { WipeTask } from "./task.js";

export type GazeboFlavour = "gz" | "ignition";
export type GazeboCommandMode = "joint-position" | "actuators";

export interface GazeboWorldOptions {
  worldName?: string;
  /** "gz": gz-sim plugin names (Garden, Harmonic and later); "ignition": ignition-gazebo names (Fortress). */
  flavour?: GazeboFlavour;
  /** One Double topic per joint (default), or one Actuators topic for all (Harmonic and later). */
  commandMode?: GazeboCommandMode;
  /** Physics step (s). Default 0.001 (gz-sim's default). */
  stepS?: number;
  tactileRows?: number;
  tactileCols?: number;
  taxelPitchM?: number;
  /** Wrist force/torque sensor rate (Hz). Default 500. */
  forceTorqueRateHz?: number;
}

/** What a client needs to drive the generated world. */
export interface GazeboWorldLayout {
  worldName: string;
  modelName: string;
  flavour: GazeboFlavour;
  commandMode: GazeboCommandMode;
  stepS: number;
  jointNames: string[];
  fingerJointNames: [string, string];
  taxelCollisionNames: string[];
  tactileRows: number;
  tactileCols: number;
  taxelPitchM: number;
  topics: {
    /** Command topic per arm joint, then per finger. */
    jointCommands: string[];
    actuators: string;
    jointState: string;
    wrench: string;
    contacts: string;
  };
  /** The wrist sensor reports the wrench the arm applies to the gripper, in the gripper (tool) frame. */
  wrenchConvention: "parent-on-child";
}

export interface GazeboWorld {
  xml: string;
  layout: GazeboWorldLayout;
}

const KP_PER_NM = 25; // same servo stiffness as the MJCF: saturation at 0.04 rad of error
const ARMATURE_PER_NM = 0.0025; // same reflected inertia per Nm of effort as the MJCF
const PAD_STIFFNESS_N_PER_M = 1500;
const PAD_TRAVEL_M = 0.025;
const FINGER_KP_N_PER_M = 400;
const FINGER_FORCE_N = 40;
const NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

function worldError(field: string, expected: string, got: unknown): never {
  throw new Error(`gazebo world: ${field} must be ${expected}, got ${typeof got === "string" ? `"${got}"` : String(got)}`);
}

const fmt = (v: number) => String(Number((Math.abs(v) < 1e-12 ? 0 : v).toPrecision(10)));
const fmtv = (v: readonly number[]) => v.map(fmt).join(" ");

// ---- small 3-D helpers (row-major 3x3) ----

type Mat3 = [number, number, number, number, number, number, number, number, number];

function quatToMat([w, x, y, z]: [number, number, number, number]): Mat3 {
  return [
    1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
    2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
    2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
  ];
}

function mul(a: Mat3, b: Mat3): Mat3 {
  const r = new Array(9).fill(0) as Mat3;
  for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) for (let k = 0; k < 3; k++) r[3 * i + j] += a[3 * i + k] * b[3 * k + j];
  return r;
}

function apply(m: Mat3, v: Vec3): Vec3 {
  return [m[0] * v[0] + m[1] * v[1] + m[2] * v[2], m[3] * v[0] + m[4] * v[1] + m[5] * v[2], m[6] * v[0] + m[7] * v[1] + m[8] * v[2]];
}

function transpose(m: Mat3): Mat3 {
  return [m[0], m[3], m[6], m[1], m[4], m[7], m[2], m[5], m[8]];
}

const IDENTITY: Mat3 = [1, 0, 0, 0, 1, 0, 0, 0, 1];

function norm(v: Vec3): number {
  return Math.hypot(v[0], v[1], v[2]);
}

/** Rotation whose z column is the unit vector along d (for capsules, which SDF aligns with z). */
function zTo(d: Vec3): Mat3 {
  const n = norm(d);
  const z: Vec3 = [d[0] / n, d[1] / n, d[2] / n];
  const helper: Vec3 = Math.abs(z[0]) < 0.9 ? [1, 0, 0] : [0, 1, 0];
  // x = normalize(helper - (helper.z) z), y = z x x
  const dot = helper[0] * z[0] + helper[1] * z[1] + helper[2] * z[2];
  let x: Vec3 = [helper[0] - dot * z[0], helper[1] - dot * z[1], helper[2] - dot * z[2]];
  const xn = norm(x);
  x = [x[0] / xn, x[1] / xn, x[2] / xn];
  const y: Vec3 = [z[1] * x[2] - z[2] * x[1], z[2] * x[0] - z[0] * x[2], z[0] * x[1] - z[1] * x[0]];
  return [x[0], y[0], z[0], x[1], y[1], z[1], x[2], y[2], z[2]];
}

/** Fixed-axis roll-pitch-yaw of R = Rz(yaw) Ry(pitch) Rx(roll) (SDF's pose convention). */
function matToRpy(m: Mat3): Vec3 {
  const pitch = -Math.asin(Math.max(-1, Math.min(1, m[6])));
  const roll = Math.atan2(m[7], m[8]);
  const yaw = Math.atan2(m[3], m[0]);
  return [roll, pitch, yaw];
}

/** Inertia (about the centre of mass, in the capsule frame: z along the axis) of a solid capsule. */
function capsuleInertia(massKg: number, radiusM: number, lengthM: number): Vec3 {
  const r = radiusM, h = lengthM;
  const vCyl = Math.PI * r * r * h;
  const vHemi = (2 / 3) * Math.PI * r * r * r;
  const density = massKg / (vCyl + 2 * vHemi);
  const mc = density * vCyl, mh = density * vHemi;
  const axial = mc * r * r / 2 + 2 * mh * (2 * r * r / 5);
  const transverse = mc * (h * h / 12 + r * r / 4) + 2 * mh * (2 * r * r / 5 + h * h / 4 + 3 * h * r / 8);
  return [transverse, transverse, axial];
}

function boxInertia(massKg: number, size: Vec3): Vec3 {
  const [x, y, z] = size;
  return [(massKg * (y * y + z * z)) / 12, (massKg * (x * x + z * z)) / 12, (massKg * (x * x + y * y)) / 12];
}

interface Inertial {
  massKg: number;
  comM: Vec3;
  /** Full tensor about the COM in the link frame: [ixx, ixy, ixz, iyy, iyz, izz]. */
  tensor: [number, number, number, number, number, number];
}

function diagInertial(massKg: number, comM: Vec3, diag: Vec3, rotation: Mat3 = IDENTITY, extraIsotropic = 0): Inertial {
  const d: Mat3 = [diag[0], 0, 0, 0, diag[1], 0, 0, 0, diag[2]];
  const t = mul(mul(rotation, d), transpose(rotation));
  return { massKg, comM, tensor: [t[0] + extraIsotropic, t[1], t[2], t[4] + extraIsotropic, t[5], t[8] + extraIsotropic] };
}

export function buildGazeboWorld(arm: ArmDescription, task: WipeTask, options: GazeboWorldOptions = {}): GazeboWorld {
  validateArmDescription(arm);
  const worldName = options.worldName ?? "vla_wipe";
  if (!NAME.test(worldName)) worldError("worldName", "an identifier ([A-Za-z_][A-Za-z0-9_.-]*)", worldName);
  const flavour = options.flavour ?? "gz";
  if (flavour !== "gz" && flavour !== "ignition") worldError("flavour", `"gz" or "ignition"`, flavour);
  const commandMode = options.commandMode ?? "joint-position";
  if (commandMode !== "joint-position" && commandMode !== "actuators") worldError("commandMode", `"joint-position" or "actuators"`, commandMode);
  if (commandMode === "actuators" && flavour === "ignition") worldError("commandMode", `"joint-position" for Fortress (its controller has no Actuators input)`, commandMode);
  const stepS = options.stepS ?? 0.001;
  if (!(stepS >= 1e-4 && stepS <= 0.01)) worldError("stepS", "a number in [0.0001, 0.01] s", stepS);
  const rows = options.tactileRows ?? 4;
  const cols = options.tactileCols ?? 4;
  if (!Number.isInteger(rows) || rows < 1 || rows > 16) worldError("tactileRows", "an integer in [1, 16]", rows);
  if (!Number.isInteger(cols) || cols < 1 || cols > 16) worldError("tactileCols", "an integer in [1, 16]", cols);
  const pitch = options.taxelPitchM ?? 0.014;
  if (!(pitch >= 0.004 && pitch <= 0.05)) worldError("taxelPitchM", "a number in [0.004, 0.05] m", pitch);
  const ftRateHz = options.forceTorqueRateHz ?? 500;
  if (!(ftRateHz >= 1 && ftRateHz <= 10_000)) worldError("forceTorqueRateHz", "a number in [1, 10000] Hz", ftRateHz);

  const model = arm.name;
  const jointNames = arm.joints.map((j) => j.name);
  const fingers: [string, string] = ["finger_left", "finger_right"];
  const plugin = (system: string, cls: string) =>
    flavour === "gz" ? `filename="gz-sim-${system}-system" name="gz::sim::systems::${cls}"` : `filename="ignition-gazebo-${system}-system" name="ignition::gazebo::systems::${cls}"`;
  const topics: GazeboWorldLayout["topics"] = {
    jointCommands: [...jointNames, ...fingers].map((j) => `/model/${model}/joint/${j}/0/cmd_pos`),
    actuators: `/model/${model}/actuators`,
    jointState: `/world/${worldName}/model/${model}/joint_state`,
    wrench: `/world/${worldName}/model/${model}/wrist_ft`,
    contacts: `/world/${worldName}/model/${model}/pad_contact`,
  };

  // ---- tool geometry: the same layout as the MJCF's gripper ----
  const last = arm.joints[arm.joints.length - 1];
  const toolRot = quatToMat(rpyToQuat(arm.toolRpyRad));
  const tcpFromFlange: Vec3 = [arm.toolXyzM[0] - last.linkEndM[0], arm.toolXyzM[1] - last.linkEndM[1], arm.toolXyzM[2] - last.linkEndM[2]];
  const tcp = apply(transpose(toolRot), tcpFromFlange);
  if (tcp[2] < 0.06) worldError("arm.toolXyzM", "at least 0.06 m beyond the last link's end along the tool axis", `[${arm.toolXyzM.join(", ")}]`);
  const cellRadiusM = Math.min(0.006, pitch * 0.45);
  const padX = rows * pitch, padY = cols * pitch;
  const backingHalfZ = 0.006;
  const palmHalfZ = 0.01;
  const backingTopZ = tcp[2] - 2 * cellRadiusM - 2 * backingHalfZ;
  const fingerTopZ = 2 * palmHalfZ;
  const fingerBottomZ = Math.max(fingerTopZ + 0.01, backingTopZ + 0.006);
  const fingerHalfZ = (fingerBottomZ - fingerTopZ) / 2;
  const fingerHalfY = 0.006;
  const halfWidthMax = arm.gripper.upperM / 2;
  const palmSize: Vec3 = [0.04, 2 * (halfWidthMax + 2 * fingerHalfY), 2 * palmHalfZ];
  const taxelCollisionNames = Array.from({ length: rows * cols }, (_, i) => `taxel_${i}`);

  // ---- per-joint inertia in the zero pose, for the controllers' damping ----
  interface Body { massKg: number; comWorld: Vec3; inertiaWorld: Mat3 }
  const bodies: Body[] = [];
  const axesWorld: { origin: Vec3; axis: Vec3; firstBody: number }[] = [];
  let rot: Mat3 = IDENTITY;
  let pos: Vec3 = [...arm.baseXyzM];
  const linkInertials: Inertial[] = [];
  for (const j of arm.joints) {
    rot = mul(rot, quatToMat(rpyToQuat(j.originRpyRad)));
    pos = ((p) => [pos[0] + p[0], pos[1] + p[1], pos[2] + p[2]] as Vec3)(apply(rot, j.originXyzM));
    const an = norm(j.axis);
    axesWorld.push({ origin: pos, axis: apply(rot, [j.axis[0] / an, j.axis[1] / an, j.axis[2] / an]), firstBody: bodies.length });
    const length = norm(j.linkEndM);
    const armature = ARMATURE_PER_NM * j.maxEffortNm;
    const inertial =
      length < 1e-6
        ? diagInertial(j.linkMassKg, [0, 0, 0], [0.4 * j.linkMassKg * j.linkRadiusM ** 2, 0.4 * j.linkMassKg * j.linkRadiusM ** 2, 0.4 * j.linkMassKg * j.linkRadiusM ** 2], IDENTITY, armature)
        : diagInertial(j.linkMassKg, [j.linkEndM[0] / 2, j.linkEndM[1] / 2, j.linkEndM[2] / 2], capsuleInertia(j.linkMassKg, j.linkRadiusM, length), zTo(j.linkEndM), armature);
    linkInertials.push(inertial);
    const t = inertial.tensor;
    const local: Mat3 = [t[0], t[1], t[2], t[1], t[3], t[4], t[2], t[4], t[5]];
    bodies.push({ massKg: inertial.massKg, comWorld: ((c) => [pos[0] + c[0], pos[1] + c[1], pos[2] + c[2]] as Vec3)(apply(rot, inertial.comM)), inertiaWorld: mul(mul(rot, local), transpose(rot)) });
  }
  const toolMassKg = 0.3 + 0.05 * 2 + 0.05 + 0.002 * rows * cols + 0.03;
  const gripperRot = mul(rot, toolRot);
  const gripperPos = ((p) => [pos[0] + p[0], pos[1] + p[1], pos[2] + p[2]] as Vec3)(apply(rot, last.linkEndM));
  const toolCom = ((p) => [gripperPos[0] + p[0], gripperPos[1] + p[1], gripperPos[2] + p[2]] as Vec3)(apply(gripperRot, [0, 0, tcp[2] / 2]));
  bodies.push({ massKg: toolMassKg, comWorld: toolCom, inertiaWorld: [0.001, 0, 0, 0, 0.001, 0, 0, 0, 0.001] });
  const jointInertia = axesWorld.map(({ origin, axis, firstBody }) => {
    let total = 0;
    for (let b = firstBody; b < bodies.length; b++) {
      const body = bodies[b];
      const ia = apply(body.inertiaWorld, axis);
      const r: Vec3 = [body.comWorld[0] - origin[0], body.comWorld[1] - origin[1], body.comWorld[2] - origin[2]];
      const along = r[0] * axis[0] + r[1] * axis[1] + r[2] * axis[2];
      const d2 = r[0] ** 2 + r[1] ** 2 + r[2] ** 2 - along * along;
      total += axis[0] * ia[0] + axis[1] * ia[1] + axis[2] * ia[2] + body.massKg * Math.max(0, d2);
    }
    return total;
  });

  // ---- XML ----
  const lines: string[] = [];
  const out = (depth: number, s: string) => lines.push("  ".repeat(depth) + s);
  const inertialXml = (depth: number, i: Inertial) => {
    out(depth, `<inertial>`);
    out(depth + 1, `<pose>${fmtv(i.comM)} 0 0 0</pose>`);
    out(depth + 1, `<mass>${fmt(i.massKg)}</mass>`);
    const [ixx, ixy, ixz, iyy, iyz, izz] = i.tensor;
    out(depth + 1, `<inertia><ixx>${fmt(ixx)}</ixx><ixy>${fmt(ixy)}</ixy><ixz>${fmt(ixz)}</ixz><iyy>${fmt(iyy)}</iyy><iyz>${fmt(iyz)}</iyz><izz>${fmt(izz)}</izz></inertia>`);
    out(depth, `</inertial>`);
  };
  const boxLink = (depth: number, name: string, size: Vec3, at: Vec3, rgba: string, collide = true) => {
    if (collide) out(depth, `<collision name="${name}"><pose>${fmtv(at)} 0 0 0</pose><geometry><box><size>${fmtv(size)}</size></box></geometry></collision>`);
    out(depth, `<visual name="${name}_visual"><pose>${fmtv(at)} 0 0 0</pose><geometry><box><size>${fmtv(size)}</size></box></geometry><material><diffuse>${rgba}</diffuse></material></visual>`);
  };
  const controller = (depth: number, joint: string, index: number, p: number, d: number, effort: number) => {
    out(depth, `<plugin ${plugin("joint-position-controller", "JointPositionController")}>`);
    out(depth + 1, `<joint_name>${joint}</joint_name>`);
    out(depth + 1, `<p_gain>${fmt(p)}</p_gain><i_gain>0</i_gain><d_gain>${fmt(d)}</d_gain><i_max>0</i_max><i_min>0</i_min>`);
    out(depth + 1, `<cmd_max>${fmt(effort)}</cmd_max><cmd_min>${fmt(-effort)}</cmd_min>`);
    if (commandMode === "actuators") {
      out(depth + 1, `<use_actuator_msg>true</use_actuator_msg><actuator_number>${index}</actuator_number><topic>${topics.actuators}</topic>`);
    }
    out(depth, `</plugin>`);
  };

  const halfH = 0.15;
  const margin = 0.08;
  const platform: Vec3 = [task.areaSizeXyM[0] + 2 * margin, task.areaSizeXyM[1] + 2 * margin, 2 * halfH];

  out(0, `<?xml version="1.0"?>`);
  out(0, `<!-- Generated by vla-runtime from sim/arm/description.json and the wipe task: do not edit by hand. -->`);
  out(0, `<sdf version="1.9">`);
  out(1, `<world name="${worldName}">`);
  out(2, `<physics name="${fmt(stepS * 1000)}ms" type="dart"><max_step_size>${fmt(stepS)}</max_step_size><real_time_factor>1</real_time_factor></physics>`);
  out(2, `<gravity>0 0 -9.81</gravity>`);
  for (const [system, cls] of [["physics", "Physics"], ["user-commands", "UserCommands"], ["scene-broadcaster", "SceneBroadcaster"], ["forcetorque", "ForceTorque"], ["contact", "Contact"]]) {
    out(2, `<plugin ${plugin(system, cls)}/>`);
  }
  out(2, `<light type="directional" name="sun"><cast_shadows>true</cast_shadows><pose>0.3 0 2 0 0 0</pose><diffuse>0.9 0.9 0.9 1</diffuse><direction>-0.2 0.1 -0.9</direction></light>`);
  // Table: its top is the world plane z = 0, where the arm base stands.
  out(2, `<model name="table"><static>true</static><pose>0.3 0 -0.03 0 0 0</pose><link name="top">`);
  boxLink(3, "top", [1.4, 1.2, 0.06], [0, 0, 0], "0.55 0.42 0.3 1");
  out(2, `</link></model>`);
  // Wiping platform: its top at the task's surface height; the marked area is a visual only.
  out(2, `<model name="wipe_surface"><static>true</static><pose>${fmtv([task.areaCenterXyM[0], task.areaCenterXyM[1], task.surfaceHeightM - halfH])} 0 0 0</pose><link name="platform">`);
  out(3, `<collision name="platform"><geometry><box><size>${fmtv(platform)}</size></box></geometry>`);
  out(4, `<surface><friction><ode><mu>${fmt(task.friction)}</mu><mu2>${fmt(task.friction)}</mu2></ode></friction></surface>`);
  out(3, `</collision>`);
  out(3, `<visual name="platform_visual"><geometry><box><size>${fmtv(platform)}</size></box></geometry><material><diffuse>0.35 0.4 0.5 1</diffuse></material></visual>`);
  out(3, `<visual name="wipe_area"><pose>0 0 ${fmt(halfH)} 0 0 0</pose><geometry><box><size>${fmtv([task.areaSizeXyM[0], task.areaSizeXyM[1], 0.001])}</size></box></geometry><material><diffuse>0.9 0.75 0.2 1</diffuse></material></visual>`);
  out(2, `</link></model>`);

  // ---- the arm ----
  out(2, `<model name="${model}">`);
  out(3, `<pose>${fmtv(arm.baseXyzM)} 0 0 0</pose>`);
  out(3, `<link name="base"><gravity>false</gravity>`);
  const baseHalf = Math.max(0.005, arm.joints[0].originXyzM[2] / 2);
  out(4, `<visual name="base_visual"><pose>0 0 ${fmt(baseHalf)} 0 0 0</pose><geometry><cylinder><radius>0.07</radius><length>${fmt(2 * baseHalf)}</length></cylinder></geometry></visual>`);
  inertialXml(4, diagInertial(2, [0, 0, baseHalf], [0.01, 0.01, 0.01]));
  out(3, `</link>`);
  out(3, `<joint name="base_fixed" type="fixed"><parent>world</parent><child>base</child></joint>`);
  let parent = "base";
  arm.joints.forEach((j, i) => {
    const link = `${j.name}_link`;
    out(3, `<link name="${link}"><gravity>false</gravity>`);
    out(4, `<pose relative_to="${parent}">${fmtv(j.originXyzM)} ${fmtv(j.originRpyRad)}</pose>`);
    inertialXml(4, linkInertials[i]);
    const length = norm(j.linkEndM);
    if (length < 1e-6) {
      out(4, `<collision name="${j.name}_collision"><geometry><sphere><radius>${fmt(j.linkRadiusM)}</radius></sphere></geometry></collision>`);
      out(4, `<visual name="${j.name}_visual"><geometry><sphere><radius>${fmt(j.linkRadiusM)}</radius></sphere></geometry></visual>`);
    } else {
      const pose = `${fmtv([j.linkEndM[0] / 2, j.linkEndM[1] / 2, j.linkEndM[2] / 2])} ${fmtv(matToRpy(zTo(j.linkEndM)))}`;
      const geometry = `<geometry><capsule><radius>${fmt(j.linkRadiusM)}</radius><length>${fmt(length)}</length></capsule></geometry>`;
      out(4, `<collision name="${j.name}_collision"><pose>${pose}</pose>${geometry}</collision>`);
      out(4, `<visual name="${j.name}_visual"><pose>${pose}</pose>${geometry}<material><diffuse>0.75 0.75 0.78 1</diffuse></material></visual>`);
    }
    out(3, `</link>`);
    const an = norm(j.axis);
    out(3, `<joint name="${j.name}" type="revolute"><parent>${parent}</parent><child>${link}</child>`);
    out(4, `<axis><xyz>${fmtv(j.axis.map((a) => a / an))}</xyz>`);
    out(5, `<limit><lower>${fmt(j.lowerRad)}</lower><upper>${fmt(j.upperRad)}</upper><effort>${fmt(j.maxEffortNm)}</effort><velocity>${fmt(j.maxVelocityRadPerS)}</velocity></limit>`);
    out(5, `<dynamics><damping>0.1</damping><friction>0</friction><spring_reference>0</spring_reference><spring_stiffness>0</spring_stiffness></dynamics>`);
    out(4, `</axis>`);
    out(3, `</joint>`);
    parent = link;
  });

  // Gripper, welded to the last link through the joint that carries the wrist force/torque sensor.
  const lastLink = parent;
  out(3, `<link name="gripper"><gravity>false</gravity>`);
  out(4, `<pose relative_to="${lastLink}">${fmtv(last.linkEndM)} ${fmtv(arm.toolRpyRad)}</pose>`);
  inertialXml(4, diagInertial(0.3, [0, 0, palmHalfZ], boxInertia(0.3, palmSize)));
  boxLink(4, "palm", palmSize, [0, 0, palmHalfZ], "0.75 0.75 0.78 1");
  out(3, `</link>`);
  out(3, `<joint name="wrist_ft_joint" type="fixed"><parent>${lastLink}</parent><child>gripper</child>`);
  out(4, `<sensor name="wrist_ft" type="force_torque"><always_on>true</always_on><update_rate>${fmt(ftRateHz)}</update_rate><topic>${topics.wrench}</topic>`);
  out(5, `<force_torque><frame>child</frame><measure_direction>parent_to_child</measure_direction></force_torque>`);
  out(4, `</sensor>`);
  out(3, `</joint>`);

  for (const [side, sign] of [["left", 1], ["right", -1]] as const) {
    const name = `finger_${side}`;
    const linkName = `${name}_link`;
    const size: Vec3 = [0.024, 2 * fingerHalfY, 2 * fingerHalfZ];
    const at: Vec3 = [0, sign * fingerHalfY, fingerTopZ + fingerHalfZ];
    out(3, `<link name="${linkName}"><gravity>false</gravity>`);
    out(4, `<pose relative_to="gripper">0 0 0 0 0 0</pose>`);
    inertialXml(4, diagInertial(0.05, at, boxInertia(0.05, size)));
    boxLink(4, name, size, at, "0.75 0.75 0.78 1");
    out(3, `</link>`);
    out(3, `<joint name="${name}" type="prismatic"><parent>gripper</parent><child>${linkName}</child>`);
    out(4, `<axis><xyz>0 ${sign} 0</xyz><limit><lower>0</lower><upper>${fmt(halfWidthMax)}</upper><effort>${FINGER_FORCE_N}</effort><velocity>${fmt(arm.gripper.maxVelocityMPerS)}</velocity></limit><dynamics><damping>1</damping></dynamics></axis>`);
    out(3, `</joint>`);
  }

  // Pad on a compliant mount: a sprung slide along the tool axis and two sprung tilts through the pad face.
  out(3, `<link name="pad_slider"><gravity>false</gravity><pose relative_to="gripper">${fmtv(tcp)} 0 0 0</pose>`);
  inertialXml(4, diagInertial(0.015, [0, 0, 0], [2e-6, 2e-6, 2e-6]));
  out(3, `</link>`);
  out(3, `<joint name="pad_press" type="prismatic"><parent>gripper</parent><child>pad_slider</child>`);
  out(4, `<axis><xyz>0 0 -1</xyz><limit><lower>0</lower><upper>${fmt(PAD_TRAVEL_M)}</upper></limit><dynamics><damping>20</damping><spring_reference>0</spring_reference><spring_stiffness>${fmt(PAD_STIFFNESS_N_PER_M)}</spring_stiffness></dynamics></axis>`);
  out(3, `</joint>`);
  out(3, `<link name="pad_gimbal"><gravity>false</gravity><pose relative_to="pad_slider">0 0 0 0 0 0</pose>`);
  inertialXml(4, diagInertial(0.015, [0, 0, 0], [2e-6, 2e-6, 2e-6]));
  out(3, `</link>`);
  out(3, `<joint name="pad_tilt_x" type="revolute"><parent>pad_slider</parent><child>pad_gimbal</child>`);
  out(4, `<axis><xyz>1 0 0</xyz><limit><lower>-0.3</lower><upper>0.3</upper></limit><dynamics><damping>0.05</damping><spring_reference>0</spring_reference><spring_stiffness>3</spring_stiffness></dynamics></axis>`);
  out(3, `</joint>`);
  const padMass = 0.05 + 0.002 * rows * cols;
  out(3, `<link name="pad"><gravity>false</gravity><pose relative_to="pad_gimbal">0 0 0 0 0 0</pose>`);
  inertialXml(4, diagInertial(padMass, [0, 0, -2 * cellRadiusM - backingHalfZ], boxInertia(padMass, [padX, padY, 2 * backingHalfZ + 2 * cellRadiusM])));
  boxLink(4, "pad_backing", [padX, padY, 2 * backingHalfZ], [0, 0, -2 * cellRadiusM - backingHalfZ], "0.2 0.5 0.9 1");
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const i = r * cols + c;
      const at: Vec3 = [(r - (rows - 1) / 2) * pitch, (c - (cols - 1) / 2) * pitch, -cellRadiusM];
      const geometry = `<geometry><sphere><radius>${fmt(cellRadiusM)}</radius></sphere></geometry>`;
      out(4, `<collision name="${taxelCollisionNames[i]}"><pose>${fmtv(at)} 0 0 0</pose>${geometry}<surface><friction><ode><mu>0.8</mu><mu2>0.8</mu2></ode></friction></surface></collision>`);
      out(4, `<visual name="${taxelCollisionNames[i]}_visual"><pose>${fmtv(at)} 0 0 0</pose>${geometry}<material><diffuse>0.95 0.85 0.3 1</diffuse></material></visual>`);
    }
  }
  out(4, `<sensor name="pad_contact" type="contact"><always_on>true</always_on><update_rate>${fmt(1 / stepS)}</update_rate><topic>${topics.contacts}</topic>`);
  out(5, `<contact>`);
  for (const name of taxelCollisionNames) out(6, `<collision>${name}</collision>`);
  out(6, `<topic>${topics.contacts}</topic>`);
  out(5, `</contact>`);
  out(4, `</sensor>`);
  out(3, `</link>`);
  out(3, `<joint name="pad_tilt_y" type="revolute"><parent>pad_gimbal</parent><child>pad</child>`);
  out(4, `<axis><xyz>0 1 0</xyz><limit><lower>-0.3</lower><upper>0.3</upper></limit><dynamics><damping>0.05</damping><spring_reference>0</spring_reference><spring_stiffness>3</spring_stiffness></dynamics></axis>`);
  out(3, `</joint>`);

  // Systems of the model: a position controller per joint and finger, the joint state publisher.
  arm.joints.forEach((j, i) => {
    const p = KP_PER_NM * j.maxEffortNm;
    controller(3, j.name, i, p, 2 * Math.sqrt(p * jointInertia[i]), j.maxEffortNm);
  });
  fingers.forEach((f, k) => controller(3, f, arm.joints.length + k, FINGER_KP_N_PER_M, 2 * Math.sqrt(FINGER_KP_N_PER_M * 0.05), FINGER_FORCE_N));
  out(3, `<plugin ${plugin("joint-state-publisher", "JointStatePublisher")}>`);
  for (const name of [...jointNames, ...fingers]) out(4, `<joint_name>${name}</joint_name>`);
  out(3, `</plugin>`);
  out(2, `</model>`);
  out(1, `</world>`);
  out(0, `</sdf>`);

  return {
    xml: lines.join("\n") + "\n",
    layout: {
      worldName,
      modelName: model,
      flavour,
      commandMode,
      stepS,
      jointNames,
      fingerJointNames: fingers,
      taxelCollisionNames,
      tactileRows: rows,
      tactileCols: cols,
      taxelPitchM: pitch,
      topics,
      wrenchConvention: "parent-on-child",
    },
  };
}

/** The worlds shipped in sim/gazebo/: the default task for Harmonic (gz) and for Fortress (ignition). */
export function defaultGazeboWorlds(arm: ArmDescription, task: WipeTask): Array<{ file: string; world: GazeboWorld }> {
  return [
    { file: "vla_wipe.sdf", world: buildGazeboWorld(arm, task, { flavour: "gz" }) },
    { file: "vla_wipe_fortress.sdf", world: buildGazeboWorld(arm, task, { flavour: "ignition" }) },
  ];
}
