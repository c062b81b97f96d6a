// Protobuf wire codec and the discovery message: round trips, exact bytes of a datagram captured from
// Debian's ignition-transport 11.0.0, and clear errors on malformed input.
import { describe, expect, it } from "vitest";
import {
  decodeDiscovery,
  DiscoveryType,
  encodeDiscovery,
  frameDiscoveryDatagram,
  Scope,
  unframeDiscoveryDatagram,
  type DiscoveryMessage,
} from "../../../src/transports/gz/discoveryMessage.js";
import { ProtoError, ProtoReader, ProtoWriter, WireType } from "../../../src/transports/gz/protobuf.js";

// An ADVERTISE multicast by ignition-transport 11.0.0 (gz_peer publishing ignition.msgs.Double on /t in
// partition "probe2"), captured on 239.255.0.7:10317 with a plain UDP socket.
const CAPTURED_ADVERTISE_HEX =
  "ca00100a1a2432383162636336302d633536652d346465652d393266652d39663736333163633839616420013a9d010a0b402f70726f626532402f7412157463703a2f2f3132372e302e302e313a34313238371a2432383162636336302d633536652d346465652d393266652d396637363331636338396164222436343963393637362d373234332d343266322d616234342d393933613833343134393861280232290a06756e75736564121469676e6974696f6e2e6d7367732e446f75626c6520ffffffffffffffffff01";
// The NEW_CONNECTION the subscribing peer answered with.
const CAPTURED_NEW_CONNECTION_HEX =
  "e800100a1a2433386637636433352d316361392d346362332d613964652d30663862396533363831383020063abb010a0b402f70726f626532402f7412157463703a2f2f3132372e302e302e313a34313238371a2433386637636433352d316361392d346362332d613964652d306638623965333638313830222464393639373362632d393366642d346230362d626539612d613639663233643264613263280232470a2432383162636336302d633536652d346465652d393266652d396637363331636338396164121469676e6974696f6e2e6d7367732e446f75626c6520ffffffffffffffffff01";

const hex = (s: string) => Uint8Array.from(Buffer.from(s, "hex"));

