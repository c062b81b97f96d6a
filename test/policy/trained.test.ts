// The trained wipe models through the runtime's own code paths. The VLA: held-out observations (a task seed the
// demonstrations never used, rendered by the same WipeCamera), the real runner, greedy decoding, the strict FAST
// decoder; its chunks must decode and must be closer to the scripted expert's than standing still is. The RDP pair:
// a held-out chunk written by train_rdp.py, the encoder session and the TypeScript GRU step with the recorded touch.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadArmDescription } from "../../src/kinematics/description.js";
import { ArmKinematics } from "../../src/kinematics/kinematics.js";
import { loadNormStats, normalizeInto } from "../../src/policy/normalization.js";
import { deltaOriginState, jointChunkToEeDeltas } from "../../src/runtime/actionSpace.js";
import { loadRdpContract, RdpEncoder, RdpGruDecoder, touchFeaturesInto } from "../../src/policy/rdp.js";
import { loadVlaConfig, loadVlaPolicy, VlaRunner, vlaChunkCodec } from "../../src/policy/vla.js";
import type { ImageFrame } from "../../src/runtime/slowExecutor.js";
import { WipeCamera, WIPE_CAMERA } from "../../src/sim/camera.js";
import { WipeExpert, runExpertEpisode, type LockstepArm } from "../../src/sim/expert.js";
import { BUNDLED_POLICY } from "../../src/sim/expertPolicy.js";
import { MujocoArm } from "../../src/sim/mujocoArm.js";
import { DEFAULT_EVAL_CONFIGURATIONS, EVAL_FIRST_SEED, evaluate } from "../../src/sim/evaluate.js";
import { publicSpec, sampleWipeTask } from "../../src/sim/task.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const VLA_DIR = join(ROOT, "models", "wipe_vla");
const RDP_DIR = join(ROOT, "models", "wipe_rdp");
const INSTRUCTION = "wipe the marked area";
/** A task seed no training data used (demonstrations 1..1000, DAgger 2001.., RDP 3001..3100) nor the evaluation. */
const HELD_OUT_SEED = 4001;
const arm = loadArmDescription(join(ROOT, "sim", "arm", "description.json"));
const dim = arm.joints.length + 1;
const steps = BUNDLED_POLICY.chunkSteps;

interface HeldOut {
  frame: ImageFrame;
  /** The instruction, with the state line when the model's prompt carries the state. */
  instruction: string;
  /** The expert's chunk for this observation as the policy target: normalized tool-pose deltas from the plan. */
  target: Float64Array;
  /** Standing still, normalized the same way. */
  still: Float64Array;
}

/** RMS over the translation part (dx, dy, dz) of normalized ee-delta chunks. */
function rmsTranslation(a: Float64Array, b: Float64Array): number {
  let s = 0;
  let n = 0;
  for (let i = 0; i < a.length; i++) {
    if (i % dim >= 3) continue;
    s += (a[i] - b[i]) ** 2;
    n++;
  }
  return Math.sqrt(s / n);
}

