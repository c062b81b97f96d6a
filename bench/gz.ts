// `npm run bench -- gz`: round trips of gz.msgs.Double-sized messages over gz-transport on loopback, our client
// against Debian's ignition-transport 11, next to two ignition-transport peers talking to each other.
//
// Cases (each at a fixed send rate for a fixed time, after a warm-up that waits for the first echo):
// - "C++ ping -> C++ echo": both ends are the reference library (the baseline);
// - "ours ping -> C++ echo": our node publishes, the library echoes, our node receives;
// - "C++ ping -> ours echo": the library publishes, our node echoes, the library receives.
// The pinger stamps each message with a sequence number (the Double's value) and measures the round trip on
// its own monotonic clock. Delivered / lost count what came back. The C++ peers are built from
// test/transports/gz/peers/gz_peer.cc against the installed library (g++, pkg-config).
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createHash, randomUUID } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { DoubleEncoder } from "../src/transports/gz/messages.js";
import { GzNode } from "../src/transports/gz/node.js";
import { ProtoReader } from "../src/transports/gz/protobuf.js";
import { findRepoRoot, printTable, quantile, type Row } from "./lib/harness.js";

export interface GzBenchOptions {
  /** Seconds per case. Default 10. */
  durationS?: number;
  /** Send rate (Hz). Default 1000. */
  rateHz?: number;
}

interface CaseResult {
  case: string;
  sent: number;
  delivered: number;
  lost: number;
  p50Us: number;
  p99Us: number;
  maxUs: number;
  elapsedS: number;
  connected: boolean;
  /** Our echo only: pings it received and pongs it handed to its socket. */
  echoReceived?: number;
  echoSent?: number;
}

const TYPE = "ignition.msgs.Double";

