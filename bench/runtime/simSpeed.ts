// Speed of the embedded MuJoCo arm on the wipe scene, as simulated seconds per wall second (one core):
// - physics only, arm holding still in free air;
// - physics only, pad pressed onto the platform while wiping (one contact per pad nub);
// - one 2 ms control tick: sendCommand + step + readSensors, in contact (what the real-time fast loop does);
// - a whole expert episode in lockstep (expert planning at 10 Hz + the tick above);
// - a two-link arm with raw mj_step, to calibrate against the raw speed quoted for the wasm build.
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadArmDescription, type ArmDescription } from "../../src/kinematics/description.js";
import { runExpertEpisode, WipeExpert } from "../../src/sim/expert.js";
import { compileMjcf, loadMujoco } from "../../src/sim/mujocoLoader.js";
import { MujocoArm } from "../../src/sim/mujocoArm.js";
import { publicSpec, sampleWipeTask } from "../../src/sim/task.js";
import type { SensorSnapshot } from "../../src/runtime/types.js";
import { findRepoRoot, medianMicros, printTable, writeResults, type Row } from "../lib/harness.js";

const SEED = 3;

function bundledArm(): ArmDescription {
  // From the source tree or from dist/: the description lives under the repository root.
  return loadArmDescription(join(findRepoRoot(), "sim", "arm", "description.json"));
}

function snapshotFor(sim: MujocoArm): SensorSnapshot {
  return {
    timeNs: 0,
    positions: new Float64Array(sim.dim),
    velocities: new Float64Array(sim.dim),
    wrench: new Float64Array(6),
    tactile: new Float64Array(sim.tactileCount),
  };
}

function row(scenario: string, usPerStep: number, stepS: number, extra: Record<string, number | string> = {}): Row {
  return { scenario, usPerStep, stepsPerS: Math.round(1e6 / usPerStep), simSPerWallS: stepS / (usPerStep * 1e-6), ...extra };
}

export async function runSimSpeedBench(): Promise<{ rows: Row[]; json: object }> {
  const arm = bundledArm();
  const task = sampleWipeTask(SEED);
  const rows: Row[] = [];

  const loadStart = process.hrtime.bigint();
  await loadMujoco();
  const loadMs = Number(process.hrtime.bigint() - loadStart) / 1e6;
  const compileStart = process.hrtime.bigint();
  const sim = await MujocoArm.create({ arm, task });
  const createMs = Number(process.hrtime.bigint() - compileStart) / 1e6;
  const dt = sim.timestepS;
  const snap = snapshotFor(sim);
  const command = new Float64Array(sim.dim);

  // The wasm code tiers up from the baseline compiler to the optimizing one in the background during the first
  // seconds of use: run a while first so every row measures optimized code.
  const warmUntil = process.hrtime.bigint() + 2_000_000_000n;
  while (process.hrtime.bigint() < warmUntil) sim.step(100);
  sim.reset();

  // Free air: the ready pose, servos holding.
  const freeUs = medianMicros(() => sim.step(1), { warmup: 500, batches: 31, perBatch: 100 });
  rows.push(row("physics only, free air", freeUs, dt, { taxelsTouching: 0 }));

  // In contact: run the expert until it has been wiping for a second, then freeze its last command.
  sim.reset();
  const expert = new WipeExpert(arm, publicSpec(task), { seed: SEED });
  let wipingSinceS = Number.NaN;
  runExpertEpisode(sim, expert, {
    onChunk: (obs) => {
      if (expert.phase === "wipe" && Number.isNaN(wipingSinceS)) wipingSinceS = obs.timeNs * 1e-9;
    },
    stopWhen: (t) => !Number.isNaN(wipingSinceS) && t > wipingSinceS + 1,
  });
  if (expert.phase !== "wipe") throw new Error(`sim speed bench: expected the expert to be wiping, it is in phase "${expert.phase}"`);
  sim.readSensors(snap);
  const contactForceN = sim.contactForceN();
  const contactUs = medianMicros(() => sim.step(1), { warmup: 200, batches: 31, perBatch: 50 });
  rows.push(row("physics only, pad pressing", contactUs, dt, { taxelsTouching: snap.tactile.filter((f) => f > 0).length, forceN: Number(contactForceN.toFixed(1)) }));

  // One control tick in contact: a small wiggle around the held command so the servos keep working.
  command.set(snap.positions);
  let k = 0;
  const base1 = command[0];
  const tickUs = medianMicros(
    () => {
      command[0] = base1 + 0.002 * Math.sin(k * 0.01);
      sim.sendCommand(command, sim.simTimeS * 1e9);
      sim.step(1);
      sim.readSensors(snap);
      k++;
    },
    { warmup: 200, batches: 31, perBatch: 50 },
  );
  rows.push(row("tick: command + step + sensors, pressing", tickUs, dt, { taxelsTouching: snap.tactile.filter((f) => f > 0).length }));
  sim.close();

  // A whole expert episode in lockstep.
  const episodeSim = await MujocoArm.create({ arm, task });
  const episodeStart = process.hrtime.bigint();
  const result = runExpertEpisode(episodeSim, new WipeExpert(arm, publicSpec(task), { seed: SEED }));
  const episodeWallS = Number(process.hrtime.bigint() - episodeStart) / 1e9;
  const episodeSteps = Math.round(result.durationS / dt);
  rows.push(row("expert episode (10 Hz plans + ticks)", (episodeWallS * 1e6) / episodeSteps, dt, { simS: Number(result.durationS.toFixed(1)), success: String(result.metrics.success) }));
  episodeSim.close();

  // Calibration: two capsule links on hinges, no sensors, no contact.
  const mujoco = await loadMujoco();
  const twoLink = compileMjcf(
    mujoco,
    `<mujoco><option timestep="0.002"/><worldbody><body><joint type="hinge" axis="0 1 0"/><geom type="capsule" fromto="0 0 0 0 0 0.3" size="0.03"/>` +
      `<body pos="0 0 0.3"><joint type="hinge" axis="0 1 0"/><geom type="capsule" fromto="0 0 0 0 0 0.3" size="0.03"/></body></body></worldbody></mujoco>`,
    "two_link",
  );
  const twoLinkData = new mujoco.MjData(twoLink);
  const twoLinkUs = medianMicros(() => mujoco.mj_step(twoLink, twoLinkData), { warmup: 2000, batches: 31, perBatch: 500 });
  rows.push(row("calibration: two-link arm, raw mj_step", twoLinkUs, 0.002, { taxelsTouching: 0 }));
  twoLinkData.delete();
  twoLink.delete();

  printTable(`Embedded MuJoCo arm (wipe scene, timestep ${dt * 1000} ms): simulated seconds per wall second, one core`, rows);
  return {
    rows,
    json: {
      timestepS: dt,
      seed: SEED,
      task,
      wasmLoadMs: loadMs,
      sceneCreateMs: createMs,
      mujocoVersion: mujoco.mj_versionString(),
      results: rows,
    },
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { json } = await runSimSpeedBench();
  console.log(`\nresults in ${writeResults("simSpeed", json)}`);
}
