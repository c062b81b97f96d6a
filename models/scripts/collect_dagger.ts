// DAgger data for models/wipe_vla (Ross et al. 2011): runs the trained VLA through the whole runtime on the embedded
// arm (lockstep, the evaluation's set-up) and labels every state it reaches with what the state-labelling expert
// (src/sim/stateExpert.ts) would do from there. The states a policy visits after its own mistakes (pressing too
// hard, off the path, stopped in contact) are ones the scripted demonstrations never show; labelled, they teach it
// the way back.
//
// On a fraction of the policy calls (betaExpert, drawn from the seed) the label is what runs instead of the VLA's
// answer, so an episode that would stay stuck in one state for half a minute still moves on and shows more states.
//
// Writes, in the layout of record_demos.ts (so fit_vla_tokenizer.ts and train_tiny_vla.py read it unchanged, and a
// folder of demonstrations and one of these can be concatenated frame by frame):
//   vla_images.u8      frames x 112 x 112 x 3, the WipeCamera frame the VLA saw
//   vla_samples.jsonl  per frame: episode (= seed), time, instruction, tokens [] (no joint-delta tokens here), the
//                      labeller's phase, positions, wrench, and its chunk as ee-deltas from the plan (deltaOrigin "plan")
//   summary.json       counts, and how the VLA did in these episodes
// Labels are limited to the demonstrations' speed (limitStepDeltas); states the labeller cannot answer with a
// reachable pad-down chunk are left out.
// Usage: npm run build && node dist/models/scripts/collect_dagger.js [outDir=/tmp/dagger] [episodes=100] [firstSeed=2001] [betaExpert=0.3] [modelDir=models/wipe_vla]
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { findRepoRoot } from "../../bench/lib/harness.js";
import { parseConfig } from "../../src/config/load.js";
import { loadArmDescription } from "../../src/kinematics/description.js";
import { ArmKinematics } from "../../src/kinematics/kinematics.js";
import { loadNormStats, normalizeInto } from "../../src/policy/normalization.js";
import { loadVlaConfig } from "../../src/policy/vla.js";
import { deltaOriginState, EE_DELTA_WIDTH, jointChunkToEeDeltas } from "../../src/runtime/actionSpace.js";
import type { Observation, PolicyOutput, SlowPolicy } from "../../src/runtime/slowExecutor.js";
import { WipeCamera } from "../../src/sim/camera.js";
import { runEpisode } from "../../src/sim/episode.js";
import { WipeStateExpert } from "../../src/sim/stateExpert.js";
import { publicSpec, sampleWipeTask, seededRandom } from "../../src/sim/task.js";
import { VlaSampleFiles } from "./trainingFiles.js";

const root = findRepoRoot();
const outDir = process.argv[2] ?? "/tmp/dagger";
const episodes = Number(process.argv[3] ?? 100);
const firstSeed = Number(process.argv[4] ?? 2001);
const betaExpert = Number(process.argv[5] ?? 0.3);
/** The VLA to run (a later DAgger round runs the model the previous round trained). */
const vlaDir = resolve(process.argv[6] ?? join(root, "models", "wipe_vla"));
if (!(Number.isInteger(episodes) && episodes > 0 && Number.isInteger(firstSeed) && betaExpert >= 0 && betaExpert <= 1)) {
  throw new Error(`collect_dagger: expected episodes > 0, an integer first seed and betaExpert in [0, 1], got ${process.argv.slice(3).join(" ")}`);
}
mkdirSync(outDir, { recursive: true });
const arm = loadArmDescription(join(root, "sim", "arm", "description.json"));
const kinematics = new ArmKinematics(arm);
const chunkConfig = loadVlaConfig(vlaDir).chunk;
if (chunkConfig === undefined) throw new Error(`collect_dagger: ${vlaDir} has no chunk section in vla_config.json (a FAST-token VLA is needed)`);
const stats = loadNormStats(join(vlaDir, chunkConfig.normStats), chunkConfig.normStatsKey);
const steps = chunkConfig.steps;

const vlaFiles = new VlaSampleFiles(outDir);
const started = Date.now();
let expertCalls = 0;
let unreachableLabels = 0;
let vlaSuccesses = 0;
/** The runtime's task text, as the VLA gets it (the demonstrations use the same). */
let instruction = "";

