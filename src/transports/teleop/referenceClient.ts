// The reference teleop client and the key tool, as functions the CLI calls:
//   vla-runtime teleop <status|takeover|hand-back|estop|reset-estop|ping|pose|jog> [options]   -> runTeleopCli(argv)
//   vla-runtime keys generate --dir keys --name operator [--force]                          -> runKeysCli(argv)
// Options: --command <addr> --state <addr> --server-key <server .key file> --key <client .key_secret file>
//          [--read-only] (state stream without authentication; status only)
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import type { Readable, Writable } from "node:stream";
import { TeleopClient } from "./client.js";
import { generateKeys, readCertificate, readKeyPair, generateCurveKeyPair } from "./keys.js";
import type { TeleopStateMessage } from "./protocol.js";

export interface CliIo {
  stdin: Readable & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
  stdout: Writable;
  stderr: Writable;
}

const defaultIo = (): CliIo => ({ stdin: process.stdin, stdout: process.stdout, stderr: process.stderr });

export const TELEOP_CLI_USAGE = `usage: vla-runtime teleop <command> [options]
commands:
  status [--count N]            print N state samples (default 5)
  takeover | hand-back | estop | reset-estop | ping
  pose [--script circle|line|FILE.jsonl] [--rate 30] [--duration 5] [--radius 0.05] [--keep]
                                take over, stream wrist poses (TactAR mapping), hand back (unless --keep)
  jog [--step 0.05]             keyboard jog from stdin: 1-7 pick a joint (last: gripper), + / - move it,
                                t take over, h hand back, e emergency stop, r reset it, q quit
options:
  --command ADDR   command socket (default tcp://127.0.0.1:5590)
  --state ADDR     state stream (default tcp://127.0.0.1:5591)
  --server-key F   the server's public certificate (.key)
  --key F          this client's secret certificate (.key_secret)
  --read-only      subscribe to a read-only state stream without keys (status only)`;

export const KEYS_CLI_USAGE = `usage: vla-runtime keys generate [--dir keys] [--name NAME] [--force]
       vla-runtime keys show FILE
writes NAME.key (public: give it to the peers) and NAME.key_secret (keep it; mode 600).`;

function parseFlags(argv: string[]): { positional: string[]; flags: Map<string, string> } {
  const positional: string[] = [];
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a.startsWith("--")) {
      const next = argv[i + 1];
      if (next !== undefined && !next.startsWith("--")) {
        flags.set(a.slice(2), next);
        i++;
      } else flags.set(a.slice(2), "true");
    } else positional.push(a);
  }
  return { positional, flags };
}

function numberFlag(flags: Map<string, string>, name: string, fallback: number, min: number, max: number): number {
  const raw = flags.get(name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || value > max) throw new Error(`teleop: expected --${name} in [${min}, ${max}], got ${JSON.stringify(raw)}`);
  return value;
}

