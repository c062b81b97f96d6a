// Generates the MJCF of the wipe scene from the arm description (the one source of truth for the arm) and the
// task: a table whose top is the world plane z = 0 with the arm base on it, a platform (the wiping surface) whose
// height and friction come from the task, position servos on every joint, a parallel gripper holding a sponge
// pad, joint / gripper / wrist force-torque / tactile sensors.
import type { ArmDescription, JointDescription, Vec3 } from "../kinematics/description.js";
import type { WipeTask } from "./task.js";

export interface WipeSceneOptions {
  /** Physics step (s). 0.002 matches a 500 Hz control loop one step per tick. */
  timestepS?: number;
  /** Taxel grid on the pad: rows along the tool x axis, columns along the tool y axis. */
  tactileRows?: number;
  tactileCols?: number;
  /** Spacing of the taxels (m); the pad is rows * pitch by cols * pitch. */
  taxelPitchM?: number;
}

/** Names and numbers the backend needs to find things in the compiled model. */
export interface WipeSceneLayout {
  timestepS: number;
  jointNames: string[];
  fingerJointNames: [string, string];
  /** Passive joints of the compliant pad mount (press, tilt x, tilt y). */
  padJointNames: [string, string, string];
  gripperTendonName: string;
  gripperBodyName: string;
  ftSiteName: string;
  tcpSiteName: string;
  surfaceBodyName: string;
  surfaceGeomName: string;
  /** Half height of the platform box: its body sits at surfaceHeightM - this. */
  surfaceHalfHeightM: number;
  tactileRows: number;
  tactileCols: number;
  taxelPitchM: number;
  taxelSiteNames: string[];
  padGeomNames: string[];
  /** Sensor names in sensordata order, grouped. */
  sensors: {
    jointPos: string[];
    gripperPos: string;
    jointVel: string[];
    gripperVel: string;
    force: string;
    torque: string;
    touch: string[];
  };
}

export interface WipeScene {
  xml: string;
  layout: WipeSceneLayout;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

function sceneError(field: string, expected: string, got: unknown): never {
  let shown: string;
  try {
    shown = typeof got === "number" ? String(got) : JSON.stringify(got) ?? String(got);
  } catch {
    shown = typeof got;
  }
  throw new Error(`wipe scene: ${field} must be ${expected}, got ${shown}`);
}

function finite(field: string, v: unknown): number {
  if (typeof v !== "number" || !Number.isFinite(v)) sceneError(field, "a finite number", v);
  return v;
}

function vec3(field: string, v: unknown): Vec3 {
  if (!Array.isArray(v) || v.length !== 3) sceneError(field, "an [x, y, z] array of 3 numbers", v);
  return [finite(`${field}[0]`, v[0]), finite(`${field}[1]`, v[1]), finite(`${field}[2]`, v[2])];
}

function positive(field: string, v: unknown): number {
  const n = finite(field, v);
  if (n <= 0) sceneError(field, "a positive number", v);
  return n;
}

function intInRange(field: string, v: unknown, lo: number, hi: number): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < lo || v > hi) sceneError(field, `an integer in [${lo}, ${hi}]`, v);
  return v;
}

/** Checks everything the MJCF uses from the description, so a bad file fails here with a message rather than in the XML parser. */
export function validateArmDescription(arm: ArmDescription): void {
  if (typeof arm !== "object" || arm === null) sceneError("arm", "an arm description object", arm);
  if (typeof arm.name !== "string" || !NAME.test(arm.name)) sceneError("arm.name", "an identifier ([A-Za-z_][A-Za-z0-9_.-]*)", arm.name);
  vec3("arm.baseXyzM", arm.baseXyzM);
  vec3("arm.toolXyzM", arm.toolXyzM);
  vec3("arm.toolRpyRad", arm.toolRpyRad);
  if (!Array.isArray(arm.joints) || arm.joints.length === 0) sceneError("arm.joints", "a non-empty array", arm.joints);
  const seen = new Set<string>();
  arm.joints.forEach((j: JointDescription, i) => {
    const f = `arm.joints[${i}]`;
    if (typeof j.name !== "string" || !NAME.test(j.name)) sceneError(`${f}.name`, "an identifier", j.name);
    if (seen.has(j.name)) sceneError(`${f}.name`, "unique", j.name);
    seen.add(j.name);
    vec3(`${f}.originXyzM`, j.originXyzM);
    vec3(`${f}.originRpyRad`, j.originRpyRad);
    const axis = vec3(`${f}.axis`, j.axis);
    if (Math.hypot(...axis) < 1e-9) sceneError(`${f}.axis`, "a non-zero vector", j.axis);
    vec3(`${f}.linkEndM`, j.linkEndM);
    const lo = finite(`${f}.lowerRad`, j.lowerRad);
    const hi = finite(`${f}.upperRad`, j.upperRad);
    if (!(lo < hi)) sceneError(`${f}.lowerRad/upperRad`, "lower < upper", [lo, hi]);
    positive(`${f}.maxEffortNm`, j.maxEffortNm);
    positive(`${f}.linkRadiusM`, j.linkRadiusM);
    positive(`${f}.linkMassKg`, j.linkMassKg);
  });
  const g = arm.gripper;
  if (typeof g !== "object" || g === null) sceneError("arm.gripper", "an object", g);
  const glo = finite("arm.gripper.lowerM", g.lowerM);
  const ghi = finite("arm.gripper.upperM", g.upperM);
  if (!(glo >= 0 && glo < ghi && ghi <= 0.3)) sceneError("arm.gripper.lowerM/upperM", "0 <= lower < upper <= 0.3 m", [glo, ghi]);
  for (const reserved of ["finger_left", "finger_right", "pad_press", "pad_tilt_x", "pad_tilt_y"]) {
    if (seen.has(reserved)) sceneError("arm.joints[].name", `different from the gripper's own joint "${reserved}"`, reserved);
  }
}

