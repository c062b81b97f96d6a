// Fits the bundled FAST tokenizer and normalization statistics for the embedded wipe task from scripted-expert
// demonstrations (lockstep MuJoCo), and reports how well tokens reconstruct the chunks in joint space.
// Usage: npm run build && node dist/models/scripts/fit_wipe_tokenizer.js [episodes]
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { findRepoRoot } from "../../bench/lib/harness.js";
import { loadArmDescription } from "../../src/kinematics/description.js";
import { normalizeInto, unnormalizeInto, type NormStats } from "../../src/policy/normalization.js";
import { WipeExpert, runExpertEpisode } from "../../src/sim/expert.js";
import { MujocoArm } from "../../src/sim/mujocoArm.js";
import { publicSpec, sampleWipeTask } from "../../src/sim/task.js";
import { FastTokenizer } from "../../src/tokenizers/fast.js";
import { BUNDLED_POLICY, chunkToDeltas } from "../../src/sim/expertPolicy.js";
import { ArmKinematics } from "../../src/kinematics/kinematics.js";
import { toJointChunk } from "../../src/runtime/actionSpace.js";

const root = findRepoRoot();
const episodes = Number(process.argv[2] ?? 40);
const arm = loadArmDescription(join(root, "sim", "arm", "description.json"));
const dim = arm.joints.length + 1;
const steps = BUNDLED_POLICY.chunkSteps;
const kinematics = new ArmKinematics(arm);

interface Sample { state: Float64Array; chunk: Float64Array }
const samples: Sample[] = [];
const started = Date.now();
for (let seed = 1; seed <= episodes; seed++) {
  const task = sampleWipeTask(seed, { perturbations: seed % 2 === 0 });
  const sim = await MujocoArm.create({ arm, task, seed });
  const expert = new WipeExpert(arm, publicSpec(task), { seed, stepPeriodS: BUNDLED_POLICY.stepPeriodS, chunkSteps: steps });
  const result = runExpertEpisode(sim, expert, {
    replanPeriodS: BUNDLED_POLICY.replanPeriodS,
    onChunk: (obs, chunk) => samples.push({ state: obs.positions.slice(), chunk: chunk.slice() }),
  });
  sim.close();
  process.stdout.write(`\rdemonstrations: ${seed}/${episodes} episodes, ${samples.length} chunks, success ${result.metrics.success}   `);
}
console.log(`\ncollected in ${((Date.now() - started) / 1000).toFixed(1)} s`);

// Per-step joint deltas (the first relative to the observed state) keep the normalized range small, so the
// coefficient quantization of FAST costs little in joint space. The gripper stays absolute.
const deltas = samples.map((s) => chunkToDeltas(s.chunk, s.state, steps, dim));
const stats = rangeStats(deltas, dim, arm.gripper.lowerM, arm.gripper.upperM);
const normalized = deltas.map((d) => {
  const out = new Float64Array(d.length);
  normalizeInto(d, dim, stats, out, { clip: true });
  return Array.from({ length: steps }, (_, i) => Array.from(out.subarray(i * dim, (i + 1) * dim)));
});
const tokenizer = FastTokenizer.fit(normalized, { scale: BUNDLED_POLICY.fastScale, vocabSize: 1024 });

// Reconstruction in joint space over all chunks.
let maxErrorRad = 0;
let sumSquared = 0;
let count = 0;
let tokenTotal = 0;
const decoded = new Float64Array(steps * dim);
const raw = new Float64Array(steps * dim);
for (let k = 0; k < samples.length; k++) {
  const tokens = tokenizer.encode(normalized[k]);
  tokenTotal += tokens.length;
  const error = tokenizer.decodeInto(tokens, steps, dim, decoded);
  if (error) throw new Error(error);
  unnormalizeInto(decoded, dim, stats, raw);
  const chunk = toJointChunk(raw, steps, "joint-delta", samples[k].state, kinematics);
  for (let i = 0; i < steps * dim; i++) {
    if (i % dim === dim - 1) continue;
    const e = Math.abs(chunk[i] - samples[k].chunk[i]);
    maxErrorRad = Math.max(maxErrorRad, e);
    sumSquared += e * e;
    count++;
  }
}
const report = {
  episodes,
  chunks: samples.length,
  chunkShape: [steps, dim],
  meanTokensPerChunk: tokenTotal / samples.length,
  jointReconstructionRmsRad: Math.sqrt(sumSquared / count),
  jointReconstructionMaxRad: maxErrorRad,
};
console.log(report);

const outDir = join(root, "models", "wipe_expert");
mkdirSync(outDir, { recursive: true });
tokenizer.save(join(outDir, "fast_tokenizer"));
writeFileSync(join(outDir, "norm_stats.json"), JSON.stringify({ vla_arm6_wipe: { action: stats } }, null, 2) + "\n");
writeFileSync(join(outDir, "fit_report.json"), JSON.stringify(report, null, 2) + "\n");
console.log(`wrote ${outDir}`);

function rangeStats(chunks: Float64Array[], dim: number, gripperLow: number, gripperHigh: number): NormStats {
  const q01: number[] = [];
  const q99: number[] = [];
  for (let d = 0; d < dim; d++) {
    const values = chunks.flatMap((c) => Array.from({ length: c.length / dim }, (_, i) => c[i * dim + d])).sort((a, b) => a - b);
    // The whole observed range plus a margin (stored in the q01/q99 fields): a learned policy's data would use
    // true percentiles, but the expert's rare large first steps must survive the round trip unclipped.
    const low = values[0];
    const high = values[values.length - 1];
    const margin = 0.05 * (high - low);
    q01.push(low - margin);
    q99.push(high + margin);
  }
  // The gripper is absolute: normalize it over its whole range so a constant width stays representable.
  q01[dim - 1] = gripperLow;
  q99[dim - 1] = gripperHigh;
  return { q01, q99, mask: Array.from({ length: dim }, () => true) };
}
