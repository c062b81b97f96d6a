// An openpi-protocol server for the tests, written independently of src/: it decodes with the msgpack library (binary
// map keys tagged "b:" so the tests can see which keys were binary) and frames replies by hand around the library's
// encoder, the way numpy's convention lays them out. Loopback only.
import { decode, encode } from "@msgpack/msgpack";
import { WebSocketServer, type WebSocket } from "ws";

export type Behaviour = (request: Record<string, unknown>, index: number, ws: WebSocket) => Uint8Array | string | "hang" | Promise<Uint8Array | string | "hang">;

const utf8 = new TextEncoder();

export function concatBytes(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) (out.set(p, at), (at += p.byteLength));
  return out;
}

const binKey = (key: string) => encode(utf8.encode(key));

/** {b"__ndarray__": True, b"data": ..., b"dtype": ..., b"shape": [...]} as numpy's packer writes it. */
export function ndarrayBytes(dtype: string, shape: number[], data: Uint8Array): Uint8Array {
  return concatBytes([Uint8Array.of(0x84), binKey("__ndarray__"), encode(true), binKey("data"), encode(data), binKey("dtype"), encode(dtype), binKey("shape"), encode(shape)]);
}

export function float32Array(values: number[]): Uint8Array {
  return new Uint8Array(Float32Array.from(values).buffer);
}

/** A map with string keys whose values are already encoded. */
export function mapBytes(entries: Array<[string, Uint8Array]>): Uint8Array {
  if (entries.length >= 16) throw new Error("test helper handles fixmaps only");
  return concatBytes([Uint8Array.of(0x80 | entries.length), ...entries.flatMap(([k, v]) => [encode(k), v])]);
}

/** A reply with float32 actions [steps][dim] from a formula and openpi-style timing. */
export function actionsReply(steps: number, dim: number, value: (t: number, d: number) => number, dtype = "<f4"): Uint8Array {
  const values: number[] = [];
  for (let t = 0; t < steps; t++) for (let d = 0; d < dim; d++) values.push(value(t, d));
  const data = dtype === "<f8" ? new Uint8Array(Float64Array.from(values).buffer) : float32Array(values);
  return mapBytes([
    ["actions", ndarrayBytes(dtype, [steps, dim], data)],
    ["server_timing", encode({ infer_ms: 12.5, prev_total_ms: 20.25 })],
  ]);
}

export class OpenpiServerDouble {
  readonly requests: Array<Record<string, unknown>> = [];
  connections = 0;
  private server: WebSocketServer | null = null;
  port = 0;

  constructor(
    private behaviour: Behaviour,
    /** null: accept the connection and never send metadata. */
    private readonly metadata: Uint8Array | null = encode({ server: "test double", action_horizon: 10 }),
  ) {}

  setBehaviour(behaviour: Behaviour): void {
    this.behaviour = behaviour;
  }

  async start(port = 0): Promise<number> {
    const server = new WebSocketServer({ host: "127.0.0.1", port, perMessageDeflate: false });
    await new Promise<void>((resolve, reject) => (server.once("listening", resolve), server.once("error", reject)));
    server.on("connection", (ws) => {
      this.connections++;
      if (this.metadata !== null) ws.send(this.metadata);
      ws.on("message", async (data: Buffer) => {
        const request = decode(data, { mapKeyConverter: (k) => (k instanceof Uint8Array ? "b:" + Buffer.from(k).toString("utf8") : (k as string)) }) as Record<string, unknown>;
        const index = this.requests.length;
        this.requests.push(request);
        const reply = await this.behaviour(request, index, ws);
        if (reply === "hang" || ws.readyState !== ws.OPEN) return;
        ws.send(reply, { binary: typeof reply !== "string" });
      });
    });
    this.server = server;
    const address = server.address();
    this.port = typeof address === "object" && address ? address.port : 0;
    return this.port;
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}`;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    for (const client of server.clients) client.terminate();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
