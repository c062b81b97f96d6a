// The Gazebo arm backend against ignition-transport 11 peers standing in for gz-sim's systems on the topics of
// the generated world: a JointStatePublisher (Model), the wrist ForceTorque sensor (Wrench), the pad's
// Contact sensor (Contacts), and subscribers in place of the JointPositionControllers. Fortress type names
// (what the Debian library speaks); the gz.msgs.* flavour is covered with raw subscribers.
import { fileURLToPath } from "node:url";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { loadArmDescription } from "../../../src/kinematics/description.js";
import { SharedMemoryBridge } from "../../../src/runtime/fastExecutor.js";
import { SharedRuntimeState } from "../../../src/runtime/sharedState.js";
import { buildGazeboWorld } from "../../../src/sim/sdf.js";
import { resolveWipeTask } from "../../../src/sim/task.js";
import { connectGzArm, GzArmBackend, gzArmOptionsFromWorld, type GzBackendSettings } from "../../../src/transports/gz/armBackend.js";
import { buildPeer, isolatedEnv, PeerProcess, primeUntil, transportUnavailableReason, until } from "./helpers.js";

/** A command whose values mark it as a primer (sent until the subscriber is surely connected). */
const PRIMER = Float64Array.from([2.25, 2.25, 2.25, 2.25, 2.25, 2.25, 0.0625]);
const isPrimer = (v: unknown) => v === 2.25 || v === 0.03125;

const arm = loadArmDescription(fileURLToPath(new URL("../../../sim/arm/description.json", import.meta.url)));
const unavailable = transportUnavailableReason();
if (unavailable) console.warn(`gz arm backend tests skipped: ${unavailable}`);

const JOINTS = [...arm.joints.map((j) => j.name), "finger_left", "finger_right"];
const POSITIONS = [0.1, -0.4, 1.2, 0.5, -0.05, 0.3, 0.015, 0.02];
const VELOCITIES = [0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.001, 0.002];

function snapshot(tactile: number) {
  return { timeNs: 0, positions: new Float64Array(7), velocities: new Float64Array(7), wrench: new Float64Array(6), tactile: new Float64Array(tactile) };
}

describe("GzArmBackend on its own", () => {
  it("says what is missing when the simulator does not show up", async () => {
    const { env, partition } = isolatedEnv();
    const backend = await GzArmBackend.create({ arm, nodeOptions: { env } });
    try {
      const into = snapshot(16);
      expect(backend.readSensors(into)).toBe(false);
      backend.sendCommand(Float64Array.from([0, 0, 0, 0, 0, 0, 0.02]), 0); // nobody registered: nothing goes out
      expect(backend.stats().commandsWithoutSubscriber).toBe(1);
      await expect(backend.waitUntilReady(200)).rejects.toThrow(
        new RegExp(`no joint state on /world/vla_wipe/model/vla_arm6/joint_state; no controller subscribed to 8 command topics .* within 200 ms .*partition "${partition}"`),
      );
    } finally {
      await backend.close();
    }
  });

  it("connects from the configuration's settings only once the simulator answers, and says why it did not", async () => {
    const { env, partition } = isolatedEnv();
    const settings: GzBackendSettings = {
      world: "other_world",
      model: "",
      typeFlavour: "ignition",
      commandMode: "joint-position",
      partition: "",
      ip: "",
      connectTimeoutMs: 300,
      contactHoldMs: 50,
      wrenchConvention: "parent-on-child",
    };
    await expect(connectGzArm(arm, settings, { tactileCount: 16, env })).rejects.toThrow(
      new RegExp(`no joint state on /world/other_world/model/vla_arm6/joint_state.*partition "${partition}".*ignition.msgs \\(Fortress\\)`),
    );
  });

  it("rejects options it cannot honour", async () => {
    const { env } = isolatedEnv();
    await expect(GzArmBackend.create({ arm, typeFlavour: "classic" as never, nodeOptions: { env } })).rejects.toThrow(/typeFlavour must be "gz" or "ignition", got classic/);
    await expect(GzArmBackend.create({ arm, topics: { jointCommands: ["/a"] }, nodeOptions: { env } })).rejects.toThrow(/expected 8 joint command topics .* got 1/);
    await expect(GzArmBackend.create({ arm, commandMode: "trajectory" as never, nodeOptions: { env } })).rejects.toThrow(/commandMode must be "joint-position" or "actuators", got trajectory/);
    await expect(GzArmBackend.create({ arm, wrenchConvention: "up" as never, nodeOptions: { env } })).rejects.toThrow(/wrenchConvention must be/);
    await expect(GzArmBackend.create({ arm, nodeOptions: { env, partition: "bad@partition" } })).rejects.toThrow(/gz partition: "bad@partition" contains "@"/);
  });
});

