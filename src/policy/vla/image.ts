// Camera frame -> the vision encoder's pixel_values, in typed arrays, exactly as NORA's Python pipeline does it:
// RGB conversion as qwen_vl_utils does it (RGBA over white), Pillow's bicubic resize to the model's size
// (qwen_vl_utils resizes with Image.resize and its default filter), then the Qwen2-VL image processor:
// rescale to [0, 1], normalize with the CLIP mean/std, repeat the frame temporalPatchSize times and cut it into
// patches ordered by 2 x 2 merge windows. The tests compare every step with Pillow and transformers.
import type { ImageFrame } from "../../runtime/slowExecutor.js";
import type { VlaImageConfig } from "./config.js";

/** A one-line error for a frame that is not a well-formed 8-bit image; null when it is. */
export function frameProblem(frame: unknown): string | null {
  if (typeof frame !== "object" || frame === null) return `expected an image frame object, got ${frame === null ? "null" : typeof frame}`;
  const f = frame as Partial<ImageFrame>;
  const dims = [f.width, f.height];
  if (!dims.every((d) => typeof d === "number" && Number.isInteger(d) && d >= 1 && d <= 16384)) {
    return `expected integer width and height in [1, 16384], got ${String(f.width)}x${String(f.height)}`;
  }
  if (f.channels !== 1 && f.channels !== 3 && f.channels !== 4) return `expected 1 (gray), 3 (RGB) or 4 (RGBA) channels, got ${String(f.channels)}`;
  if (!(f.data instanceof Uint8Array)) return `expected the pixels as a Uint8Array, got ${describeValue(f.data)}`;
  const expected = f.width! * f.height! * f.channels;
  if (f.data.length !== expected) return `expected ${expected} bytes for ${f.width}x${f.height}x${f.channels}, got ${f.data.length}`;
  return null;
}

function describeValue(v: unknown): string {
  if (v === null) return "null";
  if (typeof v === "object") return (v as object).constructor?.name ?? "object";
  return typeof v;
}

