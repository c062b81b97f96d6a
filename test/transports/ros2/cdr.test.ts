// The CDR codec: round trips, one-line errors for values that do not fit the type, robustness to garbage bytes,
// and agreement with an independent implementation (@foxglove/rosmsg2-serialization) on every sample. The
// byte-exact comparison with Cyclone DDS is in cyclone.test.ts.
import { MessageReader, MessageWriter } from "@foxglove/rosmsg2-serialization";
import { parse as parseRosmsg } from "@foxglove/rosmsg";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { CdrError, decodeCdr, encodeCdr } from "../../../src/transports/ros2/cdr.js";
import { loadInterfaces, type InterfaceRegistry } from "../../../src/transports/ros2/interfaces.js";
import { parseMessage, parseService, type FieldDefinition, type MessageDefinition } from "../../../src/transports/ros2/msgParser.js";
import { nodeSamples } from "./samples.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const registry = loadInterfaces(root);

/** Message definition text in the concatenated form ROS 2 tools exchange (main type, then "MSG: pkg/msg/Type" sections). */
function definitionText(reg: InterfaceRegistry, typeName: string): string {
  const fieldLine = (f: FieldDefinition) => {
    const base = f.type.kind === "message" ? f.type.name.replace("/msg/", "/") : f.type.stringBound !== undefined ? `${f.type.name}<=${f.type.stringBound}` : f.type.name;
    const suffix = f.array.kind === "none" ? "" : f.array.kind === "dynamic" ? "[]" : f.array.kind === "fixed" ? `[${f.array.size}]` : `[<=${f.array.maxSize}]`;
    return `${base}${suffix} ${f.name}`;
  };
  const body = (def: MessageDefinition) => (def.fields.length ? def.fields.map(fieldLine).join("\n") : "uint8 structure_needs_at_least_one_member");
  const closure = reg.closure(typeName);
  const main = closure[closure.length - 1];
  const deps = closure.slice(0, -1).map((d) => `${"=".repeat(40)}\nMSG: ${d.name.replace("/msg/", "/")}\n${body(d)}`);
  return [body(main), ...deps].join("\n");
}

/** Our values with the conventions the other implementation expects (empty structs carry their member). */
function forFoxglove(def: MessageDefinition, value: unknown): unknown {
  if (def.fields.length === 0) return { structure_needs_at_least_one_member: 0 };
  return value;
}

describe("CDR codec", () => {
  it("round-trips every sample, with rclnodejs's array types on the way back", () => {
    for (const s of nodeSamples()) {
      const bytes = encodeCdr(registry, s.type, s.value);
      expect(Array.from(bytes.subarray(0, 4))).toEqual([0, 1, 0, 0]);
      const back = decodeCdr(registry, s.type, bytes);
      // float32 fields come back at float32 precision; everything is compared at it, the bytes exactly.
      expect(toPlain(back), s.label).toEqual(toPlain(s.value));
      expect(encodeCdr(registry, s.type, back)).toEqual(bytes);
    }
    const js = decodeCdr(registry, "sensor_msgs/msg/JointState", encodeCdr(registry, "sensor_msgs/msg/JointState", nodeSamples()[0].value));
    expect(js.position).toBeInstanceOf(Float64Array);
    expect(js.name).toEqual(["shoulder_pan", "shoulder_lift", "elbow", "wrist_1", "wrist_2", "wrist_3", "gripper"]);
  });

  it("agrees byte for byte with @foxglove/rosmsg2-serialization on every sample", () => {
    // Their writer (3.x) drops characters that take 3 or more UTF-8 bytes; Cyclone DDS and ours keep them
    // (cyclone.test.ts), so those samples are compared there only.
    const beyondTwoBytes = /[\u0800-\uffff]/;
    for (const s of nodeSamples().filter((x) => !beyondTwoBytes.test(JSON.stringify(x.value, (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v))))) {
      const defs = parseRosmsg(definitionText(registry, s.type), { ros2: true });
      const theirs = new MessageWriter(defs).writeMessage(forFoxglove(registry.message(s.type), s.value));
      expect(Buffer.from(encodeCdr(registry, s.type, s.value)).toString("hex"), s.label).toBe(Buffer.from(theirs).toString("hex"));
      // And their reader understands our bytes.
      const read = new MessageReader(defs).readMessage(encodeCdr(registry, s.type, s.value)) as Record<string, unknown>;
      expect(Object.keys(read)).toEqual(registry.message(s.type).fields.length ? registry.message(s.type).fields.map((f) => f.name) : ["structure_needs_at_least_one_member"]);
    }
  });

  it("lays out a JointState as plain CDR: header, counted strings with NUL, 8-aligned doubles", () => {
    const bytes = encodeCdr(registry, "sensor_msgs/msg/JointState", { header: { stamp: { sec: 1, nanosec: 2 }, frame_id: "a" }, name: ["j"], position: [1.5], velocity: [], effort: [] });
    expect(Buffer.from(bytes).toString("hex")).toBe(
      "00010000" + "01000000" + "02000000" + "02000000" + "6100" + "0000" + "01000000" + "02000000" + "6a00" + "0000" + "01000000" + "000000000000f83f" + "00000000" + "00000000",
    );
  });

  it("rejects values that do not fit the type with one line naming the field", () => {
    const bad = (type: string, value: unknown) => {
      try {
        encodeCdr(registry, type, value);
      } catch (error) {
        expect(error).toBeInstanceOf(CdrError);
        expect((error as Error).message).not.toContain("\n");
        return (error as Error).message;
      }
      throw new Error("expected a CdrError");
    };
    expect(bad("std_msgs/msg/String", { data: 5 })).toBe("String.data: expected a string, got number 5");
    expect(bad("std_msgs/msg/Bool", {})).toBe("Bool.data: expected a value, got none (field missing)");
    expect(bad("sensor_msgs/msg/Image", { header: { stamp: { sec: 0, nanosec: 0 }, frame_id: "" }, height: -1, width: 1, encoding: "", is_bigendian: 0, step: 0, data: [] })).toBe(
      "Image.height: expected a uint32 in [0, 4294967295], got -1",
    );
    expect(bad("trajectory_msgs/msg/JointTrajectory", { header: { stamp: { sec: 0, nanosec: 0 }, frame_id: "" }, joint_names: [], points: [{ positions: ["x"] }] })).toBe(
      "JointTrajectory.points[0].positions[0]: expected a number, got string \"x\"",
    );
    expect(bad("rcl_interfaces/msg/ParameterDescriptor", { name: "", type: 3, description: "", additional_constraints: "", read_only: false, dynamic_typing: false, floating_point_range: [1, 2], integer_range: [] })).toBe(
      "ParameterDescriptor.floating_point_range: expected at most 1 elements, got 2",
    );
    expect(bad("unique_identifier_msgs/msg/UUID", { uuid: [1, 2] })).toBe("UUID.uuid: expected exactly 16 elements, got 2");
    expect(bad("vla_runtime/msg/ActionChunk", { ...(nodeSamples().find((s) => s.label === "action chunk")!.value as object), chunk_sequence: 1.5 })).toMatch(/chunk_sequence: expected a bigint/);
  });

  it("never throws anything but a one-line CdrError on truncated or random bytes", () => {
    let seed = 12345;
    const random = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    let rejected = 0;
    for (const s of nodeSamples()) {
      const bytes = encodeCdr(registry, s.type, s.value);
      for (let cut = 0; cut < bytes.length; cut += Math.max(1, Math.floor(bytes.length / 23))) {
        try {
          decodeCdr(registry, s.type, bytes.subarray(0, cut));
        } catch (error) {
          expect(error).toBeInstanceOf(CdrError);
          rejected++;
        }
      }
      for (let trial = 0; trial < 40; trial++) {
        const noisy = bytes.slice();
        for (let k = 0; k < 3; k++) noisy[4 + Math.floor(random() * (noisy.length - 4))] = Math.floor(random() * 256);
        try {
          decodeCdr(registry, s.type, noisy);
        } catch (error) {
          expect(error).toBeInstanceOf(CdrError);
          expect((error as Error).message.split("\n")).toHaveLength(1);
        }
      }
    }
    expect(rejected).toBeGreaterThan(100);
    expect(() => decodeCdr(registry, "std_msgs/msg/String", Uint8Array.of(0, 0, 0, 0, 1, 0, 0, 0, 0))).toThrow("expected the CDR little-endian encapsulation 00 01, got 00 00");
    expect(() => decodeCdr(registry, "std_msgs/msg/String", Uint8Array.of(0, 1, 0, 0, 0xff, 0xff, 0xff, 0x7f))).toThrow(/implausible|truncated/);
  });
});

