#!/usr/bin/env node
// The `vla-runtime` command.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "./config/args.js";
import { ConfigError, loadConfig, optionsHelp } from "./config/load.js";
import type { RuntimeConfig } from "./config/schema.js";
import { loadArmDescription } from "./kinematics/description.js";
import { replayCommand, reportCommand } from "./observability/commands.js";
import { startLiveView } from "./observability/liveView.js";
import { ProgressBar } from "./observability/progress.js";
import { formatSummary, runEpisode } from "./sim/episode.js";

const USAGE = `usage: vla-runtime <command> [--config file.yaml] [--section.option value ...]

commands:
  start          one episode of the embedded MuJoCo arm with the default configuration (what npm start runs)
  run            one episode with the given configuration (--config and/or flags)
  sim            the scripted expert alone on the embedded simulator, lockstep (checks the scene and the task)
  replay <file>  feed a recorded run back through the runtime and check the commands are identical
  report <file>  PNG plots and an HTML page of a recorded run (joints, force, latency, jitter, safety)
  ros2           the ROS 2 lifecycle node (needs a sourced ROS 2; parameters via --ros-args)
  teleop ...     the reference teleop client: take over, drive (scripted poses, keyboard jog), hand back
  keys ...       CURVE key pairs for teleop (keys generate --dir keys --name server)
  serve-policy   the scripted expert as a vla-policy ZeroMQ server (--listen tcp://127.0.0.1:5555)
  eval [N]       N lockstep episodes per configuration (default 50): expert, VLA, VLA + RDP, perturbed, stand-in
  bench <name>   benchmarks: tokenizers, runtime (tables + bench/results/<name>.json)
  help           this text and every option

short flags: --record file.mcap (observability.recordPath), --viz (observability.viz), --backend kind (backend.kind)

options (also valid as keys of the config file, by section):
`;

function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "package.json"))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error("vla-runtime: cannot find the package root (package.json) above the program");
    dir = parent;
  }
  return dir;
}

/** One line on what drives the arm: the slow policy and the fast loop's reactive step. */
function describePolicy(config: RuntimeConfig): string {
  const p = config.policy;
  const slow =
    p.kind === "scripted-expert"
      ? "the scripted wipe expert emitting FAST tokens (a stand-in for a learned policy)"
      : p.kind === "onnx-vla"
        ? `the trained VLA in ${p.modelDir} (ONNX Runtime, FAST tokens)`
        : `a remote ${p.kind} server at ${p.url || "the default address"}`;
  const fast = { rdp: `; fast loop: the RDP decoder of ${config.reactive.modelDir} with live touch`, compliance: "; fast loop: force-feedback compliance", passthrough: "" }[config.reactive.kind];
  return `${slow}${fast}`;
}

