// The RDP decoder's step in plain TypeScript: one GRU cell (PyTorch's gate order r, z, n) and a linear head, on
// preallocated Float64Arrays. It runs inside the fast loop's tick, where an ONNX Runtime call would not do: the
// worker never yields to the event loop (the node binding's run is promise-based), and one call costs 30-100 us here,
// several times this step (bench/policy/local.ts measures both). The weights come from the same export
// as rdp_decoder.onnx, and the tests hold this step to onnxruntime's output within 1e-5.
import { decoderInputSize, type RdpContract } from "./contract.js";
import { readSafetensors, type Float32Tensor } from "./safetensors.js";

export interface GruWeights {
  /** [3H, I] row-major, gates r, z, n. */
  weightIh: Float32Array;
  /** [3H, H] */
  weightHh: Float32Array;
  biasIh: Float32Array;
  biasHh: Float32Array;
  /** [A, H] */
  headWeight: Float32Array;
  headBias: Float32Array;
}

export class RdpGruDecoder {
  readonly inputSize: number;
  readonly hiddenSize: number;
  readonly actionDim: number;
  private readonly wih: Float64Array;
  private readonly whh: Float64Array;
  private readonly bih: Float64Array;
  private readonly bhh: Float64Array;
  private readonly wo: Float64Array;
  private readonly bo: Float64Array;
  private readonly gi: Float64Array;
  private readonly gh: Float64Array;

  constructor(weights: GruWeights, inputSize: number, hiddenSize: number, actionDim: number) {
    const h3 = 3 * hiddenSize;
    const check = (name: string, got: number, want: number) => {
      if (got !== want) throw new Error(`rdp decoder weights: expected ${name} with ${want} values, got ${got}`);
    };
    check("weight_ih", weights.weightIh.length, h3 * inputSize);
    check("weight_hh", weights.weightHh.length, h3 * hiddenSize);
    check("bias_ih", weights.biasIh.length, h3);
    check("bias_hh", weights.biasHh.length, h3);
    check("head.weight", weights.headWeight.length, actionDim * hiddenSize);
    check("head.bias", weights.headBias.length, actionDim);
    this.inputSize = inputSize;
    this.hiddenSize = hiddenSize;
    this.actionDim = actionDim;
    this.wih = Float64Array.from(weights.weightIh);
    this.whh = Float64Array.from(weights.weightHh);
    this.bih = Float64Array.from(weights.biasIh);
    this.bhh = Float64Array.from(weights.biasHh);
    this.wo = Float64Array.from(weights.headWeight);
    this.bo = Float64Array.from(weights.headBias);
    this.gi = new Float64Array(h3);
    this.gh = new Float64Array(h3);
  }

  /** The decoder of a model folder: its contract's sizes and the weights file the export wrote. */
  static fromSafetensors(path: string, contract: RdpContract): RdpGruDecoder {
    const tensors = readSafetensors(path);
    const get = (name: string, shape: number[]): Float32Array => {
      const t: Float32Tensor | undefined = tensors.get(name);
      if (t === undefined) throw new Error(`rdp decoder weights ${path}: expected a tensor "${name}", got ${[...tensors.keys()].join(", ") || "none"}`);
      if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
        throw new Error(`rdp decoder weights ${path}: expected "${name}" of shape [${shape.join(", ")}], got [${t.shape.join(", ")}]`);
      }
      return t.data;
    };
    const H = contract.hiddenSize;
    const I = decoderInputSize(contract);
    const A = contract.action.dim;
    return new RdpGruDecoder(
      {
        weightIh: get("weight_ih", [3 * H, I]),
        weightHh: get("weight_hh", [3 * H, H]),
        biasIh: get("bias_ih", [3 * H]),
        biasHh: get("bias_hh", [3 * H]),
        headWeight: get("head.weight", [A, H]),
        headBias: get("head.bias", [A]),
      },
      I,
      H,
      A,
    );
  }

  /**
   * One step: input x (inputSize), hidden state hIn -> hOut (hiddenSize; may be the same array), action (actionDim).
   * No allocation.
   */
  step(x: Float64Array, hIn: Float64Array, hOut: Float64Array, action: Float64Array): void {
    const I = this.inputSize;
    const H = this.hiddenSize;
    const gi = this.gi;
    const gh = this.gh;
    const wih = this.wih;
    const whh = this.whh;
    for (let r = 0; r < 3 * H; r++) {
      let a = this.bih[r];
      const wi = r * I;
      for (let c = 0; c < I; c++) a += wih[wi + c] * x[c];
      gi[r] = a;
      let b = this.bhh[r];
      const wh = r * H;
      for (let c = 0; c < H; c++) b += whh[wh + c] * hIn[c];
      gh[r] = b;
    }
    for (let j = 0; j < H; j++) {
      const r = 1 / (1 + Math.exp(-(gi[j] + gh[j])));
      const z = 1 / (1 + Math.exp(-(gi[H + j] + gh[H + j])));
      const n = Math.tanh(gi[2 * H + j] + r * gh[2 * H + j]);
      hOut[j] = (1 - z) * n + z * hIn[j]; // hIn[j] is read before hOut[j] is written: in place is fine
    }
    const wo = this.wo;
    for (let a = 0; a < this.actionDim; a++) {
      let s = this.bo[a];
      const w = a * H;
      for (let c = 0; c < H; c++) s += wo[w + c] * hOut[c];
      action[a] = s;
    }
  }
}

/**
 * The decoder's touch features from a sensor sample: the wrist wrench, then the taxels, each divided by its scale and
 * clipped. A non-finite reading becomes 0 (no touch) so a broken sensor cannot steer the arm; returns how many did.
 */
export function touchFeaturesInto(wrench: Float64Array, tactile: Float64Array, contract: RdpContract, out: Float64Array, offset: number): number {
  const { wrench: nw, tactile: nt, scale, clip } = contract.touch;
  let bad = 0;
  for (let i = 0; i < nw + nt; i++) {
    const raw = i < nw ? wrench[i] : tactile[i - nw];
    let v = raw / scale[i];
    if (!(v === v) || v === Infinity || v === -Infinity) {
      v = 0;
      bad++;
    } else if (v > clip) v = clip;
    else if (v < -clip) v = -clip;
    out[offset + i] = v;
  }
  return bad;
}
