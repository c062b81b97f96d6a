// `npm run bench -- ros2 [--duration=S]`: the command publish rate the ROS 2 adapter sustains on the JS main thread
// (rclnodejs runs every callback there), with the real runtime behind it (fast loop in its worker at 500 Hz, the
// shared-memory bridge, the slow executor) and the test stand-in for the ROS graph (no ROS 2 here: each publish is
// serialized to CDR by our codec, as rclnodejs would serialize it in C). A fake arm publishes joint states at
// 250 Hz and follows the commands. Reported per output mode and requested rate: achieved publishes/s, the interval
// between publishes (p50, p99, max), the bridge's forwarded commands/s and the fast loop's ticks/s.
import { quantile, printTable, type Row } from "./lib/harness.js";
import { findRepoRoot } from "./lib/harness.js";
import { VlaRuntimeNode } from "../src/transports/ros2/node.js";
import { FakeArm, HoldPosePolicy } from "../test/transports/ros2/fixtures.js";
import { createStandIn, StandInGraph, type StandInLifecycleNode } from "../test/transports/ros2/standIn.js";

interface Case {
  output: "trajectory" | "forward";
  rateHz: number;
}

const CASES: Case[] = [
  { output: "trajectory", rateHz: 50 },
  { output: "trajectory", rateHz: 200 },
  { output: "forward", rateHz: 250 },
  { output: "forward", rateHz: 500 },
  { output: "forward", rateHz: 1000 },
];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function runCase(c: Case, durationS: number): Promise<Row> {
  const topic = c.output === "trajectory" ? "/joint_trajectory_controller/joint_trajectory" : "/forward_position_controller/commands";
  const rateParam = c.output === "trajectory" ? "ros2.trajectory_rate_hz" : "ros2.forward_rate_hz";
  const graph = new StandInGraph({ "ros2.output": c.output, [rateParam]: c.rateHz });
  graph.keepMessages = 0;
  const rcl = await createStandIn(graph, { realTimers: true });
  const policy = new HoldPosePolicy();
  const node = new VlaRuntimeNode({ rcl, packageRoot: findRepoRoot(), policyFactory: () => ({ policy, stepPeriodNs: 100e6 }), fastExtras: { threadNice: null } });
  const ros = node.node as StandInLifecycleNode;
  const arm = new FakeArm(graph, topic);
  const times: number[] = [];
  graph.listen(topic, () => times.push(performance.now()));
  ros.configure();
  arm.start();
  const deadline = Date.now() + 10_000;
  while (node.state !== "active") {
    if (Date.now() > deadline) throw new Error(`ros2 bench: the node did not activate (${graph.logs.at(-1)?.message ?? "no log"})`);
    if (node.state === "inactive") ros.activate();
    await sleep(20);
  }
  await sleep(500); // settle
  const runtime = node.runtime!;
  const startTicks = runtime.state.readStatus().ticks;
  const startForwarded = runtime.bridge?.commandsForwarded ?? 0;
  const startMs = performance.now();
  times.length = 0;
  await sleep(durationS * 1000);
  const elapsedS = (performance.now() - startMs) / 1000;
  const published = times.length;
  const ticks = runtime.state.readStatus().ticks - startTicks;
  const forwarded = (runtime.bridge?.commandsForwarded ?? 0) - startForwarded;
  const intervals = times.slice(1).map((t, i) => t - times[i]);
  ros.deactivate();
  const braking = () => node.state === "braking"; // deactivate() changed it
  while (braking()) await sleep(20);
  await node.whenSettled();
  ros.shutdown();
  await node.whenSettled();
  ros.destroy();
  arm.stop();
  return {
    output: c.output,
    requestedHz: c.rateHz,
    publishedHz: published / elapsedS,
    intervalP50Ms: quantile(intervals, 0.5),
    intervalP99Ms: quantile(intervals, 0.99),
    intervalMaxMs: Math.max(...intervals),
    bridgeForwardedHz: forwarded / elapsedS,
    fastLoopHz: ticks / elapsedS,
  };
}

export async function runRos2Bench(options: { durationS?: number } = {}): Promise<{ rows: Row[]; json: object }> {
  const durationS = options.durationS ?? 3;
  const rows: Row[] = [];
  for (const c of CASES) rows.push(await runCase(c, durationS));
  printTable(`ROS 2 adapter: command publish rate on the main thread (stand-in graph, fast loop 500 Hz, ${durationS} s per row)`, rows);
  return { rows, json: { durationS, cases: rows } };
}