describe("trained wipe VLA through the runner", () => {
  let runner: VlaRunner;
  const heldOut: HeldOut[] = [];

  beforeAll(async () => {
    const policy = await loadVlaPolicy({ dir: VLA_DIR, session: { intraOpNumThreads: 1 } });
    runner = policy.runner;
    const config = loadVlaConfig(VLA_DIR);
    const stats = loadNormStats(join(VLA_DIR, config.chunk!.normStats), config.chunk!.normStatsKey);
    const kinematics = new ArmKinematics(arm);
    const task = sampleWipeTask(HELD_OUT_SEED, { perturbations: true });
    const spec = publicSpec(task);
    const sim = await MujocoArm.create({ arm, task, seed: HELD_OUT_SEED });
    // The demonstrations' expert: lanes from the corner nearest the tool (what the camera shows decides the path).
    const expert = new WipeExpert(arm, spec, { seed: HELD_OUT_SEED, stepPeriodS: BUNDLED_POLICY.stepPeriodS, chunkSteps: steps, variedPath: false });
    const camera = new WipeCamera(arm, spec);
    // Where the expert's plan has the arm: the last command sent (the "plan" delta origin).
    let lastCommand: Float64Array | undefined;
    const tracing: LockstepArm = {
      get dim() { return sim.dim; },
      get tactileCount() { return sim.tactileCount; },
      get timestepS() { return sim.timestepS; },
      get simTimeS() { return sim.simTimeS; },
      readSensors: (into) => sim.readSensors(into),
      metrics: () => sim.metrics(),
      sendCommand: (command, timeNs) => {
        lastCommand = command.slice();
        sim.sendCommand(command, timeNs);
      },
      step: (n) => sim.step(n),
    };
    let k = 0;
    runExpertEpisode(tracing, expert, {
      replanPeriodS: BUNDLED_POLICY.replanPeriodS,
      maxDurationS: 12,
      onChunk: (obs, chunk) => {
        const frame = camera.observe(obs.positions, obs.wrench, obs.timeNs);
        // Every 6th policy step (1.2 s apart): approach, descent and wiping.
        if (k++ % 6 !== 0) return;
        const origin = deltaOriginState("plan", obs.positions, lastCommand, arm.joints.length);
        const deltas = jointChunkToEeDeltas(chunk, steps, origin, kinematics);
        const target = new Float64Array(deltas.length);
        normalizeInto(deltas, dim, stats, target, { clip: true });
        const zero = new Float64Array(deltas.length);
        for (let i = 0; i < steps; i++) zero[i * dim + dim - 1] = deltas[i * dim + dim - 1];
        const still = new Float64Array(deltas.length);
        normalizeInto(zero, dim, stats, still, { clip: true });
        const instruction = policy.statePrompt?.instruction(INSTRUCTION, { ...obs, instruction: INSTRUCTION }) ?? INSTRUCTION;
        heldOut.push({ frame: { ...frame, data: frame.data.slice() }, instruction, target, still });
      },
    });
    sim.close();
  }, 60_000);

  afterAll(async () => {
    await runner?.release();
  });

  it("reads the camera size from its config", () => {
    const config = loadVlaConfig(VLA_DIR);
    expect([config.image.width, config.image.height]).toEqual([WIPE_CAMERA.widthPx, WIPE_CAMERA.heightPx]);
  });

  it("has the robot state in its prompt: joints, gripper and wrench, with statistics for all 13 values", () => {
    const config = loadVlaConfig(VLA_DIR);
    expect(config.state).toEqual({ sources: ["positions", "wrench"], bins: 256 });
    expect(loadNormStats(join(VLA_DIR, config.chunk!.normStats), config.chunk!.normStatsKey, "state").q01).toHaveLength(dim + 6);
    expect(heldOut[0].instruction).toMatch(/^wipe the marked area\nState: (\d{3} ){12}\d{3};$/);
  });

  it("ends every held-out chunk with the end token; most decode strictly, into chunks nearer the expert's than standing still", async () => {
    const config = loadVlaConfig(VLA_DIR);
    const codec = vlaChunkCodec(VLA_DIR, config, arm);
    expect(heldOut.length).toBeGreaterThanOrEqual(8);
    let modelError = 0;
    let stillError = 0;
    let decodedCount = 0;
    for (const h of heldOut) {
      const out = await runner.generate(h.frame, h.instruction);
      expect(out.stop).toBe("end");
      expect(out.fastIds.length).toBeGreaterThan(0);
      const decoded = codec.decoder(out.fastIds);
      // A malformed sequence is caught by the strict decoder (the slow executor drops that chunk), never garbage.
      if (decoded instanceof Error) {
        expect(decoded.message).toMatch(/^FAST decode: expected 70 coefficients/);
        continue;
      }
      decodedCount++;
      expect(decoded.length).toBe(steps * dim);
      modelError += rmsTranslation(decoded, h.target);
      stillError += rmsTranslation(h.still, h.target);
    }
    // train_report.json: 96 % of held-out chunks decode; require three quarters here.
    expect(decodedCount).toBeGreaterThanOrEqual(Math.ceil(0.75 * heldOut.length));
    expect(modelError).toBeLessThan(stillError);
  }, 120_000);

  it("with constrainToChunk every held-out answer decodes, and the grammar steps in only where the model went astray", async () => {
    const config = { ...loadVlaConfig(VLA_DIR), constrainToChunk: true };
    const constrained = await VlaRunner.load({ dir: VLA_DIR, config, session: { intraOpNumThreads: 1 } });
    try {
      const codec = vlaChunkCodec(VLA_DIR, config, arm);
      let overrides = 0;
      let unchanged = 0;
      for (const h of heldOut) {
        const free = await runner.generate(h.frame, h.instruction);
        const out = await constrained.generate(h.frame, h.instruction);
        expect(out.stop).toBe("end");
        expect(codec.decoder(out.fastIds)).toBeInstanceOf(Float64Array);
        overrides += out.stats.grammarOverrides;
        // An answer that already decoded is left exactly as the model wrote it.
        if (!(codec.decoder(free.fastIds) instanceof Error)) {
          expect(out.fastIds).toEqual(free.fastIds);
          expect(out.stats.grammarOverrides).toBe(0);
          unchanged++;
        }
      }
      expect(unchanged).toBeGreaterThan(0);
      expect(overrides).toBeGreaterThanOrEqual(0);
    } finally {
      await constrained.release();
    }
  }, 120_000);

  it("is not a constant: the held-out frames (approach, descent, wiping) get different chunks", async () => {
    const distinct = new Set<string>();
    for (const h of heldOut) distinct.add((await runner.generate(h.frame, h.instruction)).fastIds.join(","));
    expect(distinct.size).toBeGreaterThanOrEqual(Math.ceil(heldOut.length / 2));
  }, 60_000);
  // Known limitation: at the start pose, the marked area at y = 0 and at y = +0.12 m get the same greedy chunk (at
  // -0.12 m it differs); the model keys on the arm state more than on where the area is.
});