async function runCommand(command: string, args: ReturnType<typeof parseArgs>): Promise<number> {
  const root = packageRoot();
  switch (command) {
    case "start":
    case "run": {
      const config = loadConfig({ file: args.configFile, overrides: expandAliases(args.overrides) });
      console.log(`vla-runtime: ${config.control.realtime ? "real-time" : "lockstep"} episode of ${config.episode.durationS} s on the embedded MuJoCo arm (seed ${config.episode.seed})`);
      console.log(`policy: ${describePolicy(config)}`);
      const liveView = config.observability.viz
        ? await startLiveView({ host: config.observability.vizHost, port: config.observability.vizPort, maxRateHz: config.observability.vizMaxRateHz, arm: loadArmDescription(join(root, "sim", "arm", "description.json")) })
        : undefined;
      const progress = new ProgressBar({ total: config.episode.durationS, label: "episode", unit: "s", stream: process.stdout });
      try {
        const summary = await runEpisode(config, {
          packageRoot: root,
          liveView,
          onProgress: (p) => progress.update(Math.round(p.elapsedS * 10) / 10, `ticks ${p.ticks}  chunks ${p.chunksAccepted}  safety ${p.safetyInterventions}  policy ${p.policyPhase}`),
        });
        progress.finish();
        console.log(formatSummary(summary));
      } finally {
        await liveView?.close();
      }
      return 0;
    }
    case "sim": {
      const config = loadConfig({ file: args.configFile, overrides: { ...args.overrides } });
      const { runExpertOnly } = await import("./sim/expertOnly.js");
      console.log(await runExpertOnly(root, config.episode.seed, config.episode.perturbations));
      return 0;
    }
    case "eval": {
      const episodes = args.positional[0] === undefined ? 50 : Number(args.positional[0]);
      if (!Number.isInteger(episodes) || episodes < 1) throw new Error(`eval: expected a number of episodes per configuration, got "${args.positional[0]}"`);
      const { runEvaluationCommand } = await import("./cli/evalCommand.js");
      await runEvaluationCommand(root, episodes);
      return 0;
    }
    case "replay": {
      const file = args.positional[0];
      if (!file) throw new Error("replay: expected an MCAP file (vla-runtime replay run.mcap)");
      const slowPath = "slow-path" in args.overrides;
      const json = "json" in args.overrides;
      return replayCommand(file, { packageRoot: root, slowPath, json });
    }
    case "report": {
      const file = args.positional[0];
      if (!file) throw new Error("report: expected an MCAP file (vla-runtime report run.mcap [outDir])");
      return reportCommand(file, args.positional[1]);
    }
    case "serve-policy": {
      const config = loadConfig({ file: args.configFile, overrides: withoutKeys(args.overrides, ["listen"]) });
      const endpoint = args.overrides.listen || "tcp://127.0.0.1:5555";
      const { startExpertPolicyServer } = await import("./cli/servePolicy.js");
      const server = await startExpertPolicyServer(root, endpoint, config.episode.seed, config.episode.perturbations);
      console.log(`serving the scripted wipe expert (seed ${config.episode.seed}) over the vla-policy ZeroMQ protocol at ${server.endpoint}; Ctrl-C stops`);
      console.log(`drive it with: vla-runtime run --policy.kind zmq --policy.url ${server.endpoint} --policy.actionSpace joint-delta --policy.normalizedActions --episode.seed ${config.episode.seed}`);
      await new Promise<void>((resolve) => process.once("SIGINT", () => resolve()));
      await server.close();
      return 0;
    }
    case "bench": {
      const script = join(root, "dist", "bench", "main.js");
      if (!existsSync(script)) throw new Error(`vla-runtime bench: ${script} not found (run npm run build first)`);
      const run = spawnSync(process.execPath, ["--expose-gc", script, ...args.positional], { stdio: "inherit" });
      return run.status ?? 1;
    }
    case "help":
    case "":
      console.log(USAGE + optionsHelp());
      return 0;
    default:
      console.error(`vla-runtime: unknown command "${command}" (expected start, run, sim, eval, replay, report, ros2, teleop, keys, serve-policy, bench or help)`);
      return 2;
  }
}

/** Short flags for the common cases: --record f.mcap, --viz, --backend gz. */
const FLAG_ALIASES: Record<string, string> = { record: "observability.recordPath", viz: "observability.viz", backend: "backend.kind" };

function expandAliases(overrides: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(overrides).map(([key, value]) => [FLAG_ALIASES[key] ?? key, value]));
}

function withoutKeys(overrides: Record<string, string>, keys: string[]): Record<string, string> {
  return Object.fromEntries(Object.entries(overrides).filter(([key]) => !keys.includes(key)));
}

async function main(): Promise<void> {
  try {
    const argv = process.argv.slice(2);
    // The ROS 2 node reads --ros-args; the teleop reference client and the key tool take their own flags.
    if (argv[0] === "ros2") {
      const { runRos2Node } = await import("./transports/ros2/main.js");
      await runRos2Node({ argv: argv.slice(1) });
      return;
    }
    if (argv[0] === "teleop" || argv[0] === "keys") {
      const { runTeleopCli, runKeysCli } = await import("./transports/teleop/index.js");
      process.exitCode = await (argv[0] === "teleop" ? runTeleopCli(argv.slice(1)) : runKeysCli(argv.slice(1)));
      return;
    }
    const args = parseArgs(argv);
    if (args.help) {
      console.log(USAGE + optionsHelp());
      return;
    }
    process.exitCode = await runCommand(args.command, args);
  } catch (error) {
    const message = error instanceof ConfigError ? error.message : error instanceof Error ? error.message : String(error);
    console.error(`vla-runtime: ${message.split("\n")[0]}`);
    process.exitCode = 1;
  }
}

await main();
