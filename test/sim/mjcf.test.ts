import { describe, expect, it } from "vitest";
import type { ArmDescription, Vec3 } from "../../src/kinematics/description.js";
import { buildWipeScene } from "../../src/sim/mjcf.js";
import { compileMjcf, loadMujoco } from "../../src/sim/mujocoLoader.js";
import { resolveWipeTask, seededRandom } from "../../src/sim/task.js";
import { bundledArm } from "./helpers.js";

type Mat = number[]; // row-major 4x4

function matMul(a: Mat, b: Mat): Mat {
  const c = new Array<number>(16).fill(0);
  for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) for (let k = 0; k < 4; k++) c[4 * i + j] += a[4 * i + k] * b[4 * k + j];
  return c;
}

function translation([x, y, z]: Vec3): Mat {
  return [1, 0, 0, x, 0, 1, 0, y, 0, 0, 1, z, 0, 0, 0, 1];
}

/** Rodrigues rotation about a unit axis. */
function axisAngle([x, y, z]: Vec3, angle: number): Mat {
  const n = Math.hypot(x, y, z);
  [x, y, z] = [x / n, y / n, z / n];
  const c = Math.cos(angle), s = Math.sin(angle), t = 1 - c;
  return [t * x * x + c, t * x * y - s * z, t * x * z + s * y, 0, t * x * y + s * z, t * y * y + c, t * y * z - s * x, 0, t * x * z - s * y, t * y * z + s * x, t * z * z + c, 0, 0, 0, 0, 1];
}

/** URDF rpy: fixed-axis roll about x, then pitch about y, then yaw about z. */
function rpy([r, p, y]: Vec3): Mat {
  return matMul(axisAngle([0, 0, 1], y), matMul(axisAngle([0, 1, 0], p), axisAngle([1, 0, 0], r)));
}

/** Forward kinematics straight from the description, written independently of the MJCF generator. */
function toolPose(arm: ArmDescription, q: number[]): Mat {
  let T = translation(arm.baseXyzM);
  arm.joints.forEach((j, i) => {
    T = matMul(T, matMul(translation(j.originXyzM), matMul(rpy(j.originRpyRad), axisAngle(j.axis, q[i]))));
  });
  return matMul(T, matMul(translation(arm.toolXyzM), rpy(arm.toolRpyRad)));
}

describe("wipe scene MJCF", () => {
  const arm = bundledArm();
  const task = resolveWipeTask();

  it("declares one servo per joint plus the gripper, and every sensor the backend reads", () => {
    const { xml, layout } = buildWipeScene(arm, task);
    expect(xml.match(/<position /g)).toHaveLength(arm.joints.length + 1);
    expect(xml.match(/<touch /g)).toHaveLength(16);
    expect(layout.taxelSiteNames).toHaveLength(16);
    expect(layout.sensors.jointPos).toEqual(arm.joints.map((j) => `${j.name}_pos`));
    for (const j of arm.joints) expect(xml).toContain(`<joint name="${j.name}" type="hinge"`);
  });

  it("takes the taxel grid from the options", () => {
    const { xml, layout } = buildWipeScene(arm, task, { tactileRows: 3, tactileCols: 5 });
    expect(layout.taxelSiteNames).toHaveLength(15);
    expect(xml.match(/<touch /g)).toHaveLength(15);
  });

  it.each([
    [{ timestepS: 0.5 }, /wipe scene: timestepS must be a number in \[0.0001, 0.01\] s, got 0.5/],
    [{ tactileRows: 0 }, /wipe scene: tactileRows must be an integer in \[1, 16\], got 0/],
    [{ taxelPitchM: Number.NaN }, /wipe scene: taxelPitchM must be a number/],
  ])("rejects the scene option %j", (options, message) => {
    expect(() => buildWipeScene(arm, task, options)).toThrow(message);
  });

  it("rejects a malformed arm description before MuJoCo sees it", () => {
    const swapped = structuredClone(arm);
    swapped.joints[2].lowerRad = 3;
    expect(() => buildWipeScene(swapped, task)).toThrow(/arm\.joints\[2\]\.lowerRad\/upperRad must be lower < upper, got \[3,2\.6\]/);
    const badName = structuredClone(arm);
    badName.joints[0].name = "shoulder pan";
    expect(() => buildWipeScene(badName, task)).toThrow(/arm\.joints\[0\]\.name must be an identifier/);
    const clash = structuredClone(arm);
    clash.joints[5].name = "pad_press";
    expect(() => buildWipeScene(clash, task)).toThrow(/different from the gripper's own joint "pad_press"/);
  });

  it("compiles, with counts and ranges that match the description", async () => {
    const mujoco = await loadMujoco();
    const { xml, layout } = buildWipeScene(arm, task);
    const model = compileMjcf(mujoco, xml);
    try {
      const dim = arm.joints.length + 1;
      expect(model.nu).toBe(dim);
      // jointpos + jointvel per joint, gripper width + velocity, force(3) + torque(3), one touch per taxel.
      expect(model.nsensordata).toBe(2 * dim + 6 + layout.taxelSiteNames.length);
      const range = model.jnt_range as Float64Array;
      const ctrlRange = model.actuator_ctrlrange as Float64Array;
      arm.joints.forEach((j, i) => {
        const id = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT.value, j.name);
        expect(range[2 * id]).toBeCloseTo(j.lowerRad, 9);
        expect(range[2 * id + 1]).toBeCloseTo(j.upperRad, 9);
        expect(ctrlRange[2 * i]).toBeCloseTo(j.lowerRad, 9);
        expect(ctrlRange[2 * i + 1]).toBeCloseTo(j.upperRad, 9);
      });
      expect(ctrlRange[2 * arm.joints.length + 1]).toBeCloseTo(arm.gripper.upperM, 9);
    } finally {
      model.delete();
    }
  });

  it("puts the tool centre where forward kinematics of the description says, for random joint angles", async () => {
    const mujoco = await loadMujoco();
    // A description with non-trivial joint and tool rotations exercises the rpy conversion too.
    const tilted = structuredClone(arm);
    tilted.joints[1].originRpyRad = [0.1, -0.2, 0.3];
    tilted.joints[4].originRpyRad = [0, 0.25, 0];
    tilted.toolRpyRad = [0, 0, 0.4];
    for (const description of [arm, tilted]) {
      const model = compileMjcf(mujoco, buildWipeScene(description, task).xml);
      const data = new mujoco.MjData(model);
      try {
        const rand = seededRandom(11);
        const tcp = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE.value, "tcp");
        const adr = model.jnt_qposadr as Int32Array;
        for (let trial = 0; trial < 5; trial++) {
          const q = description.joints.map((j) => j.lowerRad + (j.upperRad - j.lowerRad) * rand());
          const qpos = data.qpos as Float64Array;
          description.joints.forEach((j, i) => (qpos[adr[mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT.value, j.name)]] = q[i]));
          mujoco.mj_kinematics(model, data);
          const T = toolPose(description, q);
          const pos = data.site_xpos as Float64Array;
          const mat = data.site_xmat as Float64Array;
          for (let k = 0; k < 3; k++) expect(pos[3 * tcp + k]).toBeCloseTo(T[4 * k + 3], 9);
          for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) expect(mat[9 * tcp + 3 * r + c]).toBeCloseTo(T[4 * r + c], 9);
        }
      } finally {
        data.delete();
        model.delete();
      }
    }
  });
});
