import { describe, expect, it } from "vitest";
import { TeleopController } from "../../../src/transports/teleop/controller.js";
import { COMMAND_TYPES, decodeCommand, REJECT_CODES, type DecodeResult } from "../../../src/transports/teleop/protocol.js";
import { arm, makeState, writeSensors } from "./helpers.js";

const enc = (value: unknown) => new TextEncoder().encode(typeof value === "string" ? value : JSON.stringify(value));
const decode = (value: unknown): DecodeResult => decodeCommand([enc(value)]);

function rejected(result: DecodeResult): { code: string; reason: string; seq?: number } {
  if (result.ok) throw new Error(`expected a rejection, got ${JSON.stringify(result.message)}`);
  return result;
}

describe("decodeCommand", () => {
  it("accepts every documented command", () => {
    const valid = [
      { type: "hello", seq: 1, client: "quest" },
      { type: "takeover", seq: 2 },
      { type: "hand-back" },
      { type: "emergency-stop" },
      { type: "reset-emergency-stop" },
      { type: "ping", clientTimeS: 12.5 },
      { type: "pose", seq: 9, timeS: 1.2, position: [0.1, 1.2, -0.3], quaternion: [1, 0, 0, 0], trigger: 0.4, engage: true },
      { type: "joints", positions: [0, 0.1, 0.2, 0.3, 0.4, 0.5], gripperM: 0.02 },
      { type: "jog", joint: 6, delta: -0.01 },
      { type: "twist", linear: [0.05, 0, 0], angular: [0, 0, 0.2], durationMs: 100, gripperMPerS: 0.01 },
    ];
    expect(new Set(valid.map((v) => v.type))).toEqual(new Set(COMMAND_TYPES));
    for (const v of valid) {
      const r = decode(v);
      expect(r.ok, JSON.stringify(r)).toBe(true);
      if (r.ok) expect(r.message).toEqual(v);
    }
  });

  it("rejects malformed input with a code, a one-line reason and the seq when readable", () => {
    expect(rejected(decodeCommand([enc({ type: "ping" }), enc("x")]))).toMatchObject({ code: "frames", reason: "expected 1 frame holding a JSON object, got 2 frames" });
    expect(rejected(decodeCommand([new Uint8Array(20_000)]))).toMatchObject({ code: "too-large", reason: "expected at most 16384 bytes, got 20000" });
    expect(rejected(decodeCommand([Uint8Array.from([0x7b, 0xff, 0xfe, 0x7d])])).code).toBe("encoding");
    expect(rejected(decode("{type: pose"))).toMatchObject({ code: "json" });
    expect(rejected(decode("[1,2]"))).toMatchObject({ code: "not-object", reason: 'expected a JSON object with a "type" field, got an array' });
    expect(rejected(decode("null")).reason).toContain("got null");
    expect(rejected(decode({ type: "fly", seq: 4 }))).toMatchObject({ code: "unknown-type", seq: 4 });
    expect(rejected(decode({ seq: 4 })).reason).toMatch(/"type" to be one of hello, .*; got undefined/);
    // Schema: wrong shapes, ranges, extra fields, non-unit quaternions; the reason names the field.
    expect(rejected(decode({ type: "pose", seq: 7, position: [0, 0], quaternion: [1, 0, 0, 0] }))).toMatchObject({ code: "schema", seq: 7 });
    expect(rejected(decode({ type: "pose", position: [0, 0, 0], quaternion: [2, 0, 0, 0] })).reason).toMatch(/pose: quaternion: expected a unit quaternion/);
    expect(rejected(decode({ type: "pose", position: [0, 0, 0], quaternion: [1, 0, 0, 0], trigger: 3 })).reason).toMatch(/^pose: trigger: /);
    expect(rejected(decode({ type: "pose", position: ["0", 0, 0], quaternion: [1, 0, 0, 0] })).reason).toMatch(/^pose: position\.0: /);
    expect(rejected(decode({ type: "jog", joint: 1, delta: 2 })).reason).toMatch(/^jog: delta: /);
    expect(rejected(decode({ type: "jog", joint: 1.5, delta: 0.1 })).reason).toMatch(/^jog: joint: /);
    expect(rejected(decode({ type: "twist", linear: [5, 0, 0], angular: [0, 0, 0] })).reason).toMatch(/\|linear\| <= 2 m\/s/);
    expect(rejected(decode({ type: "takeover", force: true })).reason).toMatch(/^takeover: /);
    expect(rejected(decode({ type: "ping", seq: -1 })).seq).toBeUndefined();
    // Numbers JSON cannot carry finitely (1e999 parses to Infinity) are refused.
    expect(rejected(decode('{"type":"joints","positions":[1e999,0,0,0,0,0]}')).code).toBe("schema");
  });

  it("survives fuzzing: random bytes, mutated and random JSON never throw, and every verdict is well-formed", () => {
    let seed = 12345;
    const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)];
    const atoms = [0, -1, 1.5, 1e308, -1e-308, "", "pose", "x".repeat(50), true, false, null, [], {}, [0, 0, 0], [1, 0, 0, 0]];
    const keys = ["type", "seq", "position", "quaternion", "trigger", "positions", "joint", "delta", "linear", "angular", "durationMs", "client", "__proto__", "constructor"];
    const randomValue = (depth: number): unknown => {
      const r = rand();
      if (depth > 3 || r < 0.4) return pick(atoms);
      if (r < 0.6) return Array.from({ length: Math.floor(rand() * 6) }, () => randomValue(depth + 1));
      const o: Record<string, unknown> = {};
      for (let i = Math.floor(rand() * 5); i > 0; i--) o[pick(keys)] = randomValue(depth + 1);
      if (rand() < 0.7) o.type = pick([...COMMAND_TYPES, "bogus"]);
      return o;
    };
    const valid = JSON.stringify({ type: "pose", seq: 3, position: [0.1, 0.2, 0.3], quaternion: [1, 0, 0, 0], trigger: 0.5 });
    const state = makeState();
    writeSensors(state);
    const controller = new TeleopController({ state, arm });
    const client = { id: "f", name: "fuzzer" };
    const counts = { ok: 0, rejected: 0 };
    for (let i = 0; i < 6000; i++) {
      let bytes: Uint8Array;
      const mode = i % 3;
      if (mode === 0) bytes = Uint8Array.from({ length: Math.floor(rand() * 300) }, () => Math.floor(rand() * 256));
      else if (mode === 1) {
        const b = enc(valid);
        for (let k = Math.floor(rand() * 4) + 1; k > 0; k--) b[Math.floor(rand() * b.length)] = Math.floor(rand() * 128);
        bytes = b;
      } else bytes = enc(JSON.stringify(randomValue(0)));
      const result = decodeCommand([bytes]);
      if (result.ok) {
        counts.ok++;
        // Whatever passes the schema is safe to hand to the controller: it answers, it never throws.
        const reply = controller.handle(client, result.message);
        if (reply !== null) expect(["welcome", "ack", "pong", "error"]).toContain(reply.type);
      } else {
        counts.rejected++;
        expect(REJECT_CODES).toContain(result.code);
        expect(result.reason.length).toBeGreaterThan(0);
        expect(result.reason).not.toContain("\n");
      }
    }
    expect(counts.rejected).toBeGreaterThan(1000);
    expect(counts.ok).toBeGreaterThan(10);
  });
});
