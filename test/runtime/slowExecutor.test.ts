import { describe, expect, it } from "vitest";
import { SharedRuntimeState } from "../../src/runtime/sharedState.js";
import { SlowExecutor, type Observation, type PolicyOutput, type SlowExecutorOptions, type SlowPolicy } from "../../src/runtime/slowExecutor.js";
import type { ActionChunk } from "../../src/runtime/types.js";

const layout = { dim: 3, tactileCount: 2, maxChunkSteps: 8, latentSize: 4 };

function stateWithSensors(timeNs = 7_000_000): SharedRuntimeState {
  const state = SharedRuntimeState.create(layout);
  const s = state.createSensorSnapshot();
  s.timeNs = timeNs;
  s.positions.set([0.1, 0.2, 0.3]);
  s.tactile.set([1, 2]);
  state.writeSensors(s);
  return state;
}

/** A policy double that answers from a script, one entry per call (functions may throw or never resolve). */
class ScriptedPolicy implements SlowPolicy {
  readonly name = "scripted";
  readonly seen: Observation[] = [];
  readonly signals: AbortSignal[] = [];
  constructor(private readonly script: Array<(obs: Observation, signal: AbortSignal) => Promise<PolicyOutput> | PolicyOutput>) {}
  async infer(obs: Observation, signal: AbortSignal): Promise<PolicyOutput> {
    this.seen.push(obs);
    this.signals.push(signal);
    const next = this.script[Math.min(this.seen.length - 1, this.script.length - 1)];
    return next(obs, signal);
  }
}

function actions(steps: number, dim: number, base = 0): PolicyOutput {
  return { kind: "actions", steps, dim, actions: new Float64Array(steps * dim).map((_, i) => base + i / 100) };
}

function executor(state: SharedRuntimeState, policy: SlowPolicy, extra: Partial<SlowExecutorOptions> = {}): SlowExecutor {
  return new SlowExecutor({
    state,
    policy,
    inputs: () => ({ instruction: "wipe the table" }),
    stepPeriodNs: 100e6,
    rateHz: 50,
    timeoutMs: 200,
    ...extra,
  });
}

function readChunk(state: SharedRuntimeState): ActionChunk {
  const c: ActionChunk = { actions: new Float64Array(layout.maxChunkSteps * layout.dim), steps: 0, dim: 0, stepPeriodNs: 0, observationTimeNs: 0, arrivalTimeNs: 0, sequence: 0 };
  expect(state.readChunk(c)).toBeGreaterThan(0);
  return c;
}

