// The lifecycle node against the stand-in graph, with the real runtime behind it (the fast loop in its worker,
// the shared-memory bridge, the slow executor). A small fake arm plays joint_state_broadcaster + controller: it
// publishes JointState and follows the commands the node sends. Asserted is what a ROS graph would see.
import { fileURLToPath } from "node:url";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { VlaRuntimeNode, type PolicyFactory } from "../../../src/transports/ros2/node.js";
import { bundleSourceModule } from "../../helpers/bundle.js";
import { FakeArm, HoldPosePolicy, NAMES, READY, TARGET } from "./fixtures.js";
import { createStandIn, QOS, StandInGraph, type StandInLifecycleNode } from "./standIn.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));

let workerUrl: URL;
beforeAll(async () => {
  workerUrl = await bundleSourceModule("runtime/fastWorker.ts", "fastWorker");
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(what: string, condition: () => boolean, timeoutMs = 8000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setUp(options: { overrides?: Record<string, unknown>; realTimers?: boolean; policyFactory?: PolicyFactory } = {}) {
  const graph = new StandInGraph(options.overrides ?? {});
  const rcl = await createStandIn(graph, { realTimers: options.realTimers ?? true });
  const policy = new HoldPosePolicy();
  const node = new VlaRuntimeNode({
    rcl,
    packageRoot: root,
    policyFactory: options.policyFactory ?? (() => ({ policy, stepPeriodNs: 100e6 })),
    workerUrl,
    fastExtras: { threadNice: null },
  });
  const ros = node.node as StandInLifecycleNode;
  cleanups.push(async () => {
    if (ros.lifecycle !== "finalized") ros.shutdown();
    await node.whenSettled();
    ros.destroy();
  });
  return { graph, node, ros, policy };
}

describe("vla_runtime lifecycle node: graph and lifecycle", () => {
  it("configure creates the topics, types, QoS and services a ROS user sees; nothing is commanded", async () => {
    const { graph, node, ros } = await setUp({ realTimers: false });
    expect(graph.endpoints).toHaveLength(0);
    ros.configure();
    expect(node.state).toBe("inactive");
    const endpoints = graph.endpoints.map((e) => [e.kind, e.topic, e.type, e.qos.reliability]);
    expect(endpoints).toEqual(
      expect.arrayContaining([
        ["subscription", "/joint_states", "sensor_msgs/msg/JointState", "best_effort"],
        ["subscription", "/camera/image_raw", "sensor_msgs/msg/Image", "best_effort"],
        ["subscription", "/camera/image_raw/compressed", "sensor_msgs/msg/CompressedImage", "best_effort"],
        ["subscription", "/wrench", "geometry_msgs/msg/WrenchStamped", "best_effort"],
        ["subscription", "/tactile", "vla_runtime/msg/TactileArray", "best_effort"],
        ["subscription", "/vla_runtime/instruction", "std_msgs/msg/String", "reliable"],
        ["subscription", "/vla_runtime/estop", "std_msgs/msg/Bool", "reliable"],
        ["publisher", "/joint_trajectory_controller/joint_trajectory", "trajectory_msgs/msg/JointTrajectory", "reliable"],
        ["publisher", "/vla_runtime/action_chunk", "vla_runtime/msg/ActionChunk", "reliable"],
        ["publisher", "/vla_runtime/status", "vla_runtime/msg/PolicyStatus", "reliable"],
        ["publisher", "/diagnostics", "diagnostic_msgs/msg/DiagnosticArray", "reliable"],
      ]),
    );
    expect(graph.endpoints).toHaveLength(11);
    expect(graph.services.map((s) => [s.name, s.type])).toEqual([
      ["/vla_runtime/reset_estop", "std_srvs/srv/Trigger"],
      ["/vla_runtime/set_policy_enabled", "std_srvs/srv/SetBool"],
      ["/vla_runtime/set_instruction", "vla_runtime/srv/SetInstruction"],
    ]);
    expect(ros.timers.map((t) => t.periodNs)).toEqual([20_000_000n, 50_000_000n, 500_000_000n]);
    ros.fireTimers();
    expect(graph.publishCount("/joint_trajectory_controller/joint_trajectory")).toBe(0);
    const status = graph.messages("/vla_runtime/status").at(-1)!.decoded;
    expect(status).toMatchObject({ state: "inactive", policy_enabled: true, emergency_stop_latched: false, ticks: 0n });
    const diagnostics = graph.messages("/diagnostics").at(-1)!.decoded as { status: { name: string; level: number; message: string }[] };
    expect(diagnostics.status.map((s) => s.name)).toEqual(["vla_runtime: fast loop", "vla_runtime: policy", "vla_runtime: inputs"]);
    expect(diagnostics.status[2]).toMatchObject({ level: 3, message: `no joint state yet for ${NAMES.join(", ")}` });
    ros.cleanup();
    expect(node.state).toBe("unconfigured");
    expect(graph.endpoints.every((e) => e.destroyed)).toBe(true);
    expect(graph.services.every((s) => s.destroyed)).toBe(true);
    expect(ros.transitions.map((t) => `${t.transition}:${t.result}:${t.to}`)).toEqual(["configure:SUCCESS:inactive", "cleanup:SUCCESS:unconfigured"]);
  });

  it("refuses to activate without joint states, a loaded policy, or with a latched emergency stop, and says why", async () => {
    let release: (() => void) | null = null;
    const loading = new Promise<void>((resolve) => (release = resolve));
    const policy = new HoldPosePolicy();
    const { graph, ros, node } = await setUp({ realTimers: false, policyFactory: async () => (await loading, { policy, stepPeriodNs: 100e6 }) });
    ros.configure();
    ros.activate();
    expect(graph.logs.at(-1)).toEqual({ level: "error", message: "activate: the policy is still loading" });
    release!();
    await sleep(0);
    ros.activate();
    expect(graph.logs.at(-1)!.message).toBe(`activate: no joint state yet for ${NAMES.join(", ")} on /joint_states`);
    // Arm joints only: the gripper is still missing.
    graph.inject("/joint_states", "sensor_msgs/msg/JointState", { header: { stamp: { sec: 0, nanosec: 0 }, frame_id: "" }, name: NAMES.slice(0, 6), position: READY.slice(0, 6), velocity: [], effort: [] });
    ros.activate();
    expect(graph.logs.at(-1)!.message).toBe("activate: no joint state yet for gripper on /joint_states");
    graph.inject("/vla_runtime/estop", "std_msgs/msg/Bool", { data: true });
    graph.inject("/joint_states", "sensor_msgs/msg/JointState", { header: { stamp: { sec: 0, nanosec: 0 }, frame_id: "" }, name: ["gripper"], position: [0.06], velocity: [], effort: [] });
    ros.activate();
    expect(graph.logs.at(-1)!.message).toBe("activate: the emergency stop is latched: reset it with ~/reset_estop");
    expect(ros.transitions.filter((t) => t.transition === "activate").map((t) => `${t.result}:${t.to}`)).toEqual(["FAILURE:inactive", "FAILURE:inactive", "FAILURE:inactive", "FAILURE:inactive"]);
    expect(node.state).toBe("inactive");
    expect(graph.publishCount("/joint_trajectory_controller/joint_trajectory")).toBe(0);
  });

  it("fails configure with the reason when the arm description cannot be read, and stays unconfigured", async () => {
    const { graph, ros, node } = await setUp({ realTimers: false, overrides: { "ros2.arm_description": "/nonexistent/arm.json" } });
    ros.configure();
    expect(node.state).toBe("unconfigured");
    expect(ros.transitions.at(-1)).toMatchObject({ transition: "configure", result: "FAILURE", to: "unconfigured" });
    expect(graph.logs.at(-1)).toEqual({ level: "error", message: "configure: ENOENT: no such file or directory, open '/nonexistent/arm.json'" });
    expect(graph.endpoints).toHaveLength(0);
  });

  it("goes back to inactive, saying why, when the runtime cannot start after activation", async () => {
    const graph = new StandInGraph();
    const rcl = await createStandIn(graph, { realTimers: false });
    const policy = new HoldPosePolicy();
    const node = new VlaRuntimeNode({ rcl, packageRoot: root, policyFactory: () => ({ policy, stepPeriodNs: 100e6 }), workerUrl: new URL("file:///nonexistent/fastWorker.js") });
    const ros = node.node as StandInLifecycleNode;
    ros.configure();
    await sleep(0);
    graph.inject("/joint_states", "sensor_msgs/msg/JointState", { header: { stamp: { sec: 0, nanosec: 0 }, frame_id: "" }, name: NAMES, position: READY, velocity: [], effort: [] });
    ros.activate();
    expect(node.state).toBe("activating");
    await until("the failed start to be handled", () => node.state === "inactive");
    expect(ros.lifecycle).toBe("inactive");
    expect(ros.transitions.map((t) => `${t.transition}:${t.result}`)).toEqual(["configure:SUCCESS", "activate:SUCCESS", "deactivate:SUCCESS"]);
    expect(graph.logs.some((l) => l.level === "error" && /^activate: the runtime did not start: fast executor: worker script .*nonexistent.* not found/.test(l.message))).toBe(true);
    expect(graph.publishCount("/joint_trajectory_controller/joint_trajectory")).toBe(0);
    ros.shutdown();
    await node.whenSettled();
  });

  it("rejects malformed sensor messages with one-line reasons, counts them, and keeps running", async () => {
    const { graph, ros } = await setUp({ realTimers: false });
    ros.configure();
    const header = { stamp: { sec: 0, nanosec: 0 }, frame_id: "" };
    graph.inject("/joint_states", "sensor_msgs/msg/JointState", { header, name: NAMES, position: [1, 2], velocity: [], effort: [] });
    graph.inject("/joint_states", "sensor_msgs/msg/JointState", { header, name: NAMES, position: [0, 0, NaN, 0, 0, 0, 0], velocity: [], effort: [] });
    graph.inject("/joint_states", "sensor_msgs/msg/JointState", { header, name: ["finger_left"], position: [0.01], velocity: [], effort: [] });
    graph.inject("/tactile", "vla_runtime/msg/TactileArray", { header, layout: 0, rows: 3, cols: 3, pitch_m: 0.002, forces: new Array(9).fill(0), displacements_m: [] }, QOS.qos_profile_sensor_data);
    graph.inject("/tactile", "vla_runtime/msg/TactileArray", { header, layout: 7, rows: 4, cols: 4, pitch_m: 0.002, forces: [], displacements_m: [] }, QOS.qos_profile_sensor_data);
    graph.inject("/wrench", "geometry_msgs/msg/WrenchStamped", { header, wrench: { force: { x: Infinity, y: 0, z: 0 }, torque: { x: 0, y: 0, z: 0 } } }, QOS.qos_profile_sensor_data);
    graph.inject("/camera/image_raw", "sensor_msgs/msg/Image", { header, height: 4, width: 4, encoding: "rgb8", is_bigendian: 0, step: 12, data: new Uint8Array(10) }, QOS.qos_profile_sensor_data);
    const warnings = graph.logs.filter((l) => l.level === "warn").map((l) => l.message);
    expect(warnings).toEqual([
      "joint_states: expected as many positions as names, got 2 for 7 names (1 rejected so far)",
      "tactile: expected 16 values (ros2.tactile_count), got 9 (3x3) (1 rejected so far)",
      "wrench: expected finite force and torque, got Infinity, 0, 0, 0, 0, 0 (1 rejected so far)",
      "image: expected at least step*height = 48 bytes, got 10 (1 rejected so far)",
    ]);
    ros.fireTimers();
    const status = graph.messages("/vla_runtime/status").at(-1)!.decoded;
    expect(status.sensor_messages_rejected).toBe(7n);
    expect(status.last_error).toBe("image: expected at least step*height = 48 bytes, got 10");
    // A best-effort subscription still gets a reliable publisher's messages; the e-stop (reliable) does not take best effort.
    expect(graph.inject("/vla_runtime/estop", "std_msgs/msg/Bool", { data: true }, QOS.qos_profile_sensor_data)).toBe(0);
  });
});

describe("vla_runtime lifecycle node: driving an arm", () => {
  it("activates only when ready, streams short trajectories from the safety stage, and brakes to rest on deactivate", async () => {
    const { graph, node, ros, policy } = await setUp();
    const arm = new FakeArm(graph, "/joint_trajectory_controller/joint_trajectory");
    ros.configure();
    arm.start();
    await until("joint states", () => ros.activate() !== undefined && node.state !== "inactive");
    expect(graph.publishCount("/joint_trajectory_controller/joint_trajectory")).toBe(0);
    await until("the runtime to run", () => node.state === "active");
    await until("the arm to turn", () => arm.positions[0] > 0.15);

    const trajectories = graph.messages("/joint_trajectory_controller/joint_trajectory");
    const first = trajectories[0].decoded as { header: { stamp: { sec: number; nanosec: number } }; joint_names: string[]; points: { positions: Float64Array; velocities: Float64Array; time_from_start: object }[] };
    expect(first.header.stamp).toEqual({ sec: 0, nanosec: 0 }); // start on receipt
    expect(first.joint_names).toEqual(NAMES);
    expect(first.points).toHaveLength(1);
    expect(first.points[0].time_from_start).toEqual({ sec: 0, nanosec: 60_000_000 });
    // The first command holds where the arm is: nothing jumps at activation.
    for (let i = 0; i < 7; i++) expect(Math.abs(first.points[0].positions[i] - READY[i])).toBeLessThan(1e-3);
    // Commands never exceed the shoulder's velocity limit (2 rad/s) between re-sends.
    const pan = trajectories.map((m) => (m.decoded.points as { positions: Float64Array }[])[0].positions[0]);
    for (let k = 1; k < pan.length; k++) expect(Math.abs(pan[k] - pan[k - 1])).toBeLessThan(2 * 0.02 * 3);

    const chunk = graph.messages("/vla_runtime/action_chunk").at(-1)!.decoded as { names: string[]; steps: number; dim: number; actions: Float64Array; policy: string; step_period: object };
    expect(chunk).toMatchObject({ names: NAMES, steps: 5, dim: 7, policy: "hold-pose", step_period: { sec: 0, nanosec: 100_000_000 } });
    expect(Array.from(chunk.actions.subarray(0, 7))).toEqual(TARGET);

    // Services: the instruction reaches the policy; the policy can be switched off and on.
    expect(await graph.call("/vla_runtime/set_instruction", "vla_runtime/srv/SetInstruction", { instruction: "turn left" })).toEqual({ success: true, message: "instruction set (9 characters)" });
    await until("the policy to see the new instruction", () => policy.instructions.at(-1) === "turn left");
    expect(await graph.call("/vla_runtime/set_instruction", "vla_runtime/srv/SetInstruction", { instruction: "  " })).toEqual({ success: false, message: "expected a non-empty instruction" });

    // Emergency stop from the Bool topic: latched; reset refused while the input still reads true.
    graph.inject("/vla_runtime/estop", "std_msgs/msg/Bool", { data: true });
    await until("the safety stage to report the stop", () => (node.runtime?.state.readStatus().safetyCounts.EmergencyStop ?? 0) > 10);
    expect(await graph.call("/vla_runtime/reset_estop", "std_srvs/srv/Trigger", {})).toEqual({ success: false, message: "the emergency stop input still reads true: release it first" });
    graph.inject("/vla_runtime/estop", "std_msgs/msg/Bool", { data: false });
    expect(node.emergencyStopLatched).toBe(true);
    expect(await graph.call("/vla_runtime/reset_estop", "std_srvs/srv/Trigger", {})).toEqual({ success: true, message: "emergency stop reset" });

    await until("a status report", () => graph.messages("/vla_runtime/status").some((m) => m.decoded.state === "active" && (m.decoded.ticks as bigint) > 0n));
    const status = graph.messages("/vla_runtime/status").filter((m) => m.decoded.state === "active").at(-1)!.decoded;
    expect(status.policy).toBe("hold-pose");
    expect(status.control_rate_hz as number).toBeGreaterThan(0);
    expect(status.chunks_accepted as bigint).toBeGreaterThan(0n);

    // Deactivate: policy off, the safety stage brakes, the node streams it to rest, then stops commanding.
    ros.deactivate();
    expect(node.state).toBe("braking");
    expect(ros.lifecycle).toBe("inactive");
    await until("the brake to end", () => node.state === "inactive");
    await node.whenSettled();
    const last = graph.messages("/joint_trajectory_controller/joint_trajectory").at(-1)!.decoded as { points: { velocities: Float64Array }[] };
    expect(Array.from(last.points[0].velocities)).toEqual([0, 0, 0, 0, 0, 0, 0]);
    const count = graph.publishCount("/joint_trajectory_controller/joint_trajectory");
    await sleep(150);
    expect(graph.publishCount("/joint_trajectory_controller/joint_trajectory")).toBe(count);
    arm.stop();
    ros.cleanup();
    expect(graph.endpoints.every((e) => e.destroyed)).toBe(true);
  });

  it("cut short by ros2.brake_timeout_ms, the brake ends with a trajectory at rest and an error saying so", async () => {
    const { graph, node, ros } = await setUp({ overrides: { "ros2.brake_timeout_ms": 50.0, "ros2.trajectory_rate_hz": 200.0 } });
    const arm = new FakeArm(graph, "/joint_trajectory_controller/joint_trajectory");
    ros.configure();
    arm.start();
    await until("joint states", () => ros.activate() !== undefined && node.state !== "inactive");
    await until("the arm to move fast", () => {
      const m = graph.messages("/joint_trajectory_controller/joint_trajectory").at(-1);
      return m !== undefined && Math.abs((m.decoded.points as { velocities: Float64Array }[])[0].velocities[0]) > 0.5;
    });
    ros.deactivate();
    await until("the brake to end", () => node.state === "inactive");
    const messages = graph.messages("/joint_trajectory_controller/joint_trajectory").map((m) => m.decoded.points as { positions: Float64Array; velocities: Float64Array }[]);
    const [before, last] = messages.slice(-2);
    expect(Math.abs(before[0].velocities[0])).toBeGreaterThan(0.05);
    expect(Array.from(last[0].velocities)).toEqual([0, 0, 0, 0, 0, 0, 0]);
    expect(graph.logs.some((l) => l.level === "error" && l.message === "deactivate: the arm was not at rest after 50 ms of braking; stopped commanding")).toBe(true);
    arm.stop();
  });

  it("auto-activates and streams Float64MultiArray to a forward controller, the gripper to its own topic", async () => {
    const { graph, node, ros } = await setUp({ overrides: { "ros2.output": "forward", "ros2.gripper_topic": "/gripper_controller/commands", "ros2.auto_activate": true, "ros2.forward_rate_hz": 100.0 } });
    const arm = new FakeArm(graph, "/forward_position_controller/commands", "/gripper_controller/commands");
    node.startAutoActivation(20);
    expect(node.state).toBe("inactive");
    arm.start();
    await until("auto-activation", () => node.state === "active");
    await until("the arm to turn", () => arm.positions[0] > 0.15);
    const forward = graph.messages("/forward_position_controller/commands").at(-1)!.decoded as { layout: { dim: unknown[]; data_offset: number }; data: Float64Array };
    expect(forward.layout).toEqual({ dim: [], data_offset: 0 });
    expect(forward.data).toHaveLength(6);
    const gripper = graph.messages("/gripper_controller/commands").at(-1)!.decoded as { data: Float64Array };
    expect(gripper.data).toHaveLength(1);
    expect(gripper.data[0]).toBeCloseTo(0.06, 3);
    expect(graph.publishers("/joint_trajectory_controller/joint_trajectory")).toHaveLength(0);
    ros.deactivate();
    await until("the brake to end", () => node.state === "inactive");
    arm.stop();
  });
});
