// gz-transport topic discovery over UDP multicast: the protocol of transport 8 through 15 (wire version 10).
//
// Every process multicasts datagrams to 239.255.0.7:10317 (services use 10318). Each one is a uint16 LE
// length and a Discovery protobuf. A process:
// - sends HEARTBEAT every second and re-ADVERTISEs its publishers with it;
// - answers a SUBSCRIBE for a topic it publishes with an ADVERTISE;
// - forgets a process after 3 s of silence or on its BYE (and a publisher on its UNADVERTISE);
// - as a subscriber that found a publisher, multicasts NEW_CONNECTION carrying the publisher's record with
//   its own process/node UUIDs and the publisher's process UUID in `ctrl`; the publisher sends data only once
//   such a registration for its topic and type arrived (END_CONNECTION removes it).
// This module keeps the tables and timing; what to do with them (connect sockets, register subscribers)
// is the node's job (node.ts). Relaying to unicast peers (IGN_RELAY / GZ_RELAY) is not implemented:
// relayed datagrams are counted and ignored.
import { createSocket, type Socket } from "node:dgram";
import {
  decodeDiscovery,
  DiscoveryType,
  discoveryTypeName,
  DISCOVERY_WIRE_VERSION,
  encodeDiscovery,
  frameDiscoveryDatagram,
  Scope,
  unframeDiscoveryDatagram,
  type DiscoveryMessage,
  type PublisherInfo,
} from "./discoveryMessage.js";
import { ProtoError } from "./protobuf.js";
import { RateLimitedReporter } from "./reporter.js";

export const DEFAULT_MULTICAST_GROUP = "239.255.0.7";
export const DEFAULT_MSG_DISCOVERY_PORT = 10317;
export const DEFAULT_SRV_DISCOVERY_PORT = 10318;

/** What the node hears from discovery. */
export interface DiscoveryListener {
  /** A remote publisher we did not know (or knew under another address/type) was advertised. */
  onPublisherAdded(pub: PublisherInfo): void;
  /** A remote publisher went away (UNADVERTISE, BYE, or its process fell silent). */
  onPublisherRemoved(pub: PublisherInfo): void;
  /** A NEW_CONNECTION addressed to this process (ctrl = our process UUID): a remote subscriber registered. */
  onRemoteSubscriberAdded(sub: PublisherInfo): void;
  /** An END_CONNECTION addressed to this process. */
  onRemoteSubscriberRemoved(sub: PublisherInfo): void;
  /** A remote process said BYE (its subscribers to our topics are gone too). */
  onProcessGone(processUuid: string, reason: "bye" | "silence"): void;
}

export interface DiscoveryStats {
  datagramsIn: number;
  datagramsOut: number;
  /** Length prefix does not match the datagram size. */
  badLength: number;
  /** Body is not a valid Discovery protobuf, or a required part is missing. */
  malformed: number;
  /** A different wire version (another transport generation, or topic statistics on). */
  wrongVersion: number;
  ownEchoes: number;
  relayedIgnored: number;
  /** Datagrams with a type this side does not handle. */
  unknownType: number;
  /** Publishers ignored for their scope (PROCESS, or HOST from another machine). */
  outOfScope: number;
  /** Records dropped because a table was full (a flood of fake processes or topics). */
  tableFull: number;
  sendErrors: number;
  byType: Record<string, number>;
}

export interface DiscoveryOptions {
  processUuid: string;
  /** Address of this host; sockets send from it and senders with it (or 127.x) count as local. */
  hostAddress: string;
  /** Interfaces to join the multicast group on and send through (first one also receives). */
  interfaces: string[];
  port?: number;
  multicastGroup?: string;
  wireVersion?: number;
  heartbeatIntervalMs?: number;
  /** A process silent for longer is forgotten (ms). Default 3000 as in the library. */
  silenceIntervalMs?: number;
  /** How often silence is checked (ms). Default 100. */
  activityIntervalMs?: number;
  /** Table limits against floods. */
  maxProcesses?: number;
  maxPublishers?: number;
  listener: DiscoveryListener;
  nowMs?: () => number;
  onError?: (message: string) => void;
}

