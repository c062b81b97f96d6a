// The executable's side: loading rclnodejs only with ROS 2 sourced, the policy from the config, and a stop signal
// that brakes the arm before the node shuts down.
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../../src/config/load.js";
import { loadArmDescription } from "../../../src/kinematics/description.js";
import { policyFactoryFor, runRos2Node } from "../../../src/transports/ros2/main.js";
import { loadRclnodejs } from "../../../src/transports/ros2/rcl.js";
import { bundleSourceModule } from "../../helpers/bundle.js";
import { FakeArm, HoldPosePolicy } from "./fixtures.js";
import { createStandIn, StandInGraph, type StandInLifecycleNode } from "./standIn.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const arm = loadArmDescription(`${root}sim/arm/description.json`);

describe("ros2 entry", () => {
  it("asks for a sourced ROS 2 before loading rclnodejs, in one line", async () => {
    await expect(loadRclnodejs({})).rejects.toThrow(/^ros2: no ROS 2 environment \(AMENT_PREFIX_PATH \/ ROS_DISTRO unset\): source \/opt\/ros\/<distro>\/setup\.bash/);
    await expect(loadRclnodejs({ ROS_DISTRO: "jazzy" })).rejects.toThrow(/no ROS 2 environment/);
  });

  it("builds the policy policy.kind names", async () => {
    const factory = policyFactoryFor(root);
    const expert = await factory(parseConfig({ policy: { kind: "scripted-expert" } }), arm);
    expect(expert.policy.name).toBe("scripted expert (FAST tokens)");
    expect(expert.stepPeriodNs).toBeGreaterThan(0);
    expect(typeof expert.decoder).toBe("function");
    const remote = await factory(parseConfig({ policy: { kind: "zmq", url: "tcp://127.0.0.1:59999", stepPeriodMs: 50 } }), arm);
    expect(remote.stepPeriodNs).toBe(50e6);
    await remote.close?.();
  });

  it("runs the node until a stop signal, then brakes, shuts down and releases rcl", async () => {
    const graph = new StandInGraph({ "ros2.auto_activate": true });
    const rcl = await createStandIn(graph);
    const policy = new HoldPosePolicy();
    const arm = new FakeArm(graph, "/joint_trajectory_controller/joint_trajectory");
    let signal: ((name: string) => void) | null = null;
    const logs: string[] = [];
    const running = runRos2Node({
      argv: ["--ros-args", "--log-level", "debug"],
      rcl,
      policyFactory: () => ({ policy, stepPeriodNs: 100e6 }),
      workerUrl: await bundleSourceModule("runtime/fastWorker.ts", "fastWorker"),
      log: (line) => logs.push(line),
      onStopSignal: (handler) => (signal = handler),
    });
    arm.start();
    const deadline = Date.now() + 8000;
    while (graph.nodes.length === 0 || (graph.nodes[0] as StandInLifecycleNode).lifecycle !== "active" || policy.instructions.length === 0) {
      if (Date.now() > deadline) throw new Error(`the node did not come up: ${graph.logs.at(-1)?.message}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(signal).not.toBeNull();
    signal!("SIGINT");
    const node = await running;
    arm.stop();
    expect(node.state).toBe("finalized");
    expect(rcl.isShutdown()).toBe(true);
    expect(logs).toContain("vla_runtime: SIGINT: deactivating (braking to rest), then shutting down");
    const transitions = (node.node as StandInLifecycleNode).transitions.map((t) => `${t.transition}:${t.result}`);
    expect(transitions).toEqual(["configure:SUCCESS", "activate:SUCCESS", "deactivate:SUCCESS", "shutdown:SUCCESS"]);
    const last = graph.messages("/joint_trajectory_controller/joint_trajectory").at(-1)!.decoded as { points: { velocities: Float64Array }[] };
    expect(Array.from(last.points[0].velocities)).toEqual([0, 0, 0, 0, 0, 0, 0]);
  });
});
