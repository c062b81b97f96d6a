// `npm run bench -- teleop`: teleop command -> arm command latency on loopback, and the state stream rate.
//
// Set-up (everything real, one process): the fast loop in its worker thread at 500 Hz driving the embedded MuJoCo
// arm; the teleop endpoint (CURVE + ZAP) on tcp://127.0.0.1; the TypeScript client on the same machine.
// Latency: one command at a time, from just before the client hands it to ZeroMQ to the fast-loop tick that first
// drives the arm from it (the worker stamps that tick's time in the status slot; one monotonic clock for both
// threads). Split into the endpoint's part (receive, decode, validate, IK for poses, write the slot) and the fast
// loop's pickup (slot written -> next tick). The pickup is bounded by the 2 ms control period.
// State stream: messages per second received by a subscribed client at a configured rate, and the gap p99.
import { monotonicNowNs } from "../src/runtime/clock.js";
import { FastExecutor } from "../src/runtime/fastExecutor.js";
import { SharedRuntimeState } from "../src/runtime/sharedState.js";
import { loadArmDescription } from "../src/kinematics/description.js";
import { TeleopClient } from "../src/transports/teleop/client.js";
import { TeleopEndpoint } from "../src/transports/teleop/endpoint.js";
import { generateCurveKeyPair, type CurveKeyPair } from "../src/transports/teleop/keys.js";
import { join } from "node:path";
import { cpus } from "node:os";
import { findRepoRoot, printTable, quantile, type Row } from "./lib/harness.js";

const DIM = 7;
const TACTILE = 16;
const READY = [0, 0.3702, 0.7752, 1.9962, 0, 0, 0.06];

export interface TeleopBenchOptions {
  /** Commands per latency series (default 300). */
  samples?: number;
  /** Seconds per state-rate case (default 3). */
  stateSeconds?: number;
}

interface Series {
  kind: string;
  totalUs: number[];
  endpointUs: number[];
  pickupUs: number[];
}

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

async function until(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`teleop bench: timed out waiting for ${what}`);
    await tick();
  }
}

export async function runTeleopBench(options: TeleopBenchOptions = {}): Promise<{ rows: Row[]; json: object }> {
  const samples = options.samples ?? 300;
  const stateSeconds = options.stateSeconds ?? 3;
  const arm = loadArmDescription(join(findRepoRoot(), "sim", "arm", "description.json"));
  const state = SharedRuntimeState.create({ dim: DIM, tactileCount: TACTILE, maxChunkSteps: 64, latentSize: 0 });
  const fast = await FastExecutor.start({
    state,
    config: { rateHz: 500, arm, backend: { kind: "mujoco", options: { seed: 1 } }, reactive: { kind: "passthrough" }, scheduler: {}, safety: { sensorMaxAgeNs: 50e6 } },
  });
  const serverKeys = generateCurveKeyPair();
  const clientKeys = generateCurveKeyPair();
  const series: Series[] = [];
  const stateRows: { rateHz: number; received: number; achievedHz: number; gapP50Ms: number; gapP99Ms: number; skipped: number }[] = [];
  try {
    await until(() => state.commandVersion() !== 0, 10_000, "the first command");
    for (const rateHz of [30, 100]) {
      const { endpoint, client, arrivals } = await connect(state, arm, serverKeys, clientKeys, rateHz);
      try {
        if (rateHz === 100) {
          await client.hello("bench");
          await client.takeover();
          await new Promise((r) => setTimeout(r, 300)); // the hold brings the arm to rest
          series.push(await latencySeries(state, endpoint, client, "joints", samples));
          series.push(await latencySeries(state, endpoint, client, "pose (IK)", samples));
          await client.handBack();
        }
        arrivals.length = 0;
        const published0 = endpoint.stats().statesPublished;
        const skipped0 = endpoint.stats().statesSkipped;
        const t0 = monotonicNowNs();
        await new Promise((r) => setTimeout(r, stateSeconds * 1000));
        const elapsedS = (monotonicNowNs() - t0) / 1e9;
        const gaps = arrivals.slice(1).map((t, i) => (t - arrivals[i]) / 1e6);
        stateRows.push({
          rateHz,
          received: arrivals.length,
          achievedHz: arrivals.length / elapsedS,
          gapP50Ms: quantile(gaps, 0.5),
          gapP99Ms: quantile(gaps, 0.99),
          skipped: endpoint.stats().statesSkipped - skipped0,
        });
        void published0;
      } finally {
        await client.close();
        await endpoint.stop();
      }
    }
  } finally {
    await fast.stop();
  }
  const rows: Row[] = [
    ...series.map((s) => ({
      measure: `${s.kind} -> arm command`,
      n: s.totalUs.length,
      p50Us: quantile(s.totalUs, 0.5),
      p99Us: quantile(s.totalUs, 0.99),
      maxUs: Math.max(...s.totalUs),
      endpointP50Us: quantile(s.endpointUs, 0.5),
      endpointP99Us: quantile(s.endpointUs, 0.99),
      pickupP50Us: quantile(s.pickupUs, 0.5),
      pickupP99Us: quantile(s.pickupUs, 0.99),
    })),
  ];
  printTable(`Teleop command -> arm command latency, loopback, fast loop at 500 Hz (${cpus().length} cores shared: noisy)`, rows);
  const stateTable: Row[] = stateRows.map((r) => ({ ...r }));
  printTable(`Teleop state stream: received by a subscribed client over ${stateSeconds} s`, stateTable);
  return {
    rows: [...rows, ...stateTable],
    json: {
      cpus: cpus().length,
      controlRateHz: 500,
      note:
        "total = client send -> first fast-loop tick driving the arm from the target; endpoint = client send -> teleop slot written " +
        "(receive, decode, validate, IK for poses); pickup = slot written -> that tick (bounded by the 2 ms period).",
      latency: series.map((s) => ({
        kind: s.kind,
        n: s.totalUs.length,
        totalUs: summary(s.totalUs),
        endpointUs: summary(s.endpointUs),
        pickupUs: summary(s.pickupUs),
      })),
      stateStream: stateRows,
    },
  };
}

