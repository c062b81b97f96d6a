// The endpoint over real ZeroMQ sockets on loopback: CURVE + ZAP authentication, replies, the state stream,
// malformed input, floods, and a client that vanishes mid-takeover.
import { Context, Dealer, Subscriber } from "zeromq";
import { afterEach, describe, expect, it } from "vitest";
import { generateCurveKeyPair } from "../../../src/transports/teleop/keys.js";
import type { InterventionEvent, TeleopReply, TeleopStateMessage } from "../../../src/transports/teleop/protocol.js";
import { DIM, READY, startRig, waitFor, type TestRig } from "./helpers.js";

let rig: TestRig | null = null;
afterEach(async () => {
  await rig?.close();
  rig = null;
});

/** A raw DEALER with the operator's keys: sends arbitrary frames, collects replies. */
async function rawDealer(r: TestRig) {
  const context = new Context();
  const dealer = new Dealer({
    context,
    linger: 0,
    curveServerKey: r.serverKeys.publicKey,
    curvePublicKey: r.operatorKeys.publicKey,
    curveSecretKey: r.operatorKeys.secretKey,
  });
  dealer.connect(r.endpoint.addresses.command);
  const replies: TeleopReply[] = [];
  void (async () => {
    try {
      for await (const [frame] of dealer) replies.push(JSON.parse(frame.toString()) as TeleopReply);
    } catch {
      // closed
    }
  })();
  return { dealer, replies };
}