describe("SlowExecutor", () => {
  it("publishes a chunk stamped with the observation's time", async () => {
    const state = stateWithSensors(7_000_000);
    const policy = new ScriptedPolicy([() => actions(4, 3)]);
    let clock = 9_000_000;
    const slow = executor(state, policy, { nowNs: () => (clock += 1_000_000) });
    const outcome = await slow.runOnce();
    expect(outcome).toMatchObject({ ok: true, published: "chunk", sequence: 1 });
    const chunk = readChunk(state);
    expect(chunk.steps).toBe(4);
    expect(chunk.observationTimeNs).toBe(7_000_000); // the sensor sample's time, not the publish time
    expect(chunk.arrivalTimeNs).toBeGreaterThan(9_000_000);
    expect(chunk.stepPeriodNs).toBe(100e6);
    expect(chunk.actions[11]).toBeCloseTo(0.11, 12);
    // The policy saw the sensor slot plus the caller's instruction.
    expect([...policy.seen[0].positions]).toEqual([0.1, 0.2, 0.3]);
    expect([...policy.seen[0].tactile]).toEqual([1, 2]);
    expect(policy.seen[0].instruction).toBe("wipe the table");
    expect(slow.stats().chunksPublished).toBe(1);
  });

  it("decodes tokens and converts actions with the pluggable functions", async () => {
    const state = stateWithSensors();
    const policy = new ScriptedPolicy([() => ({ kind: "tokens", tokens: [3, 1, 2] })]);
    // Decoder: each token -> one 2-wide normalized step; converter: deltas on top of the observed position.
    const decoder = (tokens: readonly number[]) => Float64Array.from(tokens.flatMap((t) => [t / 10, -t / 10]));
    const convert = (a: Float64Array, steps: number, policyDim: number, obs: Observation) => {
      const out = new Float64Array(steps * 3);
      for (let s = 0; s < steps; s++) {
        out[3 * s] = obs.positions[0] + a[s * policyDim];
        out[3 * s + 1] = obs.positions[1] + a[s * policyDim + 1];
        out[3 * s + 2] = obs.positions[2];
      }
      return out;
    };
    const slow = executor(state, policy, { decoder, convert, policyDim: 2 });
    expect((await slow.runOnce()).ok).toBe(true);
    const chunk = readChunk(state);
    expect(chunk.steps).toBe(3);
    expect(Array.from(chunk.actions.subarray(0, 9)).map((v) => +v.toFixed(10))).toEqual([0.4, -0.1, 0.3, 0.2, 0.1, 0.3, 0.3, 0, 0.3]);
  });

  it("hands the next observation where the last published chunk puts the arm at its time (plannedPositions)", async () => {
    const state = stateWithSensors(7_000_000);
    // Steps 100 ms apart: [0, 0.01, 0.02], [0.03, 0.04, 0.05], ...
    const policy = new ScriptedPolicy([() => actions(4, 3), () => actions(4, 3), () => actions(4, 3)]);
    const slow = executor(state, policy);
    expect((await slow.runOnce()).ok).toBe(true);
    expect(policy.seen[0].plannedPositions).toBeUndefined();
    const write = (timeNs: number) => {
      const s = state.createSensorSnapshot();
      s.timeNs = timeNs;
      state.writeSensors(s);
    };
    write(7_000_000 + 150e6); // halfway between steps 1 and 2
    expect((await slow.runOnce()).ok).toBe(true);
    expect(Array.from(policy.seen[1].plannedPositions ?? []).map((v) => +v.toFixed(10))).toEqual([0.045, 0.055, 0.065]);
    write(7_000_000 + 150e6 + 900e6); // past the second chunk's last step: held there
    expect((await slow.runOnce()).ok).toBe(true);
    expect(Array.from(policy.seen[2].plannedPositions ?? []).map((v) => +v.toFixed(10))).toEqual([0.09, 0.1, 0.11]);
  });

  it("records a throwing policy as one line, publishes nothing and keeps going", async () => {
    const state = stateWithSensors();
    const errors: string[] = [];
    const policy = new ScriptedPolicy([
      () => {
        throw new Error("CUDA out of memory\n  at some frame\n  at another");
      },
      () => actions(2, 3),
    ]);
    const slow = executor(state, policy, { onError: (m) => errors.push(m) });
    const first = await slow.runOnce();
    expect(first).toMatchObject({ ok: false, kind: "threw" });
    expect(state.chunkVersion()).toBe(0);
    expect(errors).toEqual(['policy "scripted" threw: CUDA out of memory']);
    expect((await slow.runOnce()).ok).toBe(true);
    const stats = slow.stats();
    expect(stats.failures.threw).toBe(1);
    expect(stats.chunksPublished).toBe(1);
    expect(stats.consecutiveFailures).toBe(0);
    expect(stats.lastError).toBe('policy "scripted" threw: CUDA out of memory');
    // A policy whose infer throws synchronously (not a rejected promise) is handled the same way.
    const sync: SlowPolicy = {
      name: "sync",
      infer: () => {
        throw new TypeError("input tensor has shape [1, 3], expected [1, 7]");
      },
    };
    expect(await executor(state, sync).runOnce()).toMatchObject({ ok: false, kind: "threw", error: 'policy "sync" threw: input tensor has shape [1, 3], expected [1, 7]' });
  });

  it("abandons a hung call at the timeout and aborts its signal", async () => {
    const state = stateWithSensors();
    const policy = new ScriptedPolicy([() => new Promise<PolicyOutput>(() => {})]);
    const slow = executor(state, policy, { timeoutMs: 30 });
    const outcome = await slow.runOnce();
    expect(outcome).toEqual({ ok: false, kind: "timedOut", error: 'policy "scripted" timed out after 30 ms' });
    expect(policy.signals[0].aborted).toBe(true);
    expect(state.chunkVersion()).toBe(0);
  });

  it("counts a synchronous policy that overran the timeout as timed out", async () => {
    const state = stateWithSensors();
    const policy = new ScriptedPolicy([
      () => {
        const until = Date.now() + 40;
        while (Date.now() < until); // blocks the event loop: the timer cannot fire in time
        return actions(2, 3);
      },
    ]);
    const outcome = await executor(state, policy, { timeoutMs: 10 }).runOnce();
    expect(outcome).toMatchObject({ ok: false, kind: "timedOut" });
    expect(state.chunkVersion()).toBe(0);
  });

  it("rejects malformed outputs with a message saying what was expected", async () => {
    const cases: Array<[PolicyOutput | unknown, RegExp]> = [
      [null, /expected an object with a kind, got null/],
      [{ kind: "text", text: "hi" }, /expected kind "tokens", "actions" or "latent", got "text"/],
      [{ kind: "actions", steps: 2, dim: 3, actions: [1, 2, 3, 4, 5, 6] }, /expected actions to be a Float64Array, got an array of 6/],
      [{ kind: "actions", steps: 2, dim: 3, actions: new Float64Array(5) }, /expected steps x 3 actions, got steps=2 dim=3 with 5 values/],
      [{ kind: "actions", steps: 1, dim: 3, actions: Float64Array.from([0, NaN, 0]) }, /non-finite action value/],
      [actions(9, 3), /returned 9 steps, more than the 8 the chunk slot holds/],
      [{ kind: "latent", latent: new Float32Array(5) }, /expected a latent of 1\.\.4 values, got 5/],
      [{ kind: "tokens", tokens: "abc" }, /expected tokens to be an array of ids, got string/],
    ];
    const state = stateWithSensors();
    for (const [output, message] of cases) {
      const slow = executor(state, new ScriptedPolicy([() => output as PolicyOutput]), { decoder: () => new Float64Array(3) });
      const outcome = await slow.runOnce();
      expect(outcome.ok).toBe(false);
      if (!outcome.ok) {
        expect(outcome.error).toMatch(message);
        expect(outcome.error).not.toContain("\n");
      }
    }
    expect(state.chunkVersion()).toBe(0);
    expect(state.latentVersion()).toBe(0);
  });

  it("reports decoder errors (returned or thrown) and a missing decoder", async () => {
    const state = stateWithSensors();
    const tokens = new ScriptedPolicy([() => ({ kind: "tokens", tokens: [1, 2, 3] })]);
    const returned = await executor(state, tokens, { decoder: () => new Error("expected 70 coefficients, got 68") }).runOnce();
    expect(returned).toMatchObject({ ok: false, kind: "decode", error: 'decoding 3 tokens of policy "scripted" failed: expected 70 coefficients, got 68' });
    const thrown = await executor(state, tokens, {
      decoder: () => {
        throw new RangeError("bad id 99999");
      },
    }).runOnce();
    expect(thrown).toMatchObject({ ok: false, kind: "decode" });
    const wrongWidth = await executor(state, tokens, { decoder: () => new Float64Array(4) }).runOnce();
    expect(wrongWidth).toMatchObject({ ok: false, kind: "decode" });
    const missing = await executor(state, tokens).runOnce();
    expect(missing).toMatchObject({ ok: false, kind: "decode", error: 'policy "scripted" returned tokens but no chunk decoder is configured' });
    expect(state.chunkVersion()).toBe(0);
  });

  it("publishes a latent to the latent slot", async () => {
    const state = stateWithSensors(123);
    const slow = executor(state, new ScriptedPolicy([() => ({ kind: "latent", latent: Float32Array.from([0.5, -1]) })]));
    expect(await slow.runOnce()).toMatchObject({ ok: true, published: "latent" });
    const latent = state.createLatentSample();
    expect(state.readLatent(latent)).toBeGreaterThan(0);
    expect([latent.length, latent.latent[0], latent.latent[1], latent.observationTimeNs]).toEqual([2, 0.5, -1, 123]);
    expect(state.chunkVersion()).toBe(0);
  });

  it("waits for the first sensor sample", async () => {
    const state = SharedRuntimeState.create(layout);
    const policy = new ScriptedPolicy([() => actions(1, 3)]);
    const outcome = await executor(state, policy).runOnce();
    expect(outcome).toMatchObject({ ok: false, kind: "noSensors" });
    expect(policy.seen).toHaveLength(0);
  });

  it("runs rounds in a loop through failures until stopped", async () => {
    const state = stateWithSensors();
    let calls = 0;
    const policy: SlowPolicy = {
      name: "flaky",
      async infer() {
        calls++;
        if (calls % 2 === 0) throw new Error("flake");
        return actions(2, 3, calls);
      },
    };
    const slow = executor(state, policy, { rateHz: 200 });
    slow.start();
    expect(slow.isRunning).toBe(true);
    while (calls < 6) await new Promise((r) => setTimeout(r, 2));
    await slow.stop();
    expect(slow.isRunning).toBe(false);
    const stats = slow.stats();
    expect(stats.failures.threw).toBeGreaterThanOrEqual(3);
    expect(stats.chunksPublished).toBeGreaterThanOrEqual(3);
    const callsAtStop = calls;
    await new Promise((r) => setTimeout(r, 30));
    expect(calls).toBe(callsAtStop);
  });

  it("stop() aborts a call in flight", async () => {
    const state = stateWithSensors();
    let signal: AbortSignal | null = null;
    const policy: SlowPolicy = {
      name: "slow",
      infer: (_obs, s) =>
        new Promise((_resolve, reject) => {
          signal = s;
          s.addEventListener("abort", () => reject(s.reason));
        }),
    };
    const slow = executor(state, policy, { timeoutMs: 10_000 });
    slow.start();
    while (signal === null) await new Promise((r) => setTimeout(r, 1));
    await slow.stop();
    expect((signal as AbortSignal | null)?.aborted).toBe(true);
  });

  it("rejects bad options with a one-line error", () => {
    const state = stateWithSensors();
    const policy = new ScriptedPolicy([() => actions(1, 3)]);
    expect(() => executor(state, policy, { rateHz: 0 })).toThrow(/expected a positive finite rateHz, got 0/);
    expect(() => executor(state, policy, { policyDim: 7 })).toThrow(/expected a convert function when policyDim \(7\) differs from the command dim \(3\)/);
  });
});
