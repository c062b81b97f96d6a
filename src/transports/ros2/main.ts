// Runs the vla_runtime lifecycle node in this process (what `ros2 run vla_runtime runtime` and
// `vla-runtime ros2` start). ROS arguments (--ros-args -p ..., --params-file, -r remappings) are handled by rcl.
// Ctrl-C / SIGTERM first deactivates (the safety stage brakes the arm to rest), then shuts down.
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { RuntimeConfig } from "../../config/schema.js";
import { commandDim, type ArmDescription } from "../../kinematics/description.js";
import { ArmKinematics } from "../../kinematics/kinematics.js";
import { actionConverter, fastDecoder } from "../../policy/chunkCodec.js";
import { loadNormStats } from "../../policy/normalization.js";
import { createRemotePolicy } from "../../policy/remote/index.js";
import { BUNDLED_POLICY, loadBundledExpertModel, ScriptedExpertPolicy } from "../../sim/expertPolicy.js";
import { publicSpec, sampleWipeTask } from "../../sim/task.js";
import { VlaRuntimeNode, type PolicyFactory, type PolicySetup } from "./node.js";
import { loadRclnodejs, type RclApi } from "./rcl.js";

/** The package root (the folder with package.json, sim/ and models/) above this module. */
export function packageRoot(from = dirname(fileURLToPath(import.meta.url))): string {
  let dir = from;
  while (!existsSync(join(dir, "package.json"))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error("ros2: cannot find the package root (package.json) above the program");
    dir = parent;
  }
  return dir;
}

/**
 * The policy `policy.kind` names, as the simulator episode builds it: the scripted wipe expert speaking FAST tokens
 * (its scene comes from episode.seed, as in the simulator and the generated Gazebo world), or a remote policy
 * server (openpi websocket, vla-policy ZeroMQ). Token answers are decoded with the bundled FAST tokenizer.
 */
export function policyFactoryFor(root: string): PolicyFactory {
  return (config: RuntimeConfig, arm: ArmDescription): PolicySetup => {
    const model = loadBundledExpertModel(root);
    const kinematics = new ArmKinematics(arm);
    const decoder = fastDecoder(model.tokenizer, BUNDLED_POLICY.chunkSteps, commandDim(arm));
    const p = config.policy;
    if (p.kind === "scripted-expert") {
      const task = sampleWipeTask(config.episode.seed, { perturbations: config.episode.perturbations });
      return {
        policy: new ScriptedExpertPolicy(arm, publicSpec(task), model, config.episode.seed),
        decoder,
        // The bundled expert speaks per-step joint deltas (see models/wipe_expert).
        convert: actionConverter(model.stats, "joint-delta", kinematics),
        stepPeriodNs: BUNDLED_POLICY.stepPeriodS * 1e9,
      };
    }
    const stats = p.normalizedActions ? (p.normStatsPath ? loadNormStats(p.normStatsPath) : model.stats) : null;
    const client =
      p.kind === "openpi"
        ? createRemotePolicy({ kind: "openpi", url: p.url || "ws://127.0.0.1:8000", keys: p.openpiKeys, timeoutMs: p.timeoutMs, maxMessageBytes: p.maxMessageBytes, stateDtype: p.stateDtype, actionDim: commandDim(arm) })
        : createRemotePolicy({ kind: "zmq", endpoint: p.url || "tcp://127.0.0.1:5555", timeoutMs: p.timeoutMs, maxMessageBytes: p.maxMessageBytes, stepPeriodS: p.stepPeriodMs / 1000, tokenizer: "fast", includeImage: p.includeImage });
    return { policy: client, decoder, convert: actionConverter(stats, p.actionSpace, kinematics, p.deltaOrigin), stepPeriodNs: p.stepPeriodMs * 1e6, close: () => client.close() };
  };
}

export interface Ros2RunOptions {
  /** Command-line arguments (ROS arguments included). */
  argv: string[];
  rcl?: RclApi;
  policyFactory?: PolicyFactory;
  /** The fast worker's script (default: the compiled one). */
  workerUrl?: URL;
  log?: (line: string) => void;
  /**
   * Subscribe to the stop signals. Default: SIGINT and SIGTERM of this process (rclnodejs's own SIGINT handler,
   * which shuts the context down at once, is replaced: the brake needs the node alive).
   */
  onStopSignal?: (handler: (signal: string) => void) => void;
}

function processSignals(handler: (signal: string) => void): void {
  process.removeAllListeners("SIGINT");
  process.on("SIGINT", () => handler("SIGINT"));
  process.on("SIGTERM", () => handler("SIGTERM"));
}

/** Start the node, spin, and resolve when it has been shut down by a stop signal. */
export async function runRos2Node(options: Ros2RunOptions): Promise<VlaRuntimeNode> {
  const log = options.log ?? ((line: string) => console.error(line));
  const rcl = options.rcl ?? (await loadRclnodejs());
  // rcl reads --ros-args (parameters, parameter files, remappings) from these arguments.
  await rcl.init(undefined, [process.argv[0] ?? "node", "vla-runtime", ...options.argv]);
  const root = packageRoot();
  const runtimeNode = new VlaRuntimeNode({ rcl, packageRoot: root, policyFactory: options.policyFactory ?? policyFactoryFor(root), workerUrl: options.workerUrl });
  const node = runtimeNode.node;
  node.spin();
  if (node.getParameter("ros2.auto_activate").value === true) runtimeNode.startAutoActivation();
  else log(`vla_runtime: waiting for lifecycle transitions (ros2 lifecycle set /${node.name()} configure, then activate)`);

  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = async (signal: string) => {
      if (stopping) {
        log(`vla_runtime: ${signal} again: exiting without waiting for the brake`);
        process.exit(1);
      }
      stopping = true;
      log(`vla_runtime: ${signal}: deactivating (braking to rest), then shutting down`);
      if (runtimeNode.state === "active" || runtimeNode.state === "activating") node.deactivate();
      while (runtimeNode.state === "braking") await new Promise((r) => setTimeout(r, 20));
      await runtimeNode.whenSettled();
      if (runtimeNode.state !== "finalized") node.shutdown();
      await runtimeNode.whenSettled();
      node.destroy();
      if (!rcl.isShutdown()) rcl.shutdown();
      resolve();
    };
    (options.onStopSignal ?? processSignals)((signal) => void stop(signal));
  });
  return runtimeNode;
}
