// The teleop endpoint: ZeroMQ sockets around the TeleopController.
//
//   command  ROUTER, CURVE server, allow-list enforced by the ZAP handler: commands in, replies out
//   state    PUB, CURVE server, same allow-list: topic "state" at stateRateHz, topic "event" on interventions
//   open     PUB without security (only when readOnlyStateAddress is configured): the same stream, read-only
//
// Incoming commands are drained in batches: within a batch only a client's newest target (pose, joints, twist) is
// applied (the older ones are counted as superseded), so a flood costs bounded memory (libzmq's high-water mark
// bounds the queue, one batch at most is held here) and the newest target wins. Jogs are increments: every one
// is applied, in order.
import { randomBytes } from "node:crypto";
import { Context, Publisher, Router } from "zeromq";
import type { ArmDescription } from "../../kinematics/description.js";
import { monotonicNowNs } from "../../runtime/clock.js";
import type { SharedRuntimeState } from "../../runtime/sharedState.js";
import { TeleopController, TELEOP_DEFAULTS, type InterventionListener, type TeleopClientRef, type TeleopControllerOptions, type TeleopControllerStats } from "./controller.js";
import type { AllowedClient, CurveKeyPair } from "./keys.js";
import { decodeCommand, DEFAULT_MAX_MESSAGE_BYTES, isMotion, type InterventionEvent, type TeleopCommand, type TeleopReply } from "./protocol.js";
import { StateSampler } from "./stateStream.js";
import { CurveAuthenticator, type CurveAuthenticatorStats, type ZapDecision } from "./zap.js";

/** ZAP domain of the endpoint's secured sockets. */
export const TELEOP_ZAP_DOMAIN = "vla-teleop";
/** libzmq's own cap on one incoming message: a peer that sends more is disconnected (the protocol limit is far lower). */
const SOCKET_MAX_MESSAGE_BYTES = 1 << 20;

export interface TeleopEndpointOptions extends Omit<TeleopControllerOptions, "state" | "arm"> {
  state: SharedRuntimeState;
  arm: ArmDescription;
  /** ROUTER bind address for commands, e.g. "tcp://0.0.0.0:5590" ("tcp://127.0.0.1:*" picks a free port). */
  commandAddress: string;
  /** PUB bind address for the authenticated state stream. */
  stateAddress: string;
  /** PUB bind address for a read-only state stream without authentication; omit to have none. */
  readOnlyStateAddress?: string;
  serverKeys: CurveKeyPair;
  allowedClients: readonly AllowedClient[];
  /** State messages per second, 30..100 (default 50). */
  stateRateHz?: number;
  /** Largest accepted command in bytes (default 16 KiB). */
  maxMessageBytes?: number;
  /** Messages libzmq queues per client before it stops reading from it (default 1000). */
  receiveHighWaterMark?: number;
  /** Most messages drained and handled in one batch (default 256). */
  maxBatch?: number;
  /** Policy status for the state stream (e.g. from SlowExecutor.stats()). */
  policyStatus?: () => Record<string, number | string | boolean | null>;
  onError?: (message: string) => void;
}

export interface TeleopEndpointStats {
  received: number;
  batches: number;
  largestBatch: number;
  /** Targets (pose, joints, twist) replaced by a newer one from the same client in the same batch. */
  superseded: number;
  repliesSent: number;
  repliesDropped: number;
  statesPublished: number;
  statesSkipped: number;
  eventsPublished: number;
  auth: CurveAuthenticatorStats;
  controller: TeleopControllerStats;
}

export interface TeleopAddresses {
  command: string;
  state: string;
  readOnlyState: string | null;
}

/** Sends one message at a time (zeromq.js allows one send in flight per socket); drops beyond `limit` queued. */
class SerialSender {
  private chain: Promise<void> = Promise.resolve();
  private pending = 0;
  sent = 0;
  dropped = 0;

  constructor(
    private readonly send: (frames: (Buffer | string)[]) => Promise<void>,
    private readonly limit: number,
    private readonly onError: (message: string) => void,
  ) {}

  get idle(): boolean {
    return this.pending === 0;
  }

  push(frames: (Buffer | string)[]): void {
    if (this.pending >= this.limit) {
      this.dropped++;
      return;
    }
    this.pending++;
    this.chain = this.chain
      .then(() => this.send(frames))
      .then(
        () => void this.sent++,
        (error: unknown) => {
          this.dropped++;
          this.onError(`teleop: send failed: ${error instanceof Error ? error.message : String(error)}`);
        },
      )
      .finally(() => void this.pending--);
  }

  async drain(): Promise<void> {
    await this.chain;
  }
}

