// A gz-transport node: publishes and subscribes to topics with the same discovery, sockets and frames as
// gz-transport / ignition-transport (8 through 15), so it talks to Gazebo and to any program built on the
// library directly, without ROS.
//
// Data path (as NodeShared in the library): one ZeroMQ PUB socket bound on tcp://<host>:<random port>, one
// SUB socket connected to every publisher we need, filtered by the fully qualified topic. Each message is
// four frames: [fully qualified topic, publisher's PUB address, protobuf payload, message type name].
// A publisher sends a topic only while at least one remote subscriber registered for it with a matching type
// (NEW_CONNECTION), and a subscriber registers only with publishers whose advertised type is exactly the one
// it asked for: `gz.msgs.Double` and `ignition.msgs.Double` do not talk to each other.
import { randomUUID } from "node:crypto";
import { Publisher as ZmqPublisher, Subscriber as ZmqSubscriber } from "zeromq";
import { Discovery, DEFAULT_MSG_DISCOVERY_PORT, DEFAULT_MULTICAST_GROUP, type DiscoveryListener, type DiscoveryStats } from "./discovery.js";
import { Scope, type PublisherInfo } from "./discoveryMessage.js";
import { RateLimitedReporter } from "./reporter.js";
import { fullyQualifiedTopic, resolveHostInterfaces, resolvePartition, type Env } from "./names.js";

export interface GzNodeOptions {
  /** Partition (default: GZ_PARTITION, IGN_PARTITION, else "<hostname>:<username>"). */
  partition?: string;
  /** Host address to bind and announce (default: GZ_IP, IGN_IP, else the first external IPv4). */
  ip?: string;
  /** Environment to read GZ_* / IGN_* from (default process.env). */
  env?: Env;
  discoveryPort?: number;
  multicastGroup?: string;
  wireVersion?: number;
  heartbeatIntervalMs?: number;
  silenceIntervalMs?: number;
  /** ZeroMQ high water marks (the library's default is 1000 messages each way). */
  sendHighWaterMark?: number;
  receiveHighWaterMark?: number;
  /** One-line errors (malformed input, type mismatches, socket failures). Rate-limited per kind. */
  onError?: (message: string) => void;
}

export interface GzNodeStats {
  framesIn: number;
  /** Frames with a part count other than 4, or empty parts. */
  malformedFrames: number;
  /** Data for a topic we do not subscribe to (SUB filters are prefixes). */
  unsubscribedTopic: number;
  /** Data whose type frame differs from the subscription's type. */
  typeMismatch: number;
  /** Publishers seen on a subscribed topic with a different type (never connected). */
  publisherTypeMismatch: number;
  handlerErrors: number;
  published: number;
  /** publish() calls that sent nothing because no remote subscriber had registered. */
  publishedWithoutSubscribers: number;
  sendErrors: number;
  discovery: DiscoveryStats;
}

export type GzMessageHandler = (payload: Uint8Array, subscription: GzSubscription) => void;

/** One advertised topic. */
export class GzPublisher {
  /** Remote subscribers registered for this topic and type: key processUuid + nodeUuid. */
  readonly remoteSubscribers = new Set<string>();
  private readonly frames: [Buffer, Buffer, Uint8Array, Buffer];
  /** Messages actually handed to the socket. */
  sent = 0;
  /** publish() calls while nobody was registered. */
  skipped = 0;
  private active = true;

  constructor(
    private readonly node: GzNode,
    readonly topic: string,
    readonly fullyQualifiedTopic: string,
    readonly msgType: string,
    readonly info: PublisherInfo,
  ) {
    this.frames = [Buffer.from(fullyQualifiedTopic, "utf8"), Buffer.from(info.address, "utf8"), new Uint8Array(0), Buffer.from(msgType, "utf8")];
  }

  /** True once at least one remote subscriber registered (NEW_CONNECTION) for this topic and type. */
  hasConnections(): boolean {
    return this.remoteSubscribers.size > 0;
  }

