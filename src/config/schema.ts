// One schema for the CLI flags, config files and (later) the ROS parameters. Every field has a default
// that works out of the box with the embedded simulator, a description (it becomes the help text) and a range.
import { z } from "zod";

const section = <T extends z.ZodRawShape>(shape: T) => z.object(shape).strict().prefault({});

export const configSchema = z
  .object({
    control: section({
      rateHz: z.number().min(50).max(1000).default(500).describe("fast loop (control) rate in Hz"),
      realtime: z.boolean().default(true).describe("run against the wall clock (false: lockstep simulation, as fast as possible)"),
    }),
    episode: section({
      durationS: z.number().positive().max(3600).default(20).describe("length of one episode in seconds"),
      seed: z.number().int().min(0).default(1).describe("seed for the task layout and the policy"),
    }),
    policy: section({
      kind: z.enum(["scripted-expert"]).default("scripted-expert").describe("slow policy that produces action chunks"),
      rateHz: z.number().min(0.1).max(100).default(5).describe("how often the slow executor asks the policy for a chunk"),
      stepRateHz: z.number().min(1).max(1000).default(10).describe("time between the steps of a chunk, as a rate"),
      chunkSteps: z.number().int().min(1).max(256).default(20).describe("steps per chunk"),
      timeoutMs: z.number().int().min(1).max(60_000).default(2000).describe("a policy call that takes longer is abandoned"),
    }),
    tokenizer: section({
      kind: z.enum(["fast", "beast", "binning", "none"]).default("fast").describe("how chunks travel from the policy: FAST/FAST+ tokens, BEAST tokens, per-step bins or raw actions"),
      path: z.string().default("").describe("FAST tokenizer folder in the Hugging Face layout (empty: the bundled one)"),
      beastBasis: z.number().int().min(2).max(64).default(10).describe("BEAST control points per degree of freedom"),
    }),
    normalization: section({
      statsPath: z.string().default("").describe("norm_stats.json with q01/q99 per action dimension (empty: the bundled one)"),
      statsKey: z.string().default("").describe("key of the robot inside norm_stats.json (empty: the only one)"),
    }),
    actionSpace: z.enum(["joint-absolute", "joint-delta", "ee-delta"]).default("joint-absolute").describe("what the policy's actions mean"),
    scheduler: section({
      mode: z.enum(["replace", "crossfade", "temporal-ensemble", "prefix-hold"]).optional().describe("how a new chunk takes over from the current one (default: the smoothest in the benchmark)"),
      crossfadeSteps: z.number().int().min(1).max(64).default(4).describe("policy steps a crossfade lasts"),
      ensembleDecayPerStep: z.number().min(0).max(10).default(0.01).describe("ACT temporal ensembling weight decay exp(-k i)"),
      interpolation: z.enum(["cubic", "linear"]).default("cubic").describe("resampling from the policy step rate to the control rate"),
    }),
    safety: section({
      sensorMaxAgeMs: z.number().min(1).max(10_000).default(50).describe("hold position when the newest sensor sample is older than this"),
      workspaceMinM: z.tuple([z.number(), z.number(), z.number()]).default([-0.9, -0.9, -0.05]).describe("end-effector workspace box, lower corner (m)"),
      workspaceMaxM: z.tuple([z.number(), z.number(), z.number()]).default([0.9, 0.9, 1.2]).describe("end-effector workspace box, upper corner (m)"),
    }),
    reactive: section({
      kind: z.enum(["passthrough", "compliance"]).default("compliance").describe("fast-loop correction from touch and force"),
      targetForceN: z.number().min(0).max(200).default(10).describe("compliance: contact force to hold"),
      gainMPerN: z.number().min(0).max(0.01).default(0.0004).describe("compliance: tool offset per newton of force error"),
      maxOffsetM: z.number().min(0).max(0.1).default(0.02).describe("compliance: largest correction"),
    }),
    backend: section({
      kind: z.enum(["mujoco"]).default("mujoco").describe("where commands go"),
    }),
  })
  .strict();

export type RuntimeConfig = z.infer<typeof configSchema>;
export type RuntimeConfigInput = z.input<typeof configSchema>;
