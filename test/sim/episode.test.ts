// The whole runtime against the embedded arm: policy -> FAST tokens -> decode -> unnormalize -> scheduler ->
// reactive step -> safety -> MuJoCo, in lockstep, plus one short real-time run with the fast loop in its worker.
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import type { RuntimeConfigInput } from "../../src/config/schema.js";
import type { Observation, PolicyOutput, SlowPolicy } from "../../src/runtime/slowExecutor.js";
import { formatSummary, runEpisode } from "../../src/sim/episode.js";
import { bundleSourceModule } from "../helpers/bundle.js";
import { startExpertPolicyServer } from "../../src/cli/servePolicy.js";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { replay } from "../../src/observability/replay.js";

const packageRoot = fileURLToPath(new URL("../../", import.meta.url));

/** Lockstep, and unless a test says otherwise the stand-in policy with force-feedback compliance (fast, exact). */
function lockstep(overrides: RuntimeConfigInput = {}) {
  return parseConfig({
    ...overrides,
    policy: { kind: "scripted-expert", ...overrides.policy },
    reactive: { kind: "compliance", ...overrides.reactive },
    control: { realtime: false, ...overrides.control },
    episode: { durationS: 6, ...overrides.episode },
  });
}

/** Wraps a policy and breaks some of its answers the way real models and servers break. */
function faulty(policy: SlowPolicy, fault: (call: number, output: PolicyOutput) => PolicyOutput | Promise<never>): SlowPolicy {
  let calls = 0;
  return {
    name: `${policy.name} + faults`,
    async infer(observation: Observation, signal: AbortSignal) {
      const output = await policy.infer(observation, signal);
      return fault(++calls, output);
    },
  };
}

