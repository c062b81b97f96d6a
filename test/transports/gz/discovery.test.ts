// Discovery state machine, fed datagrams directly (no sockets): tables, scopes, silence, BYE, registrations,
// and counters for everything it refuses.
import { describe, expect, it } from "vitest";
import { Discovery, type DiscoveryListener } from "../../../src/transports/gz/discovery.js";
import {
  DiscoveryType,
  encodeDiscovery,
  frameDiscoveryDatagram,
  Scope,
  type DiscoveryMessage,
  type PublisherInfo,
  type ScopeValue,
} from "../../../src/transports/gz/discoveryMessage.js";

const ME = "me-uuid";

class Recorder implements DiscoveryListener {
  events: string[] = [];
  onPublisherAdded(p: PublisherInfo) {
    this.events.push(`+pub ${p.topic} ${p.processUuid}`);
  }
  onPublisherRemoved(p: PublisherInfo) {
    this.events.push(`-pub ${p.topic} ${p.processUuid}`);
  }
  onRemoteSubscriberAdded(p: PublisherInfo) {
    this.events.push(`+sub ${p.topic} ${p.processUuid}/${p.nodeUuid}`);
  }
  onRemoteSubscriberRemoved(p: PublisherInfo) {
    this.events.push(`-sub ${p.topic} ${p.processUuid}/${p.nodeUuid}`);
  }
  onProcessGone(uuid: string, reason: string) {
    this.events.push(`gone ${uuid} ${reason}`);
  }
}

function setup(options: { maxPublishers?: number; maxProcesses?: number } = {}) {
  let now = 0;
  const listener = new Recorder();
  const errors: string[] = [];
  const d = new Discovery({
    processUuid: ME,
    hostAddress: "10.0.0.5",
    interfaces: ["10.0.0.5"],
    listener,
    nowMs: () => now,
    onError: (e) => errors.push(e),
    ...options,
  });
  return { d, listener, errors, advance: (ms: number) => (now += ms), tick: () => (d as unknown as { tick(): void }).tick() };
}

function pub(proc: string, topic: string, scope: ScopeValue = Scope.All, type = "gz.msgs.Double", ctrl = "unused"): PublisherInfo {
  return { topic, address: `tcp://10.0.0.9:4000`, processUuid: proc, nodeUuid: `${proc}-node`, scope, msgPub: { ctrl, msgType: type, throttled: false, msgsPerSec: 2 ** 64 - 1 } };
}

function datagram(m: Partial<DiscoveryMessage> & { processUuid: string; type: number }): Uint8Array {
  return frameDiscoveryDatagram(encodeDiscovery({ version: 10, relay: false, noRelay: false, ...m }));
}