/** Quaternion (w, x, y, z) of a URDF-style fixed-axis roll-pitch-yaw: R = Rz(yaw) Ry(pitch) Rx(roll). */
export function rpyToQuat([roll, pitch, yaw]: Vec3): [number, number, number, number] {
  const cr = Math.cos(roll / 2), sr = Math.sin(roll / 2);
  const cp = Math.cos(pitch / 2), sp = Math.sin(pitch / 2);
  const cy = Math.cos(yaw / 2), sy = Math.sin(yaw / 2);
  return [
    cr * cp * cy + sr * sp * sy,
    sr * cp * cy - cr * sp * sy,
    cr * sp * cy + sr * cp * sy,
    cr * cp * sy - sr * sp * cy,
  ];
}

/** Rotate v by the inverse of quaternion q (w, x, y, z). */
function rotateInverse(q: [number, number, number, number], v: Vec3): Vec3 {
  const [w, x, y, z] = q;
  // R^T v with R from the unit quaternion.
  const r00 = 1 - 2 * (y * y + z * z), r01 = 2 * (x * y - w * z), r02 = 2 * (x * z + w * y);
  const r10 = 2 * (x * y + w * z), r11 = 1 - 2 * (x * x + z * z), r12 = 2 * (y * z - w * x);
  const r20 = 2 * (x * z - w * y), r21 = 2 * (y * z + w * x), r22 = 1 - 2 * (x * x + y * y);
  return [r00 * v[0] + r10 * v[1] + r20 * v[2], r01 * v[0] + r11 * v[1] + r21 * v[2], r02 * v[0] + r12 * v[1] + r22 * v[2]];
}

const fmt = (v: number) => {
  const s = (Math.abs(v) < 1e-12 ? 0 : v).toPrecision(10);
  return String(Number(s));
};
const fmtv = (v: readonly number[]) => v.map(fmt).join(" ");

// Collision filtering: arm geoms (type 1, affinity 2) only collide with environment geoms (type 2, affinity 1).
// The arm never collides with itself and the static environment never with itself.
const ARM_COLLISION = `contype="1" conaffinity="2"`;
const ENV_COLLISION = `contype="2" conaffinity="1"`;
const NO_COLLISION = `contype="0" conaffinity="0"`;

/** Servo gains scale with the joint's torque: the error at which the servo saturates is the same for every joint. */
const KP_PER_NM = 25; // Nm/rad per Nm of max effort: saturation at 0.04 rad of error
/** Reflected rotor inertia (kg m^2) per Nm of max effort: real gearboxes add this; it also keeps the wrist servos stable at 2 ms. */
const ARMATURE_PER_NM = 0.0025;
/** Sponge mount: spring rate along the tool axis (no preload: at rest the pad hangs exactly at its stop) and travel. */
const PAD_STIFFNESS_N_PER_M = 1500;
const PAD_TRAVEL_M = 0.025;

