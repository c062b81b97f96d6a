// The live view: a Foxglove WebSocket server (@foxglove/ws-protocol over `ws`) that publishes the recorder's channels
// as they happen, with the same ROS 2 schemas and CDR bytes as the MCAP file, plus the arm's URDF as the
// /robot_description topic and parameter (what Foxglove's and Lichtblick's 3D panel load) and /tf for its joints.
// High-rate topics are thinned to maxRateHz per channel, and a client whose socket backs up loses messages instead of
// growing the server's memory.
import wsProtocol from "@foxglove/ws-protocol";
import type { Parameter } from "@foxglove/ws-protocol";
import { WebSocketServer, type WebSocket } from "ws";
import type { ArmDescription } from "../kinematics/description.js";
import type { RecordingSink } from "./recorder.js";
import type { ChannelKey } from "./topics.js";
import { armUrdf } from "./urdf.js";

const { FoxgloveServer } = wsProtocol;

export interface LiveViewOptions {
  /** Interface to listen on (default 127.0.0.1: this machine only; 0.0.0.0 to let others connect). */
  host?: string;
  /** TCP port (default 8765, Foxglove's usual; 0 picks a free one). */
  port?: number;
  name?: string;
  /** Messages per second per high-rate channel (joint states, commands, wrench, tactile, tf); default 60. */
  maxRateHz?: number;
  /** The arm, for the /robot_description parameter. */
  arm?: ArmDescription;
  /** A client whose socket holds more than this many unsent bytes is skipped (default 4 MiB). */
  maxClientBacklogBytes?: number;
}

/** Channels thinned to maxRateHz; the others (events, chunks, status) are all sent. */
const HIGH_RATE: ReadonlySet<ChannelKey> = new Set(["jointStates", "wrench", "tactile", "command", "tf", "image"]);
/** Channels whose last message is re-sent to late subscribers. */
const LATCHED: ReadonlySet<ChannelKey> = new Set(["robotDescription", "instruction"]);
const ROBOT_DESCRIPTION_PARAM = "/robot_description";

type FoxgloveServerInstance = InstanceType<typeof FoxgloveServer>;

export class LiveView {
  private readonly channelIds = new Map<ChannelKey, number>();
  private readonly topicOf = new Map<ChannelKey, string>();
  private readonly subscribed = new Set<number>();
  private readonly lastSentNs = new Map<ChannelKey, number>();
  private readonly latched = new Map<ChannelKey, { time: bigint; data: Uint8Array }>();
  private readonly minGapNs: number;
  private readonly maxBacklog: number;
  private readonly urdf: string | null;
  private sent = 0;
  private skipped = 0;
  private closed = false;

  private constructor(
    private readonly wss: WebSocketServer,
    private readonly server: FoxgloveServerInstance,
    readonly url: string,
    options: LiveViewOptions,
  ) {
    this.minGapNs = 1e9 / (options.maxRateHz ?? 60);
    this.maxBacklog = options.maxClientBacklogBytes ?? 4 * 1024 * 1024;
    this.urdf = options.arm ? armUrdf(options.arm) : null;
    server.on("subscribe", (id) => {
      this.subscribed.add(id);
      for (const [key, message] of this.latched) if (this.channelIds.get(key) === id) this.server.sendMessage(id, message.time, message.data);
    });
    server.on("unsubscribe", (id) => this.subscribed.delete(id));
    server.on("getParameters", (request, connection) => {
      const params: Parameter[] = [];
      const wanted = request.parameterNames.length === 0 || request.parameterNames.includes(ROBOT_DESCRIPTION_PARAM);
      if (this.urdf !== null && wanted) params.push({ name: ROBOT_DESCRIPTION_PARAM, value: this.urdf });
      server.publishParameterValues(params, request.id, connection);
    });
    server.on("error", () => {
      // A client's protocol error only concerns that client; the ws-protocol server already answers it with a status.
    });
  }