describe.skipIf(unavailable !== null)("GzArmBackend with ignition-transport 11 peers", () => {
  let peer = "";
  const cleanup: Array<() => Promise<unknown> | void> = [];
  beforeAll(() => {
    peer = buildPeer();
  }, 120_000);
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });
  function start(args: string[], env: NodeJS.ProcessEnv): PeerProcess {
    const p = PeerProcess.start(peer, args, env);
    cleanup.push(() => {
      p.kill();
      return p.exit();
    });
    return p;
  }
  async function backendFor(flavour: "gz" | "ignition", env: NodeJS.ProcessEnv, commandMode: "joint-position" | "actuators" = "joint-position", errors: string[] = []) {
    const world = buildGazeboWorld(arm, resolveWipeTask(), { flavour, commandMode });
    const backend = await GzArmBackend.create({ arm, ...gzArmOptionsFromWorld(world.layout), nodeOptions: { env }, onError: (e) => errors.push(e) });
    cleanup.push(() => backend.close());
    return { backend, layout: world.layout };
  }

  it("turns the simulator's joint states, wrist wrench and pad contacts into a sensor snapshot", async () => {
    const { env } = isolatedEnv();
    const { backend, layout } = await backendFor("ignition", env);
    const into = snapshot(16);
    expect(backend.readSensors(into)).toBe(false); // nothing received yet

    start(["pub", "model", layout.topics.jointState, "ignition.msgs.Model", "500", "4000", `name=${layout.modelName}`, `joints=${[...JOINTS].reverse().join(",")}`, `positions=${[...POSITIONS].reverse().join(",")}`, `velocities=${[...VELOCITIES].reverse().join(",")}`], env);
    start(["pub", "wrench", layout.topics.wrench, "ignition.msgs.Wrench", "500", "4000", "wrench=1,-2,8,0.1,0.2,-0.3"], env);
    const contacts = start(["pub", "contacts", layout.topics.contacts, "ignition.msgs.Contacts", "500", "800", `contacts=${layout.modelName}::pad::taxel_3,0,0,-4.5,0.001;${layout.modelName}::pad::taxel_3,0.3,0,-0.5,0.001;${layout.modelName}::finger_left_link::finger_left,0,0,-50,0.001`], env);

    expect(await until(() => backend.hasState() && backend.stats().wrenches > 5 && backend.stats().contacts > 5, 6000)).toBe(true);
    const before = Number(process.hrtime.bigint());
    expect(backend.readSensors(into)).toBe(true);
    expect(Array.from(into.positions)).toEqual([...POSITIONS.slice(0, 6), POSITIONS[6] + POSITIONS[7]]);
    expect(Array.from(into.velocities)).toEqual([...VELOCITIES.slice(0, 6), VELOCITIES[6] + VELOCITIES[7]]);
    // The sensor reports what the arm applies to the gripper; the runtime wants what the world applies to the tool.
    expect(Array.from(into.wrench)).toEqual([-1, 2, -8, -0.1, -0.2, 0.3]);
    expect(into.tactile[3]).toBeCloseTo(5, 12);
    expect(Array.from(into.tactile).filter((_, i) => i !== 3).every((v) => v === 0)).toBe(true);
    expect(into.timeNs).toBeGreaterThan(before - 200e6); // the receive time of the newest joint state
    expect(into.timeNs).toBeLessThanOrEqual(Number(process.hrtime.bigint()));

    // Contacts are only published while touching: once they stop, the taxels read zero.
    await contacts.exit(5000);
    await new Promise((r) => setTimeout(r, 120));
    backend.readSensors(into);
    expect(Array.from(into.tactile).every((v) => v === 0)).toBe(true);
    const s = backend.stats();
    expect(s.malformedJointStates + s.malformedWrenches + s.malformedContacts + s.incompleteJointStates).toBe(0);
    expect(s.unmatchedContacts).toBeGreaterThan(0); // the finger contact
  });

  it("sends each joint's target and half the gripper width to each finger, as real subscribers receive them", async () => {
    const { env } = isolatedEnv();
    const errors: string[] = [];
    const { backend, layout } = await backendFor("ignition", env, "joint-position", errors);
    const sub = start(["sub", layout.topics.jointCommands.join(","), "ignition.msgs.Double", "100000", "10000"], env);
    await sub.ready();
    expect(await until(() => backend.commandsConnected(), 5000)).toBe(true);
    await primeUntil(() => backend.sendCommand(PRIMER, 0), () => new Set(sub.json.map((j) => j.topic)).size === 8);
    backend.sendCommand(Float64Array.from([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.05]), 0);
    backend.sendCommand(Float64Array.from([1.1, 1.2, NaN, 1.4, 1.5, 1.6, 0.07]), 0); // elbow withheld
    const counted = () => sub.json.filter((j) => "data" in j && !isPrimer(j.data));
    await until(() => counted().length >= 15, 5000);
    const byTopic = new Map<string, number[]>();
    for (const j of counted()) byTopic.set(j.topic as string, [...(byTopic.get(j.topic as string) ?? []), j.data as number]);
    const expected = [
      [0.1, 1.1],
      [0.2, 1.2],
      [0.3],
      [0.4, 1.4],
      [0.5, 1.5],
      [0.6, 1.6],
      [0.025, 0.035],
      [0.025, 0.035],
    ];
    layout.topics.jointCommands.forEach((topic, i) => expect(byTopic.get(topic), topic).toEqual(expected[i]));
    expect(backend.stats().nonFiniteCommands).toBe(1);
    expect(errors.some((e) => /joint 2 is NaN, expected a finite number/.test(e))).toBe(true);
  });

  it("sends one gz.msgs.Actuators message per command in actuators mode (Harmonic type names)", async () => {
    const { env } = isolatedEnv();
    const { backend, layout } = await backendFor("gz", env, "actuators");
    const sub = start(["sub", layout.topics.actuators, "gz.msgs.Actuators", "100000", "10000"], env);
    await sub.ready();
    expect(await until(() => backend.commandsConnected(), 5000)).toBe(true);
    await primeUntil(() => backend.sendCommand(PRIMER, 0), () => sub.json.length > 0);
    backend.sendCommand(Float64Array.from([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.08]), 0);
    backend.sendCommand(Float64Array.from([0, 0, Infinity, 0, 0, 0, 0]), 0); // withheld as a whole
    backend.sendCommand(Float64Array.from([-0.1, -0.2, -0.3, -0.4, -0.5, -0.6, 0]), 0);
    const counted = () => sub.json.filter((j) => "position" in j && !isPrimer((j.position as number[])[0]));
    await until(() => counted().length >= 2, 5000);
    const got = counted();
    expect(got.map((j) => j.position)).toEqual([
      [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.04, 0.04],
      [-0.1, -0.2, -0.3, -0.4, -0.5, -0.6, 0, 0],
    ]);
    expect(got.every((j) => j.type === "gz.msgs.Actuators")).toBe(true);
  });

  it("connects from the configuration's settings once a simulator's joint states and controllers are there", async () => {
    const { env, partition } = isolatedEnv();
    const { layout } = buildGazeboWorld(arm, resolveWipeTask(), { flavour: "ignition" });
    start(["pub", "model", layout.topics.jointState, "ignition.msgs.Model", "200", "8000", `name=${layout.modelName}`, `joints=${JOINTS.join(",")}`, `positions=${POSITIONS.join(",")}`], env);
    const sub = start(["sub", layout.topics.jointCommands.join(","), "ignition.msgs.Double", "100000", "10000"], env);
    await sub.ready();
    const backend = await connectGzArm(
      arm,
      { world: "vla_wipe", model: "", typeFlavour: "ignition", commandMode: "joint-position", partition, ip: "127.0.0.1", connectTimeoutMs: 8000, contactHoldMs: 50, wrenchConvention: "parent-on-child" },
      { tactileCount: 16 },
    );
    cleanup.push(() => backend.close());
    expect(backend.hasState() && backend.commandsConnected()).toBe(true);
    expect(backend.gzNode.partition).toBe(partition);
  });

  it("moves commands and samples through the runtime's shared-memory bridge", async () => {
    const { env } = isolatedEnv();
    const { backend, layout } = await backendFor("ignition", env);
    const state = SharedRuntimeState.create({ dim: 7, tactileCount: 16, maxChunkSteps: 8, latentSize: 0 });
    const bridge = new SharedMemoryBridge({ state, backend });
    start(["pub", "model", layout.topics.jointState, "ignition.msgs.Model", "500", "4000", `name=${layout.modelName}`, `joints=${JOINTS.join(",")}`, `positions=${POSITIONS.join(",")}`], env);
    const sub = start(["sub", layout.topics.jointCommands.join(","), "ignition.msgs.Double", "100000", "10000"], env);
    await sub.ready();
    await backend.waitUntilReady(6000);
    await primeUntil(() => backend.sendCommand(PRIMER, 0), () => new Set(sub.json.map((j) => j.topic)).size === 8);

    expect(bridge.pushSensors()).toBe(true);
    const seen = state.createSensorSnapshot();
    expect(state.readSensors(seen)).toBe(true);
    expect(Array.from(seen.positions)).toEqual([...POSITIONS.slice(0, 6), POSITIONS[6] + POSITIONS[7]]);

    const record = state.createCommandRecord();
    record.command.set([0, -0.75, 0, 0, 0, 0, 0.02]);
    record.timeNs = Number(process.hrtime.bigint());
    state.writeCommand(record);
    expect(bridge.pumpCommands()).toBe("forwarding");
    const counted = () => sub.json.filter((j) => "data" in j && !isPrimer(j.data));
    await until(() => counted().length >= 8, 5000);
    expect(counted().find((j) => j.topic === layout.topics.jointCommands[1])?.data).toBe(-0.75);
    expect(counted().filter((j) => j.topic === layout.topics.jointCommands[7]).map((j) => j.data)).toEqual([0.01]);
  });
});