/** Key of one publisher record: topic, process, node (what the library keys them by). */
function publisherKey(p: PublisherInfo): string {
  return `${p.topic}\u0000${p.processUuid}\u0000${p.nodeUuid}`;
}

function samePublisher(a: PublisherInfo, b: PublisherInfo): boolean {
  return a.address === b.address && a.scope === b.scope && (a.msgPub?.msgType ?? "") === (b.msgPub?.msgType ?? "") && (a.msgPub?.ctrl ?? "") === (b.msgPub?.ctrl ?? "");
}

export class Discovery {
  private readonly port: number;
  private readonly group: string;
  private readonly version: number;
  private readonly heartbeatMs: number;
  private readonly silenceMs: number;
  private readonly activityMs: number;
  private readonly maxProcesses: number;
  private readonly maxPublishers: number;
  private readonly now: () => number;
  private readonly sockets: Socket[] = [];
  private timer: NodeJS.Timeout | null = null;
  private nextHeartbeatMs = 0;
  private closed = false;
  /** Last time each remote process was heard from. */
  private readonly activity = new Map<string, number>();
  /** Remote publishers by process UUID, then by publisher key. */
  private readonly remote = new Map<string, Map<string, PublisherInfo>>();
  private remoteCount = 0;
  /** Our own publishers (re-advertised with every heartbeat). */
  private readonly local = new Map<string, PublisherInfo>();
  private readonly reporter: RateLimitedReporter;
  readonly counters: DiscoveryStats = {
    datagramsIn: 0,
    datagramsOut: 0,
    badLength: 0,
    malformed: 0,
    wrongVersion: 0,
    ownEchoes: 0,
    relayedIgnored: 0,
    unknownType: 0,
    outOfScope: 0,
    tableFull: 0,
    sendErrors: 0,
    byType: {},
  };

  constructor(private readonly options: DiscoveryOptions) {
    this.port = options.port ?? DEFAULT_MSG_DISCOVERY_PORT;
    this.group = options.multicastGroup ?? DEFAULT_MULTICAST_GROUP;
    this.version = options.wireVersion ?? DISCOVERY_WIRE_VERSION;
    this.heartbeatMs = options.heartbeatIntervalMs ?? 1000;
    this.silenceMs = options.silenceIntervalMs ?? 3000;
    this.activityMs = options.activityIntervalMs ?? 100;
    this.maxProcesses = options.maxProcesses ?? 1024;
    this.maxPublishers = options.maxPublishers ?? 16384;
    this.now = options.nowMs ?? (() => performance.now());
    this.reporter = new RateLimitedReporter(options.onError);
    if (options.interfaces.length === 0) throw new Error("gz discovery: expected at least one interface address, got none");
  }

  get processUuid(): string {
    return this.options.processUuid;
  }