describe("trained wipe RDP pair", () => {
  const fixturePath = join(RDP_DIR, "heldout_sample.json");
  it("reconstructs a held-out executed chunk from the plan's latent and the live touch within the reported error", async () => {
    expect(existsSync(fixturePath)).toBe(true);
    const sample = JSON.parse(readFileSync(fixturePath, "utf8")) as { planned: number[]; executed: number[]; touch: number[]; reconstructionRmsRad: number; planRmsRad: number };
    const contract = loadRdpContract(RDP_DIR);
    const encoder = await RdpEncoder.load(RDP_DIR, { intraOpNumThreads: 1 });
    const decoder = RdpGruDecoder.fromSafetensors(join(RDP_DIR, contract.files.decoderWeights), contract);
    const latent = await encoder.encode(Float32Array.from(sample.planned));
    await encoder.release();
    const touchWidth = contract.touch.wrench + contract.touch.tactile;
    const repeat = contract.chunkSteps / contract.latentSteps;
    const x = new Float64Array(decoder.inputSize);
    const hidden = new Float64Array(decoder.hiddenSize);
    const action = new Float64Array(contract.action.dim);
    let sum = 0;
    let n = 0;
    for (let k = 0; k < contract.chunkSteps; k++) {
      for (let i = 0; i < contract.latentWidth; i++) x[i] = latent[Math.floor(k / repeat) * contract.latentWidth + i];
      // The recorded touch is already in feature units (collect_rdp.ts ran touchFeaturesInto): it goes right after
      // the latent, where touchFeaturesInto writes in the fast loop.
      for (let i = 0; i < touchWidth; i++) x[contract.latentWidth + i] = sample.touch[k * touchWidth + i];
      decoder.step(x, hidden, hidden, action);
      for (let d = 0; d < contract.action.dim - 1; d++) {
        const i = k * contract.action.dim + d;
        const rad = (range: { low: number[]; high: number[] }, normalized: number) => range.low[d] + 0.5 * (normalized + 1) * (range.high[d] - range.low[d]);
        // A residual decoder corrects the plan; an absolute one gives the command itself.
        const command = contract.residual ? rad(contract.action, sample.planned[i]) + rad(contract.residual, action[d]) : rad(contract.action, action[d]);
        sum += (command - rad(contract.action, sample.executed[i])) ** 2;
        n++;
      }
    }
    const rmsRad = Math.sqrt(sum / n);
    expect(rmsRad).toBeLessThan(sample.reconstructionRmsRad + 1e-4);
    expect(rmsRad).toBeGreaterThan(sample.reconstructionRmsRad - 1e-4);
    // On this chunk (the held-out one with the largest force reaction) the decoder beats running the plan as is.
    expect(rmsRad).toBeLessThan(sample.planRmsRad);
    // The reference scaling agrees with the runtime's feature function on a raw wrench/taxel sample.
    const features = new Float64Array(touchWidth);
    touchFeaturesInto(new Float64Array([0, 0, -10, 0, 0, 0]), new Float64Array(contract.touch.tactile).fill(1), contract, features, 0);
    expect(features[2]).toBeCloseTo(-10 / contract.touch.scale[2], 12);
  }, 30_000);
});

describe("trained VLA and RDP pair in closed loop (lockstep, whole runtime)", () => {
  it("with the RDP decoder in the fast loop the VLA presses inside the force band far more than without it", async () => {
    // What the decoder was trained for (the README's evaluation has the 20-seed figures): the VLA alone presses
    // past the band for most of its contact; with the decoder the force stays in it.
    const results = await evaluate({
      packageRoot: ROOT,
      episodes: 4,
      firstSeed: EVAL_FIRST_SEED,
      durationS: 25,
      configurations: DEFAULT_EVAL_CONFIGURATIONS.filter((c) => c.name === "VLA open loop" || c.name === "VLA + RDP"),
    });
    const [alone, withRdp] = results;
    expect(alone.name).toBe("VLA open loop");
    expect(withRdp.name).toBe("VLA + RDP");
    expect(alone.meanTimeOutOfBandS).toBeGreaterThan(3);
    expect(withRdp.meanTimeOutOfBandS).toBeLessThan(alone.meanTimeOutOfBandS / 2);
    expect(withRdp.meanForceBandViolations).toBeLessThan(alone.meanForceBandViolations / 2);
    expect(withRdp.meanPeakForceN).toBeLessThan(alone.meanPeakForceN);
  }, 120_000);
});