/** `vla-runtime keys ...`; returns the exit code. */
export async function runKeysCli(argv: string[], io: CliIo = defaultIo()): Promise<number> {
  const { positional, flags } = parseFlags(argv);
  try {
    switch (positional[0]) {
      case "generate": {
        const result = generateKeys({ dir: flags.get("dir") ?? "keys", name: flags.get("name") ?? "operator", force: flags.get("force") === "true" });
        io.stdout.write(`public key ${result.publicKey}\n  ${result.publicPath}  (give to peers: the server's allow-list or the clients' --server-key)\n  ${result.secretPath}  (keep secret)\n`);
        return 0;
      }
      case "show": {
        if (!positional[1]) throw new Error("keys: expected a certificate file after show");
        const cert = readCertificate(positional[1]);
        io.stdout.write(`${cert.name}: public key ${cert.publicKey}${cert.secretKey ? " (secret certificate)" : ""}\n`);
        return 0;
      }
      default:
        io.stderr.write(`${KEYS_CLI_USAGE}\n`);
        return positional[0] === undefined || positional[0] === "help" ? 0 : 2;
    }
  } catch (error) {
    io.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}

/** A pose of the scripted hand at time t (s) in the operator frame; the hand starts at the origin. */
export type PoseScript = (tS: number) => { position: [number, number, number]; quaternion: [number, number, number, number]; trigger: number };

export function builtinPoseScript(name: string, radiusM: number): PoseScript {
  switch (name) {
    case "circle": // a horizontal circle starting at the origin, 4 s per turn, the gripper closing halfway
      return (t) => {
        const a = (2 * Math.PI * t) / 4;
        return { position: [radiusM * (Math.cos(a) - 1), radiusM * Math.sin(a), 0], quaternion: [1, 0, 0, 0], trigger: t > 2 ? 1 : 0 };
      };
    case "line": // up and down along z, 2 s each way
      return (t) => ({ position: [0, 0, radiusM * (1 - Math.cos((Math.PI * t) / 2)) * 0.5], quaternion: [1, 0, 0, 0], trigger: 0 });
    default:
      throw new Error(`teleop: expected --script circle, line or a .jsonl file, got ${JSON.stringify(name)}`);
  }
}

/** A JSON-lines pose script: {"t": s, "position": [x,y,z], "quaternion": [w,x,y,z], "trigger": 0..1} per line, t rising. */
export async function loadPoseScript(path: string): Promise<PoseScript> {
  const samples: { t: number; position: [number, number, number]; quaternion: [number, number, number, number]; trigger: number }[] = [];
  const lines = createInterface({ input: createReadStream(path) });
  let n = 0;
  for await (const line of lines) {
    n++;
    if (line.trim() === "") continue;
    const v = JSON.parse(line) as { t?: unknown; position?: unknown; quaternion?: unknown; trigger?: unknown };
    const ok =
      typeof v.t === "number" &&
      Array.isArray(v.position) && v.position.length === 3 && v.position.every(Number.isFinite) &&
      Array.isArray(v.quaternion) && v.quaternion.length === 4 && v.quaternion.every(Number.isFinite);
    if (!ok) throw new Error(`${path}:${n}: expected {"t": s, "position": [3 numbers], "quaternion": [4 numbers], "trigger"?: 0..1}`);
    samples.push({ t: v.t as number, position: v.position as [number, number, number], quaternion: v.quaternion as [number, number, number, number], trigger: typeof v.trigger === "number" ? v.trigger : 0 });
  }
  if (samples.length === 0) throw new Error(`${path}: no poses`);
  return (t) => samples.reduce((best, s) => (s.t <= t ? s : best), samples[0]);
}

export interface PoseStreamOptions {
  script: PoseScript;
  rateHz: number;
  durationS: number;
  /** Stay in takeover at the end (default: hand back). */
  keep?: boolean;
  /** Called once per pose sent (tests, progress). */
  onPose?: (index: number) => void;
}

/** Take over, stream the script's poses at rateHz for durationS, hand back. */
export async function streamPoses(client: TeleopClient, options: PoseStreamOptions): Promise<{ sent: number }> {
  await client.takeover();
  const periodMs = 1000 / options.rateHz;
  const start = performance.now();
  let sent = 0;
  try {
    for (let k = 0; ; k++) {
      const due = start + k * periodMs;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const t = (performance.now() - start) / 1000;
      if (t > options.durationS) break;
      const p = options.script(t);
      client.pose(p.position, p.quaternion, p.trigger);
      sent++;
      options.onPose?.(sent);
    }
  } finally {
    if (!options.keep) await client.handBack();
  }
  return { sent };
}

/** Keyboard jog: reads keys from `input` until q (or the end of input). Returns the number of jogs sent. */
export async function keyboardJog(client: TeleopClient, input: CliIo["stdin"], out: Writable, stepRad: number, jointCount: number): Promise<number> {
  let joint = 0;
  let jogs = 0;
  if (input.isTTY && input.setRawMode) input.setRawMode(true);
  out.write(`joint ${joint + 1}; keys: 1-${jointCount + 1} joint, +/- move, t take over, h hand back, e stop, r reset, q quit\n`);
  try {
    for await (const chunk of input) {
      for (const key of chunk.toString()) {
        try {
          if (key >= "1" && key <= "9" && Number(key) <= jointCount + 1) {
            joint = Number(key) - 1;
            out.write(`joint ${joint + 1}${joint === jointCount ? " (gripper)" : ""}\n`);
          } else if (key === "+" || key === "=" || key === "-" || key === "_") {
            const sign = key === "+" || key === "=" ? 1 : -1;
            // The gripper moves in metres: a tenth of the joint step.
            client.jog(joint, sign * (joint === jointCount ? stepRad / 10 : stepRad));
            jogs++;
          } else if (key === "t") out.write(`${JSON.stringify(await client.takeover())}\n`);
          else if (key === "h") out.write(`${JSON.stringify(await client.handBack())}\n`);
          else if (key === "e") out.write(`${JSON.stringify(await client.emergencyStop())}\n`);
          else if (key === "r") out.write(`${JSON.stringify(await client.resetEmergencyStop())}\n`);
          else if (key === "q" || key === "\u0003") return jogs;
        } catch (error) {
          out.write(`${error instanceof Error ? error.message : String(error)}\n`);
        }
      }
    }
    return jogs;
  } finally {
    if (input.isTTY && input.setRawMode) input.setRawMode(false);
  }
}

function formatState(s: TeleopStateMessage): string {
  const f = (v: number[] | undefined | null, d = 3) => (v ? v.map((x) => x.toFixed(d)).join(" ") : "-");
  return `#${s.seq} ${s.mode}${s.owner ? ` (${s.owner})` : ""}${s.emergencyStop ? " E-STOP" : ""} q [${f(s.joints?.positions)}] tool [${f(s.tool?.position)}] F [${f(s.wrench?.slice(0, 3), 1)}] cmd ${s.command?.source ?? "-"} chunk ${s.chunk?.sequence ?? "-"}`;
}

/** `vla-runtime teleop ...`; returns the exit code. */
export async function runTeleopCli(argv: string[], io: CliIo = defaultIo()): Promise<number> {
  const { positional, flags } = parseFlags(argv);
  const command = positional[0];
  if (command === undefined || command === "help") {
    io.stdout.write(`${TELEOP_CLI_USAGE}\n`);
    return 0;
  }
  let client: TeleopClient | null = null;
  try {
    const readOnly = flags.get("read-only") === "true";
    if (readOnly && command !== "status") throw new Error("teleop: --read-only only works with status (moving the robot needs keys)");
    const serverKeyPath = flags.get("server-key");
    const keyPath = flags.get("key");
    if (!readOnly && (!serverKeyPath || !keyPath)) throw new Error("teleop: expected --server-key <server .key> and --key <client .key_secret>");
    const keys = keyPath ? readKeyPair(keyPath) : generateCurveKeyPair();
    const serverPublicKey = serverKeyPath ? readCertificate(serverKeyPath).publicKey : keys.publicKey;
    const states: TeleopStateMessage[] = [];
    let stateWaiter: (() => void) | null = null;
    client = await TeleopClient.connect({
      commandAddress: flags.get("command") ?? "tcp://127.0.0.1:5590",
      stateAddress: flags.get("state") ?? "tcp://127.0.0.1:5591",
      stateWithoutAuth: readOnly,
      serverPublicKey,
      keys,
      onState: (s) => {
        states.push(s);
        stateWaiter?.();
      },
      onEvent: (e) => io.stdout.write(`event ${e.kind} by ${e.client}: ${e.reason}\n`),
      onRejected: (r) => io.stderr.write(`rejected (${r.code}): ${r.reason}\n`),
    });
    const reply = async (p: Promise<unknown>) => io.stdout.write(`${JSON.stringify(await p)}\n`);
    if (!readOnly) await client.hello(keyPath ? readKeyPair(keyPath).name : undefined);
    switch (command) {
      case "status": {
        const count = numberFlag(flags, "count", 5, 1, 1_000_000);
        while (states.length < count) {
          await new Promise<void>((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error("teleop: no state sample within 3 s (address, keys or --read-only?)")), 3000);
            stateWaiter = () => {
              clearTimeout(timer);
              resolve();
            };
          });
        }
        for (const s of states.slice(0, count)) io.stdout.write(`${formatState(s)}\n`);
        return 0;
      }
      case "takeover":
        await reply(client.takeover());
        return 0;
      case "hand-back":
        await reply(client.handBack());
        return 0;
      case "estop":
        await reply(client.emergencyStop());
        return 0;
      case "reset-estop":
        await reply(client.resetEmergencyStop());
        return 0;
      case "ping":
        await reply(client.ping());
        return 0;
      case "pose": {
        const scriptName = flags.get("script") ?? "circle";
        const radius = numberFlag(flags, "radius", 0.05, 0, 1);
        const script = scriptName.endsWith(".jsonl") ? await loadPoseScript(scriptName) : builtinPoseScript(scriptName, radius);
        const { sent } = await streamPoses(client, {
          script,
          rateHz: numberFlag(flags, "rate", 30, 1, 200),
          durationS: numberFlag(flags, "duration", 5, 0.1, 3600),
          keep: flags.get("keep") === "true",
        });
        io.stdout.write(`sent ${sent} poses; ${client.stats.rejected} rejected\n`);
        return 0;
      }
      case "jog": {
        const welcome = await client.hello();
        const jogs = await keyboardJog(client, io.stdin, io.stdout, numberFlag(flags, "step", 0.05, 0.001, 0.5), welcome.arm.joints.length);
        io.stdout.write(`sent ${jogs} jogs\n`);
        return 0;
      }
      default:
        io.stderr.write(`teleop: unknown command ${JSON.stringify(command)}\n${TELEOP_CLI_USAGE}\n`);
        return 2;
    }
  } catch (error) {
    io.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  } finally {
    await client?.close();
  }
}
