// The reference servers in src/policy/remote serving real policies, end to end over loopback sockets.
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { commandDim } from "../../../src/kinematics/description.js";
import { ArmKinematics } from "../../../src/kinematics/kinematics.js";
import { actionConverter, fastDecoder } from "../../../src/policy/chunkCodec.js";
import { RemotePolicyError } from "../../../src/policy/remote/errors.js";
import { createRemotePolicy } from "../../../src/policy/remote/index.js";
import { OpenpiPolicyClient } from "../../../src/policy/remote/openpiClient.js";
import { OpenpiPolicyServer } from "../../../src/policy/remote/openpiServer.js";
import { ZmqPolicyServer } from "../../../src/policy/remote/zmqServer.js";
import { SharedRuntimeState } from "../../../src/runtime/sharedState.js";
import { SlowExecutor, type Observation, type PolicyOutput, type SlowPolicy } from "../../../src/runtime/slowExecutor.js";
import type { ActionChunk } from "../../../src/runtime/types.js";
import { BUNDLED_POLICY, loadBundledExpertModel, ScriptedExpertPolicy } from "../../../src/sim/expertPolicy.js";
import { publicSpec, sampleWipeTask } from "../../../src/sim/task.js";
import { bundledArm, padDownIk } from "../../sim/helpers.js";

const never = new AbortController().signal;
const packageRoot = fileURLToPath(new URL("../../../", import.meta.url));
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

function observation(): Observation {
  return {
    timeNs: 42,
    positions: Float64Array.from([0.5, -0.25, 0.125, 0.75, 0, 1, 0.03125]),
    velocities: new Float64Array(7),
    wrench: new Float64Array(6),
    tactile: new Float64Array(2),
    image: { width: 2, height: 2, channels: 3, data: Uint8Array.from({ length: 12 }, (_, i) => i * 20), timeNs: 40 },
    instruction: "wipe",
  };
}

class RecordingPolicy implements SlowPolicy {
  readonly name = "recording";
  readonly seen: Observation[] = [];
  constructor(private readonly answer: (obs: Observation) => PolicyOutput) {}
  async infer(obs: Observation): Promise<PolicyOutput> {
    this.seen.push(obs);
    return this.answer(obs);
  }
}

/** Three steps that add 1/4, 2/4, 3/4 to the positions (exact in float32). */
const stepsAhead = (obs: Observation): PolicyOutput => {
  const dim = obs.positions.length;
  const actions = new Float64Array(3 * dim);
  for (let t = 0; t < 3; t++) for (let d = 0; d < dim; d++) actions[t * dim + d] = obs.positions[d] + (t + 1) / 4;
  return { kind: "actions", actions, steps: 3, dim };
};

describe("OpenpiPolicyServer", () => {
  for (const keys of ["libero", "droid"] as const) {
    it(`serves a policy to OpenpiPolicyClient with the ${keys} keys`, async () => {
      const policy = new RecordingPolicy(stepsAhead);
      const server = new OpenpiPolicyServer({ policy, port: 0, keys, metadata: { policy: "recording", horizon: 3 } });
      const port = await server.start();
      cleanups.push(() => server.close());
      const c = new OpenpiPolicyClient({ url: `ws://127.0.0.1:${port}`, keys, actionDim: 7 });
      cleanups.push(() => c.close());
      const output = await c.infer(observation(), never);
      expect(output).toEqual(stepsAhead(observation()));
      expect(c.metadata).toEqual({ policy: "recording", horizon: 3 });
      expect(Array.from(policy.seen[0].positions)).toEqual(Array.from(observation().positions));
      expect(Array.from(policy.seen[0].image!.data)).toEqual(Array.from(observation().image!.data));
      expect(policy.seen[0].instruction).toBe("wipe");
      await c.infer(observation(), never);
      expect(c.lastTiming!.serverPrevTotalMs).toBeGreaterThan(0);
    });
  }

  it("reports a policy failure as openpi does (text frame, then close) and serves the next connection", async () => {
    let calls = 0;
    const policy = new RecordingPolicy((obs) => {
      if (++calls === 1) throw new Error("checkpoint missing");
      return stepsAhead(obs);
    });
    const server = new OpenpiPolicyServer({ policy, port: 0 });
    const port = await server.start();
    cleanups.push(() => server.close());
    const c = new OpenpiPolicyClient({ url: `ws://127.0.0.1:${port}` });
    cleanups.push(() => c.close());
    const error = await c.infer(observation(), never).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RemotePolicyError);
    expect(error).toMatchObject({ kind: "server", message: expect.stringMatching(/server error: Error in policy server: checkpoint missing$/) });
    expect((await c.infer(observation(), never)).kind).toBe("actions");
    expect(server.stats()).toEqual({ served: 1, failed: 1 });
  });
});