  /** Bind the multicast socket, join the group on every interface, start heartbeats. */
  async start(): Promise<void> {
    const [first, ...others] = this.options.interfaces;
    const rx = createSocket({ type: "udp4", reuseAddr: true });
    this.sockets.push(rx);
    rx.on("message", (msg, rinfo) => this.onDatagram(msg, rinfo.address));
    rx.on("error", (err) => this.reporter.report("socket", `gz discovery: socket error: ${err.message}`));
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => reject(new Error(`gz discovery: cannot bind UDP port ${this.port}: ${err.message}`));
      rx.once("error", onError);
      rx.bind(this.port, () => {
        rx.off("error", onError);
        resolve();
      });
    });
    try {
      rx.setMulticastInterface(first);
      rx.setMulticastLoopback(true);
      for (const iface of this.options.interfaces) rx.addMembership(this.group, iface);
    } catch (err) {
      rx.close();
      throw new Error(`gz discovery: cannot join multicast group ${this.group} on ${this.options.interfaces.join(", ")}: ${(err as Error).message}`);
    }
    // One more sending socket per extra interface (IP_MULTICAST_IF is per socket), as the library does.
    for (const iface of others) {
      const tx = createSocket({ type: "udp4" });
      this.sockets.push(tx);
      await new Promise<void>((resolve, reject) => {
        const onError = (err: Error) => reject(new Error(`gz discovery: cannot open a sending socket on ${iface}: ${err.message}`));
        tx.once("error", onError);
        tx.bind(0, iface, () => {
          tx.off("error", onError);
          resolve();
        });
      }).catch(async (err: Error) => {
        await Promise.all(this.sockets.map((s) => new Promise<void>((r) => s.close(() => r()))));
        this.sockets.length = 0;
        throw err;
      });
      tx.on("error", (err) => this.reporter.report("socket", `gz discovery: socket error on ${iface}: ${err.message}`));
      tx.setMulticastInterface(iface);
      tx.setMulticastLoopback(true);
    }
    this.nextHeartbeatMs = this.now();
    this.timer = setInterval(() => this.tick(), this.activityMs);
    this.timer.unref();
    this.tick();
  }

  /** Announce one of our publishers (and keep re-announcing it with every heartbeat). */
  advertise(pub: PublisherInfo): void {
    this.local.set(publisherKey(pub), pub);
    if (pub.scope !== Scope.Process) this.send(DiscoveryType.Advertise, { pub });
  }

  unadvertise(pub: PublisherInfo): void {
    if (!this.local.delete(publisherKey(pub))) return;
    if (pub.scope !== Scope.Process) this.send(DiscoveryType.Unadvertise, { pub });
  }

  /** Ask publishers of a topic to advertise themselves now. */
  subscribe(fullyQualifiedTopic: string): void {
    this.send(DiscoveryType.Subscribe, { subTopic: fullyQualifiedTopic });
  }

  /** Tell a publisher that one of our nodes subscribes to its topic (`sub` is its record with our UUIDs and its UUID in ctrl). */
  registerConnection(sub: PublisherInfo): void {
    this.send(DiscoveryType.NewConnection, { pub: sub });
  }

  unregisterConnection(sub: PublisherInfo): void {
    this.send(DiscoveryType.EndConnection, { pub: sub });
  }

  /** Known remote publishers of a fully qualified topic. */
  publishersOf(fullyQualifiedTopic: string): PublisherInfo[] {
    const out: PublisherInfo[] = [];
    for (const pubs of this.remote.values()) for (const p of pubs.values()) if (p.topic === fullyQualifiedTopic) out.push(p);
    return out;
  }

  /** Every topic a remote publisher advertises (fully qualified). */
  remoteTopics(): string[] {
    const set = new Set<string>();
    for (const pubs of this.remote.values()) for (const p of pubs.values()) set.add(p.topic);
    return [...set].sort();
  }

  knownProcesses(): string[] {
    return [...this.activity.keys()];
  }

  stats(): DiscoveryStats {
    return { ...this.counters, byType: { ...this.counters.byType } };
  }

  /** Send BYE (the library's way to say all our publishers are gone) and close the sockets. */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    for (const pub of [...this.local.values()]) this.unadvertise(pub);
    await this.sendAndFlush(DiscoveryType.Bye, {});
    this.closed = true;
    await Promise.all(this.sockets.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    this.sockets.length = 0;
  }

  private tick(): void {
    const now = this.now();
    if (now >= this.nextHeartbeatMs) {
      this.send(DiscoveryType.Heartbeat, {});
      for (const pub of this.local.values()) if (pub.scope !== Scope.Process) this.send(DiscoveryType.Advertise, { pub });
      this.nextHeartbeatMs = now + this.heartbeatMs;
    }
    for (const [uuid, last] of this.activity) {
      if (now - last > this.silenceMs) this.forgetProcess(uuid, "silence");
    }
  }

  private message(type: number, body: Pick<DiscoveryMessage, "pub" | "subTopic">): Uint8Array {
    return frameDiscoveryDatagram(
      encodeDiscovery({ version: this.version, processUuid: this.options.processUuid, type, relay: false, noRelay: false, ...body }),
    );
  }

  private send(type: number, body: Pick<DiscoveryMessage, "pub" | "subTopic">): void {
    if (this.closed || this.sockets.length === 0) return;
    const datagram = this.message(type, body);
    for (const s of this.sockets) {
      this.counters.datagramsOut++;
      s.send(datagram, this.port, this.group, (err) => {
        // EPERM / ENOBUFS are transient on a busy host; the library ignores them too.
        if (err && !/EPERM|ENOBUFS/.test(err.message)) {
          this.counters.sendErrors++;
          this.reporter.report("send", `gz discovery: cannot send ${discoveryTypeName(type)}: ${err.message}`);
        }
      });
    }
  }

  private async sendAndFlush(type: number, body: Pick<DiscoveryMessage, "pub" | "subTopic">): Promise<void> {
    if (this.sockets.length === 0) return;
    const datagram = this.message(type, body);
    await Promise.all(
      this.sockets.map(
        (s) =>
          new Promise<void>((resolve) => {
            this.counters.datagramsOut++;
            s.send(datagram, this.port, this.group, () => resolve());
          }),
      ),
    );
  }

  /** Entry point for every datagram (exposed for fuzzing). Never throws. */
  onDatagram(datagram: Uint8Array, fromAddress: string): void {
    this.counters.datagramsIn++;
    let msg: DiscoveryMessage;
    try {
      msg = decodeDiscovery(unframeDiscoveryDatagram(datagram));
    } catch (err) {
      if ((err instanceof ProtoError && err.message.startsWith("discovery: length prefix")) || datagram.length < 2) {
        this.counters.badLength++;
        this.reporter.report("badLength", `gz discovery: dropped a datagram from ${fromAddress}: ${(err as Error).message}`);
      } else {
        this.counters.malformed++;
        this.reporter.report("malformed", `gz discovery: dropped a malformed datagram from ${fromAddress}: ${(err as Error).message}`);
      }
      return;
    }
    if (msg.version !== this.version) {
      this.counters.wrongVersion++;
      this.reporter.report("version", `gz discovery: ignoring wire version ${msg.version} from ${fromAddress} (expected ${this.version}; 110 means topic statistics are on)`);
      return;
    }
    if (msg.processUuid === this.options.processUuid) {
      this.counters.ownEchoes++;
      return;
    }
    if (msg.processUuid.length === 0) {
      this.counters.malformed++;
      this.reporter.report("malformed", `gz discovery: dropped a ${discoveryTypeName(msg.type)} from ${fromAddress} without a process UUID`);
      return;
    }
    if (msg.relay) {
      this.counters.relayedIgnored++;
      return;
    }
    const name = discoveryTypeName(msg.type);
    const local = fromAddress.startsWith("127.") || this.options.interfaces.includes(fromAddress) || fromAddress === this.options.hostAddress;
    if (!this.activity.has(msg.processUuid) && this.activity.size >= this.maxProcesses) {
      this.counters.tableFull++;
      this.reporter.report("tableFull", `gz discovery: ignoring process ${msg.processUuid}: already tracking ${this.maxProcesses} processes`);
      return;
    }
    this.activity.set(msg.processUuid, this.now());
    // Every datagram ends in exactly one counter: a rejection above or in the handler, or its type here.
    if (this.handle(msg, name, local, fromAddress)) this.counters.byType[name] = (this.counters.byType[name] ?? 0) + 1;
  }

  /** Act on one decoded message; false when it was rejected (and counted as such). */
  private handle(msg: DiscoveryMessage, name: string, local: boolean, fromAddress: string): boolean {
    switch (msg.type) {
      case DiscoveryType.Advertise:
        return this.onAdvertise(msg, local);
      case DiscoveryType.Subscribe:
        return this.onSubscribe(msg, local);
      case DiscoveryType.Unadvertise:
        return this.onUnadvertise(msg, local);
      case DiscoveryType.Heartbeat:
        return true;
      case DiscoveryType.Bye:
        this.forgetProcess(msg.processUuid, "bye");
        return true;
      case DiscoveryType.NewConnection:
      case DiscoveryType.EndConnection: {
        const pub = msg.pub;
        if (!pub || !pub.msgPub || !pub.topic) {
          this.counters.malformed++;
          this.reporter.report("malformed", `gz discovery: ${name} from ${fromAddress} carries no message publisher record`);
          return false;
        }
        if (pub.msgPub.ctrl !== this.options.processUuid) return true; // meant for another process
        if (msg.type === DiscoveryType.NewConnection) this.options.listener.onRemoteSubscriberAdded(pub);
        else this.options.listener.onRemoteSubscriberRemoved(pub);
        return true;
      }
      default:
        this.counters.unknownType++;
        this.reporter.report("unknownType", `gz discovery: ignoring discovery type ${msg.type} from ${fromAddress}`);
        return false;
    }
  }

  private outOfScope(pub: PublisherInfo, senderLocal: boolean): boolean {
    if (pub.scope === Scope.Process || (pub.scope === Scope.Host && !senderLocal)) {
      this.counters.outOfScope++;
      return true;
    }
    return false;
  }

  private onAdvertise(msg: DiscoveryMessage, senderLocal: boolean): boolean {
    const pub = msg.pub;
    if (!pub || !pub.topic || !pub.address || !pub.processUuid) {
      this.counters.malformed++;
      this.reporter.report("malformed", `gz discovery: ADVERTISE from process ${msg.processUuid} lacks topic, address or process UUID`);
      return false;
    }
    if (!pub.msgPub) return true; // a service advertised on the topic port: not ours to track
    if (this.outOfScope(pub, senderLocal)) return false;
    let table = this.remote.get(pub.processUuid);
    const key = publisherKey(pub);
    const known = table?.get(key);
    if (known && samePublisher(known, pub)) return true;
    if (!known && this.remoteCount >= this.maxPublishers) {
      this.counters.tableFull++;
      this.reporter.report("tableFull", `gz discovery: ignoring publisher of ${pub.topic}: already tracking ${this.maxPublishers} publishers`);
      return false;
    }
    if (!table) {
      table = new Map();
      this.remote.set(pub.processUuid, table);
    }
    if (known) this.options.listener.onPublisherRemoved(known);
    else this.remoteCount++;
    table.set(key, pub);
    this.options.listener.onPublisherAdded(pub);
    return true;
  }

  private onUnadvertise(msg: DiscoveryMessage, senderLocal: boolean): boolean {
    const pub = msg.pub;
    if (!pub || !pub.topic) {
      this.counters.malformed++;
      this.reporter.report("malformed", `gz discovery: UNADVERTISE from process ${msg.processUuid} lacks a publisher record`);
      return false;
    }
    if (!pub.msgPub) return true;
    if (this.outOfScope(pub, senderLocal)) return false;
    const table = this.remote.get(pub.processUuid);
    const known = table?.get(publisherKey(pub));
    if (!table || !known) return true;
    table.delete(publisherKey(pub));
    this.remoteCount--;
    if (table.size === 0) this.remote.delete(pub.processUuid);
    this.options.listener.onPublisherRemoved(known);
    return true;
  }

  private onSubscribe(msg: DiscoveryMessage, senderLocal: boolean): boolean {
    if (msg.subTopic === undefined) {
      this.counters.malformed++;
      this.reporter.report("malformed", `gz discovery: SUBSCRIBE from process ${msg.processUuid} lacks subscriber information`);
      return false;
    }
    for (const pub of this.local.values()) {
      if (pub.topic !== msg.subTopic) continue;
      if (pub.scope === Scope.Process || (pub.scope === Scope.Host && !senderLocal)) continue;
      this.send(DiscoveryType.Advertise, { pub });
    }
    return true;
  }

  private forgetProcess(uuid: string, reason: "bye" | "silence"): void {
    this.activity.delete(uuid);
    const table = this.remote.get(uuid);
    if (table) {
      this.remote.delete(uuid);
      this.remoteCount -= table.size;
      for (const pub of table.values()) this.options.listener.onPublisherRemoved(pub);
    }
    this.options.listener.onProcessGone(uuid, reason);
  }

}
