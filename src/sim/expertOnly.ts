// `vla-runtime sim`: the scripted expert alone against the embedded arm in lockstep, no runtime in between.
// Shows that the scene, the sensors and the task work, and what the expert reaches (the upper bound).
import { join } from "node:path";
import { loadArmDescription } from "../kinematics/description.js";
import { runExpertEpisode, WipeExpert } from "./expert.js";
import { MujocoArm } from "./mujocoArm.js";
import { publicSpec, sampleWipeTask } from "./task.js";

export async function runExpertOnly(packageRoot: string, seed: number, perturbations: boolean): Promise<string> {
  const arm = loadArmDescription(join(packageRoot, "sim", "arm", "description.json"));
  const task = sampleWipeTask(seed, { perturbations });
  const sim = await MujocoArm.create({ arm, task });
  try {
    const started = process.hrtime.bigint();
    const result = runExpertEpisode(sim, new WipeExpert(arm, publicSpec(task), { seed }));
    const wallS = Number(process.hrtime.bigint() - started) / 1e9;
    const m = result.metrics;
    return [
      `scripted expert, seed ${seed}${perturbations ? ", with perturbations" : ""}: ${m.success ? "SUCCEEDED" : "not finished"} in ${result.durationS.toFixed(1)} s simulated (${wallS.toFixed(2)} s wall)`,
      `  coverage ${(100 * m.coverage).toFixed(0)}%, force band ${task.forceBandN[0]}-${task.forceBandN[1]} N, violations ${m.forceBandViolationCount} (${m.forceBandViolationTimeS.toFixed(2)} s), peak ${m.peakForceN.toFixed(1)} N, ${result.chunks} chunks`,
    ].join("\n");
  } finally {
    sim.close();
  }
}
