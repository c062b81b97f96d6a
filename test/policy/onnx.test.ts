// Session helpers: loading errors name the role and the file, specs print as contract errors show them, every run is
// timed, outputs are checked for type.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { floatOutput, formatSpecs, inputSpecs, loadSession, outputSpecs, RunClock, staticDim, Tensor } from "../../src/policy/onnx.js";
import { RDP_DIR } from "./vlaGolden.js";

describe("onnx session helpers", () => {
  it("describes a model's inputs and outputs from the session", async () => {
    const session = await loadSession(join(RDP_DIR, "rdp_decoder.onnx"), "rdp decoder");
    try {
      const ins = inputSpecs(session);
      expect(formatSpecs(ins)).toBe("latent_step float32[batch,16], touch float32[batch,22], hidden float32[batch,32]");
      expect(staticDim(ins[0], 0)).toBeNull();
      expect(staticDim(ins[0], 1)).toBe(16);
      expect(outputSpecs(session).map((s) => s.name)).toEqual(["action", "hidden_out"]);
      expect(formatSpecs(ins, 1)).toBe("latent_step float32[batch,16], ... (3 in all)");
      expect(formatSpecs([])).toBe("(none)");
    } finally {
      await session.release();
    }
  });

  it("times every run and says which model failed and why", async () => {
    const session = await loadSession(join(RDP_DIR, "rdp_decoder.onnx"), "rdp decoder");
    try {
      const clock = new RunClock();
      const feeds = {
        latent_step: new Tensor("float32", new Float32Array(16), [1, 16]),
        touch: new Tensor("float32", new Float32Array(22), [1, 22]),
        hidden: new Tensor("float32", new Float32Array(32), [1, 32]),
      };
      const out = await clock.run(session, feeds, "rdp decoder");
      expect(clock.calls).toBe(1);
      expect(clock.totalMs).toBeGreaterThan(0);
      expect(floatOutput(out, "action", "rdp decoder").dims).toEqual([1, 7]);
      expect(() => floatOutput(out, "logits", "rdp decoder")).toThrow(/^rdp decoder: expected an output "logits", got action, hidden_out$/);
      await expect(clock.run(session, { ...feeds, touch: new Tensor("float32", new Float32Array(5), [1, 5]) }, "rdp decoder")).rejects.toThrow(/^rdp decoder: onnxruntime run failed: /);
      expect(clock.calls).toBe(2);
      expect(() => floatOutput({ action: new Tensor("int32", new Int32Array(7), [1, 7]) }, "action", "m")).toThrow(/^m: expected "action" to be float32, got int32$/);
    } finally {
      await session.release();
    }
  });

  it("refuses missing files, files that are not ONNX, and thread counts out of range", async () => {
    await expect(loadSession(join(RDP_DIR, "missing.onnx"), "rdp encoder")).rejects.toThrow(/^rdp encoder: cannot find the model file .*missing\.onnx$/);
    const dir = mkdtempSync(join(tmpdir(), "onnx-helpers-"));
    try {
      writeFileSync(join(dir, "garbage.onnx"), Buffer.from("not a protobuf at all"));
      await expect(loadSession(join(dir, "garbage.onnx"), "vla decoder")).rejects.toThrow(/^vla decoder: cannot load .*garbage\.onnx: /);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    await expect(loadSession(join(RDP_DIR, "rdp_decoder.onnx"), "rdp decoder", { intraOpNumThreads: 0 })).rejects.toThrow(/^rdp decoder: expected intraOpNumThreads to be an integer in \[1, 64\], got 0$/);
  });
});