export class TeleopEndpoint {
  readonly controller: TeleopController;
  private readonly context = new Context();
  private readonly authenticator: CurveAuthenticator;
  private readonly router: Router;
  private readonly statePub: Publisher;
  private readonly openPub: Publisher | null;
  private readonly replies: SerialSender;
  private readonly states: SerialSender;
  private readonly openStates: SerialSender | null;
  private readonly sampler: StateSampler;
  private readonly now: () => number;
  private readonly maxMessageBytes: number;
  private readonly maxBatch: number;
  private readonly stateRateHz: number;
  /**
   * Client routing id (hex) -> name from its hello message. libzmq does not tell which allow-listed key a
   * connection used (ZAP's user id is not readable from zeromq.js), so the name is the client's own label; only
   * allow-listed clients can send anything at all.
   */
  private readonly names = new Map<string, string>();
  private readonly counters = { received: 0, batches: 0, largestBatch: 0, superseded: 0, statesPublished: 0, statesSkipped: 0, eventsPublished: 0 };
  private receiving: Promise<void> | null = null;
  private stateTimer: NodeJS.Timeout | null = null;
  private closed = false;
  private addressesValue: TeleopAddresses = { command: "", state: "", readOnlyState: null };

  private constructor(private readonly options: TeleopEndpointOptions) {
    const rate = options.stateRateHz ?? TELEOP_DEFAULTS.stateRateHz;
    if (!(rate >= 30 && rate <= 100)) throw new Error(`teleop: expected stateRateHz in [30, 100], got ${rate}`);
    this.stateRateHz = rate;
    this.maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.maxBatch = options.maxBatch ?? 256;
    if (!(this.maxBatch >= 1)) throw new Error(`teleop: expected maxBatch >= 1, got ${this.maxBatch}`);
    if (options.allowedClients.length === 0) {
      throw new Error("teleop: expected at least one allowed client key (nobody could connect); generate one with `vla-runtime keys generate`");
    }
    this.now = options.nowNs ?? monotonicNowNs;
    this.controller = new TeleopController({ ...options, stateRateHz: rate, nowNs: this.now });
    const onError = options.onError ?? (() => undefined);
    this.authenticator = new CurveAuthenticator(this.context, options.allowedClients, [TELEOP_ZAP_DOMAIN], (d) => this.onAuth(d));
    const secured = {
      context: this.context,
      linger: 0,
      curveServer: true,
      curvePublicKey: options.serverKeys.publicKey,
      curveSecretKey: options.serverKeys.secretKey,
      zapDomain: TELEOP_ZAP_DOMAIN,
      maxMessageSize: SOCKET_MAX_MESSAGE_BYTES,
    };
    this.router = new Router({ ...secured, receiveHighWaterMark: options.receiveHighWaterMark ?? 1000, sendHighWaterMark: 1000 });
    this.statePub = new Publisher({ ...secured, sendHighWaterMark: 100 });
    this.openPub = options.readOnlyStateAddress
      ? new Publisher({ context: this.context, linger: 0, sendHighWaterMark: 100, maxMessageSize: SOCKET_MAX_MESSAGE_BYTES })
      : null;
    this.replies = new SerialSender((f) => this.router.send(f), 1000, onError);
    this.states = new SerialSender((f) => this.statePub.send(f), 4, onError);
    this.openStates = this.openPub ? new SerialSender((f) => this.openPub!.send(f), 4, onError) : null;
    this.sampler = new StateSampler(options.state, options.arm);
    this.controller.onIntervention((event) => this.publishEvent(event));
  }

  /** Bind everything (the ZAP handler first: a CURVE socket with no handler would let any key in). */
  static async start(options: TeleopEndpointOptions): Promise<TeleopEndpoint> {
    const endpoint = new TeleopEndpoint(options);
    try {
      await endpoint.bind();
    } catch (error) {
      await endpoint.stop();
      throw new Error(`teleop: cannot start the endpoint: ${error instanceof Error ? error.message : String(error)}`);
    }
    return endpoint;
  }

  /** The bound addresses (with the real port when bound to "*" or 0). */
  get addresses(): TeleopAddresses {
    return this.addressesValue;
  }

  /** Subscribe to interventions for recordings (takeover, hand-back, stops, watchdog); returns unsubscribe. */
  onIntervention(listener: InterventionListener): () => void {
    return this.controller.onIntervention(listener);
  }

  /** Replace the allow-list (next handshake on; connected clients stay). */
  setAllowedClients(clients: readonly AllowedClient[]): void {
    this.authenticator.setClients(clients);
  }

  stats(): TeleopEndpointStats {
    return {
      ...this.counters,
      repliesSent: this.replies.sent,
      repliesDropped: this.replies.dropped,
      auth: this.authenticator.stats,
      controller: this.controller.stats(),
    };
  }