describe("gz discovery state", () => {
  it("adds a publisher once, replaces it when its record changes, removes it on UNADVERTISE", () => {
    const { d, listener } = setup();
    const p = pub("A", "@/x@/t");
    d.onDatagram(datagram({ processUuid: "A", type: DiscoveryType.Advertise, pub: p }), "10.0.0.9");
    d.onDatagram(datagram({ processUuid: "A", type: DiscoveryType.Advertise, pub: p }), "10.0.0.9"); // heartbeat re-advertise
    d.onDatagram(datagram({ processUuid: "A", type: DiscoveryType.Advertise, pub: { ...p, address: "tcp://10.0.0.9:4001" } }), "10.0.0.9");
    expect(d.publishersOf("@/x@/t").map((x) => x.address)).toEqual(["tcp://10.0.0.9:4001"]);
    d.onDatagram(datagram({ processUuid: "A", type: DiscoveryType.Unadvertise, pub: p }), "10.0.0.9");
    expect(listener.events).toEqual(["+pub @/x@/t A", "-pub @/x@/t A", "+pub @/x@/t A", "-pub @/x@/t A"]);
    expect(d.publishersOf("@/x@/t")).toEqual([]);
  });

  it("honours scopes: PROCESS never, HOST only from this machine", () => {
    const { d, listener } = setup();
    d.onDatagram(datagram({ processUuid: "A", type: DiscoveryType.Advertise, pub: pub("A", "@/x@/p", Scope.Process) }), "127.0.0.1");
    d.onDatagram(datagram({ processUuid: "B", type: DiscoveryType.Advertise, pub: pub("B", "@/x@/h", Scope.Host) }), "10.0.0.77");
    d.onDatagram(datagram({ processUuid: "C", type: DiscoveryType.Advertise, pub: pub("C", "@/x@/h", Scope.Host) }), "10.0.0.5");
    expect(listener.events).toEqual(["+pub @/x@/h C"]);
    expect(d.stats().outOfScope).toBe(2);
  });

  it("forgets a silent process after the silence interval, and a process that says BYE at once", () => {
    const { d, listener, advance, tick } = setup();
    d.onDatagram(datagram({ processUuid: "A", type: DiscoveryType.Advertise, pub: pub("A", "@/x@/a") }), "10.0.0.9");
    d.onDatagram(datagram({ processUuid: "B", type: DiscoveryType.Advertise, pub: pub("B", "@/x@/b") }), "10.0.0.9");
    advance(2000);
    d.onDatagram(datagram({ processUuid: "B", type: DiscoveryType.Heartbeat }), "10.0.0.9");
    advance(1500);
    tick();
    expect(listener.events).toContain("-pub @/x@/a A");
    expect(listener.events).toContain("gone A silence");
    expect(d.knownProcesses()).toEqual(["B"]);
    d.onDatagram(datagram({ processUuid: "B", type: DiscoveryType.Bye }), "10.0.0.9");
    expect(listener.events.slice(-2)).toEqual(["-pub @/x@/b B", "gone B bye"]);
    expect(d.remoteTopics()).toEqual([]);
  });

  it("passes on only the registrations addressed to this process", () => {
    const { d, listener } = setup();
    const toMe = { ...pub("S", "@/x@/cmd", Scope.All, "gz.msgs.Double", ME), nodeUuid: "S-node" };
    const toOther = { ...toMe, msgPub: { ...toMe.msgPub!, ctrl: "someone-else" } };
    d.onDatagram(datagram({ processUuid: "S", type: DiscoveryType.NewConnection, pub: toOther }), "10.0.0.9");
    d.onDatagram(datagram({ processUuid: "S", type: DiscoveryType.NewConnection, pub: toMe }), "10.0.0.9");
    d.onDatagram(datagram({ processUuid: "S", type: DiscoveryType.EndConnection, pub: toMe }), "10.0.0.9");
    expect(listener.events).toEqual(["+sub @/x@/cmd S/S-node", "-sub @/x@/cmd S/S-node"]);
  });

  it("drops and counts what it cannot use: bad framing, garbage, other versions, its own echo, relays, unknown types", () => {
    const { d, listener, errors } = setup();
    const good = datagram({ processUuid: "A", type: DiscoveryType.Heartbeat });
    d.onDatagram(good.subarray(0, good.length - 1), "10.0.0.9");
    d.onDatagram(Uint8Array.from([3, 0, 0xff, 0xff, 0xff]), "10.0.0.9");
    d.onDatagram(frameDiscoveryDatagram(encodeDiscovery({ version: 110, processUuid: "A", type: DiscoveryType.Heartbeat, relay: false, noRelay: false })), "10.0.0.9");
    d.onDatagram(datagram({ processUuid: ME, type: DiscoveryType.Heartbeat }), "10.0.0.5");
    d.onDatagram(datagram({ processUuid: "A", type: DiscoveryType.Heartbeat, relay: true }), "10.0.0.9");
    d.onDatagram(datagram({ processUuid: "A", type: 42 }), "10.0.0.9");
    d.onDatagram(datagram({ processUuid: "A", type: DiscoveryType.Advertise }), "10.0.0.9"); // no publisher record
    d.onDatagram(datagram({ processUuid: "", type: DiscoveryType.Heartbeat }), "10.0.0.9");
    const s = d.stats();
    expect([s.badLength, s.malformed, s.wrongVersion, s.ownEchoes, s.relayedIgnored, s.unknownType]).toEqual([1, 3, 1, 1, 1, 1]);
    expect(listener.events).toEqual([]);
    expect(errors.length).toBe(4); // one line per kind: bad length, malformed (x3), version, unknown type
    for (const e of errors) expect(e).not.toContain("\n");
    expect(errors.some((e) => /length prefix says/.test(e))).toBe(true);
    expect(errors.some((e) => /wire version 110/.test(e))).toBe(true);
  });

  it("stops growing its tables under a flood of fake processes and topics", () => {
    const { d } = setup({ maxProcesses: 10, maxPublishers: 25 });
    for (let i = 0; i < 200; i++) {
      d.onDatagram(datagram({ processUuid: `P${i % 40}`, type: DiscoveryType.Advertise, pub: pub(`P${i % 40}`, `@/x@/t${i}`) }), "10.0.0.9");
    }
    expect(d.knownProcesses().length).toBe(10);
    expect(d.remoteTopics().length).toBeLessThanOrEqual(25);
    expect(d.stats().tableFull).toBeGreaterThan(0);
  });
});