export function buildWipeScene(arm: ArmDescription, task: WipeTask, options: WipeSceneOptions = {}): WipeScene {
  validateArmDescription(arm);
  const timestepS = options.timestepS ?? 0.002;
  if (typeof timestepS !== "number" || !Number.isFinite(timestepS) || timestepS < 1e-4 || timestepS > 0.01) {
    sceneError("timestepS", "a number in [0.0001, 0.01] s", timestepS);
  }
  const rows = intInRange("tactileRows", options.tactileRows ?? 4, 1, 16);
  const cols = intInRange("tactileCols", options.tactileCols ?? 4, 1, 16);
  const pitch = options.taxelPitchM ?? 0.014;
  if (typeof pitch !== "number" || !Number.isFinite(pitch) || pitch < 0.004 || pitch > 0.05) {
    sceneError("taxelPitchM", "a number in [0.004, 0.05] m", pitch);
  }

  const jointNames = arm.joints.map((j) => j.name);
  const lines: string[] = [];
  const out = (depth: number, s: string) => lines.push("  ".repeat(depth) + s);

  // --- pad / gripper geometry in the gripper frame (origin at the last link's end, z along the tool) ---
  const last = arm.joints[arm.joints.length - 1];
  const gripperQuat = rpyToQuat(arm.toolRpyRad);
  const tcpFromFlange: Vec3 = [arm.toolXyzM[0] - last.linkEndM[0], arm.toolXyzM[1] - last.linkEndM[1], arm.toolXyzM[2] - last.linkEndM[2]];
  const tcp = rotateInverse(gripperQuat, tcpFromFlange);
  if (tcp[2] < 0.06) sceneError("arm.toolXyzM", "at least 0.06 m beyond the last link's end along the tool axis (room for the gripper)", arm.toolXyzM);
  const cellRadiusM = Math.min(0.006, pitch * 0.45);
  const padX = rows * pitch;
  const padY = cols * pitch;
  const backingHalfZ = 0.006;
  const backingTopZ = tcp[2] - 2 * cellRadiusM - 2 * backingHalfZ; // in the gripper frame, at rest
  const palmHalfZ = 0.01;
  const fingerTopZ = 2 * palmHalfZ;
  const fingerBottomZ = Math.max(fingerTopZ + 0.01, backingTopZ + 0.006);
  const fingerHalfZ = (fingerBottomZ - fingerTopZ) / 2;
  const fingerHalfY = 0.006;
  const halfWidthMax = arm.gripper.upperM / 2;

  const taxelSiteNames: string[] = [];
  const padGeomNames: string[] = [];
  const touchNames: string[] = [];

  const halfH = 0.15; // platform box half height; it reaches below the table top, so any height in range is a solid block
  const margin = 0.08; // platform extends past the marked area: the pad may overhang while wiping the edges
  const platformHalf: [number, number] = [task.areaSizeXyM[0] / 2 + margin, task.areaSizeXyM[1] / 2 + margin];

  out(0, `<mujoco model="${arm.name}_wipe">`);
  out(1, `<compiler angle="radian" autolimits="true"/>`);
  // implicitfast: servo damping integrated implicitly (stable at 2 ms); pyramidal cones are cheaper than elliptic.
  out(1, `<option timestep="${fmt(timestepS)}" integrator="implicitfast" cone="pyramidal" gravity="0 0 -9.81"/>`);
  out(1, `<visual><global offwidth="640" offheight="480"/></visual>`);
  out(1, `<default>`);
  out(2, `<geom ${ARM_COLLISION} friction="0.8 0.005 0.0001" rgba="0.75 0.75 0.78 1"/>`);
  out(2, `<site group="4" rgba="1 0.2 0.2 0.3"/>`);
  out(1, `</default>`);
  out(1, `<worldbody>`);
  out(2, `<light name="top" pos="0.3 0 2" dir="0 0 -1" directional="true"/>`);
  // Table: top face is z = 0 (the arm base stands on it).
  out(2, `<geom name="table" type="box" pos="0.3 0 -0.03" size="0.7 0.6 0.03" ${ENV_COLLISION} rgba="0.55 0.42 0.3 1"/>`);
  // Platform: a mocap body so a height-shift perturbation can move it during the episode.
  // Its geom has priority: its friction and soft contact parameters (a compliant sponge) govern pad contacts.
  out(2, `<body name="surface" mocap="true" pos="${fmtv([task.areaCenterXyM[0], task.areaCenterXyM[1], task.surfaceHeightM - halfH])}">`);
  out(
    3,
    `<geom name="surface" type="box" size="${fmtv([platformHalf[0], platformHalf[1], halfH])}" ${ENV_COLLISION} priority="1" ` +
      `friction="${fmt(task.friction)} 0.005 0.0001" solref="0.02 1" solimp="0.9 0.95 0.004" rgba="0.35 0.4 0.5 1"/>`,
  );
  out(
    3,
    `<geom name="wipe_area" type="box" pos="0 0 ${fmt(halfH)}" size="${fmtv([task.areaSizeXyM[0] / 2, task.areaSizeXyM[1] / 2, 0.0005])}" ` +
      `${NO_COLLISION} group="1" rgba="0.9 0.75 0.2 1"/>`,
  );
  out(2, `</body>`);

  out(2, `<body name="${arm.name}_base" pos="${fmtv(arm.baseXyzM)}">`);
  const base = arm.joints[0];
  out(3, `<geom name="base" type="cylinder" size="0.07 ${fmt(Math.max(0.005, base.originXyzM[2] / 2))}" pos="0 0 ${fmt(Math.max(0.005, base.originXyzM[2] / 2))}" ${NO_COLLISION}/>`);
  let depth = 3;
  for (const j of arm.joints) {
    const quat = rpyToQuat(j.originRpyRad);
    const axisNorm = Math.hypot(...j.axis);
    out(depth, `<body name="${j.name}_link" pos="${fmtv(j.originXyzM)}" quat="${fmtv(quat)}" gravcomp="1">`);
    out(
      depth + 1,
      `<joint name="${j.name}" type="hinge" axis="${fmtv(j.axis.map((a) => a / axisNorm))}" range="${fmt(j.lowerRad)} ${fmt(j.upperRad)}" ` +
        `armature="${fmt(ARMATURE_PER_NM * j.maxEffortNm)}" damping="0.1"/>`,
    );
    const zeroLength = Math.hypot(...j.linkEndM) < 1e-6;
    if (zeroLength) {
      out(depth + 1, `<geom name="${j.name}_geom" type="sphere" size="${fmt(j.linkRadiusM)}" mass="${fmt(j.linkMassKg)}"/>`);
    } else {
      out(depth + 1, `<geom name="${j.name}_geom" type="capsule" fromto="0 0 0 ${fmtv(j.linkEndM)}" size="${fmt(j.linkRadiusM)}" mass="${fmt(j.linkMassKg)}"/>`);
    }
    depth++;
  }

  // Gripper: welded to the last link, so the force/torque sensor at its origin measures everything the tool feels.
  out(depth, `<body name="gripper" pos="${fmtv(last.linkEndM)}" quat="${fmtv(gripperQuat)}" gravcomp="1">`);
  out(depth + 1, `<site name="ft_site" type="cylinder" size="0.03 0.004"/>`);
  out(depth + 1, `<site name="tcp" type="sphere" size="0.005" pos="${fmtv(tcp)}"/>`);
  out(depth + 1, `<geom name="palm" type="box" pos="0 0 ${fmt(palmHalfZ)}" size="${fmtv([0.02, halfWidthMax + 2 * fingerHalfY, palmHalfZ])}" mass="0.3"/>`);
  // Pad: its own body on a compliant mount (a sprung slide along the tool axis and two sprung tilt hinges
  // through the pad face), as a sponge on a gimbal: the pad conforms to the surface and the contact force
  // varies smoothly with depth (about 1.5 N/mm in series with the arm's servo stiffness) instead of jumping.
  out(depth + 1, `<body name="pad" pos="${fmtv(tcp)}" gravcomp="1">`);
  out(depth + 2, `<joint name="pad_press" type="slide" axis="0 0 -1" range="0 ${fmt(PAD_TRAVEL_M)}" stiffness="${fmt(PAD_STIFFNESS_N_PER_M)}" damping="20" armature="0.02"/>`);
  out(depth + 2, `<joint name="pad_tilt_x" type="hinge" axis="1 0 0" range="-0.3 0.3" stiffness="3" damping="0.05" armature="0.0002"/>`);
  out(depth + 2, `<joint name="pad_tilt_y" type="hinge" axis="0 1 0" range="-0.3 0.3" stiffness="3" damping="0.05" armature="0.0002"/>`);
  out(depth + 2, `<site name="pad_face" type="sphere" size="0.004"/>`);
  out(depth + 2, `<geom name="pad_backing" type="box" pos="0 0 ${fmt(-2 * cellRadiusM - backingHalfZ)}" size="${fmtv([padX / 2, padY / 2, backingHalfZ])}" mass="0.05" rgba="0.2 0.5 0.9 1"/>`);
  // One small sphere per taxel (sponge nubs): each gives its own contact, so each touch sensor reads the
  // normal force under its own patch instead of the few corner contacts a single box would give.
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const x = (r - (rows - 1) / 2) * pitch;
      const y = (c - (cols - 1) / 2) * pitch;
      const i = r * cols + c;
      padGeomNames.push(`pad_${i}`);
      taxelSiteNames.push(`taxel_${i}`);
      touchNames.push(`touch_${i}`);
      out(depth + 2, `<geom name="pad_${i}" type="sphere" pos="${fmtv([x, y, -cellRadiusM])}" size="${fmt(cellRadiusM)}" mass="0.002" rgba="0.95 0.85 0.3 1"/>`);
      // The site box holds the sphere's lower half and a few mm below it, where its contact points are.
      out(depth + 2, `<site name="taxel_${i}" type="box" pos="${fmtv([x, y, -cellRadiusM])}" size="${fmtv([pitch / 2, pitch / 2, cellRadiusM + 0.004])}"/>`);
    }
  }
  out(depth + 1, `</body>`);
  for (const [side, sign] of [["left", 1], ["right", -1]] as const) {
    out(depth + 1, `<body name="finger_${side}" pos="0 0 0" gravcomp="1">`);
    out(depth + 2, `<joint name="finger_${side}" type="slide" axis="0 ${sign} 0" range="0 ${fmt(halfWidthMax)}" armature="0.01" damping="1"/>`);
    out(
      depth + 2,
      `<geom name="finger_${side}_geom" type="box" pos="${fmtv([0, sign * fingerHalfY, fingerTopZ + fingerHalfZ])}" size="${fmtv([0.012, fingerHalfY, fingerHalfZ])}" mass="0.05"/>`,
    );
    out(depth + 1, `</body>`);
  }
  out(depth, `</body>`);
  for (let d = depth - 1; d >= 2; d--) out(d, `</body>`);
  out(1, `</worldbody>`);

  out(1, `<tendon>`);
  out(2, `<fixed name="gripper_width"><joint joint="finger_left" coef="1"/><joint joint="finger_right" coef="1"/></fixed>`);
  out(1, `</tendon>`);
  out(1, `<equality>`);
  out(2, `<joint name="finger_coupling" joint1="finger_left" joint2="finger_right" polycoef="0 1 0 0 0"/>`);
  out(1, `</equality>`);

  out(1, `<actuator>`);
  for (const j of arm.joints) {
    out(
      2,
      `<position name="${j.name}" joint="${j.name}" kp="${fmt(KP_PER_NM * j.maxEffortNm)}" dampratio="1" ` +
        `ctrlrange="${fmt(j.lowerRad)} ${fmt(j.upperRad)}" forcerange="${fmt(-j.maxEffortNm)} ${fmt(j.maxEffortNm)}"/>`,
    );
  }
  out(2, `<position name="gripper" tendon="gripper_width" kp="400" dampratio="1" ctrlrange="${fmt(arm.gripper.lowerM)} ${fmt(arm.gripper.upperM)}" forcerange="-40 40"/>`);
  out(1, `</actuator>`);

  const sensors: WipeSceneLayout["sensors"] = {
    jointPos: jointNames.map((n) => `${n}_pos`),
    gripperPos: "gripper_width_pos",
    jointVel: jointNames.map((n) => `${n}_vel`),
    gripperVel: "gripper_width_vel",
    force: "wrist_force",
    torque: "wrist_torque",
    touch: touchNames,
  };
  out(1, `<sensor>`);
  jointNames.forEach((n, i) => out(2, `<jointpos name="${sensors.jointPos[i]}" joint="${n}"/>`));
  out(2, `<tendonpos name="${sensors.gripperPos}" tendon="gripper_width"/>`);
  jointNames.forEach((n, i) => out(2, `<jointvel name="${sensors.jointVel[i]}" joint="${n}"/>`));
  out(2, `<tendonvel name="${sensors.gripperVel}" tendon="gripper_width"/>`);
  out(2, `<force name="${sensors.force}" site="ft_site"/>`);
  out(2, `<torque name="${sensors.torque}" site="ft_site"/>`);
  touchNames.forEach((n, i) => out(2, `<touch name="${n}" site="${taxelSiteNames[i]}"/>`));
  out(1, `</sensor>`);
  out(0, `</mujoco>`);

  return {
    xml: lines.join("\n") + "\n",
    layout: {
      timestepS,
      jointNames,
      fingerJointNames: ["finger_left", "finger_right"],
      padJointNames: ["pad_press", "pad_tilt_x", "pad_tilt_y"],
      gripperTendonName: "gripper_width",
      gripperBodyName: "gripper",
      ftSiteName: "ft_site",
      tcpSiteName: "tcp",
      surfaceBodyName: "surface",
      surfaceGeomName: "surface",
      surfaceHalfHeightM: halfH,
      tactileRows: rows,
      tactileCols: cols,
      taxelPitchM: pitch,
      taxelSiteNames,
      padGeomNames,
      sensors,
    },
  };
}