describe("the scripted expert as a remote policy", () => {
  it("over ZeroMQ, its FAST tokens give the slow executor exactly the chunks the local expert gives", async () => {
    const arm = bundledArm();
    const task = sampleWipeTask(4);
    const model = loadBundledExpertModel(packageRoot);
    const dim = commandDim(arm);
    const server = new ZmqPolicyServer({ endpoint: "tcp://127.0.0.1:0", policy: new ScriptedExpertPolicy(arm, publicSpec(task), model, 4), stepPeriodS: BUNDLED_POLICY.stepPeriodS, tokenizer: "fast" });
    const endpoint = await server.start();
    cleanups.push(() => server.close());
    const remote = createRemotePolicy({ kind: "zmq", endpoint, timeoutMs: 2000, tokenizer: "fast", includeImage: false });
    cleanups.push(() => remote.close());
    const local = new ScriptedExpertPolicy(arm, publicSpec(task), model, 4);

    const run = (policy: SlowPolicy) => {
      const state = SharedRuntimeState.create({ dim, tactileCount: 4, maxChunkSteps: 64, latentSize: 0 });
      const executor = new SlowExecutor({
        state,
        policy,
        inputs: () => ({ instruction: "wipe the marked area" }),
        decoder: fastDecoder(model.tokenizer, BUNDLED_POLICY.chunkSteps, dim),
        convert: actionConverter(model.stats, "joint-delta", new ArmKinematics(arm)),
        stepPeriodNs: BUNDLED_POLICY.stepPeriodS * 1e9,
        rateHz: 5,
        timeoutMs: 2000,
      });
      return { state, executor };
    };
    const a = run(local);
    const b = run(remote);
    const pose = [...padDownIk(arm, 0.45, 0.05, 0.25), 0.02];
    const chunkA: ActionChunk = { actions: new Float64Array(64 * dim), steps: 0, dim: 0, stepPeriodNs: 0, observationTimeNs: 0, arrivalTimeNs: 0, sequence: 0 };
    const chunkB: ActionChunk = { ...chunkA, actions: new Float64Array(64 * dim) };
    for (let round = 0; round < 3; round++) {
      for (const { state } of [a, b]) {
        const s = state.createSensorSnapshot();
        s.timeNs = 1e9 + round * 2e8;
        s.positions.set(pose.map((q, i) => q + 0.01 * round * (i % 2)));
        state.writeSensors(s);
      }
      expect(await a.executor.runOnce()).toMatchObject({ ok: true, published: "chunk" });
      expect(await b.executor.runOnce()).toMatchObject({ ok: true, published: "chunk" });
      a.state.readChunk(chunkA);
      b.state.readChunk(chunkB);
      expect(chunkB.steps).toBe(BUNDLED_POLICY.chunkSteps);
      expect(Array.from(chunkB.actions.subarray(0, chunkB.steps * dim))).toEqual(Array.from(chunkA.actions.subarray(0, chunkA.steps * dim)));
    }
  });
});
