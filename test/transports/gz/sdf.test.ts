// The Gazebo world generated from the arm description: what libsdformat 12 (the parser of gz-sim Fortress)
// reads back from it, checked against the description and against the arm's own kinematics, the topics the
// backend uses, and the checked-in copies in sim/gazebo/ (which must be exactly what the generator writes).
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { loadArmDescription } from "../../../src/kinematics/description.js";
import { ArmKinematics } from "../../../src/kinematics/kinematics.js";
import { buildGazeboWorld, defaultGazeboWorlds, type GazeboWorldOptions } from "../../../src/sim/sdf.js";
import { resolveWipeTask } from "../../../src/sim/task.js";
import { defaultGzArmTopics } from "../../../src/transports/gz/armBackend.js";
import { buildSdfChecker, sdformatUnavailableReason } from "./helpers.js";

const arm = loadArmDescription(fileURLToPath(new URL("../../../sim/arm/description.json", import.meta.url)));
const task = resolveWipeTask();
const unavailable = sdformatUnavailableReason();
if (unavailable) console.warn(`SDFormat checks skipped: ${unavailable}`);

interface Checked {
  errors: string[];
  worlds: Array<{
    name: string;
    plugins: Array<{ filename: string; name: string; elements: Record<string, string> }>;
    models: Array<{
      name: string;
      static: boolean;
      plugins: Array<{ filename: string; name: string; elements: Record<string, string> }>;
      links: Array<{ name: string; mass: number; inertiaValid: boolean; position: number[]; rotation: number[]; poseErrors: number; collisions: string[]; sensors: Array<Record<string, unknown>> }>;
      joints: Array<{ name: string; type: number; parent: string; child: string; axisModel?: number[]; lower?: number; upper?: number; effort?: number; velocity?: number; sensors: Array<Record<string, unknown>> }>;
    }>;
  }>;
}

let checker = "";
const dir = mkdtempSync(join(tmpdir(), "vla-sdf-"));
function check(xml: string): Checked {
  const file = join(dir, `world-${Math.random().toString(36).slice(2)}.sdf`);
  writeFileSync(file, xml);
  const r = spawnSync(checker, [file], { encoding: "utf8" });
  return JSON.parse(r.stdout) as Checked;
}

describe("generated Gazebo world", () => {
  it("names the same topics the backend uses by default", () => {
    const { layout } = buildGazeboWorld(arm, task);
    expect(defaultGzArmTopics(layout.modelName, layout.worldName, layout.jointNames, layout.fingerJointNames)).toEqual(layout.topics);
    expect(layout.topics.jointCommands[0]).toBe(`/model/${arm.name}/joint/${arm.joints[0].name}/0/cmd_pos`);
    expect(layout.topics.jointState).toBe(`/world/vla_wipe/model/${arm.name}/joint_state`);
  });

  it("matches the files checked in under sim/gazebo/", () => {
    for (const { file, world } of defaultGazeboWorlds(arm, task)) {
      const checkedIn = readFileSync(fileURLToPath(new URL(`../../../sim/gazebo/${file}`, import.meta.url)), "utf8");
      expect(checkedIn, `sim/gazebo/${file} is stale: regenerate it`).toBe(world.xml);
    }
  });

  it("rejects options it cannot honour, with the field and the value", () => {
    const bad: Array<[GazeboWorldOptions, RegExp]> = [
      [{ flavour: "classic" as never }, /flavour must be "gz" or "ignition", got "classic"/],
      [{ flavour: "ignition", commandMode: "actuators" }, /commandMode must be "joint-position" for Fortress/],
      [{ stepS: 0 }, /stepS must be a number in \[0.0001, 0.01\] s, got 0/],
      [{ tactileRows: 0 }, /tactileRows must be an integer in \[1, 16\]/],
      [{ worldName: "has space" }, /worldName must be an identifier/],
    ];
    for (const [options, message] of bad) expect(() => buildGazeboWorld(arm, task, options)).toThrow(message);
    expect(() => buildGazeboWorld({ ...arm, joints: [] }, task)).toThrow(/arm.joints must be a non-empty array/);
  });

  it("places the platform top at the task's surface height with its friction", () => {
    const { xml } = buildGazeboWorld(arm, resolveWipeTask({ surfaceHeightM: 0.12, friction: 0.9 }));
    const platform = /<model name="wipe_surface"><static>true<\/static><pose>([^<]+)<\/pose>[\s\S]*?<box><size>([^<]+)<\/size>[\s\S]*?<mu>([^<]+)<\/mu>/.exec(xml);
    expect(platform).not.toBeNull();
    const [, pose, size, mu] = platform!;
    const z = Number(pose.split(" ")[2]);
    const height = Number(size.split(" ")[2]);
    expect(z + height / 2).toBeCloseTo(0.12, 9);
    expect(Number(mu)).toBe(0.9);
  });
});

