// Fits the FAST tokenizer and normalization statistics of models/wipe_vla from the recorded demonstrations (the
// ee-delta chunks record_demos.ts writes), tokenizes every frame for the trainer, and counts what the universal
// FAST+ tokenizer would spend on the same chunks when its files are at hand.
//
// Writes models/wipe_vla/{fast_tokenizer/, norm_stats.json (action and state statistics), tokenizer_report.json}
// and, in each folder of frames, vla_tokens.jsonl (one line per frame of its vla_samples.jsonl: {"tokens": [...]}).
// Usage: npm run build && node dist/models/scripts/fit_vla_tokenizer.js [demos=/tmp/demos[,/tmp/dagger...]] [fastPlusDir]
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { findRepoRoot } from "../../bench/lib/harness.js";
import { normalizeInto, unnormalizeInto, type NormStats } from "../../src/policy/normalization.js";
import { EE_DELTA_WIDTH } from "../../src/runtime/actionSpace.js";
import { FastTokenizer } from "../../src/tokenizers/fast.js";

/** Chunk shape and coefficient scale of models/wipe_vla. */
const STEPS = 10;
const DIM = EE_DELTA_WIDTH;
const FAST_SCALE = 30;
const VOCAB = 1024;
const NORM_KEY = "vla_arm6_wipe_ee";
/** Gripper width range of the bundled arm (m): the gripper is absolute and normalized over all of it. */
const GRIPPER_RANGE_M: [number, number] = [0, 0.08];

const root = findRepoRoot();
/** One folder of frames, or several joined by commas (demonstrations, then DAgger rounds): fitted together. */
const demoFolders = (process.argv[2] ?? "/tmp/demos").split(",");
const fastPlusDir = process.argv[3] ?? join(root, "..", "shared", "fixtures", "fast_plus");
const outDir = join(root, "models", "wipe_vla");

const folderFrames: number[] = [];
const rows = demoFolders.flatMap((folder) => {
  const lines = readFileSync(join(folder, "vla_samples.jsonl"), "utf8").trim().split("\n").map((line) => JSON.parse(line) as { eeDeltas: number[]; positions: number[]; wrench: number[] });
  folderFrames.push(lines.length);
  return lines;
});
const chunks = rows.map((r, i) => {
  if (!Array.isArray(r.eeDeltas) || r.eeDeltas.length !== STEPS * DIM) throw new Error(`frame ${i}: expected ${STEPS * DIM} eeDeltas, got ${r.eeDeltas?.length}`);
  return Float64Array.from(r.eeDeltas);
});

const stats = rangeStats(chunks);
const normalized = chunks.map((c) => {
  const out = new Float64Array(c.length);
  normalizeInto(c, DIM, stats, out, { clip: true });
  return toRows(out);
});
const started = Date.now();
const tokenizer = FastTokenizer.fit(normalized, { scale: FAST_SCALE, vocabSize: VOCAB });
const fitSeconds = (Date.now() - started) / 1000;

// Tokens for the trainer.
const tokenLines = normalized.map((chunk) => JSON.stringify({ tokens: tokenizer.encode(chunk) }));
const report: Record<string, unknown> = {
  frames: chunks.length,
  framesPerFolder: folderFrames,
  chunkShape: [STEPS, DIM],
  actionSpace: "ee-delta",
  deltaOrigin: "plan",
  fastScale: FAST_SCALE,
  vocabulary: VOCAB,
  fitSeconds,
  ...roundTrip(tokenizer),
};
if (existsSync(join(fastPlusDir, "tokenizer.json"))) {
  // FAST+ is universal: the same normalized chunks, its own scale and vocabulary.
  const fastPlus = FastTokenizer.load(fastPlusDir);
  report.fastPlus = { scale: fastPlus.scale, vocabulary: fastPlus.bpe.vocabSize, ...roundTrip(fastPlus) };
} else {
  report.fastPlus = `not measured: no FAST+ tokenizer files at the given folder`;
}
console.log(report);

