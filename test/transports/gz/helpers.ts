// Test support for the gz transport: find Debian's ignition-transport 11, build the C++ peers against it
// (cached by source hash), run them with a private partition on loopback, and read their JSON lines.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createHash, randomUUID } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const TOPIC_TOOL = "/usr/libexec/ignition/transport11/ign-transport-topic";
const PEER_SOURCE = fileURLToPath(new URL("./peers/gz_peer.cc", import.meta.url));
const SDF_CHECK_SOURCE = fileURLToPath(new URL("./peers/sdf_check.cc", import.meta.url));
const CACHE_DIR = fileURLToPath(new URL("../../../node_modules/.cache/vla-runtime-tests/gz/", import.meta.url));

function pkgConfig(packages: string[]): string[] | null {
  const r = spawnSync("pkg-config", ["--cflags", "--libs", ...packages], { encoding: "utf8" });
  if (r.status !== 0) return null;
  return r.stdout.trim().split(/\s+/).filter(Boolean);
}

function hasCompiler(): boolean {
  return spawnSync("g++", ["--version"], { encoding: "utf8" }).status === 0;
}

/** Why the ignition-transport peers cannot run here (null when they can). */
export function transportUnavailableReason(): string | null {
  if (!hasCompiler()) return "g++ is not installed (apt-get install g++)";
  if (!pkgConfig(["ignition-transport11", "ignition-msgs8"])) {
    return "Debian's ignition-transport 11 is not installed (apt-get install libignition-transport-dev libignition-msgs-dev ignition-transport-cli pkg-config)";
  }
  if (!existsSync(TOPIC_TOOL)) return `${TOPIC_TOOL} is missing (apt-get install ignition-transport-cli)`;
  return null;
}

/** Why the SDFormat checker cannot run here (null when it can). */
export function sdformatUnavailableReason(): string | null {
  if (!hasCompiler()) return "g++ is not installed (apt-get install g++)";
  if (!pkgConfig(["sdformat12"])) return "libsdformat 12 is not installed (apt-get install libsdformat-dev pkg-config)";
  return null;
}

function buildCached(source: string, name: string, packages: string[]): string {
  const flags = pkgConfig(packages);
  if (!flags) throw new Error(`pkg-config cannot find ${packages.join(", ")}`);
  const hash = createHash("sha256").update(readFileSync(source)).update(flags.join(" ")).digest("hex").slice(0, 16);
  mkdirSync(CACHE_DIR, { recursive: true });
  const binary = `${CACHE_DIR}${name}-${hash}`;
  if (existsSync(binary)) return binary;
  const tmp = `${binary}.${process.pid}.tmp`;
  const r = spawnSync("g++", ["-O2", "-o", tmp, source, ...flags], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`building ${name} failed:\n${r.stderr}`);
  renameSync(tmp, binary);
  return binary;
}

/** Build (once) the ignition-transport peer and return its path. */
export function buildPeer(): string {
  return buildCached(PEER_SOURCE, "gz_peer", ["ignition-transport11", "ignition-msgs8"]);
}

export function buildSdfChecker(): string {
  return buildCached(SDF_CHECK_SOURCE, "sdf_check", ["sdformat12"]);
}

/** Environment for one test: loopback only and a partition nobody else uses. */
export function isolatedEnv(): { partition: string; env: NodeJS.ProcessEnv } {
  const partition = `vla_test_${randomUUID().slice(0, 8)}`;
  return { partition, env: { ...process.env, IGN_IP: "127.0.0.1", GZ_IP: "127.0.0.1", IGN_PARTITION: partition, GZ_PARTITION: partition } };
}

/** A running peer whose stdout JSON lines are collected. */
export class PeerProcess {
  readonly lines: string[] = [];
  readonly json: Record<string, unknown>[] = [];
  stderr = "";
  private readonly exited: Promise<number | null>;
  private readonly waiters: Array<() => void> = [];

  constructor(readonly child: ChildProcess) {
    let buffer = "";
    child.stdout?.setEncoding("utf8");
    child.stdout?.on("data", (chunk: string) => {
      buffer += chunk;
      let nl: number;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        this.lines.push(line);
        if (line.startsWith("{")) {
          try {
            this.json.push(JSON.parse(line) as Record<string, unknown>);
          } catch {
            // not JSON: kept in lines
          }
        }
        for (const w of this.waiters.splice(0)) w();
      }
    });
    child.stderr?.setEncoding("utf8");
    child.stderr?.on("data", (chunk: string) => (this.stderr += chunk));
    this.exited = new Promise((resolve) => child.once("exit", (code) => {
      for (const w of this.waiters.splice(0)) w();
      resolve(code);
    }));
  }

  static start(command: string, args: string[], env: NodeJS.ProcessEnv): PeerProcess {
    return new PeerProcess(spawn(command, args, { env, stdio: ["ignore", "pipe", "pipe"] }));
  }

  /** Resolve once a line satisfies `match` (or reject after timeoutMs / when the process exits without one). */
  async waitFor(match: (line: string) => boolean, timeoutMs: number): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.lines.find(match);
      if (found !== undefined) return found;
      if (this.child.exitCode !== null || Date.now() > deadline) {
        throw new Error(`peer: no matching line within ${timeoutMs} ms; stdout:\n${this.lines.join("\n")}\nstderr:\n${this.stderr}`);
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.max(1, Math.min(50, deadline - Date.now())));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  async ready(timeoutMs = 5000): Promise<void> {
    await this.waitFor((l) => l === "READY", timeoutMs);
  }

  async exit(timeoutMs = 10_000): Promise<number | null> {
    const timer = setTimeout(() => this.child.kill("SIGKILL"), timeoutMs);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }

  kill(): void {
    if (this.child.exitCode === null) this.child.kill("SIGTERM");
  }
}

export async function until(condition: () => boolean, timeoutMs: number, stepMs = 10): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, stepMs));
  }
  return true;
}

/**
 * A registration (NEW_CONNECTION) arrives before the subscriber's TCP connection is surely up, and messages
 * sent in between are lost, by design of the transport. Tests that count messages first send a primer every
 * 20 ms until one arrives, then the messages they count (and ignore late primers).
 */
export async function primeUntil(send: () => void, arrived: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!arrived()) {
    if (Date.now() > deadline) throw new Error(`no primer message arrived within ${timeoutMs} ms`);
    send();
    await new Promise((r) => setTimeout(r, 20));
  }
}