describe.skipIf(unavailable !== null)("generated Gazebo world, read back by libsdformat 12", () => {
  beforeAll(() => {
    checker = buildSdfChecker();
  }, 120_000);

  it("loads without errors, with every link's inertia physically valid", () => {
    for (const { world } of defaultGazeboWorlds(arm, task)) {
      const c = check(world.xml);
      expect(c.errors).toEqual([]);
      const model = c.worlds[0].models.find((m) => m.name === arm.name)!;
      for (const link of model.links) {
        expect(link.inertiaValid, link.name).toBe(true);
        expect(link.poseErrors, link.name).toBe(0);
      }
    }
  });

  it("has the description's joints, limits and masses, and a tool frame where the arm's kinematics puts it", () => {
    const c = check(buildGazeboWorld(arm, task).xml);
    const model = c.worlds[0].models.find((m) => m.name === arm.name)!;
    const kin = new ArmKinematics(arm);
    const q = new Float64Array(arm.joints.length);
    const jac = new Float64Array(6 * arm.joints.length);
    kin.jacobian(q, jac);
    arm.joints.forEach((j, i) => {
      const joint = model.joints.find((x) => x.name === j.name)!;
      expect(joint.type).toBe(6); // revolute
      expect([joint.lower, joint.upper, joint.effort, joint.velocity]).toEqual([j.lowerRad, j.upperRad, j.maxEffortNm, j.maxVelocityRadPerS]);
      // The angular rows of the Jacobian at q = 0 are the joint axes in the world (= model) frame.
      const n = arm.joints.length;
      const axis = [jac[3 * n + i], jac[4 * n + i], jac[5 * n + i]];
      joint.axisModel!.forEach((v, k) => expect(v).toBeCloseTo(axis[k], 9));
      expect(model.links.find((l) => l.name === joint.child)!.mass).toBe(j.linkMassKg);
    });
    const pos = new Float64Array(3);
    const rot = new Float64Array(9);
    kin.forward(q, pos, rot);
    const pad = model.links.find((l) => l.name === "pad")!;
    pad.position.forEach((v, k) => expect(v).toBeCloseTo(pos[k], 9));
    const fingers = model.joints.filter((j) => j.name.startsWith("finger_"));
    expect(fingers.map((f) => [f.type, f.lower, f.upper])).toEqual([
      [5, 0, arm.gripper.upperM / 2],
      [5, 0, arm.gripper.upperM / 2],
    ]);
  });

  it("carries a position controller per joint and finger, a joint state publisher, the wrist sensor and the pad's contact sensor on the backend's topics", () => {
    for (const flavour of ["gz", "ignition"] as const) {
      const { xml, layout } = buildGazeboWorld(arm, task, { flavour });
      const c = check(xml);
      const prefix = flavour === "gz" ? "gz-sim-" : "ignition-gazebo-";
      expect(c.worlds[0].plugins.map((p) => p.filename)).toEqual(expect.arrayContaining([`${prefix}physics-system`, `${prefix}forcetorque-system`, `${prefix}contact-system`]));
      const model = c.worlds[0].models.find((m) => m.name === arm.name)!;
      const controllers = model.plugins.filter((p) => p.filename === `${prefix}joint-position-controller-system`);
      expect(controllers.map((p) => p.elements.joint_name)).toEqual([...layout.jointNames, ...layout.fingerJointNames]);
      for (const p of controllers) expect(Number(p.elements.p_gain)).toBeGreaterThan(0);
      const jsp = model.plugins.filter((p) => p.filename === `${prefix}joint-state-publisher-system`);
      expect(jsp).toHaveLength(1);
      const ft = model.joints.find((j) => j.name === "wrist_ft_joint")!;
      expect(ft.parent).toBe(`${arm.joints[arm.joints.length - 1].name}_link`);
      expect(ft.sensors).toEqual([expect.objectContaining({ type: "force_torque", topic: layout.topics.wrench, frame: 2 /* child */, measureDirection: 1 /* parent_to_child */ })]);
      const pad = model.links.find((l) => l.name === "pad")!;
      expect(pad.collisions).toEqual(expect.arrayContaining(layout.taxelCollisionNames));
      expect(pad.sensors).toEqual([expect.objectContaining({ type: "contact", topic: layout.topics.contacts, contactTopic: layout.topics.contacts, collisions: layout.taxelCollisionNames })]);
    }
  });

  it("routes every controller to the Actuators topic in actuators mode", () => {
    const { xml, layout } = buildGazeboWorld(arm, task, { commandMode: "actuators" });
    const model = check(xml).worlds[0].models.find((m) => m.name === arm.name)!;
    const controllers = model.plugins.filter((p) => p.filename === "gz-sim-joint-position-controller-system");
    expect(controllers.map((p) => [p.elements.use_actuator_msg, Number(p.elements.actuator_number), p.elements.topic])).toEqual(
      controllers.map((_, i) => ["true", i, layout.topics.actuators]),
    );
  });
});