  /**
   * Send one serialized message. Returns false (and sends nothing) while no subscriber has registered, as the
   * library does. The payload is copied by the socket for small messages, so the caller may reuse its buffer.
   */
  publish(payload: Uint8Array): boolean {
    if (!this.active) return false;
    if (this.remoteSubscribers.size === 0) {
      this.skipped++;
      this.node.countSkipped();
      return false;
    }
    this.frames[2] = payload;
    this.node.sendFrames(this.frames);
    this.sent++;
    return true;
  }

  unadvertise(): void {
    if (!this.active) return;
    this.active = false;
    this.node.removePublisher(this);
  }
}

/** One subscribed topic. */
export class GzSubscription {
  received = 0;
  private active = true;
  constructor(
    private readonly node: GzNode,
    readonly topic: string,
    readonly fullyQualifiedTopic: string,
    readonly msgType: string,
    readonly handler: GzMessageHandler,
  ) {}

  unsubscribe(): void {
    if (!this.active) return;
    this.active = false;
    this.node.removeSubscription(this);
  }
}

export class GzNode implements DiscoveryListener {
  readonly processUuid = randomUUID();
  readonly nodeUuid = randomUUID();
  readonly partition: string;
  readonly hostAddress: string;
  private readonly interfaces: string[];
  private readonly pub: ZmqPublisher;
  private readonly sub: ZmqSubscriber;
  private pubAddress = "";
  private discovery!: Discovery;
  private readonly publishers = new Map<string, GzPublisher>();
  private readonly subscriptions = new Map<string, GzSubscription>();
  /** The same subscriptions with their topic as bytes: incoming frames are matched without decoding them. */
  private subscriptionTopics: Array<{ topic: Buffer; subscription: GzSubscription }> = [];
  /** Remote publishers we connected to, by fully qualified topic then "process/node". */
  private readonly connections = new Map<string, Map<string, PublisherInfo>>();
  /** How many connected publishers use each address (to disconnect when the last one goes). */
  private readonly addressUse = new Map<string, number>();
  private readonly filters = new Set<string>();
  private readonly reporter: RateLimitedReporter;
  private receiveLoop: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly onSendFailed = (err: unknown) => {
    this.counters.sendErrors++;
    this.reporter.report("send", `gz node: send failed: ${err instanceof Error ? err.message : String(err)}`);
  };
  private readonly counters = {
    framesIn: 0,
    malformedFrames: 0,
    unsubscribedTopic: 0,
    typeMismatch: 0,
    publisherTypeMismatch: 0,
    handlerErrors: 0,
    published: 0,
    publishedWithoutSubscribers: 0,
    sendErrors: 0,
  };

  private constructor(private readonly options: GzNodeOptions) {
    this.reporter = new RateLimitedReporter(options.onError);
    const env = options.env ?? process.env;
    this.partition = resolvePartition(options.partition, env);
    const host = resolveHostInterfaces(options.ip, env);
    this.hostAddress = host.hostAddress;
    this.interfaces = host.interfaces;
    // sendTimeout 0: every send is attempted at once. A PUB socket never blocks (it drops at the high water
    // mark), and without it the socket library defers every few-hundredth send to a later event-loop turn and
    // refuses the sends that follow in the meantime.
    this.pub = new ZmqPublisher({ linger: 0, sendHighWaterMark: options.sendHighWaterMark ?? 1000, sendTimeout: 0 });
    this.sub = new ZmqSubscriber({ linger: 0, receiveHighWaterMark: options.receiveHighWaterMark ?? 1000 });
  }

  /** Bind the data socket and start discovery. */
  static async create(options: GzNodeOptions = {}): Promise<GzNode> {
    const node = new GzNode(options);
    await node.start();
    return node;
  }

  /** The PUB socket's address as announced to peers (tcp://ip:port). */
  get address(): string {
    return this.pubAddress;
  }

