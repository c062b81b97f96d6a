// The recording's vla_runtime types must be the package's interfaces: every type of ours that has a msg/<Type>.msg
// file must have the same fields in the same order (comments and spacing aside), or `ros2 bag` and a node built from
// msg/ would read the recordings differently.
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { knownTypes, messageDefinition } from "../../src/observability/rosSchemas.js";

const msgDir = fileURLToPath(new URL("../../msg/", import.meta.url));

function fields(text: string): string[] {
  return text
    .split("\n")
    .map((line) => line.replace(/#.*/, "").trim().replace(/\s+/g, " ").replace(/\s*=\s*/, "="))
    .filter((line) => line.length > 0);
}

const ours = knownTypes().filter((t) => t.startsWith("vla_runtime/"));
const withFiles = ours.filter((t) => existsSync(`${msgDir}${t.split("/")[2]}.msg`));

describe("vla_runtime interfaces in recordings vs msg/", () => {
  it("covers the node's published interfaces", () => {
    // The node publishes these; the recorder writes them on /tactile, /policy/chunk and /policy/status.
    for (const t of ["TactileArray", "ActionChunk", "PolicyStatus"]) {
      if (existsSync(`${msgDir}${t}.msg`)) expect(withFiles).toContain(`vla_runtime/msg/${t}`);
    }
  });

  it.each(withFiles)("%s has the fields of its .msg file", (type) => {
    const file = readFileSync(`${msgDir}${type.split("/")[2]}.msg`, "utf8");
    expect(fields(messageDefinition(type))).toEqual(fields(file));
  });
});
