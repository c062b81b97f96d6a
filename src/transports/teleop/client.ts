// The TypeScript teleop client: a DEALER for commands (CURVE client) and a SUB for the state stream.
//
//   const client = await TeleopClient.connect({ commandAddress, stateAddress, serverPublicKey, keys });
//   await client.hello(); await client.takeover();
//   client.pose([x, y, z], [w, qx, qy, qz], trigger);   // 30 Hz from a tracker
//   await client.handBack(); await client.close();
//
// Requests (hello, takeover, hand-back, stops, ping) resolve with the server's reply or reject with its reason;
// motion commands are fire-and-forget (the server answers only rejections: see onRejected).
import { randomBytes } from "node:crypto";
import { Context, Dealer, Subscriber } from "zeromq";
import type { CurveKeyPair } from "./keys.js";
import type { InterventionEvent, TeleopCommand, TeleopReply, TeleopStateMessage } from "./protocol.js";

export interface TeleopClientOptions {
  commandAddress: string;
  /** Authenticated state stream; omit for no state subscription. */
  stateAddress?: string;
  /** Subscribe to the state without CURVE (a read-only endpoint); default false. */
  stateWithoutAuth?: boolean;
  serverPublicKey: string;
  keys: CurveKeyPair;
  /** How long a request waits for its reply (default 2000 ms). */
  requestTimeoutMs?: number;
  onState?: (state: TeleopStateMessage) => void;
  onEvent?: (event: InterventionEvent) => void;
  /** A motion command (or a reply nobody waited for) was rejected. */
  onRejected?: (reply: Extract<TeleopReply, { type: "error" }>) => void;
}

type Reply = TeleopReply;
type Pending = { resolve: (reply: Reply) => void; reject: (error: Error) => void; timer: NodeJS.Timeout };

export class TeleopClient {
  private readonly context = new Context();
  private readonly dealer: Dealer;
  private readonly sub: Subscriber | null;
  private readonly pending = new Map<number, Pending>();
  private nextSeq = 1;
  private sendChain: Promise<void> = Promise.resolve();
  private authError: string | null = null;
  private closed = false;
  private loops: Promise<void>[] = [];
  /** A target (pose, joints, twist) queued but not yet handed to libzmq: a newer one replaces it in place. */
  private pendingTarget: { message: TeleopCommand } | null = null;
  readonly stats = { sent: 0, replaced: 0, states: 0, events: 0, rejected: 0 };

  private constructor(private readonly options: TeleopClientOptions) {
    const curve = { curveServerKey: options.serverPublicKey, curvePublicKey: options.keys.publicKey, curveSecretKey: options.keys.secretKey };
    this.dealer = new Dealer({ context: this.context, linger: 0, routingId: randomBytes(8).toString("hex"), ...curve, sendHighWaterMark: 1000 });
    this.sub = options.stateAddress ? new Subscriber({ context: this.context, linger: 0, receiveHighWaterMark: 100, ...(options.stateWithoutAuth ? {} : curve) }) : null;
  }

  /** Connect (ZeroMQ connects in the background: an unknown key shows up as a rejected request, see hello()). */
  static async connect(options: TeleopClientOptions): Promise<TeleopClient> {
    const client = new TeleopClient(options);
    client.watchAuth();
    client.dealer.connect(options.commandAddress);
    client.loops.push(client.replyLoop());
    if (client.sub && options.stateAddress) {
      client.sub.subscribe("state", "event");
      client.sub.connect(options.stateAddress);
      client.loops.push(client.stateLoop());
    }
    return client;
  }

  /** Set when the server refused this client's key during the handshake. */
  get authenticationError(): string | null {
    return this.authError;
  }

  hello(name?: string): Promise<Extract<Reply, { type: "welcome" }>> {
    return this.request({ type: "hello", ...(name ? { client: name } : {}) }) as Promise<Extract<Reply, { type: "welcome" }>>;
  }

  takeover(): Promise<Reply> {
    return this.request({ type: "takeover" });
  }

  handBack(): Promise<Reply> {
    return this.request({ type: "hand-back" });
  }

  emergencyStop(): Promise<Reply> {
    return this.request({ type: "emergency-stop" });
  }

  resetEmergencyStop(): Promise<Reply> {
    return this.request({ type: "reset-emergency-stop" });
  }

  ping(): Promise<Reply> {
    return this.request({ type: "ping", clientTimeS: performance.now() / 1000 });
  }

  /** Wrist pose in the operator frame: position (m), quaternion (w, x, y, z), trigger 0 (open) .. 1 (closed). */
  pose(position: [number, number, number], quaternion: [number, number, number, number], trigger?: number, engage?: boolean): number {
    return this.motion({ type: "pose", position, quaternion, ...(trigger === undefined ? {} : { trigger }), ...(engage ? { engage } : {}) });
  }