describe("interface definition parser", () => {
  it("parses fields, arrays, bounds, constants and defaults", () => {
    const def = parseMessage("p/msg/T", "uint8 A=3 # three\nstring S='x#y'\nfloat64[] v\nint32[4] f\nstring<=8[<=2] b\nbool flag true\nOther o\nq/Q q\n");
    expect(def.constants).toEqual([
      { name: "A", type: "uint8", value: 3 },
      { name: "S", type: "string", value: "x#y" },
    ]);
    expect(def.fields.map((f) => [f.name, f.type, f.array])).toEqual([
      ["v", { kind: "primitive", name: "float64" }, { kind: "dynamic" }],
      ["f", { kind: "primitive", name: "int32" }, { kind: "fixed", size: 4 }],
      ["b", { kind: "primitive", name: "string", stringBound: 8 }, { kind: "bounded", maxSize: 2 }],
      ["flag", { kind: "primitive", name: "bool" }, { kind: "none" }],
      ["o", { kind: "message", name: "p/msg/Other" }, { kind: "none" }],
      ["q", { kind: "message", name: "q/msg/Q" }, { kind: "none" }],
    ]);
    expect(def.fields[3].defaultText).toBe("true");
    const srv = parseService("p/srv/S", "int32 a\n---\nbool ok\n");
    expect(srv.request.name).toBe("p/srv/S_Request");
    expect(srv.response.fields[0].name).toBe("ok");
  });

  it("rejects what ROS would reject, in one line", () => {
    expect(() => parseMessage("p/msg/T", "float64 BadName")).toThrow("p/msg/T line 1: expected a lower_snake_case field name, got \"BadName\"");
    expect(() => parseMessage("p/msg/T", "float65 x")).toThrow("p/msg/T line 1: unknown field type \"float65\"");
    expect(() => parseMessage("p/msg/T", "int32 x\nint32 x")).toThrow("duplicate field \"x\"");
    expect(() => parseService("p/srv/S", "int32 a")).toThrow("expected a \"---\" line");
    expect(() => loadInterfaces("/nonexistent").checkComplete()).not.toThrow();
  });
});

function toPlain(value: unknown): unknown {
  if (typeof value === "number") return Math.fround(value);
  if (ArrayBuffer.isView(value)) return Array.from(value as unknown as ArrayLike<number>, (v) => Math.fround(v));
  if (Array.isArray(value)) return value.map(toPlain);
  if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toPlain(v)]));
  return value;
}
