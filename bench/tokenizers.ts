// `npm run bench -- tokenizers`: median microseconds per chunk for FAST+ and BEAST, tokens per chunk for
// FAST+, BEAST and binning, and the same algorithm in the reference Python stack when it is available.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { BeastTokenizer } from "../src/tokenizers/beast.js";
import { BinningTokenizer } from "../src/tokenizers/binning.js";
import { FastTokenizer } from "../src/tokenizers/fast.js";
import { findRepoRoot, medianMicros, printTable, type Row } from "./lib/harness.js";
import { seededRandom, smoothChunk } from "./lib/synthetic.js";

const repoRoot = findRepoRoot();
const fastPlusDir = join(repoRoot, "..", "shared", "fixtures", "fast_plus");

/** Published / previously measured figures for the reference, used when the Python stack is not installed. */
const PUBLISHED_REFERENCE_US = {
  fastAlgorithm: { "50x7": { decode: 47, encode: 273 } },
  fastProcessor: { "50x7": { decode: 79, encode: 286 }, "10x7": { decode: 36, encode: 147 }, "32x32": { decode: 182, encode: 768 } },
  beastTorchOriginal: { "50x7": { decode: 7700, encode: 14600 } },
} as const;

interface ReferenceTimings {
  source: string;
  fast?: Record<string, { decode: number; encode: number }>;
  beast?: Record<string, { decode: number; encode: number }>;
  /** The full processor path (transformers), when the reference environment has it. */
  fastProcessor?: unknown;
}

const CHUNKS_PER_SHAPE = 16;

export async function runTokenizerBench(): Promise<{ rows: Row[]; json: object }> {
  const rows: Row[] = [];
  const reference = runPythonReference();
  const json: Record<string, unknown> = { reference, published: PUBLISHED_REFERENCE_US };

  if (!existsSync(join(fastPlusDir, "tokenizer.json"))) {
    console.log(`FAST+ rows skipped: ${fastPlusDir} not found (the FAST+ tokenizer sits beside the checkout in ../shared).`);
  } else {
    const fast = FastTokenizer.load(fastPlusDir);
    const fastResults: Record<string, object> = {};
    for (const [steps, dim] of [[50, 7], [10, 7], [32, 32]] as const) {
      const shape = `${steps}x${dim}`;
      const random = seededRandom(steps * 100 + dim);
      const chunks = Array.from({ length: CHUNKS_PER_SHAPE }, () => smoothChunk(steps, dim, random));
      const tokenLists = chunks.map((c) => fast.encode(c));
      const out = new Float64Array(steps * dim);
      let i = 0;
      const decodeIntoUs = medianMicros(() => {
        const error = fast.decodeInto(tokenLists[i++ % CHUNKS_PER_SHAPE], steps, dim, out);
        if (error !== null) throw new Error(error);
      });
      const decodeUs = medianMicros(() => void fast.decode(tokenLists[i++ % CHUNKS_PER_SHAPE], steps, dim));
      const encodeUs = medianMicros(() => void fast.encode(chunks[i++ % CHUNKS_PER_SHAPE]), { perBatch: 10 });
      const tokensPerChunk = tokenLists.reduce((s, t) => s + t.length, 0) / CHUNKS_PER_SHAPE;
      const ref = reference.fast?.[shape];
      const heapGrowthBytes = heapGrowth(() => fast.decodeInto(tokenLists[i++ % CHUNKS_PER_SHAPE], steps, dim, out), 200_000);
      fastResults[shape] = { decodeIntoUs, decodeUs, encodeUs, tokensPerChunk, reference: ref ?? null, heapGrowthBytes };
      rows.push({
        tokenizer: "FAST+",
        chunk: shape,
        "decodeInto us": decodeIntoUs,
        "decode us": decodeUs,
        "encode us": encodeUs,
        tokens: tokensPerChunk,
        "ref decode us": ref?.decode ?? null,
        "ref encode us": ref?.encode ?? null,
        "decode speed-up": ref ? ref.decode / decodeIntoUs : null,
        "encode speed-up": ref ? ref.encode / encodeUs : null,
      });
    }
    json.fastPlus = fastResults;
  }

  const beastResults: Record<string, object> = {};
  for (const [steps, dim, numBasis] of [[50, 7, 10], [10, 7, 5]] as const) {
    const shape = `${steps}x${dim}`;
    const random = seededRandom(steps * 31 + numBasis);
    const chunks = Array.from({ length: CHUNKS_PER_SHAPE }, () => smoothChunk(steps, dim, random));
    const config = { numDof: dim, numBasis, seqLen: steps, gripperZeroOrder: true };
    const bounds = BeastTokenizer.fitBounds(chunks, config);
    const beast = new BeastTokenizer({ ...config, ...bounds });
    const tokenLists = chunks.map((c) => beast.encode(c));
    const out = new Float64Array(steps * dim);
    let i = 0;
    const decodeIntoUs = medianMicros(() => beast.decodeInto(tokenLists[i++ % CHUNKS_PER_SHAPE], out));
    const decodeUs = medianMicros(() => void beast.decode(tokenLists[i++ % CHUNKS_PER_SHAPE]));
    const encodeUs = medianMicros(() => void beast.encode(chunks[i++ % CHUNKS_PER_SHAPE]));
    const heapGrowthBytes = heapGrowth(() => beast.decodeInto(tokenLists[i++ % CHUNKS_PER_SHAPE], out), 200_000);
    const ref = reference.beast?.[shape];
    beastResults[shape] = { numBasis, decodeIntoUs, decodeUs, encodeUs, tokensPerChunk: beast.tokensPerChunk, reference: ref ?? null, heapGrowthBytes };
    rows.push({
      tokenizer: `BEAST (${numBasis} basis)`,
      chunk: shape,
      "decodeInto us": decodeIntoUs,
      "decode us": decodeUs,
      "encode us": encodeUs,
      tokens: beast.tokensPerChunk,
      "ref decode us": ref?.decode ?? null,
      "ref encode us": ref?.encode ?? null,
      "decode speed-up": ref ? ref.decode / decodeIntoUs : null,
      "encode speed-up": ref ? ref.encode / encodeUs : null,
    });
  }
  json.beast = beastResults;

  const binningResults: Record<string, object> = {};
  for (const [steps, dim] of [[50, 7], [10, 7], [32, 32]] as const) {
    const binning = new BinningTokenizer({ bins: 256, low: -1, high: 1, dim });
    const chunk = smoothChunk(steps, dim, seededRandom(7));
    const tokens = binning.encode(chunk);
    const decodeUs = medianMicros(() => void binning.decode(tokens, steps));
    const encodeUs = medianMicros(() => void binning.encode(chunk));
    binningResults[`${steps}x${dim}`] = { tokensPerChunk: tokens.length, decodeUs, encodeUs };
    rows.push({ tokenizer: "binning (256)", chunk: `${steps}x${dim}`, "decodeInto us": null, "decode us": decodeUs, "encode us": encodeUs, tokens: tokens.length, "ref decode us": null, "ref encode us": null, "decode speed-up": null, "encode speed-up": null });
  }
  json.binning = binningResults;

  printTable(`Tokenizers: median microseconds per chunk, one core (reference: ${reference.source})`, rows);
  return { rows, json };
}

