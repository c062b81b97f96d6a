// The robot state as text in a VLA's prompt. pi0-FAST puts the proprioceptive state into its prefix as discretized
// text (256 bins over the normalized range; Pertsch et al. 2025, "FAST", and openpi's FAST tokenizer). Here it
// follows the instruction on its own line:
//
//   wipe the marked area
//   State: 127 003 255 ...;
//
// Each value is normalized with the model's "state" q01/q99 to [-1, 1] (clipped), cut into `bins` equal bins and
// written as its bin number with as many digits as the largest bin has, so the prompt's length never changes.
import type { Observation } from "../../runtime/slowExecutor.js";
import { normalizeInto, type NormStats } from "../normalization.js";
import type { VlaStateConfig } from "./config.js";

export class StatePrompt {
  private readonly digits: number;
  private readonly raw: Float64Array;
  private readonly normalized: Float64Array;

  constructor(readonly config: VlaStateConfig, readonly stats: NormStats) {
    if (stats.mask && stats.mask.some((m) => !m)) throw new Error("vla state: expected every state dimension to be normalized (no mask), got a mask");
    this.digits = String(config.bins - 1).length;
    this.raw = new Float64Array(stats.q01.length);
    this.normalized = new Float64Array(stats.q01.length);
  }

  /** Width of the state the statistics describe. */
  get width(): number {
    return this.raw.length;
  }

  /** Bin numbers of the observation's state; a one-line error when its width is not the statistics' or a value is not finite. */
  bins(obs: Observation): number[] {
    let k = 0;
    for (const source of this.config.sources) {
      const values = obs[source];
      if (k + values.length > this.width) {
        throw new Error(`vla state: expected ${this.width} values (${this.config.sources.join(" + ")}), got more from "${source}"`);
      }
      for (let i = 0; i < values.length; i++, k++) {
        if (!Number.isFinite(values[i])) throw new Error(`vla state: expected finite values, got ${values[i]} in ${source}[${i}]`);
        this.raw[k] = values[i];
      }
    }
    if (k !== this.width) throw new Error(`vla state: expected ${this.width} values (${this.config.sources.join(" + ")}), got ${k}`);
    normalizeInto(this.raw, this.width, this.stats, this.normalized, { clip: true });
    const top = this.config.bins - 1;
    return Array.from(this.normalized, (n) => Math.min(top, Math.floor(((n + 1) / 2) * this.config.bins)));
  }

  /** The instruction with the state line after it. */
  instruction(instruction: string, obs: Observation): string {
    const text = this.bins(obs).map((b) => String(b).padStart(this.digits, "0"));
    return `${instruction}\nState: ${text.join(" ")};`;
  }
}
