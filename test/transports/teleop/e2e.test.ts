// End to end, as an operator would do it: the fast loop in its worker thread driving the embedded MuJoCo arm in
// real time, the teleop endpoint with CURVE keys from files, and the reference client taking over, streaming a
// scripted hand motion, and handing back; plus the reference client's keyboard jog and read-only status.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FastExecutor } from "../../../src/runtime/fastExecutor.js";
import { SharedRuntimeState } from "../../../src/runtime/sharedState.js";
import { attachTeleop, DEFAULT_TELEOP_CONFIG } from "../../../src/transports/teleop/attach.js";
import { TeleopClient } from "../../../src/transports/teleop/client.js";
import type { TeleopEndpoint } from "../../../src/transports/teleop/endpoint.js";
import { generateKeys, readCertificate, readKeyPair } from "../../../src/transports/teleop/keys.js";
import type { InterventionEvent, TeleopStateMessage } from "../../../src/transports/teleop/protocol.js";
import { builtinPoseScript, runTeleopCli, streamPoses } from "../../../src/transports/teleop/referenceClient.js";
import { bundleSourceModule } from "../../helpers/bundle.js";
import { arm, DIM, waitFor } from "./helpers.js";

let dir = "";
let state: SharedRuntimeState;
let fast: FastExecutor | null = null;
let endpoint: TeleopEndpoint | null = null;
const events: InterventionEvent[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "teleop-e2e-"));
  generateKeys({ dir, name: "server" });
  generateKeys({ dir: join(dir, "clients"), name: "operator" });
  state = SharedRuntimeState.create({ dim: DIM, tactileCount: 16, maxChunkSteps: 64, latentSize: 0 });
  const workerUrl = await bundleSourceModule("runtime/fastWorker.ts", "fastWorker-teleop");
  fast = await FastExecutor.start({
    state,
    workerUrl,
    config: {
      rateHz: 500,
      arm,
      backend: { kind: "mujoco", options: { seed: 2 } },
      reactive: { kind: "passthrough" },
      scheduler: {},
      safety: { sensorMaxAgeNs: 50e6, workspace: { minM: [-0.9, -0.9, -0.05], maxM: [0.9, 0.9, 1.2] } },
      warmupTicks: 2000,
      threadNice: null,
    },
  });
  endpoint = await attachTeleop(
    {
      ...DEFAULT_TELEOP_CONFIG,
      enabled: true,
      commandAddress: "tcp://127.0.0.1:*",
      stateAddress: "tcp://127.0.0.1:*",
      readOnlyStateAddress: "tcp://127.0.0.1:*",
      serverKeyFile: join(dir, "server.key_secret"),
      allowedClients: join(dir, "clients"),
      stateRateHz: 50,
    },
    { state, arm, policyStatus: () => ({ enabled: state.policyEnabled() }) },
  );
  endpoint.onIntervention((e) => events.push(e));
  await waitFor(() => state.commandVersion() !== 0, 10_000, "the fast loop's first command");
}, 60_000);

afterAll(async () => {
  await endpoint?.stop();
  await fast?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function io(input = "") {
  const stdin = new PassThrough();
  stdin.end(input);
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const text = { out: "", err: "" };
  stdout.on("data", (d) => (text.out += d));
  stderr.on("data", (d) => (text.err += d));
  return { io: { stdin, stdout, stderr }, text };
}

describe("teleop end to end (real-time worker, embedded MuJoCo arm, keys from files)", () => {
  it("an operator takes over, drives the tool along a scripted path, and hands back", async () => {
    const states: TeleopStateMessage[] = [];
    const client = await TeleopClient.connect({
      commandAddress: endpoint!.addresses.command,
      stateAddress: endpoint!.addresses.state,
      serverPublicKey: readCertificate(join(dir, "server.key")).publicKey,
      keys: readKeyPair(join(dir, "clients", "operator.key_secret")),
      onState: (s) => states.push(s),
    });
    try {
      expect((await client.hello("operator")).arm.name).toBe(arm.name);
      await waitFor(() => states.length > 0, 3000, "a state sample");
      const before = states.at(-1)!.tool!.position;
      // 1.5 s of hand motion 4 cm up (the "line" script), 30 Hz; stay in takeover to look at where it ended.
      const { sent } = await streamPoses(client, { script: builtinPoseScript("line", 0.08), rateHz: 30, durationS: 2, keep: true });
      expect(sent).toBeGreaterThan(40);
      // The stream has stopped: past the watchdog (250 ms) the arm holds where it is, still in takeover.
      await waitFor(() => events.some((e) => e.kind === "watchdog-hold"), 3000, "the watchdog hold");
      await new Promise((r) => setTimeout(r, 300));
      const during = states.at(-1)!;
      expect(during.mode).toBe("takeover");
      expect(during.owner).toBe("operator");
      expect(during.command!.source).toMatch(/^teleop/);
      const after = during.tool!.position;
      // The line script moves the hand 8 cm * (1 - cos(pi t / 2)) / 2: 8 cm up at t = 2 s, nothing sideways.
      expect(after[2] - before[2]).toBeGreaterThan(0.06);
      expect(after[2] - before[2]).toBeLessThan(0.09);
      expect(Math.hypot(after[0] - before[0], after[1] - before[1])).toBeLessThan(0.01);
      expect(client.stats.rejected).toBe(0);
      await client.handBack();
      await waitFor(() => states.at(-1)!.mode === "observe", 3000, "observe in the state stream");
    } finally {
      await client.close();
    }
    expect(events.map((e) => e.kind)).toEqual(["takeover", "watchdog-hold", "hand-back"]);
    // Safety was never bypassed: every command went through it (it would count interventions; none was needed).
    expect(state.readStatus().safetyCounts.EmergencyStop).toBe(0);
  }, 30_000);

  it("reference client: keyboard jog from stdin, and a read-only status without keys", async () => {
    const common = ["--command", endpoint!.addresses.command, "--state", endpoint!.addresses.state, "--server-key", join(dir, "server.key"), "--key", join(dir, "clients", "operator.key_secret")];
    const record = state.createCommandRecord();
    state.readCommand(record);
    const pan0 = record.command[0];
    // t: take over; 1: joint 1; + x4: four jogs of 0.05 rad; h: hand back; q: quit.
    const jog = io("t1++++hq");
    expect(await runTeleopCli(["jog", "--step", "0.05", ...common], jog.io)).toBe(0);
    expect(jog.text.out).toContain("sent 4 jogs");
    expect(jog.text.out).toContain('"mode":"takeover"');
    expect(jog.text.err).toBe("");
    const jogEvents = events.slice(-2).map((e) => e.kind);
    expect(jogEvents).toEqual(["takeover", "hand-back"]);
    expect(endpoint!.stats().controller.accepted.jog).toBe(4); // increments are never coalesced
    // The four jogs added up on the pan joint's target (the hand-back came right after, so the arm barely moved).
    expect(endpoint!.controller.targetPositions[0]).toBeCloseTo(pan0 + 0.2, 3);

    const status = io();
    expect(await runTeleopCli(["status", "--read-only", "--count", "3", "--state", endpoint!.addresses.readOnlyState!], status.io)).toBe(0);
    expect(status.text.out.trim().split("\n")).toHaveLength(3);
    expect(status.text.out).toMatch(/^#\d+ observe q \[/);

    const refused = io();
    expect(await runTeleopCli(["takeover", "--read-only"], refused.io)).toBe(1);
    expect(refused.text.err).toContain("--read-only only works with status");
  }, 30_000);
});
