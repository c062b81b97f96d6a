// The gz-transport discovery message (ignition.msgs.Discovery in transport 11, a private copy with the same
// field numbers in later versions) and its datagram framing: a uint16 little-endian body length, then the
// protobuf body. Field numbers from ignition/msgs/discovery.proto (ignition-msgs 8):
//
//   Discovery { Header header = 1; uint32 version = 2; string process_uuid = 3; Type type = 4;
//               Flags flags = 5; oneof { Subscriber sub = 6; Publisher pub = 7; } }
//   Flags { bool relay = 1; bool no_relay = 2; }
//   Subscriber { string topic = 1; }
//   Publisher { string topic = 1; string address = 2; string process_uuid = 3; string node_uuid = 4;
//               Scope scope = 5; oneof { MessagePublisher msg_pub = 6; ServicePublisher srv_pub = 7; } }
//   MessagePublisher { string ctrl = 1; string msg_type = 2; bool throttled = 3; uint64 msgs_per_sec = 4; }
//   ServicePublisher { string socket_id = 1; string request_type = 2; string response_type = 3; }
import { ProtoError, ProtoReader, ProtoWriter, WireType } from "./protobuf.js";

/** Discovery wire version of transport 8 through 15 (100 is added when topic statistics are on). */
export const DISCOVERY_WIRE_VERSION = 10;

export const DiscoveryType = {
  Uninitialized: 0,
  Advertise: 1,
  Subscribe: 2,
  Unadvertise: 3,
  Heartbeat: 4,
  Bye: 5,
  NewConnection: 6,
  EndConnection: 7,
} as const;
export type DiscoveryTypeValue = (typeof DiscoveryType)[keyof typeof DiscoveryType];

const TYPE_NAMES: Record<number, string> = {
  0: "UNINITIALIZED",
  1: "ADVERTISE",
  2: "SUBSCRIBE",
  3: "UNADVERTISE",
  4: "HEARTBEAT",
  5: "BYE",
  6: "NEW_CONNECTION",
  7: "END_CONNECTION",
};

export function discoveryTypeName(type: number): string {
  return TYPE_NAMES[type] ?? `unknown(${type})`;
}

export const Scope = { Process: 0, Host: 1, All: 2 } as const;
export type ScopeValue = (typeof Scope)[keyof typeof Scope];

export interface MessagePublisherInfo {
  ctrl: string;
  msgType: string;
  throttled: boolean;
  /** Messages per second when throttled; the real library sends UINT64_MAX (as a float here) when not. */
  msgsPerSec: number;
}

export interface ServicePublisherInfo {
  socketId: string;
  requestType: string;
  responseType: string;
}

export interface PublisherInfo {
  topic: string;
  address: string;
  processUuid: string;
  nodeUuid: string;
  scope: ScopeValue;
  msgPub?: MessagePublisherInfo;
  srvPub?: ServicePublisherInfo;
}

export interface DiscoveryMessage {
  version: number;
  processUuid: string;
  type: number;
  relay: boolean;
  noRelay: boolean;
  /** Topic of a SUBSCRIBE. */
  subTopic?: string;
  pub?: PublisherInfo;
}

/** Largest datagram the real implementation sends or reads (its receive buffer is 65535 bytes). */
export const MAX_DISCOVERY_DATAGRAM = 65535;

export function encodeDiscovery(msg: DiscoveryMessage): Uint8Array {
  const w = new ProtoWriter(256);
  w.uint(2, msg.version);
  w.string(3, msg.processUuid);
  if (msg.type !== 0) w.uint(4, msg.type);
  if (msg.relay || msg.noRelay) {
    w.message(5, (f) => {
      if (msg.relay) f.bool(1, true);
      if (msg.noRelay) f.bool(2, true);
    });
  }
  if (msg.subTopic !== undefined) w.message(6, (s) => s.string(1, msg.subTopic as string));
  const pub = msg.pub;
  if (pub) {
    w.message(7, (p) => {
      if (pub.topic) p.string(1, pub.topic);
      if (pub.address) p.string(2, pub.address);
      if (pub.processUuid) p.string(3, pub.processUuid);
      if (pub.nodeUuid) p.string(4, pub.nodeUuid);
      if (pub.scope !== Scope.Process) p.uint(5, pub.scope);
      if (pub.msgPub) {
        const m = pub.msgPub;
        p.message(6, (mp) => {
          if (m.ctrl) mp.string(1, m.ctrl);
          if (m.msgType) mp.string(2, m.msgType);
          if (m.throttled) mp.bool(3, true);
          if (!m.throttled || m.msgsPerSec >= 2 ** 64 - 1) mp.uint64Max(4);
          else if (m.msgsPerSec > 0) mp.uint(4, m.msgsPerSec);
        });
      } else if (pub.srvPub) {
        const s = pub.srvPub;
        p.message(7, (sp) => {
          if (s.socketId) sp.string(1, s.socketId);
          if (s.requestType) sp.string(2, s.requestType);
          if (s.responseType) sp.string(3, s.responseType);
        });
      }
    });
  }
  return w.finish();
}

/** A whole datagram: uint16 LE length of the body, then the body. */
export function frameDiscoveryDatagram(body: Uint8Array): Uint8Array {
  if (body.length + 2 > MAX_DISCOVERY_DATAGRAM) throw new ProtoError(`discovery: message of ${body.length} bytes does not fit a datagram`);
  const out = new Uint8Array(body.length + 2);
  out[0] = body.length & 0xff;
  out[1] = body.length >> 8;
  out.set(body, 2);
  return out;
}