mkdirSync(outDir, { recursive: true });
tokenizer.save(join(outDir, "fast_tokenizer"));
writeFileSync(join(outDir, "norm_stats.json"), JSON.stringify({ [NORM_KEY]: { action: stats, state: stateStats() } }, null, 2) + "\n");
writeFileSync(join(outDir, "tokenizer_report.json"), JSON.stringify(report, null, 2) + "\n");
let firstLine = 0;
demoFolders.forEach((folder, k) => {
  writeFileSync(join(folder, "vla_tokens.jsonl"), tokenLines.slice(firstLine, firstLine + folderFrames[k]).join("\n") + "\n");
  firstLine += folderFrames[k];
});
console.log(`wrote ${outDir} and vla_tokens.jsonl in ${demoFolders.join(", ")}`);

/** Tokens per chunk, and how far the tool position the decoded deltas add up to lands from the recorded one (m). */
function roundTrip(t: FastTokenizer): Record<string, number> {
  let total = 0;
  let max = 0;
  let squaredM = 0;
  let maxErrorM = 0;
  let count = 0;
  const decoded = new Float64Array(STEPS * DIM);
  const raw = new Float64Array(STEPS * DIM);
  for (let k = 0; k < chunks.length; k++) {
    const tokens = t.encode(normalized[k]);
    total += tokens.length;
    max = Math.max(max, tokens.length);
    const error = t.decodeInto(tokens, STEPS, DIM, decoded);
    if (error) throw new Error(`frame ${k}: ${error}`);
    unnormalizeInto(decoded, DIM, stats, raw);
    const sum = [0, 0, 0];
    for (let i = 0; i < STEPS; i++) {
      for (let a = 0; a < 3; a++) sum[a] += raw[i * DIM + a] - chunks[k][i * DIM + a];
      const e = Math.hypot(sum[0], sum[1], sum[2]);
      squaredM += e * e;
      maxErrorM = Math.max(maxErrorM, e);
      count++;
    }
  }
  return { meanTokensPerChunk: total / chunks.length, maxTokensPerChunk: max, toolPositionRoundTripRmsM: Math.sqrt(squaredM / count), toolPositionRoundTripMaxM: maxErrorM };
}

function toRows(chunk: Float64Array): number[][] {
  return Array.from({ length: STEPS }, (_, i) => Array.from(chunk.subarray(i * DIM, (i + 1) * DIM)));
}

function rangeStats(all: Float64Array[]): NormStats {
  const q01: number[] = [];
  const q99: number[] = [];
  for (let d = 0; d < DIM; d++) {
    const values = all.flatMap((c) => Array.from({ length: STEPS }, (_, i) => c[i * DIM + d])).sort((a, b) => a - b);
    // The whole range plus a margin: the expert's rare large steps (the jump to pressing depth) must survive
    // the round trip unclipped.
    const margin = 0.05 * (values[values.length - 1] - values[0]);
    q01.push(values[0] - margin);
    q99.push(values[values.length - 1] + margin);
  }
  q01[DIM - 1] = GRIPPER_RANGE_M[0];
  q99[DIM - 1] = GRIPPER_RANGE_M[1];
  // The expert never turns the pad: rotation deltas are IK noise (< 1e-3 rad) and pass through unnormalized, so
  // they quantize to zero instead of being blown up to the full token range.
  const mask = [true, true, true, false, false, false, true];
  return { q01, q99, mask };
}

/**
 * 1st / 99th percentiles of the state a prompt may carry (vla_config.json prompt.state, sources positions + wrench:
 * joints and gripper, then force and torque), over every frame.
 */
function stateStats(): NormStats {
  const states = rows.map((r) => [...r.positions, ...r.wrench]);
  const width = states[0].length;
  const q01: number[] = [];
  const q99: number[] = [];
  for (let d = 0; d < width; d++) {
    const values = states.map((x) => x[d]).sort((a, b) => a - b);
    const low = values[Math.floor(0.01 * (values.length - 1))];
    const high = values[Math.ceil(0.99 * (values.length - 1))];
    q01.push(low);
    // A value that never changes (the gripper) gets no range, so its bin does not flicker with simulation noise.
    q99.push(high - low < 1e-6 ? low : high);
  }
  return { q01, q99 };
}
