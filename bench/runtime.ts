// `npm run bench -- runtime [--duration=S]`: fast-loop period error and tactile-to-command latency at 500 Hz and
// 1 kHz (slow side idle and busy), chunk-boundary smoothness per transition mode, and simulator speed.
import { printTable, type Row } from "./lib/harness.js";
import { runSimSpeedBench } from "./runtime/simSpeed.js";
import { runSmoothnessBench } from "./runtime/smoothness.js";
import { runTimingBench } from "./runtime/timing.js";

export async function runRuntimeBench(options: { durationS?: number } = {}): Promise<{ rows: Row[]; json: object }> {
  const smoothness = runSmoothnessBench();
  printTable("Chunk-boundary smoothness at 500 Hz (jerk ratios: lower is smoother)", smoothness.rows);
  const simSpeed = await runSimSpeedBench();
  const timing = await runTimingBench({ durationS: options.durationS ?? 60 });
  return {
    rows: [...timing.rows, ...smoothness.rows, ...simSpeed.rows],
    json: { timing: timing.json, smoothness: smoothness.json, simSpeed: simSpeed.json },
  };
}
