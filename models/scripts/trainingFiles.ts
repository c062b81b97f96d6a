// The flat files the trainers read, written the same way by every script that makes training data
// (record_demos.ts, collect_dagger.ts, collect_rdp.ts):
//   vla_images.u8 + vla_samples.jsonl  one camera frame and one JSON line per policy step (train_tiny_vla.py)
//   rdp.f32 + rdp_index.json           planned / executed commands and touch per RDP sample (train_rdp.py)
import { closeSync, openSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { normalizeCommands, type RdpContract } from "../../src/policy/rdp.js";

/** One frame for the VLA trainer: what the policy saw and the chunk (ee-deltas from the plan) it should answer. */
export interface VlaSample {
  episode: number;
  timeS: number;
  instruction: string;
  /** The frame's joint-delta FAST tokens (demonstrations only; [] elsewhere). */
  tokens: number[];
  phase: string;
  positions: ArrayLike<number>;
  wrench: ArrayLike<number>;
  eeDeltas: ArrayLike<number>;
}

export class VlaSampleFiles {
  private readonly imagesFd: number;
  private readonly samplesFd: number;
  frames = 0;

  constructor(outDir: string) {
    this.imagesFd = openSync(join(outDir, "vla_images.u8"), "w");
    this.samplesFd = openSync(join(outDir, "vla_samples.jsonl"), "w");
  }

  write(image: Uint8Array, s: VlaSample): void {
    writeSync(this.imagesFd, image);
    const line = { ...s, positions: Array.from(s.positions), wrench: Array.from(s.wrench), eeDeltas: Array.from(s.eeDeltas, (v) => Number(v.toPrecision(7))) };
    writeSync(this.samplesFd, JSON.stringify(line) + "\n");
    this.frames++;
  }

  close(): void {
    closeSync(this.imagesFd);
    closeSync(this.samplesFd);
  }
}

/** RDP samples: [chunkSteps x dim] planned and executed commands (normalized with the contract), touch features. */
export class RdpSampleFile {
  private readonly fd: number;
  private readonly episodes: number[] = [];
  private dim = 0;

  constructor(private readonly outDir: string, private readonly rdp: RdpContract) {
    this.fd = openSync(join(outDir, "rdp.f32"), "w");
  }

  get samples(): number {
    return this.episodes.length;
  }

  write(episode: number, planned: Float64Array, executed: Float64Array, touch: Float32Array): void {
    const steps = this.rdp.chunkSteps;
    this.dim = planned.length / steps;
    const record = new Float32Array(planned.length + executed.length + touch.length);
    record.set(normalizeCommands(planned, this.rdp), 0);
    record.set(normalizeCommands(executed, this.rdp), planned.length);
    record.set(touch, planned.length + executed.length);
    writeSync(this.fd, new Uint8Array(record.buffer));
    this.episodes.push(episode);
  }

  /** Close the data and write rdp_index.json (the layout and the episode of every sample). */
  close(): void {
    closeSync(this.fd);
    const layout = { chunkSteps: this.rdp.chunkSteps, dim: this.dim, touch: this.rdp.touch.wrench + this.rdp.touch.tactile, order: "planned (normalized), executed (normalized), touch features" };
    writeFileSync(join(this.outDir, "rdp_index.json"), JSON.stringify({ layout, episodes: this.episodes }) + "\n");
  }
}