/** Check the datagram framing and return the body; throws ProtoError when the length prefix does not match. */
export function unframeDiscoveryDatagram(datagram: Uint8Array): Uint8Array {
  if (datagram.length < 2) throw new ProtoError(`discovery: expected a datagram of at least 2 bytes, got ${datagram.length}`);
  const len = datagram[0] | (datagram[1] << 8);
  if (len + 2 !== datagram.length) {
    throw new ProtoError(`discovery: length prefix says ${len} body bytes, the datagram has ${datagram.length - 2}`);
  }
  return datagram.subarray(2);
}

function decodeFlags(r: ProtoReader, end: number, out: DiscoveryMessage): void {
  const saved = r.end;
  r.end = end;
  while (!r.done()) {
    const f = r.tag();
    if (f === 1 && r.wireType === WireType.Varint) out.relay = r.bool();
    else if (f === 2 && r.wireType === WireType.Varint) out.noRelay = r.bool();
    else r.skip();
  }
  r.end = saved;
}

function decodeMsgPub(r: ProtoReader, end: number): MessagePublisherInfo {
  const saved = r.end;
  r.end = end;
  const m: MessagePublisherInfo = { ctrl: "", msgType: "", throttled: false, msgsPerSec: 0 };
  while (!r.done()) {
    const f = r.tag();
    if (f === 1 && r.wireType === WireType.LengthDelimited) m.ctrl = r.string();
    else if (f === 2 && r.wireType === WireType.LengthDelimited) m.msgType = r.string();
    else if (f === 3 && r.wireType === WireType.Varint) m.throttled = r.bool();
    else if (f === 4 && r.wireType === WireType.Varint) m.msgsPerSec = r.varint();
    else r.skip();
  }
  r.end = saved;
  return m;
}

function decodeSrvPub(r: ProtoReader, end: number): ServicePublisherInfo {
  const saved = r.end;
  r.end = end;
  const s: ServicePublisherInfo = { socketId: "", requestType: "", responseType: "" };
  while (!r.done()) {
    const f = r.tag();
    if (f === 1 && r.wireType === WireType.LengthDelimited) s.socketId = r.string();
    else if (f === 2 && r.wireType === WireType.LengthDelimited) s.requestType = r.string();
    else if (f === 3 && r.wireType === WireType.LengthDelimited) s.responseType = r.string();
    else r.skip();
  }
  r.end = saved;
  return s;
}

function decodePub(r: ProtoReader, end: number): PublisherInfo {
  const saved = r.end;
  r.end = end;
  const p: PublisherInfo = { topic: "", address: "", processUuid: "", nodeUuid: "", scope: Scope.Process };
  while (!r.done()) {
    const f = r.tag();
    const wt = r.wireType;
    if (f === 1 && wt === WireType.LengthDelimited) p.topic = r.string();
    else if (f === 2 && wt === WireType.LengthDelimited) p.address = r.string();
    else if (f === 3 && wt === WireType.LengthDelimited) p.processUuid = r.string();
    else if (f === 4 && wt === WireType.LengthDelimited) p.nodeUuid = r.string();
    else if (f === 5 && wt === WireType.Varint) {
      const scope = r.varint();
      // Unknown enum values fall back to ALL, as the reference does.
      p.scope = scope === Scope.Process || scope === Scope.Host ? scope : Scope.All;
    } else if (f === 6 && wt === WireType.LengthDelimited) {
      const e = r.lengthDelimited();
      p.msgPub = decodeMsgPub(r, e);
      p.srvPub = undefined;
    } else if (f === 7 && wt === WireType.LengthDelimited) {
      const e = r.lengthDelimited();
      p.srvPub = decodeSrvPub(r, e);
      p.msgPub = undefined;
    } else r.skip();
  }
  r.end = saved;
  return p;
}

/** Decode a discovery body (without the length prefix). Throws ProtoError on malformed input. */
export function decodeDiscovery(body: Uint8Array): DiscoveryMessage {
  const r = new ProtoReader(body);
  const msg: DiscoveryMessage = { version: 0, processUuid: "", type: 0, relay: false, noRelay: false };
  while (!r.done()) {
    const f = r.tag();
    const wt = r.wireType;
    if (f === 1 && wt === WireType.LengthDelimited) r.skip(); // header: not used by discovery
    else if (f === 2 && wt === WireType.Varint) msg.version = r.varint();
    else if (f === 3 && wt === WireType.LengthDelimited) msg.processUuid = r.string();
    else if (f === 4 && wt === WireType.Varint) msg.type = r.varint();
    else if (f === 5 && wt === WireType.LengthDelimited) decodeFlags(r, r.lengthDelimited(), msg);
    else if (f === 6 && wt === WireType.LengthDelimited) {
      const e = r.lengthDelimited();
      const saved = r.end;
      r.end = e;
      let topic = "";
      while (!r.done()) {
        const sf = r.tag();
        if (sf === 1 && r.wireType === WireType.LengthDelimited) topic = r.string();
        else r.skip();
      }
      r.end = saved;
      msg.subTopic = topic;
      msg.pub = undefined;
    } else if (f === 7 && wt === WireType.LengthDelimited) {
      msg.pub = decodePub(r, r.lengthDelimited());
      msg.subTopic = undefined;
    } else r.skip();
  }
  return msg;
}