  private async start(): Promise<void> {
    try {
      await this.pub.bind(`tcp://${this.hostAddress}:*`);
    } catch (err) {
      this.pub.close();
      this.sub.close();
      throw new Error(`gz node: cannot bind the data socket on ${this.hostAddress}: ${(err as Error).message}`);
    }
    this.pubAddress = this.pub.lastEndpoint ?? "";
    this.discovery = new Discovery({
      processUuid: this.processUuid,
      hostAddress: this.hostAddress,
      interfaces: this.interfaces,
      port: this.options.discoveryPort ?? DEFAULT_MSG_DISCOVERY_PORT,
      multicastGroup: this.options.multicastGroup ?? DEFAULT_MULTICAST_GROUP,
      wireVersion: this.options.wireVersion,
      heartbeatIntervalMs: this.options.heartbeatIntervalMs,
      silenceIntervalMs: this.options.silenceIntervalMs,
      listener: this,
      onError: this.options.onError,
    });
    try {
      await this.discovery.start();
    } catch (err) {
      this.pub.close();
      this.sub.close();
      throw err;
    }
    this.receiveLoop = this.receive();
  }

  /** Advertise a topic with an exact message type name (e.g. "gz.msgs.Double"). One publisher per topic per node. */
  advertise(topic: string, msgType: string): GzPublisher {
    this.ensureOpen();
    if (!msgType) throw new Error(`gz node: advertise(${topic}): expected a message type name, got an empty string`);
    const fq = fullyQualifiedTopic(this.partition, topic);
    if (this.publishers.has(fq)) throw new Error(`gz node: topic ${topic} is already advertised by this node`);
    const info: PublisherInfo = {
      topic: fq,
      address: this.pubAddress,
      processUuid: this.processUuid,
      nodeUuid: this.nodeUuid,
      scope: Scope.All,
      // ctrl carried the control socket address in older versions; transport 11 announces "unused".
      msgPub: { ctrl: "unused", msgType, throttled: false, msgsPerSec: 2 ** 64 - 1 },
    };
    const publisher = new GzPublisher(this, topic, fq, msgType, info);
    this.publishers.set(fq, publisher);
    this.discovery.advertise(info);
    return publisher;
  }

  /** Subscribe to a topic, accepting only publishers (and frames) of exactly this type name. */
  subscribe(topic: string, msgType: string, handler: GzMessageHandler): GzSubscription {
    this.ensureOpen();
    if (!msgType) throw new Error(`gz node: subscribe(${topic}): expected a message type name, got an empty string`);
    const fq = fullyQualifiedTopic(this.partition, topic);
    if (this.subscriptions.has(fq)) throw new Error(`gz node: topic ${topic} is already subscribed by this node`);
    const subscription = new GzSubscription(this, topic, fq, msgType, handler);
    this.subscriptions.set(fq, subscription);
    this.subscriptionTopics.push({ topic: Buffer.from(fq, "utf8"), subscription });
    for (const pub of this.discovery.publishersOf(fq)) this.connectTo(pub);
    this.discovery.subscribe(fq);
    return subscription;
  }

  /** Topics advertised by remote publishers in our partition (plain names, as `ign topic -l` lists them). */
  remoteTopics(): string[] {
    const prefix = fullyQualifiedTopic(this.partition, "/x").slice(0, -2);
    return this.discovery
      .remoteTopics()
      .filter((t) => t.startsWith(prefix + "/"))
      .map((t) => t.slice(prefix.length));
  }

  stats(): GzNodeStats {
    return { ...this.counters, discovery: this.discovery.stats() };
  }

  /** Unadvertise, unregister from publishers, say BYE, close the sockets. */
  async close(): Promise<void> {
    if (this.closed) return;
    for (const s of [...this.subscriptions.values()]) s.unsubscribe();
    for (const p of [...this.publishers.values()]) p.unadvertise();
    this.closed = true;
    await this.discovery.close();
    this.sub.close();
    this.pub.close();
    await this.receiveLoop;
  }

