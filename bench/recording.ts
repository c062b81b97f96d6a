// `npm run bench -- recording [--duration=S]`: what recording costs and whether it touches the fast loop.
// - recorder cost per 500 Hz tick on the main thread (one sensor sample + one command: CDR encoding + MCAP chunking);
// - write throughput of a long synthetic stream to an MCAP file, and the file size per second of run;
// - the real-time runtime (fast loop in its worker on the embedded MuJoCo arm) without and with a recorder polling the
//   shared slots every millisecond: the worker's period error and overruns, commands the poller missed, drops;
// - replay speed and report time on that recording.
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadArmDescription, type ArmDescription } from "../src/kinematics/description.js";
import { EpisodeRecording, type EpisodeRecordingResult } from "../src/observability/episodeRecording.js";
import { McapSink } from "../src/observability/mcapSink.js";
import { Recorder } from "../src/observability/recorder.js";
import { replay } from "../src/observability/replay.js";
import { report } from "../src/observability/report.js";
import { RecordingClock } from "../src/observability/topics.js";
import { monotonicNowNs } from "../src/runtime/clock.js";
import type { FastLoopConfig } from "../src/runtime/fastLoop.js";
import { Runtime } from "../src/runtime/runtime.js";
import { durationQuantileNs, type CommandRecord, type FastStatusSnapshot } from "../src/runtime/sharedState.js";
import type { PolicyOutput, SlowPolicy } from "../src/runtime/slowExecutor.js";
import type { SensorSnapshot } from "../src/runtime/types.js";
import { READY_POSITIONS_VLA_ARM6 } from "../src/sim/mujocoArm.js";
import { sampleWipeTask } from "../src/sim/task.js";
import { findRepoRoot, medianMicros, printTable, type Row } from "./lib/harness.js";

const TACTILE = { rows: 4, cols: 4, pitchM: 0.014 };

function recorderFor(arm: ArmDescription, sinks: ConstructorParameters<typeof Recorder>[0]["sinks"]): Recorder {
  return new Recorder({ info: { mode: "realtime", arm, jointNames: [...arm.joints.map((j) => j.name), arm.gripper.name], tactile: TACTILE }, clock: RecordingClock.forRealtime(0), sinks });
}

function syntheticTick(k: number, sample: SensorSnapshot, command: CommandRecord): void {
  sample.timeNs = k * 2e6;
  for (let i = 0; i < 7; i++) {
    sample.positions[i] = Math.sin(k * 1e-3 + i);
    sample.velocities[i] = Math.cos(k * 1e-3 + i);
    command.command[i] = sample.positions[i] + 1e-3;
    command.target[i] = command.command[i];
  }
  for (let i = 0; i < 16; i++) sample.tactile[i] = Math.abs(Math.sin(k * 1e-2 + i)) * 3;
  sample.wrench[2] = -Math.abs(Math.sin(k * 1e-3)) * 20;
  command.timeNs = k * 2e6;
  command.sensorTimeNs = k * 2e6 - 2e6;
  command.tick = k;
}

/** A policy that keeps asking for the ready pose with the pan joint turned a little (cheap, so timing is the loop's). */
const holdPolicy: SlowPolicy = {
  name: "hold-pose",
  async infer(): Promise<PolicyOutput> {
    const steps = 5;
    const actions = new Float64Array(steps * 7);
    for (let i = 0; i < steps; i++) actions.set([0.1, ...READY_POSITIONS_VLA_ARM6.slice(1)], i * 7);
    return { kind: "actions", actions, steps, dim: 7 };
  },
};

interface RealtimeCase {
  recording: boolean;
  status: FastStatusSnapshot;
  result: EpisodeRecordingResult | null;
}

async function realtimeCase(arm: ArmDescription, durationS: number, path: string | null): Promise<RealtimeCase> {
  const task = sampleWipeTask(1);
  const fast: Omit<FastLoopConfig, "arm" | "backend"> = { rateHz: 500, reactive: { kind: "compliance", mode: "limit", targetForceN: 14, gainMPerN: 0.0004, maxOffsetM: 0.02 }, scheduler: {}, safety: { sensorMaxAgeNs: 50e6 } };
  const backend = { kind: "mujoco", options: { task, timestepS: 0.002 } };
  let recording: EpisodeRecording | null = null;
  let policy = holdPolicy;
  if (path) {
    recording = await EpisodeRecording.create({ path, mode: "realtime", arm, tactile: TACTILE, fastLoop: { ...fast, arm, backend }, policyName: holdPolicy.name, startNs: monotonicNowNs() });
    policy = recording.wrapPolicy(policy, monotonicNowNs);
  }
  const runtime = await Runtime.start({
    arm,
    fast,
    backend: { kind: "worker", config: backend },
    tactileCount: TACTILE.rows * TACTILE.cols,
    slow: { policy, inputs: () => ({ instruction: "hold" }), stepPeriodNs: 100e6, rateHz: 5, timeoutMs: 1000 },
  });
  recording?.attach({ state: runtime.state, slowStats: () => runtime.slow.stats(), policyName: policy.name });
  recording?.startPolling(1);
  await new Promise((resolve) => setTimeout(resolve, 1000));
  runtime.state.requestTimingReset(); // the first second is warm-up
  await new Promise((resolve) => setTimeout(resolve, durationS * 1000));
  const report = await runtime.stop();
  const result = recording ? await recording.stop() : null;
  return { recording: path !== null, status: report.status, result };
}