function summary(values: number[]) {
  return { p50: quantile(values, 0.5), p90: quantile(values, 0.9), p99: quantile(values, 0.99), max: Math.max(...values) };
}

async function connect(state: SharedRuntimeState, arm: ReturnType<typeof loadArmDescription>, serverKeys: CurveKeyPair, clientKeys: CurveKeyPair, stateRateHz: number) {
  const endpoint = await TeleopEndpoint.start({
    state,
    arm,
    commandAddress: "tcp://127.0.0.1:*",
    stateAddress: "tcp://127.0.0.1:*",
    serverKeys,
    allowedClients: [{ publicKey: clientKeys.publicKey, name: "bench" }],
    stateRateHz,
    watchdogMs: 1000,
  });
  const arrivals: number[] = [];
  const client = await TeleopClient.connect({
    commandAddress: endpoint.addresses.command,
    stateAddress: endpoint.addresses.state,
    serverPublicKey: serverKeys.publicKey,
    keys: clientKeys,
    onState: () => arrivals.push(monotonicNowNs()),
  });
  await until(() => arrivals.length > 2, 5000, "the state stream");
  return { endpoint, client, arrivals };
}

/** One command at a time: send, wait for the tick that applies it, record the parts. */
async function latencySeries(state: SharedRuntimeState, endpoint: TeleopEndpoint, client: TeleopClient, kind: "joints" | "pose (IK)", n: number): Promise<Series> {
  const s: Series = { kind, totalUs: [], endpointUs: [], pickupUs: [] };
  const slot = state.createTeleopTarget();
  for (let i = 0; i < n; i++) {
    const expected = endpoint.controller.targetSequence + 1;
    const wiggle = 0.01 * Math.sin(i / 5);
    const sentNs = monotonicNowNs();
    if (kind === "joints") client.joints([READY[0] + wiggle, READY[1], READY[2], READY[3], READY[4], READY[5]]);
    else client.pose([wiggle, 0, 0], [1, 0, 0, 0]);
    await until(() => state.readStatus().teleopTargetSequence >= expected, 2000, `target ${expected}`);
    const appliedNs = state.readStatus().teleopTargetAppliedNs;
    state.readTeleop(slot);
    s.totalUs.push((appliedNs - sentNs) / 1e3);
    s.endpointUs.push((slot.targetTimeNs - sentNs) / 1e3);
    s.pickupUs.push((appliedNs - slot.targetTimeNs) / 1e3);
    await new Promise((r) => setTimeout(r, 10)); // ~70-100 commands per second, like a headset
  }
  return s;
}