  // ---- used by GzPublisher / GzSubscription ----

  /** @internal */
  sendFrames(frames: [Buffer, Buffer, Uint8Array, Buffer]): void {
    this.counters.published++;
    try {
      this.pub.send(frames).then(undefined, this.onSendFailed);
    } catch (err) {
      this.onSendFailed(err);
    }
  }

  /** @internal */
  countSkipped(): void {
    this.counters.publishedWithoutSubscribers++;
  }

  /** @internal */
  removePublisher(p: GzPublisher): void {
    if (this.publishers.get(p.fullyQualifiedTopic) !== p) return;
    this.publishers.delete(p.fullyQualifiedTopic);
    this.discovery.unadvertise(p.info);
  }

  /** @internal */
  removeSubscription(s: GzSubscription): void {
    if (this.subscriptions.get(s.fullyQualifiedTopic) !== s) return;
    this.subscriptions.delete(s.fullyQualifiedTopic);
    this.subscriptionTopics = this.subscriptionTopics.filter((e) => e.subscription !== s);
    const conns = this.connections.get(s.fullyQualifiedTopic);
    if (conns) {
      for (const pub of conns.values()) {
        this.discovery.unregisterConnection(this.registrationFor(pub));
        this.releaseAddress(pub.address);
      }
      this.connections.delete(s.fullyQualifiedTopic);
    }
    if (this.filters.delete(s.fullyQualifiedTopic) && !this.closed) this.sub.unsubscribe(s.fullyQualifiedTopic);
  }

  // ---- DiscoveryListener ----

  onPublisherAdded(pub: PublisherInfo): void {
    if (this.subscriptions.has(pub.topic)) this.connectTo(pub);
  }

  onPublisherRemoved(pub: PublisherInfo): void {
    const conns = this.connections.get(pub.topic);
    const key = `${pub.processUuid}/${pub.nodeUuid}`;
    if (conns?.delete(key)) this.releaseAddress(pub.address);
  }

  onRemoteSubscriberAdded(sub: PublisherInfo): void {
    const publisher = this.publishers.get(sub.topic);
    // The library keeps a registration only for a matching type (remoteSubscribers.HasTopic(topic, type)).
    if (!publisher || sub.msgPub?.msgType !== publisher.msgType) return;
    publisher.remoteSubscribers.add(`${sub.processUuid}/${sub.nodeUuid}`);
  }

  onRemoteSubscriberRemoved(sub: PublisherInfo): void {
    this.publishers.get(sub.topic)?.remoteSubscribers.delete(`${sub.processUuid}/${sub.nodeUuid}`);
  }

  onProcessGone(processUuid: string, reason: "bye" | "silence"): void {
    // After a BYE the process is gone for good; after silence the library keeps its registrations (a slow
    // link may come back) and so do we.
    if (reason !== "bye") return;
    const prefix = `${processUuid}/`;
    for (const p of this.publishers.values()) {
      for (const key of p.remoteSubscribers) if (key.startsWith(prefix)) p.remoteSubscribers.delete(key);
    }
  }

  // ---- internals ----

  private registrationFor(pub: PublisherInfo): PublisherInfo {
    return {
      ...pub,
      processUuid: this.processUuid,
      nodeUuid: this.nodeUuid,
      msgPub: { ...(pub.msgPub ?? { throttled: false, msgsPerSec: 2 ** 64 - 1, msgType: "", ctrl: "" }), ctrl: pub.processUuid },
    };
  }

