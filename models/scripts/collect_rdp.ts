// Training data for models/wipe_rdp from the trained VLA's own episodes: the VLA drives the embedded arm through the
// whole runtime (lockstep, the evaluation's set-up) while the fast loop's force-feedback step holds the contact force
// (RDP_TEACHER_REACTIVE: reactive "compliance", mode "regulate", 10 N; its gain, 2 mm/N, is about 2.5 times the sponge's
// compliance, so it settles in a few ticks). At 24 Hz it keeps what the scheduler played (the VLA's plan), what the
// reactive step made of it, and the touch it reacted to. The RDP decoder then learns that reaction from touch, around
// the plans it will be given in use: a VLA's, with the contact states they lead to. (Reactive Diffusion Policy
// learned its fast reactions from teleoperation with force feedback; in simulation a force controller stands in for
// the operator's hand.)
//
// Writes, in the layout of record_demos.ts (train_rdp.py reads it unchanged):
//   rdp.f32         M x (32*7 planned + 32*7 executed + 32*22 touch) float32, one sample every 5 decoder steps
//   rdp_index.json  episode of every sample and the layout
//   summary.json    counts, and how the episodes went
// Usage: npm run build && node dist/models/scripts/collect_rdp.js [outDir=/tmp/rdp_vla] [episodes=100] [firstSeed=3001]
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { findRepoRoot } from "../../bench/lib/harness.js";
import { parseConfig } from "../../src/config/load.js";
import { loadRdpContract, touchFeaturesInto } from "../../src/policy/rdp.js";
import type { ReactiveStep, SensorSnapshot } from "../../src/runtime/types.js";
import { runEpisode } from "../../src/sim/episode.js";
import { RDP_TEACHER_REACTIVE } from "../../src/sim/evaluate.js";
import { sampleWipeTask } from "../../src/sim/task.js";
import { RdpSampleFile } from "./trainingFiles.js";

/** A sample starts every this many decoder steps (about the policy period: 5 / 24 Hz = 0.21 s). */
const SAMPLE_EVERY_STEPS = 5;

const root = findRepoRoot();
const outDir = process.argv[2] ?? "/tmp/rdp_vla";
const episodes = Number(process.argv[3] ?? 100);
const firstSeed = Number(process.argv[4] ?? 3001);
if (!(Number.isInteger(episodes) && episodes > 0 && Number.isInteger(firstSeed))) {
  throw new Error(`collect_rdp: expected episodes > 0 and an integer first seed, got ${process.argv.slice(3).join(" ")}`);
}
mkdirSync(outDir, { recursive: true });
const rdp = loadRdpContract(join(root, "models", "rdp"));
const touchWidth = rdp.touch.wrench + rdp.touch.tactile;
const periodNs = rdp.stepPeriodS * 1e9;

/** The reactive step as it is, keeping (plan in, command out, touch) at the decoder's rate. */
class TracingReactive implements ReactiveStep {
  readonly planned: Float64Array[] = [];
  readonly executed: Float64Array[] = [];
  readonly touch: Float32Array[] = [];
  private readonly features = new Float64Array(touchWidth);
  constructor(private readonly inner: ReactiveStep) {}
  get name() {
    return this.inner.name;
  }
  step(nowNs: number, target: Float64Array, sensors: SensorSnapshot): void {
    const due = nowNs >= this.planned.length * periodNs - 1;
    if (due) this.planned.push(target.slice());
    this.inner.step(nowNs, target, sensors);
    if (due) {
      this.executed.push(target.slice());
      touchFeaturesInto(sensors.wrench, sensors.tactile, rdp, this.features, 0);
      this.touch.push(Float32Array.from(this.features));
    }
  }
  onNewChunk(): void {
    this.inner.onNewChunk();
  }
}

const rdpFile = new RdpSampleFile(outDir, rdp);
const started = Date.now();
let successes = 0;
for (let seed = firstSeed; seed < firstSeed + episodes; seed++) {
  const perturbations = seed % 2 === 0;
  const task = sampleWipeTask(seed, { perturbations });
  const config = parseConfig({
    policy: { kind: "onnx-vla" },
    reactive: RDP_TEACHER_REACTIVE,
    control: { realtime: false },
    episode: { durationS: task.timeLimitS, seed, perturbations },
  });
  let trace: TracingReactive | null = null;
  const summary = await runEpisode(config, {
    packageRoot: root,
    wrapReactive: (step) => (trace = new TracingReactive(step)),
  });
  if (summary.task?.success) successes++;
  const t = trace as TracingReactive | null;
  if (t === null) throw new Error("collect_rdp: the episode built no reactive step");
  const dim = t.planned[0]?.length ?? 0;
  const planned = new Float64Array(rdp.chunkSteps * dim);
  const executed = new Float64Array(rdp.chunkSteps * dim);
  const touch = new Float32Array(rdp.chunkSteps * touchWidth);
  for (let k0 = 0; k0 + rdp.chunkSteps <= t.planned.length; k0 += SAMPLE_EVERY_STEPS) {
    for (let k = 0; k < rdp.chunkSteps; k++) {
      planned.set(t.planned[k0 + k], k * dim);
      executed.set(t.executed[k0 + k], k * dim);
      touch.set(t.touch[k0 + k], k * touchWidth);
    }
    rdpFile.write(seed, planned, executed, touch);
  }
  process.stdout.write(`\rRDP data: ${seed - firstSeed + 1}/${episodes} episodes, ${rdpFile.samples} samples, success ${successes}   `);
}
rdpFile.close();
const summary = { episodes, firstSeed, teacher: RDP_TEACHER_REACTIVE, samples: rdpFile.samples, successes, recordSeconds: (Date.now() - started) / 1000 };
writeFileSync(join(outDir, "summary.json"), JSON.stringify(summary, null, 2) + "\n");
console.log(`\n${JSON.stringify(summary)}`);