  async stop(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.stateTimer) clearTimeout(this.stateTimer);
    // Sockets first, then the ZAP handler: no handshake may ever find the sockets without it.
    this.router.close();
    this.statePub.close();
    this.openPub?.close();
    await this.receiving?.catch(() => undefined);
    await this.authenticator.stop();
  }

  private async bind(): Promise<void> {
    await this.authenticator.start();
    const o = this.options;
    await this.router.bind(o.commandAddress);
    await this.statePub.bind(o.stateAddress);
    if (this.openPub && o.readOnlyStateAddress) await this.openPub.bind(o.readOnlyStateAddress);
    this.addressesValue = {
      command: this.router.lastEndpoint ?? o.commandAddress,
      state: this.statePub.lastEndpoint ?? o.stateAddress,
      readOnlyState: this.openPub ? (this.openPub.lastEndpoint ?? o.readOnlyStateAddress ?? null) : null,
    };
    this.receiving = this.receiveLoop();
    this.scheduleState();
  }

  private onAuth(decision: ZapDecision): void {
    if (!decision.accepted) this.options.onError?.(`teleop: refused a client from ${decision.address}: ${decision.detail}`);
  }

  private clientRef(id: Buffer): TeleopClientRef {
    const hex = id.toString("hex");
    return { id: hex, name: this.names.get(hex) ?? `client-${hex.slice(-8)}` };
  }

  private async receiveLoop(): Promise<void> {
    while (!this.closed) {
      let first: Buffer[];
      try {
        first = await this.router.receive();
      } catch (error) {
        if (this.closed) return;
        this.options.onError?.(`teleop: receive failed: ${error instanceof Error ? error.message : String(error)}`);
        continue;
      }
      const batch = [first];
      while (batch.length < this.maxBatch && this.router.readable) batch.push(await this.router.receive());
      this.counters.batches++;
      this.counters.largestBatch = Math.max(this.counters.largestBatch, batch.length);
      this.handleBatch(batch);
    }
  }

  /** Decode all, then apply in order, skipping a client's target when a newer target follows in the batch. */
  private handleBatch(batch: Buffer[][]): void {
    this.counters.received += batch.length;
    const decoded: { id: Buffer; client: TeleopClientRef; message: TeleopCommand | null }[] = [];
    for (const [id, ...frames] of batch) {
      const client = this.clientRef(id);
      const result = decodeCommand(frames, this.maxMessageBytes);
      if (!result.ok) {
        this.controller.countRejection(result.code);
        this.reply(id, { type: "error", seq: result.seq, code: result.code, reason: result.reason });
        decoded.push({ id, client, message: null });
      } else {
        decoded.push({ id, client, message: result.message });
      }
    }
    const isTarget = (m: TeleopCommand) => isMotion(m) && m.type !== "jog";
    const newestTarget = new Map<string, number>();
    decoded.forEach((d, i) => d.message && isTarget(d.message) && newestTarget.set(d.client.id, i));
    decoded.forEach((d, i) => {
      if (!d.message) return;
      if (isTarget(d.message) && newestTarget.get(d.client.id) !== i) {
        this.counters.superseded++;
        return;
      }
      if (d.message.type === "hello" && d.message.client && !this.names.has(d.client.id)) {
        this.names.set(d.client.id, d.message.client);
        d.client = this.clientRef(d.id);
      }
      const reply = this.controller.handle(d.client, d.message);
      if (reply) this.reply(d.id, reply);
    });
  }

  private reply(id: Buffer, reply: TeleopReply): void {
    this.replies.push([id, JSON.stringify(reply)]);
  }

  private scheduleState(): void {
    const periodNs = 1e9 / this.stateRateHz;
    let deadline = this.now() + periodNs;
    const tick = () => {
      if (this.closed) return;
      this.publishState();
      deadline += periodNs;
      const now = this.now();
      if (now > deadline) deadline = now; // fell behind: publish at once and continue from here, no burst
      this.stateTimer = setTimeout(tick, Math.max(0, (deadline - now) / 1e6));
    };
    this.stateTimer = setTimeout(tick, periodNs / 1e6);
  }

  private publishState(): void {
    const nowNs = this.now();
    this.controller.update(nowNs);
    if (!this.states.idle) {
      this.counters.statesSkipped++; // the previous sample is still being handed to libzmq: never queue up stale state
      return;
    }
    const owner = this.controller.owner;
    const message = this.sampler.sample(nowNs, { mode: this.controller.mode, owner: owner?.name ?? null, policy: this.options.policyStatus?.() ?? {} });
    const body = JSON.stringify(message);
    this.states.push(["state", body]);
    if (this.openStates?.idle) this.openStates.push(["state", body]);
    this.counters.statesPublished++;
  }

  private publishEvent(event: InterventionEvent): void {
    if (this.closed) return;
    const body = JSON.stringify(event);
    this.states.push(["event", body]);
    this.openStates?.push(["event", body]);
    this.counters.eventsPublished++;
  }
}

/** A random routing id for a client connection (clients that set one get their allow-list name in events). */
export function randomRoutingId(): string {
  return randomBytes(8).toString("hex");
}
