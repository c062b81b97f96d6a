// The tiny VLA's reference vectors (models/tiny_vla/golden.json, written by models/scripts/export_tiny_vla.py from
// Pillow, transformers, the tokenizers library, torch and onnxruntime) and the test pictures they were made from.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { ImageFrame } from "../../src/runtime/slowExecutor.js";

export const TINY_VLA_DIR = fileURLToPath(new URL("../../models/tiny_vla/", import.meta.url));
export const RDP_DIR = fileURLToPath(new URL("../../models/rdp/", import.meta.url));

export interface ImageRecipe {
  width: number;
  height: number;
  ax: number;
  ay: number;
  ac: number;
  mask: number;
  m: number;
  base: number;
}

export interface GoldenSample {
  instruction: string;
  image: ImageRecipe;
  resizedSha256: string;
  pixelValues: { shape: [number, number]; gridThw: [number, number, number]; sum: number; sumSquares: number; sampleIndices: number[]; sampleValues: number[] };
  promptIds: number[];
  positionIds: { sum: [number, number, number]; last: [number, number, number]; ropeDelta: number };
  chunk: number[][];
  fastIds: number[];
  expectedIds: number[];
  /** Ids onnxruntime (Python) generated from the exported files, end token included when one came. */
  onnxruntimeIds: number[];
  /** The model reproduces `expectedIds` (the export script trains until it does). */
  memorized: boolean;
}

export interface Golden {
  tokenizer: { text: string; ids: number[] }[];
  samples: GoldenSample[];
}

export function loadGolden(): Golden {
  return JSON.parse(readFileSync(`${TINY_VLA_DIR}golden.json`, "utf8")) as Golden;
}

/** value(x, y, c) = (ax*x + ay*y + ac*c + ((x XOR y) AND mask)*m + base) mod 256, RGB interleaved. */
export function recipeImage(r: ImageRecipe, timeNs = 0): ImageFrame {
  const data = new Uint8Array(r.width * r.height * 3);
  for (let y = 0; y < r.height; y++) {
    for (let x = 0; x < r.width; x++) {
      for (let c = 0; c < 3; c++) data[(y * r.width + x) * 3 + c] = (r.ax * x + r.ay * y + r.ac * c + ((x ^ y) & r.mask) * r.m + r.base) % 256;
    }
  }
  return { width: r.width, height: r.height, channels: 3, data, timeNs };
}
