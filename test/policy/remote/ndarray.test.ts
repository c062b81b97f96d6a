// The numpy-in-msgpack convention checked against messages packed by Python's msgpack + numpy
// (fixtures/make_fixtures.py), not against our own writer.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { decodeMsgpackStrict } from "../../../src/policy/remote/msgpackStrict.js";
import { MsgpackWriter } from "../../../src/policy/remote/msgpackWriter.js";
import { NdArray, ndarrayToFloat64, parseDtype, readNdarray, resolveWire } from "../../../src/policy/remote/ndarray.js";
import { OPENPI_KEY_PRESETS, writeOpenpiObservation } from "../../../src/policy/remote/openpiObservation.js";
import type { Observation } from "../../../src/runtime/slowExecutor.js";

const fixture = (name: string) => new Uint8Array(readFileSync(join(import.meta.dirname, "fixtures", `${name}.msgpack`)));

function decodeOk(bytes: Uint8Array): Record<string, unknown> {
  const result = decodeMsgpackStrict(bytes, { maxBytes: 1 << 20 });
  if (!result.ok) throw new Error(result.error);
  return result.value as Record<string, unknown>;
}

/** The observation the fixtures were made from: state [0.1, -0.2, ...], a 4x3 RGB image of (7 i mod 256). */
function fixtureObservation(): Observation {
  return {
    timeNs: 123,
    positions: Float64Array.from([0.1, -0.2, 0.3, -0.4, 0.5, -0.6, 0.04]),
    velocities: new Float64Array(7),
    wrench: new Float64Array(6),
    tactile: new Float64Array(3),
    image: { width: 3, height: 4, channels: 3, data: Uint8Array.from({ length: 36 }, (_, i) => (i * 7) % 256), timeNs: 100 },
    instruction: "wipe the marked area",
  };
}

describe("openpi requests are byte-identical to Python's msgpack_numpy packing", () => {
  it("LIBERO keys, float64 state, black wrist image when there is no wrist camera", () => {
    const writer = new MsgpackWriter(64);
    expect(writeOpenpiObservation(writer, fixtureObservation(), { keys: OPENPI_KEY_PRESETS.libero, stateDtype: "float64" })).toBeNull();
    expect(Buffer.from(writer.bytes()).toString("hex")).toBe(Buffer.from(fixture("request_libero")).toString("hex"));
  });

  it("DROID keys: joints and gripper split, float32 state", () => {
    const writer = new MsgpackWriter(64);
    expect(writeOpenpiObservation(writer, fixtureObservation(), { keys: OPENPI_KEY_PRESETS.droid, stateDtype: "float32" })).toBeNull();
    expect(Buffer.from(writer.bytes()).toString("hex")).toBe(Buffer.from(fixture("request_droid_f32")).toString("hex"));
  });

  it("refuses to build a request from a broken observation", () => {
    const obs = fixtureObservation();
    obs.positions[2] = NaN;
    expect(writeOpenpiObservation(new MsgpackWriter(), obs, { keys: OPENPI_KEY_PRESETS.libero, stateDtype: "float64" })).toBe("observation: positions[2] is NaN");
    const badImage = fixtureObservation();
    badImage.image = { ...badImage.image!, data: new Uint8Array(35) };
    expect(writeOpenpiObservation(new MsgpackWriter(), badImage, { keys: OPENPI_KEY_PRESETS.libero, stateDtype: "float64" })).toBe("observation image: expected 3x4x3 = 36 bytes, got 35");
  });
});

describe("openpi replies packed by Python decode to the right numbers", () => {
  it("float32 actions [10, 7] with numpy-scalar and plain timing fields", () => {
    const reply = decodeOk(fixture("reply_f32"));
    const array = readNdarray(reply.actions, "actions");
    expect(array).toBeInstanceOf(NdArray);
    const nd = array as NdArray;
    expect(nd.dtype).toBe("<f4");
    expect(nd.shape).toEqual([10, 7]);
    const values = ndarrayToFloat64(nd, "actions") as Float64Array;
    for (let t = 0; t < 10; t++) for (let d = 0; d < 7; d++) expect(values[t * 7 + d]).toBe((t - 2 * d) / 8);
    const timing = resolveWire(reply.policy_timing, "policy_timing");
    expect(timing).toEqual({ ok: true, value: { infer_ms: 41.5 } });
    expect(reply.server_timing).toEqual({ infer_ms: 42.25, prev_total_ms: 50.5 });
  });

  it("big-endian float64", () => {
    const nd = readNdarray(decodeOk(fixture("reply_f8_big_endian")).actions, "actions") as NdArray;
    expect(nd.dtype).toBe(">f8");
    expect(Array.from(ndarrayToFloat64(nd, "actions") as Float64Array)).toEqual([0, 0.25, 1, 1.25, 2, 2.25]);
  });

  it("integer actions are readable as an array but refused as actions", () => {
    const nd = readNdarray(decodeOk(fixture("reply_int64")).actions, "actions") as NdArray;
    expect(nd.dtype).toBe("<i8");
    expect(ndarrayToFloat64(nd, "actions")).toBe('expected actions as float32 or float64 ("<f4", "<f8"), got dtype "<i8"');
  });

  it("metadata with a nested array resolves every ndarray", () => {
    const metadata = resolveWire(decodeOk(fixture("metadata")), "metadata");
    if (!metadata.ok) throw new Error(metadata.error);
    const value = metadata.value as Record<string, unknown>;
    expect(value.action_horizon).toBe(10);
    expect(value.name).toBe("pi0_libero");
    const pose = value.reset_pose as NdArray;
    expect(pose).toBeInstanceOf(NdArray);
    expect(Array.from(ndarrayToFloat64(pose, "reset_pose") as Float64Array)).toEqual([0, 0.5, -1]);
  });
});

describe("ndarray validation", () => {
  const array = (fields: Record<string, unknown>) => ({ __ndarray__: true, data: new Uint8Array(8), dtype: "<f4", shape: [2], ...fields });

  it("accepts only plain numeric and boolean dtypes", () => {
    for (const ok of ["|b1", "|u1", "|i1", "<u2", "<i4", ">i8", "<f4", ">f8"]) expect(parseDtype(ok), ok).not.toBeNull();
    for (const refused of ["|O", "<U4", "|V8", "<c16", "<M8[ns]", "<m8", "|S3", "<f2", "<f16", "=f4", "f4", "<u1", "|f4"]) expect(parseDtype(refused), refused).toBeNull();
    expect(readNdarray(array({ dtype: "|O" }), "x")).toMatch(/^expected x.dtype to be one of .* got "\|O"$/);
  });

  it("checks data length against shape x item size, and the field types", () => {
    expect(readNdarray(array({ shape: [3] }), "x")).toBe("x: shape [3] of <f4 needs 12 bytes, data has 8");
    expect(readNdarray(array({ shape: [-1] }), "x")).toBe("expected x.shape[0] as a non-negative integer, got the number -1");
    expect(readNdarray(array({ shape: [2.5] }), "x")).toMatch(/shape\[0\]/);
    expect(readNdarray(array({ data: "abcdefgh" }), "x")).toBe('expected x.data as binary, got the string "abcdefgh"');
    expect(readNdarray(array({ __ndarray__: false }), "x")).toBe("expected x.__ndarray__ to be true, got boolean false");
    expect(readNdarray([1, 2], "x")).toMatch(/^expected x as a numpy array map/);
    expect(readNdarray(array({ shape: new Array(33).fill(1) }), "x")).toMatch(/at most 32 sizes/);
  });
});
