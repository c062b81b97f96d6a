// The generated URDF: accepted by urdfdom's own parser (check_urdf, from Debian's liburdfdom-tools; skipped with the
// reason when it is not installed), and its /tf transforms chained from the world put the tool exactly where the
// runtime's forward kinematics does.
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ArmKinematics } from "../../src/kinematics/kinematics.js";
import { ArmTransforms, armUrdf, linkNames, quatFromRpy, type FrameTransform } from "../../src/observability/urdf.js";
import { bundledArm } from "./synthetic.js";

const checkUrdf = spawnSync("check_urdf", ["--help"]).error ? null : "check_urdf";

type Pose = { p: [number, number, number]; q: [number, number, number, number] }; // q: w x y z

function rotate(q: Pose["q"], v: [number, number, number]): [number, number, number] {
  const [w, x, y, z] = q;
  const tx = 2 * (y * v[2] - z * v[1]), ty = 2 * (z * v[0] - x * v[2]), tz = 2 * (x * v[1] - y * v[0]);
  return [v[0] + w * tx + (y * tz - z * ty), v[1] + w * ty + (z * tx - x * tz), v[2] + w * tz + (x * ty - y * tx)];
}

function compose(a: Pose, b: Pose): Pose {
  const r = rotate(a.q, b.p);
  const [aw, ax, ay, az] = a.q;
  const [bw, bx, by, bz] = b.q;
  return {
    p: [a.p[0] + r[0], a.p[1] + r[1], a.p[2] + r[2]],
    q: [aw * bw - ax * bx - ay * by - az * bz, aw * bx + ax * bw + ay * bz - az * by, aw * by - ax * bz + ay * bw + az * bx, aw * bz + ax * by - ay * bx + az * bw],
  };
}

const fromTf = (t: FrameTransform): Pose => ({ p: [t.translation.x, t.translation.y, t.translation.z], q: [t.rotation.w, t.rotation.x, t.rotation.y, t.rotation.z] });

describe("the arm's URDF and transforms", () => {
  const arm = bundledArm();

  it.skipIf(!checkUrdf)("parses with urdfdom's check_urdf (liburdfdom-tools) with every link in one tree", () => {
    const file = join(mkdtempSync(join(tmpdir(), "vla-urdf-")), "arm.urdf");
    writeFileSync(file, armUrdf(arm));
    const run = spawnSync("check_urdf", [file], { encoding: "utf8" });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toContain(`robot name is: ${arm.name}`);
    expect(run.stdout).toContain("root Link: world has 1 child(ren)");
    const names = linkNames(arm);
    for (const link of [...names.links, names.tool, ...names.fingers]) expect(run.stdout).toContain(link);
  });

  it("chains its transforms to the tool pose the runtime's forward kinematics computes", () => {
    const fk = new ArmKinematics(arm);
    const tf = new ArmTransforms(arm);
    const names = linkNames(arm);
    const toolPos = new Float64Array(3);
    const toolRot = new Float64Array(9);
    for (const q of [
      [0, 0, 0, 0, 0, 0, 0.04],
      [0.3, 0.37, 0.78, 2.0, -0.4, 0.2, 0.06],
      [-1.2, -0.5, 1.4, -0.3, 1.1, -0.9, 0.0],
    ]) {
      let pose: Pose = { p: [...arm.baseXyzM], q: [1, 0, 0, 0] };
      for (const t of tf.transforms(q).filter((t) => names.links.includes(t.child))) pose = compose(pose, fromTf(t));
      // Last link -> tool: the URDF's fixed tool joint.
      pose = compose(pose, { p: [...arm.toolXyzM], q: quatFromRpy(arm.toolRpyRad[0], arm.toolRpyRad[1], arm.toolRpyRad[2]) });
      fk.forward(q, toolPos, toolRot);
      for (let i = 0; i < 3; i++) expect(pose.p[i]).toBeCloseTo(toolPos[i], 12);
      // Tool z axis from the quaternion vs the third column of the FK rotation.
      const z = rotate(pose.q, [0, 0, 1]);
      for (let i = 0; i < 3; i++) expect(z[i]).toBeCloseTo(toolRot[i * 3 + 2], 12);
    }
  });

  it("splits the gripper width between the fingers and says what it expected on a short vector", () => {
    const t = new ArmTransforms(arm).transforms([0, 0, 0, 0, 0, 0, 0.06]);
    const fingers = t.filter((x) => x.parent === linkNames(arm).gripper);
    expect(fingers.map((f) => f.translation.y)).toEqual([0.03, -0.03]);
    expect(() => new ArmTransforms(arm).transforms([0, 0])).toThrow("urdf transforms: expected 7 positions (joints + gripper), got 2");
  });
});
