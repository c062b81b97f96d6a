// Records scripted-expert demonstrations of the embedded wipe task for training the bundled VLA and RDP models.
//
// Per episode (seed s = 1..N; task sampled with sampleWipeTask(s), perturbations on even seeds; the arm starts at
// the ready pose for s = 1 mod 4, else above a random point of the table, see startPositions):
//   episode_NNNN.mcap  ROS 2 CDR messages (the runtime's recorder): /joint_states, /wrench, /tactile, /camera/image
//                      (the WipeCamera frame the policy sees), /instruction, /policy/chunk (the expert's absolute
//                      chunk) and /policy/call (its FAST tokens), one set per policy step (5 Hz).
// And the flat tensors the trainers read (the same samples, nothing else):
//   vla_images.u8      N x 112 x 112 x 3 RGB frames
//   vla_samples.jsonl  per frame: episode, time, instruction, the expert's FAST tokens (bundled joint-delta tokenizer),
//                      the expert's phase, positions, wrench, and the chunk as tool-pose deltas (ee-delta, 10 x 7) starting from where
//                      the expert's previous chunk put the arm (deltaOrigin "plan"): what models/wipe_vla speaks
//                      once fit_vla_tokenizer.ts has tokenized it
//   rdp.f32            M x (32*7 planned + 32*7 executed + 32*22 touch) float32, see rdp_index.json
//   rdp_index.json     episode of every RDP sample and the layout
//   summary.json       counts, expert success rate, FAST token statistics
// Usage: npx tsc -p tsconfig.build.json && node dist/models/scripts/record_demos.js [outDir=/tmp/demos] [episodes=60] [wanderRad=0]
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { findRepoRoot } from "../../bench/lib/harness.js";
import { loadArmDescription } from "../../src/kinematics/description.js";
import { normalizeInto } from "../../src/policy/normalization.js";
import { loadRdpContract, resampleChunk, touchFeaturesInto } from "../../src/policy/rdp.js";
import { McapSink } from "../../src/observability/mcapSink.js";
import { Recorder } from "../../src/observability/recorder.js";
import { RecordingClock } from "../../src/observability/topics.js";
import type { SensorSnapshot } from "../../src/runtime/types.js";
import { WipeCamera } from "../../src/sim/camera.js";
import { WipeExpert, runExpertEpisode, type LockstepArm } from "../../src/sim/expert.js";
import { BUNDLED_POLICY, chunkToDeltas, loadBundledExpertModel } from "../../src/sim/expertPolicy.js";
import { MujocoArm, READY_POSITIONS_VLA_ARM6 } from "../../src/sim/mujocoArm.js";
import { ArmKinematics } from "../../src/kinematics/kinematics.js";
import { deltaOriginState, jointChunkToEeDeltas } from "../../src/runtime/actionSpace.js";
import { publicSpec, sampleWipeTask, seededRandom } from "../../src/sim/task.js";
import { RdpSampleFile, VlaSampleFiles } from "./trainingFiles.js";

export const WIPE_INSTRUCTION = "wipe the marked area";

const root = findRepoRoot();
const outDir = process.argv[2] ?? "/tmp/demos";
const episodes = Number(process.argv[3] ?? 60);
/** Deviation of the sideways wander (rad of base turn) on the episodes that do not start at the ready pose; 0: none. */
const wanderRad = Number(process.argv[4] ?? 0);
mkdirSync(outDir, { recursive: true });
const arm = loadArmDescription(join(root, "sim", "arm", "description.json"));
const model = loadBundledExpertModel(root);
const rdp = loadRdpContract(join(root, "models", "rdp"));
const dim = arm.joints.length + 1;
const steps = BUNDLED_POLICY.chunkSteps;
const stepNs = BUNDLED_POLICY.stepPeriodS * 1e9;
const rdpPeriodS = rdp.stepPeriodS;
const touchWidth = rdp.touch.wrench + rdp.touch.tactile;
const kinematics = new ArmKinematics(arm);

const vlaFiles = new VlaSampleFiles(outDir);
const rdpFile = new RdpSampleFile(outDir, rdp);
let successes = 0;
let tokenTotal = 0;
let tokenMax = 0;
const started = Date.now();

/**
 * A slow sideways wander of the pad (Ornstein-Uhlenbeck, time constant 0.5 s, stationary deviation sigma): the base
 * turns by the offset and the second wrist joint turns back by the same angle, so the pad slides across the table
 * keeping its height and orientation (the bundled arm with the pad down; about 4 mm per 0.01 rad). The expert's
 * next chunk, taken from where the arm was sent, shows how to get back onto the path (DART-style noise injection,
 * Laskey et al. 2017).
 */
