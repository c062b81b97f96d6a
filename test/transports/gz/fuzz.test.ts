// Fuzzing the parsers that read bytes from the network: random bytes and mutations (bit flips, truncation,
// splices) of valid messages. A parser may only return or throw its own ProtoError; the discovery and the
// node must count every bad input and never throw; decoders must never expose a non-finite value.
import { describe, expect, it } from "vitest";
import { Discovery, type DiscoveryListener } from "../../../src/transports/gz/discovery.js";
import { decodeDiscovery, DiscoveryType, encodeDiscovery, frameDiscoveryDatagram, Scope, unframeDiscoveryDatagram } from "../../../src/transports/gz/discoveryMessage.js";
import { ContactsDecoder, JointStateDecoder, WrenchDecoder } from "../../../src/transports/gz/messages.js";
import { GzNode } from "../../../src/transports/gz/node.js";
import { ProtoError, ProtoWriter } from "../../../src/transports/gz/protobuf.js";
import { isolatedEnv } from "./helpers.js";

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function mutate(source: Uint8Array, rand: () => number): Uint8Array {
  const kind = Math.floor(rand() * 5);
  const b = Uint8Array.from(source);
  switch (kind) {
    case 0: {
      const flips = 1 + Math.floor(rand() * 4);
      for (let i = 0; i < flips && b.length > 0; i++) b[Math.floor(rand() * b.length)] ^= 1 << Math.floor(rand() * 8);
      return b;
    }
    case 1:
      return b.subarray(0, Math.floor(rand() * b.length));
    case 2: {
      const at = Math.floor(rand() * (b.length + 1));
      const junk = Uint8Array.from({ length: 1 + Math.floor(rand() * 12) }, () => Math.floor(rand() * 256));
      const out = new Uint8Array(b.length + junk.length);
      out.set(b.subarray(0, at));
      out.set(junk, at);
      out.set(b.subarray(at), at + junk.length);
      return out;
    }
    case 3:
      for (let i = 0; i < b.length; i++) if (rand() < 0.05) b[i] = Math.floor(rand() * 256);
      return b;
    default:
      return Uint8Array.from({ length: Math.floor(rand() * 200) }, () => Math.floor(rand() * 256));
  }
}

const listener: DiscoveryListener = {
  onPublisherAdded() {},
  onPublisherRemoved() {},
  onRemoteSubscriberAdded() {},
  onRemoteSubscriberRemoved() {},
  onProcessGone() {},
};

function validDatagrams(): Uint8Array[] {
  const pub = { topic: "@/p@/t", address: "tcp://127.0.0.1:5000", processUuid: "A", nodeUuid: "N", scope: Scope.All, msgPub: { ctrl: "unused", msgType: "gz.msgs.Double", throttled: false, msgsPerSec: 2 ** 64 - 1 } };
  return [
    { type: DiscoveryType.Advertise, pub },
    { type: DiscoveryType.NewConnection, pub: { ...pub, msgPub: { ...pub.msgPub, ctrl: "me" } } },
    { type: DiscoveryType.Subscribe, subTopic: "@/p@/t" },
    { type: DiscoveryType.Heartbeat },
    { type: DiscoveryType.Unadvertise, pub },
  ].map((m) => frameDiscoveryDatagram(encodeDiscovery({ version: 10, processUuid: "A", relay: false, noRelay: false, ...m })));
}

function modelBytes(): Uint8Array {
  const w = new ProtoWriter();
  w.message(1, (h) => h.message(1, (t) => t.uint(1, 5).uint(2, 7)));
  w.string(2, "arm");
  for (const [name, p] of [["a", 0.1], ["b", -0.2], ["c", 0.3]] as const) {
    w.message(6, (j) => j.string(2, name).message(10, (a) => a.message(2, (x) => x.double(4, 1)).double(10, p).double(11, 1).double(12, 2)));
  }
  return w.finish();
}

function contactsBytes(): Uint8Array {
  const w = new ProtoWriter();
  w.message(2, (c) => {
    c.message(2, (e) => e.string(3, "m::pad::taxel_0"));
    c.message(3, (e) => e.string(3, "ground"));
    c.message(5, (v) => v.double(4, 1));
    c.bytes(6, new Uint8Array(new Float64Array([0.001]).buffer));
    c.message(7, (jw) => jw.message(6, (wr) => wr.message(2, (f) => f.double(4, -3))));
  });
  return w.finish();
}