/** Run the reference algorithm in Python when a Python with scipy, tokenizers and torch is set up for benchmarks. */
function runPythonReference(): ReferenceTimings {
  const python = process.env.VLA_BENCH_PYTHON ?? [join(repoRoot, ".venv", "bin", "python")].find((p) => existsSync(p));
  if (!python) {
    return { source: "not run (set VLA_BENCH_PYTHON to a Python with numpy, scipy, tokenizers and torch to compare side by side)" };
  }
  const result: ReferenceTimings = { source: `${python}, same machine, side by side` };
  type Timing = { encode_us: number; decode_us: number };
  const fast = runJsonScript(python, [join(repoRoot, "bench", "reference", "fast_reference.py"), "--fixtures", fastPlusDir]) as { reference?: Record<string, Timing>; processor?: Record<string, Timing | unknown> } | undefined;
  if (fast?.reference) {
    result.fast = Object.fromEntries(Object.entries(fast.reference).map(([shape, t]) => [shape, { decode: t.decode_us, encode: t.encode_us }]));
    result.fastProcessor = fast.processor;
  }
  const beast = runJsonScript(python, [join(repoRoot, "bench", "reference", "beast_reference.py")]) as { timings?: Record<string, Timing> } | undefined;
  if (beast?.timings) {
    // Keys look like "50x7_basis10": the shape is what the rows are matched by.
    result.beast = Object.fromEntries(Object.entries(beast.timings).map(([key, t]) => [key.split("_")[0], { decode: t.decode_us, encode: t.encode_us }]));
  }
  return result;
}

function runJsonScript(python: string, args: string[]): unknown {
  const run = spawnSync(python, args, { encoding: "utf8", env: { ...process.env, OMP_NUM_THREADS: "1" } });
  if (run.status !== 0) {
    console.log(`reference ${args[0]} failed: ${(run.stderr || run.error?.message || "").trim().split("\n").pop()}`);
    return undefined;
  }
  try {
    return JSON.parse(run.stdout);
  } catch {
    console.log(`reference ${args[0]}: output is not JSON`);
    return undefined;
  }
}

/** Heap bytes left over after `calls` calls and a full GC (needs node --expose-gc; null without it). */
function heapGrowth(fn: () => unknown, calls: number): number | null {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return null;
  for (let i = 0; i < 1000; i++) fn();
  gc();
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < calls; i++) fn();
  gc();
  return process.memoryUsage().heapUsed - before;
}
