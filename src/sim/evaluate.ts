// Closed-loop evaluation on the embedded wipe task: N seeded episodes per configuration in lockstep, and what each
// configuration achieved (success with a 95% interval, force-band violations, peak force, completion time,
// decode failures, safety interventions). The same seeds run in every configuration, so they differ only in
// what the configuration changes.
import { join } from "node:path";
import type { RuntimeConfigInput } from "../config/schema.js";
import { parseConfig } from "../config/load.js";
import { loadArmDescription } from "../kinematics/description.js";
import { runEpisode } from "./episode.js";
import { runExpertEpisode, WipeExpert } from "./expert.js";
import { MujocoArm } from "./mujocoArm.js";
import { publicSpec, sampleWipeTask, type WipeEpisodeMetrics } from "./task.js";

export interface EvalConfiguration {
  name: string;
  description: string;
  /** "expert": the scripted expert straight on the simulator; "runtime": an episode through the whole runtime. */
  kind: "expert" | "runtime";
  perturbations: boolean;
  overrides?: RuntimeConfigInput;
}

/**
 * The fast loop's force regulation the bundled RDP decoder learned its reactions from (models/scripts/collect_rdp.ts):
 * the compliance step holding 10 N, which lies inside every force band sampleWipeTask draws (low 4-7 N, high 12-18 N).
 */
export const RDP_TEACHER_REACTIVE = { kind: "compliance", mode: "regulate", targetForceN: 10, gainMPerN: 0.002 } as const;

const VLA = { kind: "onnx-vla" } as const;
const STAND_IN = { kind: "scripted-expert" } as const;

export const DEFAULT_EVAL_CONFIGURATIONS: readonly EvalConfiguration[] = [
  { name: "expert", description: "scripted expert straight on the simulator (upper bound)", kind: "expert", perturbations: false },
  { name: "VLA open loop", description: "the trained tiny VLA (models/wipe_vla), chunks executed as decoded", kind: "runtime", perturbations: false, overrides: { policy: VLA, reactive: { kind: "passthrough" } } },
  { name: "VLA + RDP", description: "the trained VLA, its chunks through the trained RDP tokenizer with live touch in the fast loop", kind: "runtime", perturbations: false, overrides: { policy: VLA, reactive: { kind: "rdp" } } },
  { name: "VLA + force regulation", description: "the trained VLA with the hand-written force regulation the RDP decoder was trained to imitate", kind: "runtime", perturbations: false, overrides: { policy: VLA, reactive: RDP_TEACHER_REACTIVE } },
  { name: "VLA open loop, perturbed", description: "as VLA open loop; surface shift, extra friction and a push mid-episode", kind: "runtime", perturbations: true, overrides: { policy: VLA, reactive: { kind: "passthrough" } } },
  { name: "VLA + RDP, perturbed", description: "as VLA + RDP; surface shift, extra friction and a push mid-episode", kind: "runtime", perturbations: true, overrides: { policy: VLA, reactive: { kind: "rdp" } } },
  { name: "VLA + force regulation, perturbed", description: "as VLA + force regulation; surface shift, extra friction and a push mid-episode", kind: "runtime", perturbations: true, overrides: { policy: VLA, reactive: RDP_TEACHER_REACTIVE } },
  { name: "stand-in open loop", description: "the scripted expert as a FAST-token policy through the runtime, no reactive step", kind: "runtime", perturbations: false, overrides: { policy: STAND_IN, reactive: { kind: "passthrough" } } },
  { name: "stand-in + compliance", description: "as stand-in open loop, plus the fast loop's force-feedback step", kind: "runtime", perturbations: false, overrides: { policy: STAND_IN, reactive: { kind: "compliance" } } },
  { name: "stand-in open loop, perturbed", description: "as stand-in open loop; surface shift, extra friction and a push mid-episode", kind: "runtime", perturbations: true, overrides: { policy: STAND_IN, reactive: { kind: "passthrough" } } },
  { name: "stand-in + compliance, perturbed", description: "as stand-in + compliance; surface shift, extra friction and a push mid-episode", kind: "runtime", perturbations: true, overrides: { policy: STAND_IN, reactive: { kind: "compliance" } } },
  { name: "stand-in + RDP", description: "the stand-in's chunks through the trained RDP tokenizer with live touch in the fast loop", kind: "runtime", perturbations: false, overrides: { policy: STAND_IN, reactive: { kind: "rdp" } } },
  { name: "stand-in + RDP, perturbed", description: "as stand-in + RDP; surface shift, extra friction and a push mid-episode", kind: "runtime", perturbations: true, overrides: { policy: STAND_IN, reactive: { kind: "rdp" } } },
];

/** Seeds of the evaluation. The bundled models were trained on task seeds 1-1000 (demonstrations) and 3001-3100 (the
 * RDP decoder's data); the DAgger rounds that were tried used 2001-2300. */
export const EVAL_FIRST_SEED = 1001;

