// The gz message codecs on hand-built messages (the interop suite checks them against bytes from the real
// library): field mapping, unknown fields, malformed input that must leave the last good values in place.
import { describe, expect, it } from "vitest";
import { ActuatorsPositionEncoder, ContactsDecoder, DoubleEncoder, JointStateDecoder, WrenchDecoder } from "../../../src/transports/gz/messages.js";
import { ProtoError, ProtoReader, ProtoWriter } from "../../../src/transports/gz/protobuf.js";

const vec3 = (w: ProtoWriter, x: number, y: number, z: number) => w.double(2, x).double(3, y).double(4, z);
const header = (w: ProtoWriter, sec: number, nsec: number) => w.message(1, (h) => h.message(1, (t) => t.uint(1, sec).uint(2, nsec)));

function modelMessage(joints: Array<{ name: string; p: number; v: number; f: number }>, extra?: (w: ProtoWriter) => void): Uint8Array {
  const w = new ProtoWriter();
  header(w, 12, 500_000_000);
  w.string(2, "vla_arm6").uint(3, 7);
  w.message(5, (pose) => pose.string(2, "pose").message(4, (p) => vec3(p, 1, 2, 3)));
  for (const j of joints) {
    w.message(6, (jw) => {
      jw.string(2, j.name).uint(3, 42).string(5, "parent_link").string(7, "child_link");
      jw.message(10, (a) => {
        a.message(2, (x) => vec3(x, 0, 0, 1));
        a.double(3, -2).double(4, 2).double(7, 0.1).double(10, j.p).double(11, j.v).double(12, j.f);
      });
    });
  }
  extra?.(w);
  return w.finish();
}

describe("Double and Actuators encoders", () => {
  it("write the value where a protobuf reader finds it, reusing one buffer", () => {
    const enc = new DoubleEncoder();
    const a = enc.encode(1.5);
    const r = new ProtoReader(a);
    expect(r.tag()).toBe(2);
    expect(r.double()).toBe(1.5);
    expect(r.done()).toBe(true);
    expect(enc.encode(-0.25)).toBe(a); // same buffer, no allocation
    expect(new ProtoReader(a).tag() && new ProtoReader(a, 1).double()).toBe(-0.25);
  });

  it("packs actuator positions as one repeated double field", () => {
    for (const count of [1, 8, 16, 20]) {
      const enc = new ActuatorsPositionEncoder(count);
      for (let i = 0; i < count; i++) enc.set(i, i * 0.5 - 1);
      const r = new ProtoReader(enc.message);
      expect(r.tag()).toBe(2);
      const end = r.lengthDelimited();
      const values: number[] = [];
      while (r.pos < end) values.push(r.double());
      expect(values).toEqual(Array.from({ length: count }, (_, i) => i * 0.5 - 1));
      expect(r.done()).toBe(true);
    }
  });
});

describe("JointStateDecoder", () => {
  it("maps joints by name whatever their order, and reads axis1 position, velocity and force", () => {
    const dec = new JointStateDecoder(["elbow", "shoulder_pan", "finger_left"]);
    const found = dec.decode(
      modelMessage([
        { name: "shoulder_pan", p: 0.1, v: 1, f: 10 },
        { name: "pad_press", p: 9, v: 9, f: 9 },
        { name: "elbow", p: -0.3, v: -3, f: -30 },
      ]),
    );
    expect(found).toBe(2);
    expect(Array.from(dec.positions)).toEqual([-0.3, 0.1, 0]);
    expect(Array.from(dec.velocities)).toEqual([-3, 1, 0]);
    expect(Array.from(dec.efforts)).toEqual([-30, 10, 0]);
    expect(Array.from(dec.present)).toEqual([1, 1, 0]);
    expect(dec.stampS).toBeCloseTo(12.5, 12);
  });

  it("keeps the previous values when a message is malformed or carries NaN", () => {
    const dec = new JointStateDecoder(["a", "b"]);
    dec.decode(modelMessage([{ name: "a", p: 1, v: 2, f: 3 }, { name: "b", p: 4, v: 5, f: 6 }]));
    const good = modelMessage([{ name: "a", p: 7, v: 8, f: 9 }, { name: "b", p: 10, v: 11, f: 12 }]);
    expect(() => dec.decode(good.subarray(0, good.length - 3))).toThrow(ProtoError);
    expect(() => dec.decode(modelMessage([{ name: "a", p: 0, v: 0, f: 0 }, { name: "b", p: NaN, v: 0, f: 0 }]))).toThrow(/joint b: expected finite/);
    expect(Array.from(dec.positions)).toEqual([1, 4]);
    expect(Array.from(dec.velocities)).toEqual([2, 5]);
  });

  it("rejects a joint whose axis field has the wrong wire type", () => {
    const w = new ProtoWriter();
    w.message(6, (j) => j.string(2, "a").uint(10, 3));
    expect(() => new JointStateDecoder(["a"]).decode(w.finish())).toThrow(/Joint.axis1 field 10 must have wire type 2/);
  });
});

