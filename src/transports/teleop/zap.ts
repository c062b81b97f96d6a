// The ZAP handler (ZeroMQ RFC 27) that decides which CURVE clients may connect: only public keys on the
// allow-list. libzmq asks it during every handshake of a socket with security, over inproc://zeromq.zap.01 in the
// socket's context; it must be bound before those sockets accept anyone (with no handler bound, libzmq lets
// every CURVE client in). The endpoint gives it a context of its own, so no other part of the process shares it.
//
// Request frames (after the ROUTER's routing id and the empty delimiter): version "1.0", request id, domain,
// address, identity, mechanism, credentials (CURVE: the client's 32-byte public key).
// Reply: version, request id, status code ("200" ok, "400" refused), status text, user id, metadata.
import { Router, type Context } from "zeromq";
import type { AllowedClient } from "./keys.js";
import { z85Encode } from "./z85.js";

export const ZAP_ENDPOINT = "inproc://zeromq.zap.01";

export interface ZapDecision {
  accepted: boolean;
  /** The ZAP domain the server socket asked for. */
  domain: string;
  /** Peer address as libzmq reports it (IP for tcp). */
  address: string;
  mechanism: string;
  /** Z85 public key (CURVE), "" otherwise. */
  publicKey: string;
  /** Name from the allow-list (accepted) or why it was refused. */
  detail: string;
}

export interface CurveAuthenticatorStats {
  accepted: number;
  refused: number;
  malformed: number;
  /** The last few refusals, newest last (at most 20 kept). */
  recentRefusals: ZapDecision[];
}

export class CurveAuthenticator {
  private readonly socket: Router;
  private readonly allowed = new Map<string, string>();
  private loop: Promise<void> | null = null;
  private readonly counters: CurveAuthenticatorStats = { accepted: 0, refused: 0, malformed: 0, recentRefusals: [] };

  /**
   * @param domains ZAP domains this handler answers for; a request for any other domain is refused.
   * @param onDecision called for every handshake (for logs and metrics).
   */
  constructor(
    context: Context,
    clients: readonly AllowedClient[],
    private readonly domains: readonly string[],
    private readonly onDecision?: (decision: ZapDecision) => void,
  ) {
    this.socket = new Router({ context, linger: 0 });
    this.setClients(clients);
  }

  /** Replace the allow-list (takes effect at the next handshake; connected clients stay connected). */
  setClients(clients: readonly AllowedClient[]): void {
    this.allowed.clear();
    for (const c of clients) this.allowed.set(c.publicKey, c.name);
  }

  /** Name of an allowed key, undefined for an unknown one. */
  clientName(publicKey: string): string | undefined {
    return this.allowed.get(publicKey);
  }

  get stats(): CurveAuthenticatorStats {
    return { ...this.counters, recentRefusals: [...this.counters.recentRefusals] };
  }

  async start(): Promise<void> {
    await this.socket.bind(ZAP_ENDPOINT);
    this.loop = this.serve();
  }

  async stop(): Promise<void> {
    this.socket.close();
    await this.loop?.catch(() => undefined);
  }

  private async serve(): Promise<void> {
    try {
      for await (const frames of this.socket) {
        const reply = this.answer(frames);
        if (reply) await this.socket.send(reply);
      }
    } catch (error) {
      // Closing the socket ends the iteration with an error on some versions: that is the normal way out.
      if (!this.socket.closed) throw error;
    }
  }

  /** One request -> its reply frames (null for a request too short to answer). */
  answer(frames: Buffer[]): (Buffer | string)[] | null {
    // [routing id, "", version, request id, domain, address, identity, mechanism, ...credentials]
    if (frames.length < 8) {
      this.counters.malformed++;
      return null;
    }
    const [routingId, delimiter, version, requestId, domainFrame, addressFrame, , mechanismFrame, ...credentials] = frames;
    const domain = domainFrame.toString("utf8");
    const address = addressFrame.toString("utf8");
    const mechanism = mechanismFrame.toString("utf8");
    const decision: ZapDecision = { accepted: false, domain, address, mechanism, publicKey: "", detail: "" };
    if (version.toString("utf8") !== "1.0") {
      decision.detail = `expected ZAP version 1.0, got ${JSON.stringify(version.toString("utf8"))}`;
    } else if (!this.domains.includes(domain)) {
      decision.detail = `unknown ZAP domain ${JSON.stringify(domain)}`;
    } else if (mechanism !== "CURVE") {
      decision.detail = `expected the CURVE mechanism, got ${mechanism}`;
    } else if (credentials.length !== 1 || credentials[0].length !== 32) {
      decision.detail = `expected one 32-byte CURVE public key, got ${credentials.length} credential frame(s)`;
    } else {
      decision.publicKey = z85Encode(credentials[0]);
      const name = this.allowed.get(decision.publicKey);
      if (name !== undefined) {
        decision.accepted = true;
        decision.detail = name;
      } else {
        decision.detail = `client key ${decision.publicKey.slice(0, 8)}... is not on the allow-list`;
      }
    }
    this.record(decision);
    const status = decision.accepted ? ["200", "OK"] : ["400", decision.detail];
    // User id: the client's name, so libzmq attaches it to every message of the connection.
    return [routingId, delimiter, "1.0", requestId, status[0], status[1], decision.accepted ? decision.detail : "", ""];
  }

  private record(decision: ZapDecision): void {
    if (decision.accepted) this.counters.accepted++;
    else {
      this.counters.refused++;
      this.counters.recentRefusals.push(decision);
      if (this.counters.recentRefusals.length > 20) this.counters.recentRefusals.shift();
    }
    this.onDecision?.(decision);
  }
}