  joints(positions: number[], gripperM?: number): number {
    return this.motion({ type: "joints", positions, ...(gripperM === undefined ? {} : { gripperM }) });
  }

  /** Jogs are increments: each one is sent (never replaced by a newer one). */
  jog(joint: number, delta: number): number {
    const seq = this.nextSeq++;
    this.enqueue(() => [JSON.stringify({ type: "jog", joint, delta, seq })]).catch(() => undefined);
    return seq;
  }

  twist(linear: [number, number, number], angular: [number, number, number], durationMs?: number): number {
    return this.motion({ type: "twist", linear, angular, ...(durationMs === undefined ? {} : { durationMs }) });
  }

  /** Send any raw bytes (tests and fuzzing: the server must reject what does not parse). */
  sendRaw(frames: (Buffer | string)[]): Promise<void> {
    return this.enqueue(() => frames);
  }

  /** A request and its reply; rejects with the server's reason (or a timeout / authentication error). */
  request(message: TeleopCommand): Promise<Reply> {
    if (this.closed) return Promise.reject(new Error("teleop client: closed"));
    const seq = this.nextSeq++;
    const timeoutMs = this.options.requestTimeoutMs ?? 2000;
    return new Promise<Reply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(seq);
        const why = this.authError ? `the server refused this client's key (${this.authError})` : `no reply within ${timeoutMs} ms`;
        reject(new Error(`teleop client: ${message.type}: ${why}`));
      }, timeoutMs);
      this.pending.set(seq, { resolve, reject, timer });
      this.enqueue(() => [JSON.stringify({ ...message, seq })]).catch((error: unknown) => {
        clearTimeout(timer);
        this.pending.delete(seq);
        reject(error instanceof Error ? error : new Error(String(error)));
      });
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const [, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new Error("teleop client: closed"));
    }
    this.pending.clear();
    this.dealer.close();
    this.sub?.close();
    await Promise.allSettled(this.loops);
  }

  /**
   * Targets: newest wins on this side too. While one waits in the send queue a newer one takes its place, so a
   * producer faster than the socket never builds a backlog; order with requests (takeover, hand-back) is kept.
   */
  private motion(message: TeleopCommand): number {
    const seq = this.nextSeq++;
    const stamped = { ...message, seq } as TeleopCommand;
    if (this.pendingTarget !== null) {
      this.pendingTarget.message = stamped;
      this.stats.replaced++;
      return seq;
    }
    const slot = { message: stamped };
    this.pendingTarget = slot;
    this.enqueue(() => {
      if (this.pendingTarget === slot) this.pendingTarget = null;
      return [JSON.stringify(slot.message)];
    }).catch(() => undefined);
    return seq;
  }

  /** Send in order; the frames are made when the message's turn comes (so a queued target can still be replaced). */
  private enqueue(frames: () => (Buffer | string)[]): Promise<void> {
    const next = this.sendChain.then(async () => {
      if (this.closed) throw new Error("teleop client: closed");
      await this.dealer.send(frames());
      this.stats.sent++;
    });
    this.sendChain = next.catch(() => undefined);
    return next;
  }

  private watchAuth(): void {
    const record = (event: { error?: Error }) => (this.authError = event.error?.message ?? "authentication failure");
    this.dealer.events.on("handshake:error:auth", record);
    this.sub?.events.on("handshake:error:auth", record);
    this.dealer.events.on("handshake", () => (this.authError = null));
  }

  private async replyLoop(): Promise<void> {
    try {
      for await (const [frame] of this.dealer) {
        let reply: Reply;
        try {
          reply = JSON.parse(frame.toString("utf8")) as Reply;
        } catch {
          continue;
        }
        const p = reply.seq === undefined ? undefined : this.pending.get(reply.seq);
        if (p) {
          clearTimeout(p.timer);
          this.pending.delete(reply.seq!);
          if (reply.type === "error") p.reject(new Error(`teleop: ${reply.code}: ${reply.reason}`));
          else p.resolve(reply);
        } else if (reply.type === "error") {
          this.stats.rejected++;
          this.options.onRejected?.(reply);
        }
      }
    } catch {
      // closed
    }
  }

  private async stateLoop(): Promise<void> {
    try {
      for await (const [topic, body] of this.sub!) {
        let value: unknown;
        try {
          value = JSON.parse(body.toString("utf8"));
        } catch {
          continue;
        }
        if (topic.toString() === "state") {
          this.stats.states++;
          this.options.onState?.(value as TeleopStateMessage);
        } else if (topic.toString() === "event") {
          this.stats.events++;
          this.options.onEvent?.(value as InterventionEvent);
        }
      }
    } catch {
      // closed
    }
  }
}
