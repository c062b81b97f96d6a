// ONNX Runtime session helpers shared by the policies: load a model file with settings that suit a 2-core robot
// computer, describe its inputs and outputs for one-line contract errors, and time every run.
//
// onnxruntime-node's `run` returns a promise but executes the graph synchronously inside a setImmediate callback:
// the main thread's event loop turns between two runs, not during one. The fast loop lives in its own worker, so a
// long run never delays a control tick; it only delays the next main-thread callback by the length of one run.
import { existsSync } from "node:fs";
import { InferenceSession, Tensor } from "onnxruntime-node";

export { InferenceSession, Tensor };
export type OrtFeeds = InferenceSession.FeedsType;
export type OrtOutputs = InferenceSession.ReturnType;

export interface SessionSettings {
  /** Threads inside one operator. Default 1: the other core belongs to the fast loop. */
  intraOpNumThreads?: number;
  /** Threads across independent operators. Default 1. */
  interOpNumThreads?: number;
}

/** What a model file declares for one input or output. Symbolic dimensions are strings. */
export interface TensorSpec {
  name: string;
  /** Element type ("float32", "int64", ...) or "non-tensor". */
  type: string;
  shape: ReadonlyArray<number | string>;
}

/** Load an ONNX model on the CPU. Errors name the model's role (`what`) and the file. */
export async function loadSession(path: string, what: string, settings: SessionSettings = {}): Promise<InferenceSession> {
  if (!existsSync(path)) throw new Error(`${what}: cannot find the model file ${path}`);
  const threads = (name: string, value: number | undefined): number => {
    const v = value ?? 1;
    if (!Number.isInteger(v) || v < 1 || v > 64) throw new Error(`${what}: expected ${name} to be an integer in [1, 64], got ${String(value)}`);
    return v;
  };
  const intraOpNumThreads = threads("intraOpNumThreads", settings.intraOpNumThreads);
  const interOpNumThreads = threads("interOpNumThreads", settings.interOpNumThreads);
  try {
    return await InferenceSession.create(path, {
      executionProviders: ["cpu"],
      intraOpNumThreads,
      interOpNumThreads,
      graphOptimizationLevel: "all",
      executionMode: "sequential",
      logSeverityLevel: 3,
    });
  } catch (error) {
    throw new Error(`${what}: cannot load ${path}: ${oneLine(error)}`);
  }
}

function specOf(m: InferenceSession.ValueMetadata): TensorSpec {
  return m.isTensor ? { name: m.name, type: m.type, shape: m.shape } : { name: m.name, type: "non-tensor", shape: [] };
}

export function inputSpecs(session: InferenceSession): TensorSpec[] {
  return session.inputMetadata.map(specOf);
}

export function outputSpecs(session: InferenceSession): TensorSpec[] {
  return session.outputMetadata.map(specOf);
}

/** "pixel_values float32[num_patches,1176], grid_thw int64[1,3]": how contract errors show what a file has. */
export function formatSpecs(specs: readonly TensorSpec[], limit = 8): string {
  if (specs.length === 0) return "(none)";
  const shown = specs.slice(0, limit).map((s) => `${s.name} ${s.type}[${s.shape.join(",")}]`);
  if (specs.length > limit) shown.push(`... (${specs.length} in all)`);
  return shown.join(", ");
}

/** A dimension as the file declares it: a number, or null when it is symbolic (dynamic). */
export function staticDim(spec: TensorSpec, axis: number): number | null {
  const d = spec.shape[axis];
  return typeof d === "number" ? d : null;
}

/** Sum of the time spent inside `session.run` (each call measured from the call to its promise settling). */
export class RunClock {
  totalMs = 0;
  calls = 0;

  reset(): void {
    this.totalMs = 0;
    this.calls = 0;
  }

  async run(session: InferenceSession, feeds: OrtFeeds, what: string): Promise<OrtOutputs> {
    const start = performance.now();
    try {
      return await session.run(feeds);
    } catch (error) {
      throw new Error(`${what}: onnxruntime run failed: ${oneLine(error)}`);
    } finally {
      this.totalMs += performance.now() - start;
      this.calls++;
    }
  }
}

/** A float32 output: the tensor (to feed back into a session), its data and its shape. */
export interface FloatOutput {
  tensor: Tensor;
  data: Float32Array;
  dims: readonly number[];
}

/** The output `name` as a float32 tensor, or a one-line error. */
export function floatOutput(outputs: OrtOutputs, name: string, what: string): FloatOutput {
  const t = outputs[name];
  if (!t) throw new Error(`${what}: expected an output "${name}", got ${Object.keys(outputs).join(", ") || "none"}`);
  if (t.type !== "float32" || !(t.data instanceof Float32Array)) throw new Error(`${what}: expected "${name}" to be float32, got ${t.type}`);
  return { tensor: t, data: t.data, dims: t.dims };
}

export function oneLine(error: unknown): string {
  const text = error instanceof Error ? error.message || error.name : String(error);
  return text.split("\n")[0].slice(0, 300);
}