describe("TeleopEndpoint over ZeroMQ", () => {
  it("serves an allow-listed client: welcome, takeover, motion into the shared slot, state stream, hand-back, events", async () => {
    rig = await startRig();
    const events: InterventionEvent[] = [];
    rig.endpoint.onIntervention((e) => events.push(e));
    const states: TeleopStateMessage[] = [];
    const streamed: InterventionEvent[] = [];
    const client = await rig.connect(undefined, { onState: (s) => states.push(s), onEvent: (e) => streamed.push(e) });
    const welcome = await client.hello("quest");
    expect(welcome).toMatchObject({ type: "welcome", protocol: 1, client: "quest", mode: "observe", stateRateHz: 100 });
    expect(welcome.arm.joints).toHaveLength(DIM - 1);
    expect(await client.takeover()).toMatchObject({ type: "ack", mode: "takeover", owner: "quest" });
    client.joints([0.1, 0.4, 0.8, 1.9, 0, 0.1], 0.03);
    await waitFor(() => rig!.endpoint.controller.targetSequence === 1, 3000, "the joint target");
    const slot = rig.state.createTeleopTarget();
    rig.state.readTeleop(slot);
    expect(slot).toMatchObject({ mode: "takeover", hasTarget: true });
    expect(Array.from(slot.positions)).toEqual([0.1, 0.4, 0.8, 1.9, 0, 0.1, 0.03]);
    await waitFor(() => states.some((s) => s.mode === "takeover"), 3000, "a state sample in takeover");
    const s = states.find((x) => x.mode === "takeover")!;
    expect(s).toMatchObject({ owner: "quest", emergencyStop: false });
    expect(s.joints!.positions).toEqual(Array.from(READY));
    expect(s.wrench).toEqual([0.5, -0.25, 9, 0, 0.01, 0]);
    expect(s.tactile).toEqual([1.5, 1.5, 1.5, 1.5]);
    expect(s.tool!.quaternion).toHaveLength(4);
    expect(await client.handBack()).toMatchObject({ mode: "observe", owner: null });
    expect(events.map((e) => e.kind)).toEqual(["takeover", "hand-back"]);
    expect(events[1].timeNs).toBeGreaterThan(events[0].timeNs);
    await waitFor(() => streamed.length === 2, 3000, "the events on the stream");
    expect(streamed.map((e) => e.kind)).toEqual(["takeover", "hand-back"]);
    expect(rig.endpoint.stats().auth.refused).toBe(0);
  });

  it("refuses clients whose key is not on the allow-list, and clients without CURVE; nothing reaches the arm", async () => {
    rig = await startRig();
    const intruderKeys = generateCurveKeyPair();
    const states: TeleopStateMessage[] = [];
    const intruder = await rig.connect(intruderKeys, { onState: (s) => states.push(s), requestTimeoutMs: 600 });
    await expect(intruder.takeover()).rejects.toThrow(/refused this client's key/);
    expect(intruder.authenticationError).toBe("Authentication failure");
    intruder.joints([0, 0, 0, 0, 0, 0]);
    // A client without any security (NULL mechanism) cannot even complete the handshake.
    const plain = new Dealer({ linger: 0 });
    plain.connect(rig.endpoint.addresses.command);
    await plain.send(JSON.stringify({ type: "takeover" }));
    const plainSub = new Subscriber({ linger: 0 });
    plainSub.subscribe();
    plainSub.connect(rig.endpoint.addresses.state);
    let plainGot = 0;
    void (async () => {
      try {
        for await (const _ of plainSub) plainGot++;
      } catch {
        // closed
      }
    })();
    await new Promise((r) => setTimeout(r, 300));
    plain.close();
    plainSub.close();
    const stats = rig.endpoint.stats();
    expect(stats.auth.refused).toBeGreaterThanOrEqual(2); // the intruder's command and state sockets
    expect(stats.auth.recentRefusals[0].detail).toMatch(/^client key .{8}\.\.\. is not on the allow-list$/);
    expect(stats.received).toBe(0);
    expect(rig.state.teleopVersion()).toBe(0); // the teleop slot was never written
    expect(states).toHaveLength(0);
    expect(plainGot).toBe(0);
    // The allowed operator still gets in.
    const op = await rig.connect();
    expect(await op.takeover()).toMatchObject({ mode: "takeover" });
  });

  it("opens a read-only state stream without authentication only when configured", async () => {
    rig = await startRig({ readOnlyStateAddress: "tcp://127.0.0.1:*" });
    const open = rig.endpoint.addresses.readOnlyState;
    expect(open).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/);
    const sub = new Subscriber({ linger: 0 });
    sub.subscribe("state");
    sub.connect(open!);
    const [topic, body] = await sub.receive();
    sub.close();
    expect(topic.toString()).toBe("state");
    expect((JSON.parse(body.toString()) as TeleopStateMessage).joints!.positions).toEqual(Array.from(READY));
    await rig.close();
    rig = await startRig();
    expect(rig.endpoint.addresses.readOnlyState).toBeNull();
  });

  it("rejects malformed messages with a reason the client receives, counts them, and keeps serving", async () => {
    rig = await startRig();
    const { dealer, replies } = await rawDealer(rig);
    await dealer.send("not json");
    await dealer.send(JSON.stringify([1, 2, 3]));
    await dealer.send(JSON.stringify({ type: "warp", seq: 11 }));
    await dealer.send(JSON.stringify({ type: "pose", seq: 12, position: [0, 0], quaternion: [1, 0, 0, 0] }));
    await dealer.send(["{}", "second frame"]);
    await dealer.send("x".repeat(20_000));
    await dealer.send(JSON.stringify({ type: "jog", seq: 13, joint: 0, delta: 0.1 })); // valid, but no takeover
    await dealer.send(JSON.stringify({ type: "ping", seq: 14 }));
    await waitFor(() => replies.length === 8, 3000, "8 replies");
    dealer.close();
    const errors = replies.filter((r) => r.type === "error");
    expect(errors.map((r) => r.code)).toEqual(["json", "not-object", "unknown-type", "schema", "frames", "too-large", "not-in-takeover"]);
    expect(errors.find((r) => r.code === "unknown-type")!.seq).toBe(11);
    expect(errors.find((r) => r.code === "schema")).toMatchObject({ seq: 12, reason: expect.stringMatching(/^pose: position: /) });
    expect(replies.at(-1)).toMatchObject({ type: "pong", seq: 14 });
    const rejected = rig.endpoint.stats().controller.rejected;
    expect(rejected).toMatchObject({ json: 1, "not-object": 1, "unknown-type": 1, schema: 1, frames: 1, "too-large": 1, "not-in-takeover": 1 });
  });

  it("takes a flood with bounded buffering: batches are capped, older targets are superseded, the newest wins", async () => {
    rig = await startRig({ maxBatch: 64 });
    const client = await rig.connect();
    await client.takeover();
    // sendRaw bypasses the client's own newest-wins coalescing: every message goes out.
    const N = 5000;
    const heapBefore = process.memoryUsage().heapUsed;
    const target = (i: number) => [0.1 + i * 1e-5, 0.4, 0.8, 1.9, 0, 0.1];
    for (let i = 1; i <= N; i++) await client.sendRaw([JSON.stringify({ type: "joints", seq: i, positions: target(i) })]);
    await waitFor(() => rig!.endpoint.stats().received === N + 1, 10_000, "every flooded message");
    const stats = rig.endpoint.stats();
    expect(stats.largestBatch).toBeLessThanOrEqual(64);
    expect(stats.superseded + stats.controller.targetsWritten).toBe(N);
    expect(stats.controller.rejected.schema).toBe(0);
    // The newest target won.
    const slot = rig.state.createTeleopTarget();
    rig.state.readTeleop(slot);
    expect(slot.targetSequence).toBe(stats.controller.targetsWritten);
    expect(Array.from(slot.positions.subarray(0, 6))).toEqual(target(N));
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(64 * 1024 * 1024);
  });

  it("applies every jog of a burst, in order (increments are never superseded)", async () => {
    rig = await startRig();
    const client = await rig.connect();
    await client.takeover();
    for (let i = 0; i < 200; i++) await client.sendRaw([JSON.stringify({ type: "jog", joint: 1, delta: 0.001 })]);
    await waitFor(() => rig!.endpoint.stats().received === 201, 5000, "the jogs");
    const slot = rig.state.createTeleopTarget();
    rig.state.readTeleop(slot);
    expect(rig.endpoint.stats().superseded).toBe(0);
    expect(slot.positions[1]).toBeCloseTo(READY[1] + 0.2, 9);
  });

  it("holds when the owner vanishes mid-takeover (still in takeover), then times out to the policy", async () => {
    rig = await startRig({ watchdogMs: 80, takeoverTimeoutMs: 400 });
    const events: InterventionEvent[] = [];
    rig.endpoint.onIntervention((e) => events.push(e));
    const first = await rig.connect();
    await first.hello("first");
    await first.takeover();
    first.jog(0, 0.05);
    await waitFor(() => rig!.endpoint.controller.targetSequence === 1, 3000, "the first target");
    await first.close(); // vanishes without handing back
    await waitFor(() => events.some((e) => e.kind === "watchdog-hold"), 3000, "the watchdog hold");
    const slot = rig.state.createTeleopTarget();
    rig.state.readTeleop(slot);
    expect(slot.mode).toBe("takeover"); // still in takeover: the fast loop holds (stale target)
    expect(rig.endpoint.controller.owner?.name).toBe("first");
    await waitFor(() => events.some((e) => e.kind === "hand-back"), 3000, "the timeout hand-back");
    expect(events.find((e) => e.kind === "hand-back")).toMatchObject({ client: "runtime", reason: "timeout: no message from first for 400 ms" });
    rig.state.readTeleop(slot);
    expect(slot.mode).toBe("observe");
    const kinds = events.map((e) => e.kind);
    expect(kinds.indexOf("watchdog-hold")).toBeLessThan(kinds.indexOf("hand-back"));
  });
});
