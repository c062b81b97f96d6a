// Our gz-transport node against Debian's ignition-transport 11 (the Fortress line, wire version 10 as in
// transport 8-15): C++ peers built here against the library, and the library's own topic tool. Runs on
// loopback in a partition of its own. Skipped, with the reason, where the Debian packages are missing.
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { DoubleEncoder, JointStateDecoder } from "../../../src/transports/gz/messages.js";
import { GzNode } from "../../../src/transports/gz/node.js";
import { buildPeer, isolatedEnv, PeerProcess, primeUntil, TOPIC_TOOL, transportUnavailableReason, until } from "./helpers.js";

const PRIMER = -12345.5;
const dataOf = (p: PeerProcess) => p.json.filter((j) => "data" in j && j.data !== PRIMER);

const unavailable = transportUnavailableReason();
if (unavailable) console.warn(`gz interop tests skipped: ${unavailable}`);

describe.skipIf(unavailable !== null)("gz-transport interop with ignition-transport 11", () => {
  let peer = "";
  const cleanup: Array<() => Promise<unknown> | void> = [];
  beforeAll(() => {
    peer = buildPeer();
  }, 120_000);
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  async function node(env: NodeJS.ProcessEnv, errors: string[] = []): Promise<GzNode> {
    const n = await GzNode.create({ env, onError: (e) => errors.push(e) });
    cleanup.push(() => n.close());
    return n;
  }
  function start(args: string[], env: NodeJS.ProcessEnv, command = peer): PeerProcess {
    const p = PeerProcess.start(command, args, env);
    cleanup.push(() => {
      p.kill();
      return p.exit();
    });
    return p;
  }

  it("sends nothing until the real subscriber registers, then delivers every value in order (Fortress type names)", async () => {
    const { env } = isolatedEnv();
    const ours = await node(env);
    const pub = ours.advertise("/arm/cmd", "ignition.msgs.Double");
    const enc = new DoubleEncoder();
    expect(pub.publish(enc.encode(99))).toBe(false); // nobody registered yet
    expect(ours.stats().publishedWithoutSubscribers).toBe(1);

    const sub = start(["sub", "/arm/cmd", "ignition.msgs.Double", "100000", "10000"], env);
    await sub.ready();
    expect(await until(() => pub.hasConnections(), 5000)).toBe(true);
    await primeUntil(() => pub.publish(enc.encode(PRIMER)), () => sub.json.length > 0);
    const values = [0.5, -1.25, 3, 1e-9, -0];
    for (const v of values) pub.publish(enc.encode(v));
    expect(await until(() => dataOf(sub).length >= values.length, 5000)).toBe(true);
    const got = dataOf(sub);
    expect(got.map((j) => j.data)).toEqual(values); // bit for bit, -0 included
    expect(got.every((j) => j.type === "ignition.msgs.Double" && j.topic === "/arm/cmd" && j.bytes === 9)).toBe(true);
  });

  it("sends a burst of 600 messages in one event-loop turn without refusing any", async () => {
    const { env } = isolatedEnv();
    const ours = await node(env);
    const pub = ours.advertise("/burst", "ignition.msgs.Double");
    const sub = start(["sub", "/burst", "ignition.msgs.Double", "100000", "15000"], env);
    await sub.ready();
    expect(await until(() => pub.hasConnections(), 5000)).toBe(true);
    const enc = new DoubleEncoder();
    await primeUntil(() => pub.publish(enc.encode(PRIMER)), () => sub.json.length > 0);
    for (let i = 0; i < 600; i++) expect(pub.publish(enc.encode(i))).toBe(true);
    await until(() => dataOf(sub).length >= 600, 10_000);
    const got = dataOf(sub).map((j) => j.data);
    expect(got).toEqual(Array.from({ length: 600 }, (_, i) => i));
    expect(ours.stats().sendErrors).toBe(0);
  });

  it("connects gz.msgs.* only to gz.msgs.* and never across type names", async () => {
    const { env } = isolatedEnv();
    const errors: string[] = [];
    const ours = await node(env, errors);
    const matching = ours.advertise("/g", "gz.msgs.Double");
    const mismatched = ours.advertise("/i", "gz.msgs.Double");
    const subG = start(["sub", "/g", "gz.msgs.Double", "100000", "10000"], env);
    const subI = start(["sub", "/i", "ignition.msgs.Double", "1", "3000"], env);
    await Promise.all([subG.ready(), subI.ready()]);
    expect(await until(() => matching.hasConnections(), 5000)).toBe(true);
    const enc = new DoubleEncoder();
    await primeUntil(() => matching.publish(enc.encode(PRIMER)), () => subG.json.length > 0);
    await new Promise((r) => setTimeout(r, 1200)); // a heartbeat's worth for the mismatched one to (not) register
    for (const v of [1, 2, 3]) {
      matching.publish(enc.encode(v));
      mismatched.publish(enc.encode(v));
    }
    await until(() => dataOf(subG).length >= 3, 5000);
    await subI.waitFor((l) => l.includes('"done"'), 8000);
    expect(dataOf(subG).map((j) => j.data)).toEqual([1, 2, 3]);
    expect(subI.json.filter((j) => "data" in j)).toEqual([]);
    expect(mismatched.hasConnections()).toBe(false);
    expect(mismatched.skipped).toBe(3);
  });

  it("receives a real publisher's joint states, and reports a publisher of the wrong type instead of connecting", async () => {
    const { env } = isolatedEnv();
    const errors: string[] = [];
    const ours = await node(env, errors);
    const decoder = new JointStateDecoder(["wrist_1", "shoulder_pan"]);
    let received = 0;
    ours.subscribe("/world/w/model/m/joint_state", "ignition.msgs.Model", (payload) => {
      decoder.decode(payload);
      received++;
    });
    let wrongTypeReceived = 0;
    ours.subscribe("/other", "gz.msgs.Model", () => wrongTypeReceived++);
    start(["pub", "model", "/world/w/model/m/joint_state", "ignition.msgs.Model", "200", "4000", "name=m", "joints=shoulder_pan,elbow,wrist_1", "positions=0.25,-1,1.5", "velocities=0.1,0.2,0.3", "efforts=4,5,6"], env);
    start(["pub", "model", "/other", "ignition.msgs.Model", "200", "4000", "name=m", "joints=a", "positions=1"], env);
    // Both peers start together; wait for the joint states and for the other peer's advertisement.
    expect(await until(() => received >= 20 && ours.stats().publisherTypeMismatch > 0, 6000)).toBe(true);
    expect(Array.from(decoder.positions)).toEqual([1.5, 0.25]);
    expect(Array.from(decoder.velocities)).toEqual([0.3, 0.1]);
    expect(Array.from(decoder.efforts)).toEqual([6, 4]);
    expect(decoder.stampS).toBeGreaterThan(0);
    expect(wrongTypeReceived).toBe(0);
    expect(ours.stats().publisherTypeMismatch).toBeGreaterThan(0);
    expect(errors.some((e) => /has type ignition\.msgs\.Model, expected gz\.msgs\.Model/.test(e))).toBe(true);
  });

  it("shows our topics, address and type in the library's own topic tool, and not in another partition", async () => {
    const { env, partition } = isolatedEnv();
    const ours = await node(env);
    ours.advertise("/vla/cmd_a", "ignition.msgs.Double");
    ours.advertise("/vla/cmd_b", "gz.msgs.Double");
    // The tools run concurrently (a synchronous spawn would stop our heartbeats while they listen).
    const list = start(["-l"], env, TOPIC_TOOL);
    const info = start(["-i", "-t", "/vla/cmd_a"], env, TOPIC_TOOL);
    const elsewhere = start(["-l"], { ...env, IGN_PARTITION: `${partition}_other` }, TOPIC_TOOL);
    await Promise.all([list.exit(10_000), info.exit(10_000), elsewhere.exit(10_000)]);
    expect(list.lines).toEqual(expect.arrayContaining(["/vla/cmd_a", "/vla/cmd_b"]));
    expect(info.lines.map((l) => l.trim())).toContain(`${ours.address}, ignition.msgs.Double`);
    expect(elsewhere.lines).not.toContain("/vla/cmd_a");
  });

  it("is echoed by the library's topic tool, which decodes our bytes with the real message class", async () => {
    const { env } = isolatedEnv();
    const ours = await node(env);
    const pub = ours.advertise("/vla/echo", "ignition.msgs.Double");
    const echo = start(["-e", "-t", "/vla/echo", "-n", "3"], env, TOPIC_TOOL);
    expect(await until(() => pub.hasConnections(), 5000)).toBe(true);
    const enc = new DoubleEncoder();
    const timer = setInterval(() => pub.publish(enc.encode(2.75)), 20);
    try {
      await echo.exit(8000);
    } finally {
      clearInterval(timer);
    }
    expect(echo.lines.filter((l) => l.trim() === "data: 2.75").length).toBe(3);
  });

  it("sees a real peer's topic come and go (ADVERTISE, then UNADVERTISE and BYE when it exits)", async () => {
    const { env } = isolatedEnv();
    const ours = await node(env);
    const p = start(["pub", "double", "/short_lived", "ignition.msgs.Double", "50", "1500", "value=1"], env);
    await p.ready();
    expect(await until(() => ours.remoteTopics().includes("/short_lived"), 3000)).toBe(true);
    await p.exit(5000);
    expect(await until(() => !ours.remoteTopics().includes("/short_lived"), 3000)).toBe(true);
    const s = ours.stats().discovery;
    expect(s.byType.ADVERTISE).toBeGreaterThan(0);
    expect((s.byType.BYE ?? 0) + (s.byType.UNADVERTISE ?? 0)).toBeGreaterThan(0);
    expect(s.malformed + s.badLength + s.wrongVersion).toBe(0);
  });
});