function pkgFlags(): string[] | null {
  const r = spawnSync("pkg-config", ["--cflags", "--libs", "ignition-transport11", "ignition-msgs8"], { encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim().split(/\s+/) : null;
}

/** Build the C++ peer once per source version; null (with the reason) when the library or compiler is missing. */
function buildPeer(root: string): { binary: string } | { reason: string } {
  const flags = pkgFlags();
  if (!flags) return { reason: "ignition-transport 11 is not installed (apt-get install libignition-transport-dev libignition-msgs-dev pkg-config)" };
  if (spawnSync("g++", ["--version"]).status !== 0) return { reason: "g++ is not installed" };
  const source = join(root, "test", "transports", "gz", "peers", "gz_peer.cc");
  const hash = createHash("sha256").update(readFileSync(source)).update(flags.join(" ")).digest("hex").slice(0, 16);
  const dir = join(root, "node_modules", ".cache", "vla-runtime-bench", "gz");
  mkdirSync(dir, { recursive: true });
  const binary = join(dir, `gz_peer-${hash}`);
  if (!existsSync(binary)) {
    const tmp = `${binary}.${process.pid}.tmp`;
    const r = spawnSync("g++", ["-O2", "-o", tmp, source, ...flags], { encoding: "utf8" });
    if (r.status !== 0) return { reason: `building the peer failed: ${r.stderr.split("\n")[0]}` };
    renameSync(tmp, binary);
  }
  return { binary };
}

/** Spawn a peer, resolve once it printed READY; `done` resolves with its last JSON line. */
function startPeer(binary: string, args: string[], env: NodeJS.ProcessEnv): { child: ChildProcess; ready: Promise<void>; done: Promise<Record<string, unknown>> } {
  const child = spawn(binary, args, { env, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  let readyResolve: () => void = () => {};
  const ready = new Promise<void>((resolve) => (readyResolve = resolve));
  child.stdout.setEncoding("utf8");
  child.stdout.on("data", (c: string) => {
    out += c;
    if (out.includes("READY\n")) readyResolve();
  });
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (c: string) => (err += c));
  const done = new Promise<Record<string, unknown>>((resolve, reject) => {
    child.once("exit", (code) => {
      readyResolve();
      const last = out.trim().split("\n").filter((l) => l.startsWith("{")).pop();
      if (last) resolve(JSON.parse(last) as Record<string, unknown>);
      else reject(new Error(`gz bench: peer ${args[0]} exited with ${code} without a result: ${err.split("\n")[0]}`));
    });
  });
  return { child, ready, done };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const nowNs = () => Number(process.hrtime.bigint());

/** Wait for a deadline on the event loop: coarse sleeps, then yielding turns so received messages are handled. */
async function waitUntilNs(deadlineNs: number): Promise<void> {
  for (;;) {
    const left = deadlineNs - nowNs();
    if (left <= 0) return;
    if (left > 2e6) await sleep(1);
    else await new Promise((r) => setImmediate(r));
  }
}

async function oursPingCppEcho(binary: string, env: NodeJS.ProcessEnv, rateHz: number, durationS: number): Promise<CaseResult> {
  const echo = startPeer(binary, ["echo", "/bench/ping", "/bench/pong", TYPE, String((durationS + 15) * 1000)], env);
  const node = await GzNode.create({ env });
  try {
    const total = Math.ceil(rateHz * durationS);
    const sentAt = new Float64Array(total).fill(NaN);
    const rttUs: number[] = [];
    let probeBack = false;
    const reader = new ProtoReader();
    node.subscribe("/bench/pong", TYPE, (payload) => {
      const t = nowNs();
      reader.reset(payload);
      let seq = NaN;
      while (!reader.done()) {
        if (reader.tag() === 2) seq = reader.double();
        else reader.skip();
      }
      if (seq < 0) probeBack = true;
      else if (seq >= 0 && seq < total && !Number.isNaN(sentAt[seq])) {
        rttUs.push((t - sentAt[seq]) / 1e3);
        sentAt[seq] = NaN;
      }
    });
    const pub = node.advertise("/bench/ping", TYPE);
    const enc = new DoubleEncoder();
    await echo.ready;
    const connectDeadline = Date.now() + 10_000;
    for (let probe = -1; !probeBack && Date.now() < connectDeadline; probe--) {
      pub.publish(enc.encode(probe));
      await sleep(20);
    }
    if (!probeBack) return { case: "ours ping -> C++ echo", sent: 0, delivered: 0, lost: 0, p50Us: NaN, p99Us: NaN, maxUs: NaN, elapsedS: 0, connected: false };
    const periodNs = 1e9 / rateHz;
    const t0 = nowNs();
    for (let i = 0; i < total; i++) {
      await waitUntilNs(t0 + i * periodNs);
      sentAt[i] = nowNs();
      pub.publish(enc.encode(i));
    }
    const elapsedS = (nowNs() - t0) / 1e9;
    await sleep(300);
    return summarize("ours ping -> C++ echo", total, rttUs, elapsedS);
  } finally {
    await node.close();
    echo.child.kill();
    await echo.done.catch(() => undefined);
  }
}

async function cppPingOursEcho(binary: string, env: NodeJS.ProcessEnv, rateHz: number, durationS: number): Promise<CaseResult> {
  const node = await GzNode.create({ env });
  try {
    const pub = node.advertise("/bench/pong", TYPE);
    const sub = node.subscribe("/bench/ping", TYPE, (payload) => {
      pub.publish(payload);
    });
    const ping = startPeer(binary, ["ping", "/bench/ping", "/bench/pong", TYPE, String(rateHz), String(durationS * 1000), "10000"], env);
    const result = fromPeer("C++ ping -> ours echo", await ping.done);
    return { ...result, echoReceived: sub.received, echoSent: pub.sent };
  } finally {
    await node.close();
  }
}

async function cppPingCppEcho(binary: string, env: NodeJS.ProcessEnv, rateHz: number, durationS: number): Promise<CaseResult> {
  const echo = startPeer(binary, ["echo", "/bench/ping", "/bench/pong", TYPE, String((durationS + 15) * 1000)], env);
  await echo.ready;
  try {
    const ping = startPeer(binary, ["ping", "/bench/ping", "/bench/pong", TYPE, String(rateHz), String(durationS * 1000), "10000"], env);
    return fromPeer("C++ ping -> C++ echo", await ping.done);
  } finally {
    echo.child.kill();
    await echo.done.catch(() => undefined);
  }
}

function fromPeer(name: string, r: Record<string, unknown>): CaseResult {
  const num = (k: string) => (typeof r[k] === "number" ? (r[k] as number) : NaN);
  return {
    case: name,
    sent: num("sent") || 0,
    delivered: num("received") || 0,
    lost: num("lost") || 0,
    p50Us: num("p50Us"),
    p99Us: num("p99Us"),
    maxUs: num("maxUs"),
    elapsedS: num("elapsedS"),
    connected: r.connected === true,
  };
}

function summarize(name: string, sent: number, rttUs: number[], elapsedS: number): CaseResult {
  return {
    case: name,
    sent,
    delivered: rttUs.length,
    lost: sent - rttUs.length,
    p50Us: quantile(rttUs, 0.5),
    p99Us: quantile(rttUs, 0.99),
    maxUs: rttUs.length ? Math.max(...rttUs) : NaN,
    elapsedS,
    connected: true,
  };
}

export async function runGzBench(options: GzBenchOptions = {}): Promise<{ rows: Row[]; json: object }> {
  const durationS = options.durationS ?? 10;
  const rateHz = options.rateHz ?? 1000;
  const root = findRepoRoot();
  const built = buildPeer(root);
  if ("reason" in built) {
    console.log(`gz bench skipped: ${built.reason}`);
    return { rows: [], json: { skipped: built.reason } };
  }
  const results: CaseResult[] = [];
  for (const run of [cppPingCppEcho, oursPingCppEcho, cppPingOursEcho]) {
    // A partition per case: no case sees another's leftovers.
    const partition = `vla_bench_${randomUUID().slice(0, 8)}`;
    const env = { ...process.env, IGN_IP: "127.0.0.1", GZ_IP: "127.0.0.1", IGN_PARTITION: partition, GZ_PARTITION: partition };
    results.push(await run(built.binary, env, rateHz, durationS));
  }
  const rows: Row[] = results.map((r) => ({
    case: r.case,
    "rate Hz": rateHz,
    sent: r.sent,
    delivered: r.delivered,
    lost: r.lost,
    "p50 us": r.p50Us,
    "p99 us": r.p99Us,
    "max us": r.maxUs,
    "achieved Hz": r.elapsedS > 0 ? r.sent / r.elapsedS : 0,
  }));
  printTable(`gz-transport round trips on loopback: ${TYPE}, ${rateHz} Hz for ${durationS} s per case (${cpus().length} shared cores: numbers are noisy)`, rows);
  return {
    rows,
    json: {
      durationS,
      rateHz,
      messageType: TYPE,
      transport: "Debian ignition-transport 11 (libignition-transport11), loopback, IGN_IP=127.0.0.1",
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? "",
      loadavgAtEnd: loadavg(),
      note: "Round trip measured by the pinger on its own monotonic clock; sequence numbers travel in the Double's value. Lost = sent - delivered after a 300 ms drain.",
      cases: results,
    },
  };
}
