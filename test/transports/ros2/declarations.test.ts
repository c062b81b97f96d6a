// The checked-in rclnodejs interface declarations are exactly what the interface definitions generate, and they
// plug into rclnodejs's own declarations (the file those reference is absent from the npm package).
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { DECLARATIONS_PATH, generateRclnodejsDeclarations } from "../../../src/transports/ros2/declarations.js";
import { loadInterfaces, NODE_MESSAGE_TYPES, NODE_SERVICE_TYPES } from "../../../src/transports/ros2/interfaces.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));

describe("rclnodejs interface declarations", () => {
  const registry = loadInterfaces(root);
  const generated = generateRclnodejsDeclarations(registry);

  it("are current (regenerate with UPDATE_ROS2_DECLARATIONS=1)", () => {
    const path = root + DECLARATIONS_PATH;
    if (process.env.UPDATE_ROS2_DECLARATIONS === "1") writeFileSync(path, generated);
    expect(readFileSync(path, "utf8")).toBe(generated);
  });

  it("declare every message and service the node uses, with rclnodejs's field typing", () => {
    for (const name of [...NODE_MESSAGE_TYPES, ...NODE_SERVICE_TYPES]) expect(generated).toContain(`'${name}':`);
    // float64[] accepts a Float64Array, uint64 is a bigint, nested types are namespaced.
    expect(generated).toMatch(/export interface JointState \{\n\s+header: std_msgs\.msg\.Header;\n\s+name: string\[\];\n\s+position: number\[\] \| Float64Array;/);
    expect(generated).toMatch(/chunk_sequence: bigint;/);
    expect(generated).toMatch(/export interface SetBoolConstructor extends ROSService \{\n\s+readonly Request: SetBool_RequestConstructor;/);
    expect(generated).toMatch(/readonly LAYOUT_MARKER_FIELD: number;/);
  });

  it("fill the reference rclnodejs's declarations make to types/interfaces.d.ts", () => {
    const base = root + "node_modules/rclnodejs/types/base.d.ts";
    if (!existsSync(base)) return expect.fail("rclnodejs is not installed (npm ci installs it with its install script denied)");
    expect(readFileSync(base, "utf8")).toContain('/// <reference path="./interfaces.d.ts" />');
    expect(existsSync(root + "node_modules/rclnodejs/types/interfaces.d.ts")).toBe(false);
  });
});