export interface EpisodeOutcome {
  seed: number;
  metrics: WipeEpisodeMetrics;
  decodeFailures: number;
  safetyInterventionTicks: number;
}

export interface ConfigurationResult {
  name: string;
  description: string;
  episodes: number;
  successRate: number;
  successInterval95: [number, number];
  meanForceBandViolations: number;
  meanTimeOutOfBandS: number;
  meanPeakForceN: number;
  maxPeakForceN: number;
  meanCompletionTimeS: number | null;
  decodeFailures: number;
  safetyInterventionTicks: number;
  outcomes: EpisodeOutcome[];
}

export interface EvalOptions {
  packageRoot: string;
  episodes: number;
  firstSeed?: number;
  /** Episode length (s); default: each task's own time limit. */
  durationS?: number;
  configurations?: readonly EvalConfiguration[];
  onEpisode?: (done: number, total: number, configuration: string) => void;
}

/** Wilson score interval for a binomial proportion (95%: z = 1.96); sound at 0 and N successes. */
export function wilsonInterval(successes: number, trials: number, z = 1.96): [number, number] {
  if (trials === 0) return [0, 1];
  const p = successes / trials;
  const z2 = z * z;
  const centre = (p + z2 / (2 * trials)) / (1 + z2 / trials);
  const half = (z / (1 + z2 / trials)) * Math.sqrt((p * (1 - p)) / trials + z2 / (4 * trials * trials));
  return [Math.max(0, centre - half), Math.min(1, centre + half)];
}

export async function evaluate(options: EvalOptions): Promise<ConfigurationResult[]> {
  const configurations = options.configurations ?? DEFAULT_EVAL_CONFIGURATIONS;
  const firstSeed = options.firstSeed ?? EVAL_FIRST_SEED;
  const total = configurations.length * options.episodes;
  const arm = loadArmDescription(join(options.packageRoot, "sim", "arm", "description.json"));
  let done = 0;
  const results: ConfigurationResult[] = [];
  for (const configuration of configurations) {
    const outcomes: EpisodeOutcome[] = [];
    for (let i = 0; i < options.episodes; i++) {
      const seed = firstSeed + i;
      const task = sampleWipeTask(seed, { perturbations: configuration.perturbations });
      // Default: the task's own time limit (success means coverage within it).
      const durationS = options.durationS ?? task.timeLimitS;
      if (configuration.kind === "expert") {
        const sim = await MujocoArm.create({ arm, task });
        try {
          const rollout = runExpertEpisode(sim, new WipeExpert(arm, publicSpec(task), { seed }), { maxDurationS: durationS });
          outcomes.push({ seed, metrics: rollout.metrics, decodeFailures: 0, safetyInterventionTicks: 0 });
        } finally {
          sim.close();
        }
      } else {
        const overrides = configuration.overrides ?? {};
        const config = parseConfig({
          ...overrides,
          control: { ...overrides.control, realtime: false },
          episode: { ...overrides.episode, durationS, seed, perturbations: configuration.perturbations },
        });
        const summary = await runEpisode(config, { packageRoot: options.packageRoot });
        if (!summary.task) throw new Error(`evaluation: episode ${seed} of "${configuration.name}" reported no task metrics`);
        outcomes.push({
          seed,
          metrics: summary.task,
          decodeFailures: summary.chunks.decodeFailures,
          safetyInterventionTicks: Object.values(summary.safety).reduce((a, b) => a + b, 0),
        });
      }
      options.onEpisode?.(++done, total, configuration.name);
    }
    results.push(aggregate(configuration, outcomes));
  }
  return results;
}

function aggregate(configuration: EvalConfiguration, outcomes: EpisodeOutcome[]): ConfigurationResult {
  const n = outcomes.length;
  const mean = (f: (o: EpisodeOutcome) => number) => outcomes.reduce((s, o) => s + f(o), 0) / Math.max(1, n);
  const successes = outcomes.filter((o) => o.metrics.success).length;
  const completions = outcomes.map((o) => o.metrics.completionTimeS).filter((t): t is number => t !== null);
  return {
    name: configuration.name,
    description: configuration.description,
    episodes: n,
    successRate: successes / Math.max(1, n),
    successInterval95: wilsonInterval(successes, n),
    meanForceBandViolations: mean((o) => o.metrics.forceBandViolationCount),
    meanTimeOutOfBandS: mean((o) => o.metrics.forceBandViolationTimeS),
    meanPeakForceN: mean((o) => o.metrics.peakForceN),
    maxPeakForceN: Math.max(0, ...outcomes.map((o) => o.metrics.peakForceN)),
    meanCompletionTimeS: completions.length ? completions.reduce((a, b) => a + b, 0) / completions.length : null,
    decodeFailures: outcomes.reduce((s, o) => s + o.decodeFailures, 0),
    safetyInterventionTicks: outcomes.reduce((s, o) => s + o.safetyInterventionTicks, 0),
    outcomes,
  };
}