  /** Listen and accept Foxglove / Lichtblick clients. */
  static async start(options: LiveViewOptions = {}): Promise<LiveView> {
    const host = options.host ?? "127.0.0.1";
    const port = options.port ?? 8765;
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`live view: expected a port in 0..65535, got ${String(port)}`);
    if (options.maxRateHz !== undefined && !(options.maxRateHz > 0 && options.maxRateHz <= 1000)) {
      throw new Error(`live view: expected maxRateHz in (0, 1000], got ${String(options.maxRateHz)}`);
    }
    const server = new FoxgloveServer({ name: options.name ?? "vla-runtime", capabilities: ["parameters"], supportedEncodings: ["cdr"] });
    const wss = await new Promise<WebSocketServer>((resolve, reject) => {
      const s = new WebSocketServer({ host, port, handleProtocols: (protocols) => server.handleProtocols(protocols) });
      s.once("listening", () => resolve(s));
      s.once("error", (error) => reject(new Error(`live view: cannot listen on ${host}:${port}: ${error.message}`)));
    });
    wss.on("connection", (connection: WebSocket, request) => {
      server.handleConnection(connection, `${request.socket.remoteAddress ?? "?"}:${request.socket.remotePort ?? "?"}`);
    });
    const address = wss.address();
    const actualPort = typeof address === "object" && address !== null ? address.port : port;
    const shownHost = host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host;
    return new LiveView(wss, server, `ws://${shownHost}:${actualPort}`, options);
  }

  /** Where to point Foxglove or Lichtblick ("Open connection" > Foxglove WebSocket). */
  get address(): string {
    return this.url;
  }

  clientCount(): number {
    return this.wss.clients.size;
  }

  /** Topics some client subscribes to now. */
  subscribedTopics(): string[] {
    return [...this.channelIds].filter(([, id]) => this.subscribed.has(id)).map(([key]) => this.topicOf.get(key) ?? key);
  }

  stats(): { sent: number; skipped: number; clients: number } {
    return { sent: this.sent, skipped: this.skipped, clients: this.clientCount() };
  }

  /** The recorder-side sink that feeds this view. */
  sink(): RecordingSink {
    return {
      name: "live-view",
      addChannel: (key, topic, type, schema) => {
        if (this.channelIds.has(key)) return;
        this.topicOf.set(key, topic);
        this.channelIds.set(key, this.server.addChannel({ topic, encoding: "cdr", schemaName: type, schema, schemaEncoding: "ros2msg" }));
      },
      wants: (key, runtimeNs) => {
        if (this.closed) return false;
        if (LATCHED.has(key)) return true;
        const id = this.channelIds.get(key);
        if (id === undefined || !this.subscribed.has(id)) return false;
        if (!HIGH_RATE.has(key)) return true;
        const last = this.lastSentNs.get(key);
        if (last !== undefined && runtimeNs - last < this.minGapNs && runtimeNs >= last) return false;
        this.lastSentNs.set(key, runtimeNs);
        return true;
      },
      write: (key, logTimeNs, data) => {
        const id = this.channelIds.get(key);
        if (id === undefined || this.closed) return false;
        if (LATCHED.has(key)) this.latched.set(key, { time: logTimeNs, data });
        if (!this.subscribed.has(id)) return true;
        for (const client of this.wss.clients) {
          if (client.bufferedAmount > this.maxBacklog) {
            this.skipped++;
            return false;
          }
        }
        this.server.sendMessage(id, logTimeNs, data);
        this.sent++;
        return true;
      },
      close: async () => {
        // The view outlives one recording (a CLI session may record several runs); close() ends it.
      },
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const client of this.wss.clients) client.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }
}

/** For `vla-runtime run --viz`: start the view and say where to open it. */
export async function startLiveView(options: LiveViewOptions & { log?: (line: string) => void }): Promise<LiveView> {
  const view = await LiveView.start(options);
  (options.log ?? console.log)(`live view: open Foxglove or Lichtblick > Open connection > Foxglove WebSocket > ${view.address}`);
  return view;
}