describe("fuzzing the gz parsers", () => {
  it("decodeDiscovery only ever returns or throws ProtoError", () => {
    const rand = rng(7);
    const seeds = validDatagrams();
    let rejected = 0;
    for (let i = 0; i < 20_000; i++) {
      const input = mutate(seeds[i % seeds.length], rand);
      try {
        decodeDiscovery(unframeDiscoveryDatagram(input));
      } catch (err) {
        expect(err).toBeInstanceOf(ProtoError);
        rejected++;
      }
    }
    expect(rejected).toBeGreaterThan(1000);
  });

  it("Discovery.onDatagram never throws and accounts for every datagram", () => {
    const rand = rng(11);
    const seeds = validDatagrams();
    const d = new Discovery({ processUuid: "me", hostAddress: "127.0.0.1", interfaces: ["127.0.0.1"], listener, maxProcesses: 64, maxPublishers: 256 });
    const n = 20_000;
    for (let i = 0; i < n; i++) d.onDatagram(mutate(seeds[i % seeds.length], rand), rand() < 0.5 ? "127.0.0.1" : "192.0.2.9");
    const s = d.stats();
    expect(s.datagramsIn).toBe(n);
    const handled = Object.values(s.byType).reduce((a, b) => a + b, 0);
    // Each datagram lands in exactly one counter.
    expect(s.badLength + s.malformed + s.wrongVersion + s.ownEchoes + s.relayedIgnored + s.unknownType + s.outOfScope + s.tableFull + handled).toBe(n);
    expect(s.badLength).toBeGreaterThan(0);
    expect(s.malformed).toBeGreaterThan(0);
    expect(d.knownProcesses().length).toBeLessThanOrEqual(64);
  });

  it("the message decoders throw only ProtoError and never expose NaN", () => {
    const rand = rng(13);
    const model = modelBytes();
    const contacts = contactsBytes();
    const wrench = new ProtoWriter().message(2, (f) => f.double(2, 1).double(3, 2).double(4, 3)).message(3, (t) => t.double(4, 0.5)).finish();
    const js = new JointStateDecoder(["a", "b", "c"]);
    const wd = new WrenchDecoder();
    const cd = new ContactsDecoder(["taxel_0", "taxel_1"], 10_000);
    for (let i = 0; i < 20_000; i++) {
      for (const [seed, decode] of [
        [model, (b: Uint8Array) => js.decode(b)],
        [wrench, (b: Uint8Array) => wd.decode(b)],
        [contacts, (b: Uint8Array) => cd.decode(b)],
      ] as const) {
        try {
          decode(mutate(seed, rand));
        } catch (err) {
          expect(err).toBeInstanceOf(ProtoError);
        }
      }
    }
    for (const arr of [js.positions, js.velocities, js.efforts, wd.wrench, cd.forcesN]) {
      for (const v of arr) expect(Number.isFinite(v)).toBe(true);
    }
  });

  it("GzNode.dispatch counts malformed multipart messages and survives throwing handlers", async () => {
    const { env } = isolatedEnv();
    const errors: string[] = [];
    const node = await GzNode.create({ env, onError: (e) => errors.push(e) });
    try {
      let delivered = 0;
      const sub = node.subscribe("/fuzz", "gz.msgs.Double", () => {
        delivered++;
        if (delivered % 2 === 0) throw new Error("handler bug");
      });
      const topic = Buffer.from(sub.fullyQualifiedTopic);
      const type = Buffer.from("gz.msgs.Double");
      const rand = rng(17);
      let wellFormed = 0;
      for (let i = 0; i < 5000; i++) {
        const parts = Math.floor(rand() * 6);
        const frames = Array.from({ length: parts }, (_, k) =>
          k === 0 && rand() < 0.7 ? topic : k === 3 && rand() < 0.7 ? type : Buffer.from(Uint8Array.from({ length: Math.floor(rand() * 20) }, () => Math.floor(rand() * 256))),
        );
        if (parts === 4 && frames[0] === topic && frames[3] === type) wellFormed++;
        node.dispatch(frames);
      }
      const s = node.stats();
      expect(delivered).toBe(wellFormed);
      expect(s.malformedFrames).toBeGreaterThan(0);
      expect(s.typeMismatch + s.unsubscribedTopic).toBeGreaterThan(0);
      expect(s.handlerErrors).toBe(Math.floor(wellFormed / 2));
      expect(errors.every((e) => !e.includes("\n"))).toBe(true);
    } finally {
      await node.close();
    }
  });
});
