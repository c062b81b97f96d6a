import { decode, encode } from "@msgpack/msgpack";
import { describe, expect, it } from "vitest";
import { decodeMsgpackStrict, scanMsgpack } from "../../../src/policy/remote/msgpackStrict.js";
import { MsgpackWriter } from "../../../src/policy/remote/msgpackWriter.js";
import { readNdarray, resolveWire } from "../../../src/policy/remote/ndarray.js";
import { parseReply, parseRequest } from "../../../src/policy/remote/zmqProtocol.js";

const LIMIT = { maxBytes: 1 << 20 };
const bytes = (...values: number[]) => Uint8Array.from(values);

function expectError(result: ReturnType<typeof decodeMsgpackStrict>, pattern: RegExp): void {
  expect(result.ok).toBe(false);
  if (!result.ok) {
    expect(result.error).toMatch(pattern);
    expect(result.error).not.toContain("\n");
  }
}

describe("strict msgpack decoding", () => {
  it("decodes plain values the library encoded", () => {
    const value = { a: [1, -2, 3.5, "x", null, true], b: { c: new Uint8Array([1, 2, 3]) }, big: 2 ** 40, neg: -(2 ** 33) };
    const result = decodeMsgpackStrict(encode(value), LIMIT);
    expect(result).toEqual({ ok: true, value });
  });

  it("turns binary map keys into strings (numpy's b'__ndarray__' convention)", () => {
    // {b"__ndarray__": true}: fixmap(1), bin8 of 11 bytes, true
    const key = new TextEncoder().encode("__ndarray__");
    const result = decodeMsgpackStrict(bytes(0x81, 0xc4, key.length, ...key, 0xc3), LIMIT);
    expect(result).toEqual({ ok: true, value: { __ndarray__: true } });
  });

  it("refuses every extension type, fixext and ext8/16/32 alike", () => {
    expectError(decodeMsgpackStrict(bytes(0xd4, 0x05, 0x00), LIMIT), /extension type 5 .*not allowed/); // fixext 1
    expectError(decodeMsgpackStrict(bytes(0xd6, 0xff, 0, 0, 0, 0), LIMIT), /extension type -1/); // the timestamp ext too
    expectError(decodeMsgpackStrict(bytes(0x91, 0xc7, 0x02, 0x10, 0xaa, 0xbb), LIMIT), /extension type 16/); // ext 8 inside an array
    expectError(decodeMsgpackStrict(bytes(0xc9, 0, 0, 0, 1, 0x01, 0x00), LIMIT), /extension type 1/); // ext 32
  });

  it("refuses the reserved byte, truncation, trailing bytes and an empty message", () => {
    expectError(decodeMsgpackStrict(bytes(0xc1), LIMIT), /reserved byte 0xc1/);
    expectError(decodeMsgpackStrict(bytes(0xcb, 0, 0), LIMIT), /needs 8 bytes, 2 left/);
    expectError(decodeMsgpackStrict(bytes(0x92, 0x91, 0x01), LIMIT), /truncated at byte 3/);
    expectError(decodeMsgpackStrict(bytes(0x01, 0x02), LIMIT), /1 trailing bytes/);
    expectError(decodeMsgpackStrict(new Uint8Array(0), LIMIT), /empty message/);
  });

  it("refuses a container that claims more items than bytes are left (no giant allocation)", () => {
    expectError(decodeMsgpackStrict(bytes(0xdd, 0xff, 0xff, 0xff, 0xff, 0x01), LIMIT), /declares 4294967295 items but only 1 bytes/);
    expectError(decodeMsgpackStrict(bytes(0xdf, 0x00, 0x10, 0x00, 0x00), LIMIT), /declares 1048576 entries/);
    expectError(decodeMsgpackStrict(bytes(0xc6, 0x7f, 0xff, 0xff, 0xff, 0x00), LIMIT), /bin at byte 0 needs 2147483647 bytes/);
  });

  it("refuses nesting deeper than the limit (no deep decoder stacks from a small message)", () => {
    const deep = new Uint8Array(1000).fill(0x91);
    const withLeaf = new Uint8Array([...deep, 0x00]);
    expectError(decodeMsgpackStrict(withLeaf, LIMIT), /nesting deeper than 32/);
    expect(decodeMsgpackStrict(new Uint8Array([...deep.subarray(0, 32), 0x00]), LIMIT).ok).toBe(true);
  });

  it("refuses map keys that are not strings or binary, and a __proto__ key", () => {
    expectError(decodeMsgpackStrict(bytes(0x81, 0x01, 0x02), LIMIT), /map key at byte 1 is not a string or binary/);
    expectError(decodeMsgpackStrict(bytes(0x81, 0x90, 0x02), LIMIT), /map key/);
    const proto = new TextEncoder().encode("__proto__");
    expectError(decodeMsgpackStrict(bytes(0x81, 0xc4, proto.length, ...proto, 0x80), LIMIT), /__proto__/);
    expectError(decodeMsgpackStrict(bytes(0x81, 0xa0 | proto.length, ...proto, 0x80), LIMIT), /__proto__/);
  });

  it("refuses a message over the size limit before looking at it", () => {
    expectError(decodeMsgpackStrict(encode("x".repeat(2000)), { maxBytes: 1000 }), /2003 bytes is over the 1000-byte limit/);
  });
});

