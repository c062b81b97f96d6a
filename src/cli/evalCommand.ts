// `vla-runtime eval [N]` (npm run eval): the closed-loop evaluation table, printed and written as JSON.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ProgressBar } from "../observability/progress.js";
import { DEFAULT_EVAL_CONFIGURATIONS, EVAL_FIRST_SEED, evaluate } from "../sim/evaluate.js";
import { formatTable } from "./table.js";

export async function runEvaluationCommand(packageRoot: string, episodes: number): Promise<void> {
  const started = Date.now();
  const configurations = DEFAULT_EVAL_CONFIGURATIONS;
  const progress = new ProgressBar({ total: configurations.length * episodes, label: "eval", unit: "episodes", stream: process.stdout });
  const results = await evaluate({ packageRoot, episodes, configurations, onEpisode: (done, _total, configuration) => progress.update(done, configuration) });
  progress.finish();
  const rows = results.map((r) => ({
    configuration: r.name,
    episodes: r.episodes,
    "success %": Math.round(100 * r.successRate),
    "95% interval": `${Math.round(100 * r.successInterval95[0])}-${Math.round(100 * r.successInterval95[1])}`,
    "band violations": r.meanForceBandViolations,
    "out of band s": r.meanTimeOutOfBandS,
    "peak force N": r.meanPeakForceN,
    "max peak N": r.maxPeakForceN,
    "completion s": r.meanCompletionTimeS,
    "decode failures": r.decodeFailures,
    "safety ticks": r.safetyInterventionTicks,
  }));
  console.log(formatTable(`Wipe task, ${episodes} episodes per configuration (task seeds ${EVAL_FIRST_SEED}-${EVAL_FIRST_SEED + episodes - 1}), lockstep, ${((Date.now() - started) / 1000).toFixed(0)} s`, rows));
  const path = join(packageRoot, "bench", "results", "eval.json");
  mkdirSync(join(packageRoot, "bench", "results"), { recursive: true });
  writeFileSync(path, JSON.stringify({ name: "eval", date: new Date().toISOString(), episodes, results }, null, 2) + "\n");
  console.log(`wrote ${path}`);
}