class SidewaysWander {
  private offsetRad = 0;
  private readonly rand: () => number;
  constructor(private readonly sigmaRad: number, seed: number, private readonly tauS = 0.5) {
    this.rand = seededRandom(seed * 104729 + 3);
  }
  /** Advance by dtS and add the offset to `command`. */
  addTo(command: Float64Array, dtS: number): void {
    const k = dtS / this.tauS;
    const normal = Math.sqrt(-2 * Math.log(1 - this.rand())) * Math.cos(2 * Math.PI * this.rand());
    this.offsetRad += -k * this.offsetRad + this.sigmaRad * Math.sqrt(2 * k) * normal;
    command[0] += this.offsetRad; // shoulder pan
    command[4] += this.offsetRad; // wrist 2 (vertical with the pad down): cancels the pad's turn
  }
}

/** A lockstep arm that also keeps the commanded action and the touch at the RDP rate (24 Hz) for the decoder targets. */
class TracingArm implements LockstepArm {
  readonly commands: Float64Array[] = [];
  readonly touch: Float64Array[] = [];
  /** The last command sent (where the current plan has the arm); null before the first. */
  lastCommand: Float64Array | null = null;
  private readonly last: Float64Array;
  private readonly snap: SensorSnapshot;
  constructor(private readonly sim: MujocoArm, private readonly wander: SidewaysWander | null) {
    this.last = new Float64Array(sim.dim);
    this.snap = { timeNs: 0, positions: new Float64Array(sim.dim), velocities: new Float64Array(sim.dim), wrench: new Float64Array(6), tactile: new Float64Array(sim.tactileCount) };
  }
  get dim() { return this.sim.dim; }
  get tactileCount() { return this.sim.tactileCount; }
  get timestepS() { return this.sim.timestepS; }
  get simTimeS() { return this.sim.simTimeS; }
  readSensors(into: SensorSnapshot) { return this.sim.readSensors(into); }
  metrics() { return this.sim.metrics(); }
  sendCommand(command: Float64Array, timeNs: number) {
    this.last.set(command);
    this.wander?.addTo(this.last, this.sim.timestepS);
    this.lastCommand = this.last;
    // Sample k of the trace is the command due at k / 24 s and the touch measured then (the first physics step at or after it).
    if (this.sim.simTimeS >= this.commands.length * rdpPeriodS - 1e-9) {
      this.sim.readSensors(this.snap);
      const features = new Float64Array(touchWidth);
      touchFeaturesInto(this.snap.wrench, this.snap.tactile, rdp, features, 0);
      // The RDP target is what the expert commanded (the wander is a disturbance, not something touch predicts).
      this.commands.push(command.slice());
      this.touch.push(features);
    }
    this.sim.sendCommand(this.last, timeNs);
  }
  step(n?: number) { this.sim.step(n); }
}

/**
 * Where an episode starts: the ready pose (as every runtime episode does) for one seed in four, else the pad
 * pointing down above a random point of the table in front of the arm, so the approach is seen from many places
 * rather than once per episode from the same one.
 */
function startPositions(seed: number): number[] {
  const ready = [...READY_POSITIONS_VLA_ARM6];
  if (seed % 4 === 1) return ready;
  const rand = seededRandom(seed * 7919 + 17);
  const position = new Float64Array(3);
  const rotation = new Float64Array(9);
  kinematics.forward(ready, position, rotation);
  position.set([0.3 + 0.2 * rand(), -0.15 + 0.3 * rand(), 0.26 + 0.12 * rand()]);
  const solution = kinematics.solve({ positionM: position, rotation }, ready, { maxIterations: 200 });
  return solution.ok ? [...solution.q, ready[ready.length - 1]] : ready;
}