describe("MsgpackWriter", () => {
  it("writes what the library reads back, in the smallest encodings", () => {
    const value = {
      ints: [0, 127, 128, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1, -1, -32, -33, -128, -129, -32768, -32769, -(2 ** 31), -(2 ** 31) - 1],
      floats: [0.5, -1e-300, Infinity, 1.7976931348623157e308],
      strings: ["", "a".repeat(31), "b".repeat(32), "c".repeat(256), "d".repeat(70000), "é✓"],
      bin: new Uint8Array(300).map((_, i) => i),
      nested: { deep: [[[]]], empty: {} },
      flags: [true, false, null],
    };
    const written = new MsgpackWriter(16).value(value).bytes();
    expect(decode(written)).toEqual(value);
    // Same bytes as the library's own encoder for values both can write.
    expect(Buffer.from(written).equals(Buffer.from(encode(value)))).toBe(true);
  });

  it("writes typed arrays as little-endian binary blobs", () => {
    const w = new MsgpackWriter().float64Binary([1.5, -2]);
    const blob = decode(w.bytes()) as Uint8Array;
    const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
    expect([view.getFloat64(0, true), view.getFloat64(8, true)]).toEqual([1.5, -2]);
    const w32 = new MsgpackWriter().float32Binary([0.25]);
    const blob32 = decode(w32.bytes()) as Uint8Array;
    expect(new DataView(blob32.buffer, blob32.byteOffset).getFloat32(0, true)).toBe(0.25);
  });
});

/** Deterministic generator for the fuzz loops. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe("fuzzing the decoders with random and mutated bytes", () => {
  const random = lcg(12345);
  const ndarrayMessage = (() => {
    const w = new MsgpackWriter();
    w.mapHeader(2).string("actions").mapHeader(4).binaryKey("__ndarray__").boolean(true).binaryKey("data").float32Binary([1, 2, 3, 4, 5, 6]);
    w.binaryKey("dtype").string("<f4").binaryKey("shape").arrayHeader(2).integer(2).integer(3);
    w.string("server_timing").value({ infer_ms: 3.5 });
    return w.bytes();
  })();
  const protocolMessage = encode({ protocol: "vla-policy", version: 1, id: 7, kind: "actions", actions: [[0.1, 0.2], [0.3, 0.4]], step_period_s: 0.1 });

  function exercise(input: Uint8Array): void {
    // Nothing may escape as an exception: every outcome is ok or a one-line error string.
    const result = decodeMsgpackStrict(input, { maxBytes: 4096 });
    if (!result.ok) {
      expect(typeof result.error).toBe("string");
      expect(result.error).not.toContain("\n");
      return;
    }
    const value = result.value as Record<string, unknown>;
    const wire = resolveWire(value, "message");
    expect(typeof wire.ok).toBe("boolean");
    if (typeof value === "object" && value !== null) readNdarray((value as Record<string, unknown>).actions, "actions");
    const reply = parseReply(value, 7, { maxSteps: 100 });
    if (!reply.ok) expect(reply.error).not.toContain("\n");
    parseRequest(value);
  }

  it("random byte strings (2000 of them)", () => {
    for (let i = 0; i < 2000; i++) {
      const input = new Uint8Array(1 + Math.floor(random() * 64)).map(() => Math.floor(random() * 256));
      expect(() => exercise(input)).not.toThrow();
    }
  });

  it("valid messages with random bytes flipped, cut or spliced (3000 of them)", () => {
    for (let i = 0; i < 3000; i++) {
      const base = i % 2 === 0 ? ndarrayMessage : protocolMessage;
      let input = base.slice();
      const edits = 1 + Math.floor(random() * 4);
      for (let e = 0; e < edits; e++) {
        const at = Math.floor(random() * input.length);
        const op = random();
        if (op < 0.6) input[at] = Math.floor(random() * 256);
        else if (op < 0.8) input = input.slice(0, at);
        else input = Uint8Array.from([...input.subarray(0, at), Math.floor(random() * 256), ...input.subarray(at)]);
        if (input.length === 0) input = Uint8Array.of(0xc1);
      }
      expect(() => exercise(input)).not.toThrow();
    }
  });

  it("the scan and the library agree on what is well-formed for untouched messages", () => {
    expect(scanMsgpack(ndarrayMessage, 32)).toBeNull();
    expect(scanMsgpack(protocolMessage, 32)).toBeNull();
  });
});