export async function runRecordingBench(options: { durationS?: number } = {}): Promise<{ rows: Row[]; json: object }> {
  const durationS = options.durationS ?? 10;
  const arm = loadArmDescription(join(findRepoRoot(), "sim", "arm", "description.json"));
  const dir = mkdtempSync(join(tmpdir(), "vla-bench-recording-"));
  try {
    // Recorder cost per tick.
    const sink = await McapSink.create({ path: join(dir, "micro.mcap"), flushIntervalMs: 0 });
    const recorder = recorderFor(arm, [sink]);
    const sample: SensorSnapshot = { timeNs: 0, positions: new Float64Array(7), velocities: new Float64Array(7), wrench: new Float64Array(6), tactile: new Float64Array(16) };
    const command: CommandRecord = { timeNs: 0, sensorTimeNs: 0, sampleState: "ok", safetyReasons: 0, chunkSequence: 1, tick: 0, command: new Float64Array(7), target: new Float64Array(7) };
    let k = 0;
    const perTickUs = medianMicros(
      () => {
        k++;
        syntheticTick(k, sample, command);
        recorder.sensors(sample);
        recorder.command(command);
      },
      { warmup: 2000, batches: 31, perBatch: 100 },
    );
    await recorder.close();

    // Throughput: 60 s of a 500 Hz run written as fast as the main thread can, yielding every 100 ticks.
    const streamPath = join(dir, "stream.mcap");
    const streamSink = await McapSink.create({ path: streamPath, flushIntervalMs: 500 });
    const streamRecorder = recorderFor(arm, [streamSink]);
    const ticks = 30_000;
    const started = performance.now();
    for (let t = 1; t <= ticks; t++) {
      syntheticTick(t, sample, command);
      streamRecorder.sensors(sample);
      streamRecorder.command(command);
      if (t % 100 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    const streamStats = await streamRecorder.close();
    const streamS = (performance.now() - started) / 1000;
    const streamBytes = statSync(streamPath).size;

    // The real-time runtime without and with the recorder.
    const plain = await realtimeCase(arm, durationS, null);
    const recordedPath = join(dir, "realtime.mcap");
    const recorded = await realtimeCase(arm, durationS, recordedPath);
    const us = (ns: number) => ns / 1e3;
    const timing = (c: RealtimeCase) => ({
      periodErrorP50Us: us(durationQuantileNs(c.status.periodErrorHistogram, 0.5, c.status.periodErrorMaxNs)),
      periodErrorP99Us: us(durationQuantileNs(c.status.periodErrorHistogram, 0.99, c.status.periodErrorMaxNs)),
      periodErrorMaxUs: us(c.status.periodErrorMaxNs),
      overruns: c.status.overruns,
      ticks: c.status.ticks,
    });

    // Replay and report on the real-time recording.
    const replayStarted = performance.now();
    const replayed = await replay(recordedPath);
    const replayS = (performance.now() - replayStarted) / 1000;
    const reportStarted = performance.now();
    await report(recordedPath, join(dir, "report"), { replay: false });
    const reportS = (performance.now() - reportStarted) / 1000;

    const rows: Row[] = [
      { measure: "recorder cost per 500 Hz tick (sample + command)", value: `${perTickUs.toFixed(1)} us`, note: "main thread; CDR encode + MCAP chunking" },
      { measure: "write throughput", value: `${((2 * ticks) / streamS / 1000).toFixed(0)}k msg/s, ${(streamBytes / streamS / 1e6).toFixed(1)} MB/s`, note: `${streamStats.dropped.command + streamStats.dropped.jointStates} dropped` },
      { measure: "file size per second of a 500 Hz run", value: `${(streamBytes / (ticks / 500) / 1e3).toFixed(0)} kB/s`, note: "joint states, wrench, tactile, /tf at 50 Hz, commands" },
      { measure: "fast loop period error p99 without / with recorder", value: `${timing(plain).periodErrorP99Us.toFixed(0)} / ${timing(recorded).periodErrorP99Us.toFixed(0)} us`, note: `max ${timing(plain).periodErrorMaxUs.toFixed(0)} / ${timing(recorded).periodErrorMaxUs.toFixed(0)} us` },
      { measure: "fast loop overruns without / with recorder", value: `${plain.status.overruns} / ${recorded.status.overruns}`, note: `${durationS} s at 500 Hz each` },
      { measure: "commands the 1 ms poller missed", value: `${recorded.result?.stats.commandsMissed ?? 0} of ${recorded.result?.stats.messages.command ?? 0}`, note: `${recorded.result?.droppedMessages ?? 0} dropped` },
      { measure: "replay speed (real-time recording)", value: `${(replayed.ticksReplayed / replayS / 1000).toFixed(1)}k ticks/s`, note: replayed.identical ? "identical" : `${replayed.differingTicks} ticks differ (real time: approximate)` },
      { measure: "report (5 PNG + HTML, no replay)", value: `${reportS.toFixed(2)} s`, note: `${recorded.status.ticks} ticks` },
    ];
    printTable("Recording, live view sink off (2 cores shared with other work: timing numbers are noisy)", rows);
    return {
      rows,
      json: {
        perTickUs,
        stream: { ticks, seconds: streamS, bytes: streamBytes, dropped: streamStats.dropped },
        realtime: { durationS, without: timing(plain), with: timing(recorded), recorder: recorded.result?.stats, droppedMessages: recorded.result?.droppedMessages },
        replay: { seconds: replayS, ticks: replayed.ticksReplayed, identical: replayed.identical, differingTicks: replayed.differingTicks },
        reportSeconds: reportS,
      },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