describe("WrenchDecoder", () => {
  it("reads force and torque, ignoring force_offset and unknown fields", () => {
    const w = new ProtoWriter();
    header(w, 1, 0);
    w.message(2, (f) => vec3(f, 1, -2, 3));
    w.message(3, (t) => vec3(t, 0.1, 0.2, -0.3));
    w.message(4, (o) => vec3(o, 9, 9, 9));
    w.string(99, "future field");
    const dec = new WrenchDecoder();
    dec.decode(w.finish());
    expect(Array.from(dec.wrench)).toEqual([1, -2, 3, 0.1, 0.2, -0.3]);
  });

  it("rejects infinite components and keeps the last good wrench", () => {
    const dec = new WrenchDecoder();
    dec.decode(new ProtoWriter().message(2, (f) => vec3(f, 1, 1, 1)).finish());
    expect(() => dec.decode(new ProtoWriter().message(2, (f) => vec3(f, Infinity, 0, 0)).finish())).toThrow(/finite/);
    expect(Array.from(dec.wrench)).toEqual([1, 1, 1, 0, 0, 0]);
  });
});

describe("ContactsDecoder", () => {
  const entity = (w: ProtoWriter, field: number, name: string) => w.message(field, (e) => e.uint(2, 5).string(3, name).uint(4, 5));
  function contact(
    w: ProtoWriter,
    c1: string,
    c2: string,
    points: Array<{ normal: [number, number, number]; depth: number; f1?: [number, number, number]; f2?: [number, number, number] }>,
  ) {
    w.message(2, (c) => {
      entity(c, 2, c1);
      entity(c, 3, c2);
      for (const p of points) c.message(4, (v) => vec3(v, 0.4, 0, 0.08));
      for (const p of points) c.message(5, (v) => vec3(v, ...p.normal));
      // proto3 packs repeated doubles
      const depths = new ProtoWriter();
      for (const p of points) depths.double(1, p.depth);
      const packed = depths.finish().filter((_, i) => i % 9 !== 0);
      c.bytes(6, packed);
      if (points.some((p) => p.f1 || p.f2)) {
        for (const p of points) {
          c.message(7, (jw) => {
            jw.string(2, c1).string(4, c2);
            if (p.f1) jw.message(6, (wr) => wr.message(2, (f) => vec3(f, ...p.f1!)));
            if (p.f2) jw.message(7, (wr) => wr.message(2, (f) => vec3(f, ...p.f2!)));
          });
        }
      }
    });
  }

  it("sums the normal force of each contact point onto the taxel named by either collision", () => {
    const dec = new ContactsDecoder(["taxel_0", "taxel_1", "taxel_2"], 1000);
    const w = new ProtoWriter();
    header(w, 3, 0);
    contact(w, "vla_arm6::pad::taxel_1", "wipe_surface::platform::platform", [
      { normal: [0, 0, 1], depth: 0.001, f1: [0.5, 0, -4] },
      { normal: [0, 0, 2], depth: 0.001, f1: [0, 0.3, -1] },
    ]);
    contact(w, "wipe_surface::platform::platform", "vla_arm6::pad::taxel_2", [{ normal: [0, 0, -1], depth: 0.002, f1: [0, 0, 9], f2: [0, 0, -2.5] }]);
    contact(w, "vla_arm6::finger_left_link::finger_left", "wipe_surface::platform::platform", [{ normal: [0, 0, 1], depth: 0.001, f1: [0, 0, -100] }]);
    dec.decode(w.finish());
    expect(dec.forcesN[0]).toBe(0);
    expect(dec.forcesN[1]).toBeCloseTo(5, 12);
    expect(dec.forcesN[2]).toBeCloseTo(2.5, 12);
    expect(dec.unmatched).toBe(1);
  });

  it("does not take a name that merely ends like a taxel for that taxel", () => {
    const dec = new ContactsDecoder(["taxel_1"], 1000);
    const w = new ProtoWriter();
    contact(w, "pad::big_taxel_1", "x", [{ normal: [0, 0, 1], depth: 0.001, f1: [0, 0, -3] }]);
    contact(w, "taxel_11", "x", [{ normal: [0, 0, 1], depth: 0.001, f1: [0, 0, -3] }]);
    dec.decode(w.finish());
    expect(dec.forcesN[0]).toBe(0);
    expect(dec.unmatched).toBe(2);
  });

  it("falls back to depth times stiffness when the physics engine reports no contact force", () => {
    const dec = new ContactsDecoder(["taxel_0"], 20_000);
    const w = new ProtoWriter();
    contact(w, "m::pad::taxel_0", "ground", [{ normal: [0, 0, 1], depth: 0.0005 }, { normal: [0, 0, 1], depth: 0.00025 }]);
    dec.decode(w.finish());
    expect(dec.forcesN[0]).toBeCloseTo(15, 9);
  });

  it("leaves the previous forces when a message is malformed", () => {
    const dec = new ContactsDecoder(["taxel_0"], 1000);
    const w = new ProtoWriter();
    contact(w, "taxel_0", "ground", [{ normal: [0, 0, 1], depth: 0.001, f1: [0, 0, -4] }]);
    const good = w.finish();
    dec.decode(good);
    expect(() => dec.decode(good.subarray(0, good.length - 5))).toThrow(ProtoError);
    const badPacked = new ProtoWriter().message(2, (c) => c.bytes(6, new Uint8Array(7))).finish();
    expect(() => dec.decode(badPacked)).toThrow(/multiple of 8 bytes/);
    expect(dec.forcesN[0]).toBeCloseTo(4, 12);
  });
});
