// What the CLI calls: `vla-runtime replay run.mcap` and `vla-runtime report run.mcap [outDir]`. Each prints for
// people and returns the process exit code.
import { basename, dirname, join } from "node:path";
import type { ArmDescription } from "../kinematics/description.js";
import { ProgressBar } from "./progress.js";
import { loadRecording } from "./recordingReader.js";
import { formatReplayResult, replay, type SlowPathCheck } from "./replay.js";
import { report } from "./report.js";

export interface ReplayCommandOptions {
  /** Also decode the recorded policy tokens again (the bundled expert's tokenizer and statistics). */
  packageRoot?: string;
  slowPath?: boolean;
  /** Print the result as JSON instead of text. */
  json?: boolean;
  log?: (line: string) => void;
}

/** 0: every command reproduced; 1: they differ; 2: the file could not be replayed. */
export async function replayCommand(file: string, options: ReplayCommandOptions = {}): Promise<number> {
  const log = options.log ?? console.log;
  const rec = await loadRecording(file);
  let slowPath: SlowPathCheck | undefined;
  if (options.slowPath) {
    if (!options.packageRoot) throw new Error("replay: the slow-path check needs the package root (bundled tokenizer and statistics)");
    slowPath = await bundledExpertSlowPath(options.packageRoot, rec.info.arm);
  }
  const bar = new ProgressBar({ total: Math.max(1, rec.commands.length), label: "replay", unit: "ticks" });
  const result = await replay(rec, { slowPath, onProgress: (done) => bar.update(done) });
  bar.finish();
  log(options.json ? JSON.stringify(result, null, 2) : formatReplayResult(result));
  return result.identical && (result.slowPath?.identical ?? true) ? 0 : 1;
}

/** Where the report goes by default: next to the file, "<name>-report/". */
export function defaultReportDir(file: string): string {
  return join(dirname(file), `${basename(file).replace(/\.mcap$/i, "")}-report`);
}

export async function reportCommand(file: string, outDir = defaultReportDir(file), log: (line: string) => void = console.log): Promise<number> {
  const result = await report(file, outDir);
  log(`report: ${result.files.length - 1} plots and ${join(outDir, "index.html")}`);
  if (result.replay && !result.replay.identical) log(`report: note: the replay did not reproduce the run (${formatReplayResult(result.replay).split("\n")[0]})`);
  return 0;
}

/** The decoder and converter of the bundled scripted expert (FAST tokens, joint deltas), for the slow-path check. */
async function bundledExpertSlowPath(packageRoot: string, arm: ArmDescription): Promise<SlowPathCheck> {
  const [{ BUNDLED_POLICY, loadBundledExpertModel }, { fastDecoder, actionConverter }, { ArmKinematics }] = await Promise.all([
    import("../sim/expertPolicy.js"),
    import("../policy/chunkCodec.js"),
    import("../kinematics/kinematics.js"),
  ]);
  const model = loadBundledExpertModel(packageRoot);
  const dim = arm.joints.length + 1;
  return { decoder: fastDecoder(model.tokenizer, BUNDLED_POLICY.chunkSteps, dim), convert: actionConverter(model.stats, "joint-delta", new ArmKinematics(arm)) };
}