/** Largest tool motion per chunk step in a label (m, rad): about the demonstrations' fastest (0.022 m at 0.1 s). */
const MAX_STEP_TRANSLATION_M = 0.025;
const MAX_STEP_ROTATION_RAD = 0.02;

/**
 * Scale down label steps that move faster than the demonstrations ever do: far from its plan (a policy gone astray)
 * the labeller's first step jumps straight back, and a policy should learn to go back at the speed it knows.
 * Keeps the normalization ranges (fitted over all frames) as fine as the demonstrations need.
 */
function limitStepDeltas(eeDeltas: Float64Array, stepCount: number): void {
  for (let i = 0; i < stepCount; i++) {
    const o = i * EE_DELTA_WIDTH;
    for (const [first, limit] of [[0, MAX_STEP_TRANSLATION_M], [3, MAX_STEP_ROTATION_RAD]] as const) {
      const norm = Math.hypot(eeDeltas[o + first], eeDeltas[o + first + 1], eeDeltas[o + first + 2]);
      if (norm > limit) for (let k = first; k < first + 3; k++) eeDeltas[o + k] *= limit / norm;
    }
  }
}

/** The VLA, with every observation labelled and written, and on a betaExpert share of calls the label run instead. */
function labelling(inner: SlowPolicy, seed: number, expert: WipeStateExpert, camera: WipeCamera): SlowPolicy {
  const rand = seededRandom(seed * 31337 + 5);
  const chunk = new Float64Array(steps * expert.dim);
  return {
    name: inner.name,
    async infer(obs: Observation, signal: AbortSignal): Promise<PolicyOutput> {
      const frame = camera.observe(obs.positions, obs.wrench, obs.timeNs);
      expert.plan(obs, chunk);
      const origin = deltaOriginState("plan", obs.positions, obs.plannedPositions, arm.joints.length);
      const eeDeltas = jointChunkToEeDeltas(chunk, steps, origin, kinematics);
      // A label with a step the arm cannot reach pad-down is no lesson (it holds, or IK took another wrist branch).
      if (expert.unreachableSteps > 0) {
        unreachableLabels++;
        return inner.infer(obs, signal);
      }
      limitStepDeltas(eeDeltas, steps);
      vlaFiles.write(frame.data, { episode: seed, timeS: obs.timeNs * 1e-9, instruction, tokens: [], phase: expert.phase, positions: obs.positions, wrench: obs.wrench, eeDeltas });
      if (rand() < betaExpert) {
        expertCalls++;
        const actions = new Float64Array(eeDeltas.length);
        normalizeInto(eeDeltas, EE_DELTA_WIDTH, stats, actions, { clip: true });
        return { kind: "actions", actions, steps, dim: EE_DELTA_WIDTH };
      }
      return inner.infer(obs, signal);
    },
  };
}

for (let seed = firstSeed; seed < firstSeed + episodes; seed++) {
  const perturbations = seed % 2 === 0;
  const task = sampleWipeTask(seed, { perturbations });
  const spec = publicSpec(task);
  const config = parseConfig({
    policy: { kind: "onnx-vla", modelDir: vlaDir },
    reactive: { kind: "passthrough" },
    control: { realtime: false },
    episode: { durationS: task.timeLimitS, seed, perturbations },
  });
  instruction = config.episode.instruction;
  const expert = new WipeStateExpert(arm, spec);
  const summary = await runEpisode(config, { packageRoot: root, wrapPolicy: (policy) => labelling(policy, seed, expert, new WipeCamera(arm, spec)) });
  if (summary.task?.success) vlaSuccesses++;
  process.stdout.write(`\rDAgger: ${seed - firstSeed + 1}/${episodes} episodes, ${vlaFiles.frames} frames (${expertCalls} run by the labeller), VLA success ${vlaSuccesses}   `);
}
vlaFiles.close();
const summary = { episodes, firstSeed, betaExpert, frames: vlaFiles.frames, expertCalls, unreachableLabels, vlaSuccesses, image: { width: 112, height: 112, channels: 3 }, recordSeconds: (Date.now() - started) / 1000 };
writeFileSync(join(outDir, "summary.json"), JSON.stringify(summary, null, 2) + "\n");
console.log(`\n${JSON.stringify(summary)}`);