describe("episode on the embedded arm", () => {
  it("runs the whole pipeline in lockstep: every chunk decoded and played, the pad wipes, nothing unsafe", async () => {
    const summary = await runEpisode(lockstep({ episode: { durationS: 8, seed: 3 } }), { packageRoot });
    expect(summary.mode).toBe("lockstep");
    expect(summary.loop.ticks).toBe(4001);
    expect(summary.chunks.published).toBeGreaterThan(30);
    expect(summary.chunks.decodeFailures).toBe(0);
    expect(summary.chunks.acceptedByFastLoop).toBeGreaterThanOrEqual(summary.chunks.published - 1);
    expect(summary.safety.NonFinite).toBe(0);
    expect(summary.safety.EmergencyStop).toBe(0);
    expect(summary.task?.contactTimeS).toBeGreaterThan(1);
    expect(summary.task?.coverage).toBeGreaterThan(0.2);
    expect(formatSummary(summary)).toContain("policy calls");
  });

  it("is deterministic in lockstep", async () => {
    const a = await runEpisode(lockstep({ episode: { durationS: 4, seed: 5 } }), { packageRoot });
    const b = await runEpisode(lockstep({ episode: { durationS: 4, seed: 5 } }), { packageRoot });
    expect(a.task).toEqual(b.task);
    expect(a.safety).toEqual(b.safety);
  });

  it("rejects malformed token sequences with a one-line reason and keeps going on the good ones", async () => {
    const summary = await runEpisode(lockstep({ episode: { durationS: 8, seed: 3 } }), {
      packageRoot,
      // Every third answer loses its last token (a wrong coefficient count, as pi0-FAST produces in practice).
      wrapPolicy: (policy) => faulty(policy, (call, output) => (call % 3 === 0 && output.kind === "tokens" ? { kind: "tokens", tokens: output.tokens.slice(0, -1) } : output)),
    });
    expect(summary.chunks.decodeFailures).toBeGreaterThanOrEqual(10);
    expect(summary.errors.some((e) => /expected .*got/.test(e) && !e.includes("\n"))).toBe(true);
    expect(summary.chunks.published).toBeGreaterThan(20);
    expect(summary.safety.NonFinite).toBe(0);
    expect(summary.task?.contactTimeS).toBeGreaterThan(1);
  });

  it("holds the arm when the policy dies: throws and timeouts are counted, the late-policy brake engages", async () => {
    const summary = await runEpisode(lockstep({ episode: { durationS: 5, seed: 2 }, policy: { timeoutMs: 20 }, control: { lockstepPolicyLatencyMs: 5 } }), {
      packageRoot,
      wrapPolicy: (policy) =>
        faulty(policy, (call, output) => {
          if (call <= 5) return output;
          if (call % 2 === 0) return Promise.reject(new Error("policy server connection reset"));
          return new Promise<never>(() => {}); // hangs: only the timeout ends it
        }),
    });
    expect(summary.chunks.published).toBe(5);
    expect(summary.chunks.otherFailures).toBeGreaterThan(5);
    expect(summary.errors.some((e) => e.includes("connection reset"))).toBe(true);
    expect(summary.errors.some((e) => e.includes("timed out"))).toBe(true);
    expect(summary.safety.PolicyLate).toBeGreaterThan(100);
    expect(summary.safety.NonFinite).toBe(0);
  });

  it("drives the arm from a policy server over ZeroMQ: same task, tokens decoded here", async () => {
    const server = await startExpertPolicyServer(packageRoot, "tcp://127.0.0.1:0", 3, false);
    try {
      const config = lockstep({
        episode: { durationS: 8, seed: 3 },
        policy: { kind: "zmq", url: server.endpoint, actionSpace: "joint-delta", normalizedActions: true, timeoutMs: 2000 },
      });
      const summary = await runEpisode(config, { packageRoot });
      expect(summary.policy).not.toContain("scripted expert (FAST tokens)");
      expect(summary.chunks.published).toBeGreaterThan(30);
      expect(summary.chunks.decodeFailures + summary.chunks.otherFailures).toBe(0);
      expect(summary.task?.coverage).toBeGreaterThan(0.2);
    } finally {
      await server.close();
    }
  });

  it("holds and reports when the policy server is not there", async () => {
    const config = lockstep({ episode: { durationS: 2, seed: 3 }, policy: { kind: "zmq", url: "tcp://127.0.0.1:1", timeoutMs: 50 }, control: { lockstepPolicyLatencyMs: 5 } });
    const summary = await runEpisode(config, { packageRoot });
    expect(summary.chunks.published).toBe(0);
    expect(summary.chunks.otherFailures).toBeGreaterThan(0);
    expect(summary.errors.length).toBeGreaterThan(0);
    expect(summary.safety.NonFinite).toBe(0);
    // Nothing arrived, so nothing moved: the pad never touched the table.
    expect(summary.task?.contactTimeS).toBe(0);
  });

  it("records an episode to MCAP that replays to the identical commands", async () => {
    const path = join(mkdtempSync(join(tmpdir(), "vla-episode-")), "run.mcap");
    const summary = await runEpisode(lockstep({ episode: { durationS: 4, seed: 6 }, observability: { recordPath: path } }), { packageRoot });
    expect(summary.recording?.path).toBe(path);
    expect(summary.recording?.droppedMessages).toBe(0);
    const result = await replay(path);
    expect(result.identical).toBe(true);
    expect(result.ticksReplayed).toBe(summary.loop.ticks);
    expect(result.chunksFed).toBe(summary.chunks.acceptedByFastLoop);
  });

  it("runs an ONNX VLA through real sessions: an untrained model's malformed chunks never move the arm", async () => {
    const summary = await runEpisode(lockstep({ episode: { durationS: 2, seed: 3 }, policy: { kind: "onnx-vla", modelDir: "models/tiny_vla" } }), { packageRoot });
    expect(summary.policy).toContain("onnx-vla");
    expect(summary.chunks.policyCalls).toBeGreaterThan(3);
    expect(summary.chunks.published).toBe(0);
    expect(summary.errors.every((e) => !e.includes("\n"))).toBe(true);
    expect(summary.task?.contactTimeS).toBe(0);
    expect(summary.safety.NonFinite).toBe(0);
  });

  it("runs the trained VLA looking through the synthesized camera: its chunks decode and drive the arm", async () => {
    const summary = await runEpisode(lockstep({ episode: { durationS: 4, seed: 1001 }, policy: { kind: "onnx-vla" } }), { packageRoot });
    expect(summary.policy).toContain("models/wipe_vla");
    expect(summary.chunks.policyCalls).toBeGreaterThan(15);
    expect(summary.chunks.published).toBeGreaterThan(summary.chunks.policyCalls / 2);
    expect(summary.safety.NonFinite).toBe(0);
  });

  it("composes the policy's chunks with the RDP encoder and decodes them with touch in the fast loop", async () => {
    const summary = await runEpisode(lockstep({ episode: { durationS: 10, seed: 1 }, reactive: { kind: "rdp" } }), { packageRoot });
    expect(summary.policy).toContain("+ rdp");
    expect(summary.reactive).toBe("rdp");
    expect(summary.chunks.published).toBeGreaterThan(20);
    expect(summary.chunks.decodeFailures).toBe(0);
    expect(summary.task?.contactTimeS).toBeGreaterThan(0.5);
    expect(summary.safety.NonFinite).toBe(0);
  });

  it("runs in real time with the fast loop in its worker thread", async () => {
    const workerUrl = await bundleSourceModule("runtime/fastWorker.ts", "fastWorker");
    const config = parseConfig({ policy: { kind: "scripted-expert" }, reactive: { kind: "compliance" }, control: { realtime: true }, episode: { durationS: 2, seed: 1 } });
    const summary = await runEpisode(config, { packageRoot, workerUrl, progressPeriodMs: 100 });
    expect(summary.mode).toBe("realtime");
    expect(summary.loop.ticks).toBeGreaterThan(500);
    expect(summary.chunks.published).toBeGreaterThan(3);
    expect(summary.chunks.decodeFailures).toBe(0);
    expect(summary.task).not.toBeNull();
    expect(summary.task?.elapsedS).toBeGreaterThan(1);
  });
});