  private connectTo(pub: PublisherInfo): void {
    if (this.closed || pub.processUuid === this.processUuid) return;
    const subscription = this.subscriptions.get(pub.topic);
    if (!subscription) return;
    if (pub.msgPub?.msgType !== subscription.msgType) {
      this.counters.publisherTypeMismatch++;
      this.reporter.report(
        `type:${pub.topic}:${pub.msgPub?.msgType}`,
        `gz node: publisher of ${subscription.topic} at ${pub.address} has type ${pub.msgPub?.msgType || "(none)"}, expected ${subscription.msgType}: not connecting (Fortress uses ignition.msgs.*, Garden and later gz.msgs.*)`,
      );
      return;
    }
    let conns = this.connections.get(pub.topic);
    if (!conns) {
      conns = new Map();
      this.connections.set(pub.topic, conns);
    }
    const key = `${pub.processUuid}/${pub.nodeUuid}`;
    if (conns.has(key)) return;
    if (!/^tcp:\/\/[^\s]+:\d+$/.test(pub.address)) {
      this.reporter.report("address", `gz node: publisher of ${subscription.topic} announced an unusable address "${pub.address}"`);
      return;
    }
    conns.set(key, pub);
    const uses = this.addressUse.get(pub.address) ?? 0;
    try {
      if (uses === 0) this.sub.connect(pub.address);
      if (!this.filters.has(pub.topic)) {
        this.sub.subscribe(pub.topic);
        this.filters.add(pub.topic);
      }
    } catch (err) {
      conns.delete(key);
      this.reporter.report("connect", `gz node: cannot connect to ${pub.address}: ${(err as Error).message}`);
      return;
    }
    this.addressUse.set(pub.address, uses + 1);
    this.discovery.registerConnection(this.registrationFor(pub));
  }

  private releaseAddress(address: string): void {
    const uses = (this.addressUse.get(address) ?? 0) - 1;
    if (uses > 0) {
      this.addressUse.set(address, uses);
      return;
    }
    this.addressUse.delete(address);
    if (this.closed) return;
    try {
      this.sub.disconnect(address);
    } catch {
      // Already disconnected: nothing to do.
    }
  }

  private async receive(): Promise<void> {
    try {
      for await (const frames of this.sub) {
        this.counters.framesIn++;
        this.dispatch(frames);
      }
    } catch (err) {
      if (!this.closed) this.reporter.report("receive", `gz node: receive loop ended: ${(err as Error).message}`);
    }
  }

  /** Route one multipart message (exposed for fuzzing). Never throws. */
  dispatch(frames: readonly Uint8Array[]): void {
    if (frames.length !== 4 || frames[0].length === 0 || frames[3].length === 0) {
      this.counters.malformedFrames++;
      this.reporter.report("frames", `gz node: dropped a message of ${frames.length} frames (expected 4: topic, sender, payload, type)`);
      return;
    }
    let subscription: GzSubscription | null = null;
    for (const entry of this.subscriptionTopics) {
      if (bytesEqual(entry.topic, frames[0])) {
        subscription = entry.subscription;
        break;
      }
    }
    if (!subscription) {
      this.counters.unsubscribedTopic++;
      return;
    }
    const type = frames[3];
    if (!bytesEqualString(type, subscription.msgType)) {
      this.counters.typeMismatch++;
      this.reporter.report(
        `frameType:${subscription.fullyQualifiedTopic}`,
        `gz node: dropped data on ${subscription.topic} of type ${Buffer.from(type).toString("utf8").slice(0, 80)}, expected ${subscription.msgType}`,
      );
      return;
    }
    subscription.received++;
    try {
      subscription.handler(frames[2], subscription);
    } catch (err) {
      this.counters.handlerErrors++;
      this.reporter.report(`handler:${subscription.fullyQualifiedTopic}`, `gz node: handler for ${subscription.topic} threw: ${(err as Error).message}`);
    }
  }

  private ensureOpen(): void {
    if (this.closed) throw new Error("gz node: the node is closed");
  }

}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function bytesEqualString(bytes: Uint8Array, s: string): boolean {
  if (bytes.length !== s.length) return false; // type names are ASCII
  for (let i = 0; i < bytes.length; i++) if (bytes[i] !== s.charCodeAt(i)) return false;
  return true;
}
