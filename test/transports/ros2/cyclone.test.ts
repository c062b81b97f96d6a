// Our CDR bytes for every message the node sends or receives, compared byte for byte with what Cyclone DDS
// (the middleware line ROS 2 Humble and Jazzy ship, Debian's cyclonedds-dev 0.10) produces for the same values
// from IDL with ROS 2's mangled names. Needs `idlc` and the Cyclone headers: .ci/run installs cyclonedds-dev and
// cyclonedds-tools; without them the suite is skipped and says why.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { encodeCdr } from "../../../src/transports/ros2/cdr.js";
import { loadInterfaces, NODE_MESSAGE_TYPES } from "../../../src/transports/ros2/interfaces.js";
import { generateCProgram, generateIdl } from "./cycloneProgram.js";
import { nodeSamples } from "./samples.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));

function missingTools(): string | null {
  const which = (tool: string) => {
    try {
      execFileSync("sh", ["-c", `command -v ${tool}`], { stdio: "pipe" });
      return true;
    } catch {
      return false;
    }
  };
  if (!which("idlc")) return "idlc not found (apt-get install cyclonedds-tools)";
  if (!existsSync("/usr/include/dds/dds.h")) return "Cyclone DDS headers not found (apt-get install cyclonedds-dev)";
  if (!which("cc")) return "no C compiler (cc)";
  return null;
}

const missing = missingTools();
const toHex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");

describe.skipIf(missing !== null)(`CDR bytes vs Cyclone DDS${missing ? ` (skipped: ${missing})` : ""}`, () => {
  const registry = loadInterfaces(root);
  const samples = nodeSamples();
  const dir = mkdtempSync(join(tmpdir(), "vla-ros2-cdr-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const cyclone = (() => {
    let lines: Map<string, string> | null = null;
    return () => {
      if (lines) return lines;
      writeFileSync(join(dir, "ros_types.idl"), generateIdl(registry, [...new Set(samples.map((s) => s.type))]));
      execFileSync("idlc", ["ros_types.idl"], { cwd: dir, stdio: "pipe" });
      writeFileSync(join(dir, "main.c"), generateCProgram(registry, "ros_types.h", samples));
      execFileSync("cc", ["-O0", "-o", "serialize", "main.c", "ros_types.c", "-I.", "-lddsc"], { cwd: dir, stdio: "pipe" });
      const out = execFileSync(join(dir, "serialize"), { cwd: dir, encoding: "utf8" });
      lines = new Map(out.trim().split("\n").map((line) => line.split("\t") as [string, string]));
      return lines;
    };
  })();

  it("covers every message type the node publishes or subscribes to, and its services", () => {
    const types = new Set(samples.map((s) => s.type));
    for (const t of NODE_MESSAGE_TYPES) expect(types).toContain(t);
    for (const t of ["std_srvs/srv/Trigger_Request", "std_srvs/srv/Trigger_Response", "std_srvs/srv/SetBool_Request", "vla_runtime/srv/SetInstruction_Request"]) expect(types).toContain(t);
  });

  for (const s of nodeSamples()) {
    it(`${s.label} (${s.type})`, () => {
      const expected = cyclone().get(s.label);
      expect(expected, `Cyclone printed nothing for ${s.label}`).toBeDefined();
      expect(toHex(encodeCdr(registry, s.type, s.value))).toBe(expected);
    });
  }
});