/** Interleaved RGB of any accepted frame (gray is replicated; RGBA is composited over white with Pillow's rounding). */
export function toRgb(frame: ImageFrame, out: Uint8Array = new Uint8Array(frame.width * frame.height * 3)): Uint8Array {
  const n = frame.width * frame.height;
  const src = frame.data;
  if (frame.channels === 3) {
    out.set(src.subarray(0, 3 * n));
  } else if (frame.channels === 1) {
    for (let i = 0; i < n; i++) out[3 * i] = out[3 * i + 1] = out[3 * i + 2] = src[i];
  } else {
    for (let i = 0; i < n; i++) {
      const a = src[4 * i + 3];
      for (let c = 0; c < 3; c++) {
        // Pillow's paste with a mask: DIV255(white * (255 - a) + value * a), DIV255(x) = ((x + 128) >> 8 + x + 128) >> 8.
        const t = 255 * (255 - a) + src[4 * i + c] * a + 128;
        out[3 * i + c] = ((t >> 8) + t) >> 8;
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Pillow-compatible bicubic resampling (8 bits per channel)

/** Fixed-point precision of Pillow's 8-bit resampler. */
const PRECISION_BITS = 22;
const ONE = 1 << PRECISION_BITS;
const HALF = 1 << (PRECISION_BITS - 1);

/** Keys' cubic with a = -0.5, support 2, as Pillow's BICUBIC filter. */
function bicubic(x: number): number {
  const a = -0.5;
  if (x < 0) x = -x;
  if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
  return 0;
}

/** Per output pixel: first input index, tap count, and fixed-point weights (ksize per pixel). */
interface ResampleTable {
  ksize: number;
  start: Int32Array;
  taps: Int32Array;
  weights: Int32Array;
}

/** Pillow's coefficient table: the filter widened by the scale when shrinking (antialiasing), rows normalized. */
function resampleTable(inSize: number, outSize: number): ResampleTable {
  const scale = inSize / outSize;
  const filterScale = scale < 1 ? 1 : scale;
  const support = 2 * filterScale;
  const ksize = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize);
  const taps = new Int32Array(outSize);
  const weights = new Int32Array(outSize * ksize);
  const k = new Float64Array(ksize);
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    let sum = 0;
    for (let x = 0; x < xmax; x++) {
      const w = bicubic((x + xmin - center + 0.5) / filterScale);
      k[x] = w;
      sum += w;
    }
    for (let x = 0; x < xmax; x++) {
      const w = sum !== 0 ? k[x] / sum : k[x];
      weights[xx * ksize + x] = w < 0 ? Math.trunc(-0.5 + w * ONE) : Math.trunc(0.5 + w * ONE);
    }
    start[xx] = xmin;
    taps[xx] = xmax;
  }
  return { ksize, start, taps, weights };
}

/** acc >> PRECISION_BITS (an arithmetic shift, as Pillow's), clamped to a byte. */
function clip8(acc: number): number {
  const v = acc >> PRECISION_BITS;
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/**
 * Resize interleaved RGB like Pillow's `Image.resize((w, h))` with its default BICUBIC filter: a horizontal pass into
 * 8-bit, then a vertical pass, each with fixed-point weights. Tables are cached per size pair.
 */
export class BicubicResizer {
  private readonly tables = new Map<string, ResampleTable>();
  private temp = new Uint8Array(0);
  private acc = new Int32Array(0);

  private table(inSize: number, outSize: number): ResampleTable {
    const key = `${inSize}>${outSize}`;
    let t = this.tables.get(key);
    if (t === undefined) {
      if (this.tables.size > 16) this.tables.clear();
      t = resampleTable(inSize, outSize);
      this.tables.set(key, t);
    }
    return t;
  }

  resize(src: Uint8Array, width: number, height: number, outWidth: number, outHeight: number, out: Uint8Array = new Uint8Array(outWidth * outHeight * 3)): Uint8Array {
    if (width === outWidth && height === outHeight) {
      out.set(src.subarray(0, width * height * 3));
      return out;
    }
    let rows = src;
    let rowWidth = width;
    if (outWidth !== width) {
      const t = this.table(width, outWidth);
      if (this.temp.length < outWidth * height * 3) this.temp = new Uint8Array(outWidth * height * 3);
      const tmp = outHeight === height ? out : this.temp;
      const { start, taps, weights, ksize } = t;
      for (let y = 0; y < height; y++) {
        const rowIn = y * width * 3;
        const rowOut = y * outWidth * 3;
        for (let xx = 0; xx < outWidth; xx++) {
          const n = taps[xx];
          const kw = xx * ksize;
          let p = rowIn + start[xx] * 3;
          // 32-bit integer sums as in Pillow (they cannot overflow: |weights| sum to about 1.3 * 2^22).
          let r = HALF, g = HALF, b = HALF;
          for (let x = 0; x < n; x++, p += 3) {
            const w = weights[kw + x];
            r = (r + src[p] * w) | 0;
            g = (g + src[p + 1] * w) | 0;
            b = (b + src[p + 2] * w) | 0;
          }
          const o = rowOut + xx * 3;
          tmp[o] = clip8(r);
          tmp[o + 1] = clip8(g);
          tmp[o + 2] = clip8(b);
        }
      }
      if (outHeight === height) return out;
      rows = tmp;
      rowWidth = outWidth;
    }
    const t = this.table(height, outHeight);
    const stride = rowWidth * 3;
    if (this.acc.length < stride) this.acc = new Int32Array(stride);
    const acc = this.acc;
    const { start, taps, weights, ksize } = t;
    for (let yy = 0; yy < outHeight; yy++) {
      const n = taps[yy];
      const kw = yy * ksize;
      acc.fill(HALF, 0, stride);
      // Row by row (sequential memory), the same integer sums as Pillow's column loop.
      for (let y = 0; y < n; y++) {
        const w = weights[kw + y];
        const rowIn = (start[yy] + y) * stride;
        for (let i = 0; i < stride; i++) acc[i] = (acc[i] + rows[rowIn + i] * w) | 0;
      }
      const rowOut = yy * stride;
      for (let i = 0; i < stride; i++) out[rowOut + i] = clip8(acc[i]);
    }
    return out;
  }
}

// ---------------------------------------------------------------------------------------------
// Qwen2-VL patches

export interface PixelValues {
  /** [patches, 3 * temporalPatchSize * patchSize^2], row-major. Owned by the preprocessor: valid until its next call. */
  data: Float32Array;
  patches: number;
  patchDim: number;
  /** [t, h, w] of the patch grid (before merging). */
  gridThw: [number, number, number];
  /** Tokens the image becomes in the prompt: patches / mergeSize^2. */
  imageTokens: number;
}

/** One image per call, buffers reused between calls. */
export class VlaImagePreprocessor {
  readonly config: VlaImageConfig;
  private readonly resizer = new BicubicResizer();
  private rgb = new Uint8Array(0);
  private readonly resized: Uint8Array;
  private readonly pixels: Float32Array;
  private readonly grid: [number, number, number];
  private readonly patchDim: number;
  /** Per channel: value(byte) = (byte / 255 - mean) / std. */
  private readonly lut: Float32Array;

  constructor(config: VlaImageConfig) {
    const { width, height, patchSize, mergeSize, temporalPatchSize } = config;
    const factor = patchSize * mergeSize;
    if (width % factor !== 0 || height % factor !== 0) {
      throw new Error(`vla image: expected a model image size in multiples of ${factor} (patch ${patchSize} x merge ${mergeSize}), got ${width}x${height}`);
    }
    this.config = config;
    this.grid = [1, height / patchSize, width / patchSize];
    this.patchDim = 3 * temporalPatchSize * patchSize * patchSize;
    this.resized = new Uint8Array(width * height * 3);
    this.pixels = new Float32Array(this.grid[1] * this.grid[2] * this.patchDim);
    this.lut = new Float32Array(3 * 256);
    for (let c = 0; c < 3; c++) for (let v = 0; v < 256; v++) this.lut[c * 256 + v] = (v / 255 - config.mean[c]) / config.std[c];
  }

  /** The resized RGB image of the last call (valid until the next call). */
  get lastResized(): Uint8Array {
    return this.resized;
  }

  /** Validate, convert, resize, normalize and patchify one frame. Throws a one-line error for a malformed frame. */
  process(frame: ImageFrame): PixelValues {
    const problem = frameProblem(frame);
    if (problem !== null) throw new Error(`vla image: ${problem}`);
    const { width, height, patchSize: P, mergeSize: M, temporalPatchSize: T } = this.config;
    if (this.rgb.length < frame.width * frame.height * 3) this.rgb = new Uint8Array(frame.width * frame.height * 3);
    const rgb = toRgb(frame, this.rgb);
    this.resizer.resize(rgb, frame.width, frame.height, width, height, this.resized);

    const [, gh, gw] = this.grid;
    const img = this.resized;
    const out = this.pixels;
    const lut = this.lut;
    const dim = this.patchDim;
    let row = 0;
    // Row order: merge windows row-major, then the M x M patches inside a window; columns: channel, frame, y, x.
    for (let bh = 0; bh < gh / M; bh++) {
      for (let bw = 0; bw < gw / M; bw++) {
        for (let mh = 0; mh < M; mh++) {
          for (let mw = 0; mw < M; mw++) {
            const y0 = (bh * M + mh) * P;
            const x0 = (bw * M + mw) * P;
            const base = row * dim;
            for (let c = 0; c < 3; c++) {
              for (let py = 0; py < P; py++) {
                const src = ((y0 + py) * width + x0) * 3 + c;
                const dst = base + c * T * P * P + py * P;
                for (let px = 0; px < P; px++) out[dst + px] = lut[c * 256 + img[src + px * 3]];
              }
              // The frame is repeated for every temporal slot of the patch (a still image).
              for (let t = 1; t < T; t++) out.copyWithin(base + (c * T + t) * P * P, base + c * T * P * P, base + c * T * P * P + P * P);
            }
            row++;
          }
        }
      }
    }
    return { data: out, patches: gh * gw, patchDim: dim, gridThw: [1, gh, gw], imageTokens: (gh * gw) / (M * M) };
  }
}

/** A uniform frame (a placeholder camera, e.g. before a simulated camera exists). */
export function solidImageFrame(width: number, height: number, rgb: [number, number, number], timeNs = 0): ImageFrame {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) data.set(rgb, 3 * i);
  return { width, height, channels: 3, data, timeNs };
}
