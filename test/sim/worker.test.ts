// The fast loop may construct the simulator inside a worker_thread: build and run it there.
import { mkdirSync, rmSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import { build } from "rolldown";
import { afterAll, describe, expect, it } from "vitest";
import { READY_POSITIONS_VLA_ARM6 } from "../../src/sim/mujocoArm.js";
import { bundledArm } from "./helpers.js";

describe("MujocoArm in a worker_thread", () => {
  const cacheDir = fileURLToPath(new URL("../../node_modules/.cache/vla-runtime-tests/", import.meta.url));
  const bundle = `${cacheDir}mujocoArm-${process.pid}.mjs`;
  afterAll(() => rmSync(bundle, { force: true }));

  it("loads, steps against a time origin and reads sensors off the main thread", async () => {
    mkdirSync(cacheDir, { recursive: true });
    await build({
      input: fileURLToPath(new URL("../../src/sim/mujocoArm.ts", import.meta.url)),
      platform: "node",
      logLevel: "silent",
      // The wasm build finds its .wasm next to its own file: keep it an import, resolved from node_modules.
      external: ["mujoco"],
      output: { file: bundle, format: "esm" },
    });
    const code = `
      const { workerData, parentPort, isMainThread } = require("node:worker_threads");
      import(workerData.url).then(async ({ MujocoArm }) => {
        const arm = await MujocoArm.create({ arm: workerData.arm, task: { surfaceHeightM: 0.1 }, timeOriginNs: 1e9 });
        const taken = arm.stepTo(1e9 + 200e6);
        const snap = { timeNs: 0, positions: new Float64Array(7), velocities: new Float64Array(7), wrench: new Float64Array(6), tactile: new Float64Array(arm.tactileCount) };
        arm.readSensors(snap);
        parentPort.postMessage({ isMainThread, taken, dim: arm.dim, tactile: arm.tactileCount, timeNs: snap.timeNs, positions: Array.from(snap.positions) });
        arm.close();
      }).catch((e) => parentPort.postMessage({ error: String(e && e.stack || e) }));`;
    const worker = new Worker(code, { eval: true, workerData: { url: pathToFileURL(bundle).href, arm: bundledArm() } });
    const result = await new Promise<Record<string, unknown>>((resolve, reject) => {
      worker.once("message", resolve);
      worker.once("error", reject);
    });
    await worker.terminate();
    expect(result.error).toBeUndefined();
    expect(result.isMainThread).toBe(false);
    expect(result.taken).toBe(100);
    expect(result.dim).toBe(7);
    expect(result.tactile).toBe(16);
    expect(result.timeNs).toBe(1e9 + 198e6);
    const positions = result.positions as number[];
    for (let i = 0; i < 7; i++) expect(positions[i]).toBeCloseTo(READY_POSITIONS_VLA_ARM6[i], 3);
  });
});