describe("protobuf wire codec", () => {
  it("round-trips varints, doubles, strings and nested messages", () => {
    const w = new ProtoWriter(4);
    w.uint(1, 300).double(2, -1.25).string(3, "gz ✓").message(4, (m) => m.uint(1, 2 ** 40)).uint64Max(5);
    const r = new ProtoReader(w.finish());
    expect(r.tag()).toBe(1);
    expect(r.varint()).toBe(300);
    expect(r.tag()).toBe(2);
    expect(r.wireType).toBe(WireType.Fixed64);
    expect(r.double()).toBe(-1.25);
    expect(r.tag()).toBe(3);
    expect(r.string()).toBe("gz ✓");
    expect(r.tag()).toBe(4);
    const end = r.lengthDelimited();
    r.end = end;
    expect(r.tag()).toBe(1);
    expect(r.varint()).toBe(2 ** 40);
    expect(r.done()).toBe(true);
    r.end = r.bytes.length;
    expect(r.tag()).toBe(5);
    expect(r.varint()).toBe(2 ** 64 - 1);
    expect(r.done()).toBe(true);
  });

  it("reads negative int64 varints as negative numbers", () => {
    // -2 as int64: ten bytes, 0xfe 0xff ... 0x01
    const r = new ProtoReader(Uint8Array.from([0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]));
    expect(r.int64()).toBe(-2);
    const w = new ProtoWriter();
    w.uint(1, 1_700_000_123);
    const r2 = new ProtoReader(w.finish());
    r2.tag();
    expect(r2.int64()).toBe(1_700_000_123);
    // -1_234_567_890_123 (a pre-1970 stamp in ns would look like this)
    const neg = BigInt.asUintN(64, -1_234_567_890_123n);
    const bytes: number[] = [];
    let v = neg;
    while (v >= 0x80n) {
      bytes.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    bytes.push(Number(v));
    expect(new ProtoReader(Uint8Array.from(bytes)).int64()).toBe(-1_234_567_890_123);
  });

  it("rejects truncated and impossible input with a one-line reason", () => {
    const cases: Array<[number[], RegExp]> = [
      [[0x08], /truncated varint/],
      [[0x11, 0, 0, 0], /truncated double/],
      [[0x1a, 0x05, 0x61], /runs past the end/],
      [[0x0b], /wire type 3/],
      [[0x0f], /wire type 7/],
      [[0x00], /field number/],
      [[0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01], /longer than/],
      [[0x1a, 0x01, 0xff], /UTF-8/],
    ];
    for (const [bytes, reason] of cases) {
      const r = new ProtoReader(Uint8Array.from(bytes));
      let error: unknown = null;
      try {
        const f = r.tag();
        if (f === 3) r.string();
        else if (r.wireType === WireType.Fixed64) r.double();
        else r.skip();
      } catch (err) {
        error = err;
      }
      expect(error, `bytes ${bytes.join(",")}`).toBeInstanceOf(ProtoError);
      expect((error as Error).message).toMatch(reason);
      expect((error as Error).message).not.toContain("\n");
    }
  });
});

describe("discovery message", () => {
  it("decodes an ADVERTISE captured from ignition-transport 11 field by field", () => {
    const msg = decodeDiscovery(unframeDiscoveryDatagram(hex(CAPTURED_ADVERTISE_HEX)));
    expect(msg.version).toBe(10);
    expect(msg.type).toBe(DiscoveryType.Advertise);
    expect(msg.processUuid).toBe("281bcc60-c56e-4dee-92fe-9f7631cc89ad");
    expect(msg.pub).toEqual({
      topic: "@/probe2@/t",
      address: "tcp://127.0.0.1:41287",
      processUuid: "281bcc60-c56e-4dee-92fe-9f7631cc89ad",
      nodeUuid: "649c9676-7243-42f2-ab44-993a8341498a",
      scope: Scope.All,
      msgPub: { ctrl: "unused", msgType: "ignition.msgs.Double", throttled: false, msgsPerSec: 2 ** 64 - 1 },
    });
  });

  it("re-encodes the captured ADVERTISE and NEW_CONNECTION to the same bytes the library sent", () => {
    for (const captured of [CAPTURED_ADVERTISE_HEX, CAPTURED_NEW_CONNECTION_HEX]) {
      const msg = decodeDiscovery(unframeDiscoveryDatagram(hex(captured)));
      const again = frameDiscoveryDatagram(encodeDiscovery(msg));
      expect(Buffer.from(again).toString("hex")).toBe(captured);
    }
  });

  it("reads a NEW_CONNECTION as the subscriber's record with the publisher's process in ctrl", () => {
    const msg = decodeDiscovery(unframeDiscoveryDatagram(hex(CAPTURED_NEW_CONNECTION_HEX)));
    expect(msg.type).toBe(DiscoveryType.NewConnection);
    expect(msg.pub?.processUuid).toBe(msg.processUuid);
    expect(msg.pub?.msgPub?.ctrl).toBe("281bcc60-c56e-4dee-92fe-9f7631cc89ad");
    expect(msg.pub?.address).toBe("tcp://127.0.0.1:41287");
  });

  it("round-trips every message type, flags and a SUBSCRIBE topic", () => {
    const base: DiscoveryMessage = { version: 10, processUuid: "p", type: DiscoveryType.Subscribe, relay: true, noRelay: true, subTopic: "@/x@/y" };
    expect(decodeDiscovery(encodeDiscovery(base))).toEqual(base);
    for (const type of [DiscoveryType.Heartbeat, DiscoveryType.Bye]) {
      const m: DiscoveryMessage = { version: 10, processUuid: "q", type, relay: false, noRelay: false };
      expect(decodeDiscovery(encodeDiscovery(m))).toEqual(m);
    }
    const srv: DiscoveryMessage = {
      version: 10,
      processUuid: "r",
      type: DiscoveryType.Advertise,
      relay: false,
      noRelay: false,
      pub: { topic: "@/x@/s", address: "tcp://1.2.3.4:5", processUuid: "r", nodeUuid: "n", scope: Scope.Host, srvPub: { socketId: "id", requestType: "a", responseType: "b" } },
    };
    expect(decodeDiscovery(encodeDiscovery(srv))).toEqual(srv);
  });

  it("rejects a datagram whose length prefix does not match (as the library does)", () => {
    const good = hex(CAPTURED_ADVERTISE_HEX);
    expect(() => unframeDiscoveryDatagram(good.subarray(0, good.length - 1))).toThrow(/length prefix says 202 body bytes, the datagram has 201/);
    expect(() => unframeDiscoveryDatagram(Uint8Array.from([1]))).toThrow(/at least 2 bytes/);
  });
});