for (let seed = 1; seed <= episodes; seed++) {
  const task = sampleWipeTask(seed, { perturbations: seed % 2 === 0 });
  const spec = publicSpec(task);
  const sim = await MujocoArm.create({ arm, task, seed, initialPositions: startPositions(seed) });
  const arm24 = new TracingArm(sim, wanderRad > 0 && seed % 4 !== 1 ? new SidewaysWander(wanderRad, seed) : null);
  const expert = new WipeExpert(arm, spec, { seed, stepPeriodS: BUNDLED_POLICY.stepPeriodS, chunkSteps: steps, variedPath: false });
  const camera = new WipeCamera(arm, spec);
  const recorder = new Recorder({
    info: { mode: "lockstep", arm, jointNames: [...arm.joints.map((j) => j.name), arm.gripper.name], tactile: { rows: 4, cols: 4, pitchM: 0.014 }, policyName: "scripted expert", notes: { seed, instruction: WIPE_INSTRUCTION, perturbations: seed % 2 === 0 } },
    clock: RecordingClock.forSimulation(0n),
    sinks: [await McapSink.create({ path: join(outDir, `episode_${String(seed).padStart(4, "0")}.mcap`), flushIntervalMs: 0 })],
    tfPeriodNs: 0,
  });
  recorder.instruction(WIPE_INSTRUCTION, 0);
  const plans: { timeS: number; chunk: Float64Array }[] = [];
  const deltas = new Float64Array(steps * dim);
  const normalized = new Float64Array(steps * dim);
  const result = runExpertEpisode(arm24, expert, {
    replanPeriodS: BUNDLED_POLICY.replanPeriodS,
    onChunk: (obs, chunk) => {
      const frame = camera.observe(obs.positions, obs.wrench, obs.timeNs);
      const origin = deltaOriginState("plan", obs.positions, arm24.lastCommand ?? undefined, arm.joints.length);
      const eeDeltas = jointChunkToEeDeltas(chunk, steps, origin, kinematics);
      chunkToDeltas(chunk, obs.positions, steps, dim, deltas);
      normalizeInto(deltas, dim, model.stats, normalized, { clip: true });
      const rows = Array.from({ length: steps }, (_, i) => Array.from(normalized.subarray(i * dim, (i + 1) * dim)));
      const tokens = model.tokenizer.encode(rows);
      tokenTotal += tokens.length;
      tokenMax = Math.max(tokenMax, tokens.length);
      recorder.sensors(obs);
      recorder.image(frame);
      recorder.chunk({ actions: chunk, steps, dim, stepPeriodNs: stepNs, observationTimeNs: obs.timeNs, arrivalTimeNs: obs.timeNs, sequence: plans.length + 1 }, obs.timeNs);
      void recorder.wrapPolicy({ name: "scripted expert", infer: async () => ({ kind: "tokens", tokens }) }, () => obs.timeNs).infer(obs as never, new AbortController().signal);
      vlaFiles.write(frame.data, { episode: seed, timeS: obs.timeNs * 1e-9, instruction: WIPE_INSTRUCTION, tokens, phase: expert.phase, positions: obs.positions, wrench: obs.wrench, eeDeltas });
      plans.push({ timeS: obs.timeNs * 1e-9, chunk: chunk.slice() });
    },
  });
  await new Promise((r) => setImmediate(r));
  await recorder.close();
  sim.close();
  if (result.metrics.success) successes++;

  // RDP samples: the plan at t0 on the decoder's grid (encoder input) vs. what was commanded over the next 32 ticks
  // (the expert kept replanning from touch), with the touch of those ticks.
  const planned = new Float64Array(rdp.chunkSteps * dim);
  for (const plan of plans) {
    const k0 = Math.round(plan.timeS / rdpPeriodS);
    if (k0 + rdp.chunkSteps > arm24.commands.length) continue;
    resampleChunk(plan.chunk, steps, dim, stepNs, rdp.chunkSteps, rdpPeriodS * 1e9, planned);
    const executed = new Float64Array(rdp.chunkSteps * dim);
    const touch = new Float32Array(rdp.chunkSteps * touchWidth);
    for (let k = 0; k < rdp.chunkSteps; k++) {
      executed.set(arm24.commands[k0 + k], k * dim);
      touch.set(arm24.touch[k0 + k], k * touchWidth);
    }
    rdpFile.write(seed, planned, executed, touch);
  }
  process.stdout.write(`\rdemonstrations: ${seed}/${episodes} episodes, ${vlaFiles.frames} frames, ${rdpFile.samples} rdp chunks, expert success ${successes}/${seed}   `);
}
vlaFiles.close();
rdpFile.close();
const summary = {
  episodes,
  perturbedEpisodes: Math.floor(episodes / 2),
  frames: vlaFiles.frames,
  image: { width: 112, height: 112, channels: 3 },
  rdpChunks: rdpFile.samples,
  expertSuccessRate: successes / episodes,
  meanFastTokensPerChunk: tokenTotal / vlaFiles.frames,
  maxFastTokensPerChunk: tokenMax,
  recordSeconds: (Date.now() - started) / 1000,
};
writeFileSync(join(outDir, "summary.json"), JSON.stringify(summary, null, 2) + "\n");
console.log(`\n${JSON.stringify(summary)}`);
