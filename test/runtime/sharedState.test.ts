import { mkdirSync, rmSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import { build } from "rolldown";
import { afterAll, describe, expect, it } from "vitest";
import {
  DURATION_HISTOGRAM_BINS,
  durationBinIndex,
  durationBinUpperNs,
  durationQuantileNs,
  SharedRuntimeState,
} from "../../src/runtime/sharedState.js";
import { SafetyReason, type ActionChunk } from "../../src/runtime/types.js";

const layout = { dim: 7, tactileCount: 4, maxChunkSteps: 16, latentSize: 8 };

function sensorSample(state: SharedRuntimeState, value: number) {
  const s = state.createSensorSnapshot();
  s.timeNs = 1000 + value;
  s.positions.fill(value);
  s.velocities.fill(value + 0.5);
  s.wrench.fill(value + 0.25);
  s.tactile.fill(value + 0.125);
  return s;
}

function chunkOf(steps: number, dim: number, sequence: number): ActionChunk {
  const actions = new Float64Array(steps * dim).map((_, i) => sequence * 1000 + i);
  return { actions, steps, dim, stepPeriodNs: 1e8, observationTimeNs: 5e9, arrivalTimeNs: 5.2e9, sequence };
}

describe("SharedRuntimeState", () => {
  it("rejects a bad layout with a one-line message naming the field", () => {
    expect(() => SharedRuntimeState.create({ ...layout, dim: 0 })).toThrow(/expected dim to be an integer in \[1, 64\], got 0/);
    expect(() => SharedRuntimeState.create({ ...layout, maxChunkSteps: 2.5 })).toThrow(/maxChunkSteps/);
  });

  it("round-trips a sensor sample, and reports none before the first write", () => {
    const state = SharedRuntimeState.create(layout);
    const into = state.createSensorSnapshot();
    expect(state.readSensors(into)).toBe(false);
    expect(state.sensorsVersion()).toBe(0);
    state.writeSensors(sensorSample(state, 3));
    expect(state.readSensors(into)).toBe(true);
    expect(into.timeNs).toBe(1003);
    expect([...into.positions]).toEqual(Array(7).fill(3));
    expect([...into.velocities]).toEqual(Array(7).fill(3.5));
    expect([...into.wrench]).toEqual(Array(6).fill(3.25));
    expect([...into.tactile]).toEqual(Array(4).fill(3.125));
    expect(state.sensorsVersion()).toBe(2);
  });

  it("refuses sensor buffers of the wrong size", () => {
    const state = SharedRuntimeState.create(layout);
    const s = sensorSample(state, 1);
    s.tactile = new Float64Array(3);
    expect(() => state.writeSensors(s)).toThrow(/4 tactile values, got 7\/7, 6, 3/);
  });

  it("round-trips chunks; the version changes with every write", () => {
    const state = SharedRuntimeState.create(layout);
    const into: ActionChunk = { ...chunkOf(1, 7, 0), actions: new Float64Array(16 * 7) };
    expect(state.readChunk(into)).toBe(0);
    state.writeChunk(chunkOf(5, 7, 1));
    const v1 = state.chunkVersion();
    expect(state.readChunk(into)).toBe(v1);
    expect(into.steps).toBe(5);
    expect(into.sequence).toBe(1);
    expect(into.observationTimeNs).toBe(5e9);
    expect(into.arrivalTimeNs).toBe(5.2e9);
    expect(into.stepPeriodNs).toBe(1e8);
    expect(Array.from(into.actions.subarray(0, 35))).toEqual(Array.from(chunkOf(5, 7, 1).actions));
    state.writeChunk(chunkOf(16, 7, 2));
    expect(state.chunkVersion()).not.toBe(v1);
    state.readChunk(into);
    expect(into.actions[16 * 7 - 1]).toBe(2000 + 16 * 7 - 1);
  });

  it("refuses chunks that do not fit, saying what was expected", () => {
    const state = SharedRuntimeState.create(layout);
    expect(() => state.writeChunk(chunkOf(17, 7, 1))).toThrow(/expected 1\.\.16 chunk steps, got 17/);
    expect(() => state.writeChunk(chunkOf(2, 6, 1))).toThrow(/expected a chunk of dim 7, got dim 6/);
    expect(() => state.writeChunk({ ...chunkOf(2, 7, 1), actions: new Float64Array(3) })).toThrow(/expected 14 chunk actions/);
    expect(state.chunkVersion()).toBe(0);
  });

  it("round-trips a latent and a command record", () => {
    const state = SharedRuntimeState.create(layout);
    const latent = state.createLatentSample();
    expect(state.readLatent(latent)).toBe(0);
    state.writeLatent(Float32Array.from([1, 2, 3]), 9, 100, 200);
    expect(state.readLatent(latent)).toBeGreaterThan(0);
    expect(latent.length).toBe(3);
    expect(Array.from(latent.latent.subarray(0, 3))).toEqual([1, 2, 3]);
    expect([latent.sequence, latent.observationTimeNs, latent.arrivalTimeNs]).toEqual([9, 100, 200]);
    expect(() => state.writeLatent(new Float32Array(9), 1, 0, 0)).toThrow(/at most 8 values, got 9/);

    const rec = state.createCommandRecord();
    rec.timeNs = 42;
    rec.sensorTimeNs = 40;
    rec.sampleState = "exhausted";
    rec.safetyReasons = SafetyReason.MaxStep | SafetyReason.PolicyLate;
    rec.chunkSequence = 7;
    rec.tick = 99;
    rec.command.fill(0.5);
    rec.target.fill(0.75);
    state.writeCommand(rec);
    const back = state.createCommandRecord();
    expect(state.readCommand(back)).toBe(state.commandVersion());
    expect(back).toEqual(rec);
  });

  it("attaches to the same memory from the buffers and checks their sizes", () => {
    const a = SharedRuntimeState.create(layout);
    const b = SharedRuntimeState.attach(a.buffers);
    a.writeSensors(sensorSample(a, 8));
    const into = b.createSensorSnapshot();
    expect(b.readSensors(into)).toBe(true);
    expect(into.positions[6]).toBe(8);
    b.requestEmergencyStop();
    expect(a.emergencyStopRequests()).toBe(1);
    expect(() => SharedRuntimeState.attach({ ...a.buffers, chunk: new SharedArrayBuffer(8) })).toThrow(/buffers\.chunk to be a SharedArrayBuffer of \d+ bytes, got 8 bytes/);
  });

  it("publishes status counters and histograms consistently", () => {
    const state = SharedRuntimeState.create(layout);
    const w = state.statusWriterForFastSide();
    w.add("ticks", 3);
    w.countSafety(SafetyReason.MaxStep | SafetyReason.StaleSensors);
    w.countSafety(SafetyReason.MaxStep);
    for (const e of [1_000, 3_000, 5_000, 250_000]) w.recordPeriodError(e);
    w.recordLatency(2_500_000);
    w.beat();
    // Not visible before publish.
    expect(state.readStatus().ticks).toBe(0);
    w.publish();
    const s = state.readStatus();
    expect(s.ticks).toBe(3);
    expect(s.heartbeat).toBe(1);
    expect(s.safetyCounts.MaxStep).toBe(2);
    expect(s.safetyCounts.StaleSensors).toBe(1);
    expect(s.safetyCounts.NonFinite).toBe(0);
    expect(s.periodErrorCount).toBe(4);
    expect(s.periodErrorMaxNs).toBe(250_000);
    expect(s.latencyMaxNs).toBe(2_500_000);
    expect(durationQuantileNs(s.periodErrorHistogram, 0.5)).toBe(4_000); // 3 us lies in [2, 4) us
    expect(durationQuantileNs(s.periodErrorHistogram, 1)).toBe(252_000);
    w.resetTiming();
    w.publish();
    expect(state.readStatus().periodErrorCount).toBe(0);
    expect(state.readStatus().ticks).toBe(3);
  });

  it("keeps control flags as counters so no request is lost between two reads", () => {
    const state = SharedRuntimeState.create(layout);
    expect(state.policyEnabled()).toBe(true);
    state.setPolicyEnabled(false);
    expect(state.policyEnabled()).toBe(false);
    state.requestEmergencyStop();
    state.requestEmergencyStop();
    state.requestEmergencyStopReset();
    expect([state.emergencyStopRequests(), state.emergencyStopResets()]).toEqual([2, 1]);
    state.requestShutdown();
    expect(state.shutdownRequested()).toBe(true);
    state.clearShutdown();
    expect(state.shutdownRequested()).toBe(false);
  });
});

describe("duration histogram", () => {
  it("bins are contiguous and cover 0 to 10 ms, then overflow", () => {
    expect(durationBinIndex(0)).toBe(0);
    expect(durationBinIndex(1_999)).toBe(0);
    expect(durationBinIndex(2_000)).toBe(1);
    expect(durationBinUpperNs(durationBinIndex(999_999))).toBe(1_000_000);
    expect(durationBinUpperNs(durationBinIndex(1_000_000))).toBe(1_050_000);
    expect(durationBinIndex(9_999_999)).toBe(DURATION_HISTOGRAM_BINS - 2);
    expect(durationBinIndex(50e6)).toBe(DURATION_HISTOGRAM_BINS - 1);
    for (let i = 0; i < DURATION_HISTOGRAM_BINS - 1; i++) {
      const upper = durationBinUpperNs(i);
      expect(durationBinIndex(upper - 1)).toBe(i);
      expect(durationBinIndex(upper)).toBe(i + 1);
    }
  });

  it("quantiles never underestimate and are capped by the maximum", () => {
    const bins = new Float64Array(DURATION_HISTOGRAM_BINS);
    const values = [500, 1_500, 7_000, 7_100, 30_000_000];
    for (const v of values) bins[durationBinIndex(v)]++;
    expect(durationQuantileNs(bins, 0.4)).toBeGreaterThanOrEqual(1_500);
    expect(durationQuantileNs(bins, 0.8)).toBe(8_000);
    expect(durationQuantileNs(bins, 1, 30_000_000)).toBe(30_000_000);
    expect(durationQuantileNs(new Float64Array(DURATION_HISTOGRAM_BINS), 0.5)).toBeNaN();
  });
});

// A writer thread hammers the sensor slot in a tight loop while this thread reads: every read that succeeds must
// be one whole sample.
describe("seqlock under a concurrent writer", () => {
  const cacheDir = fileURLToPath(new URL("../../node_modules/.cache/vla-runtime-tests/", import.meta.url));
  const bundle = `${cacheDir}sharedState-${process.pid}.mjs`;
  afterAll(() => rmSync(bundle, { force: true }));

  it("never returns a torn sample", async () => {
    mkdirSync(cacheDir, { recursive: true });
    await build({
      input: fileURLToPath(new URL("../../src/runtime/sharedState.ts", import.meta.url)),
      platform: "node",
      logLevel: "silent",
      output: { file: bundle, format: "esm" },
    });
    const state = SharedRuntimeState.create({ dim: 7, tactileCount: 64, maxChunkSteps: 4, latentSize: 0 });
    const writerCode = `
      const { workerData } = require("node:worker_threads");
      import(workerData.url).then(({ SharedRuntimeState }) => {
        const state = SharedRuntimeState.attach(workerData.buffers);
        const s = state.createSensorSnapshot();
        const stop = new Int32Array(workerData.stop);
        for (let k = 1; Atomics.load(stop, 0) === 0; k++) {
          s.timeNs = k; s.positions.fill(k); s.velocities.fill(k); s.wrench.fill(k); s.tactile.fill(k);
          state.writeSensors(s);
        }
      });`;
    const stop = new SharedArrayBuffer(4);
    const writer = new Worker(writerCode, { eval: true, workerData: { url: pathToFileURL(bundle).href, buffers: state.buffers, stop } });
    const into = state.createSensorSnapshot();
    while (state.sensorsVersion() < 100) await new Promise((r) => setTimeout(r, 1));
    let consistent = 0;
    let torn = 0;
    let lastSeen = 0;
    const distinct = new Set<number>();
    // At least 100k reads; more (up to 5 s) when a busy machine leaves the writer little time to write.
    const deadline = Date.now() + 5000;
    for (let i = 0; i < 100_000 || ((consistent <= 500 || distinct.size <= 10) && Date.now() < deadline); i++) {
      if (!state.readSensors(into)) continue;
      const k = into.timeNs;
      let whole = k >= lastSeen; // a newer read never goes back in time
      for (const arr of [into.positions, into.velocities, into.wrench, into.tactile]) for (const v of arr) if (v !== k) whole = false;
      if (whole) consistent++;
      else torn++;
      lastSeen = k;
      distinct.add(k);
    }
    Atomics.store(new Int32Array(stop), 0, 1);
    await writer.terminate();
    expect(torn).toBe(0);
    // A writer in a tight loop starves the reader often (it then reports "no sample" rather than a torn one).
    expect(consistent).toBeGreaterThan(500);
    expect(distinct.size).toBeGreaterThan(10); // the writer really was writing while we read
  });
});
