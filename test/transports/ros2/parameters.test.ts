// Every runtime setting is a declared ROS parameter whose descriptor comes from the config schema; values and
// overrides are checked the way rclnodejs checks them (its own Parameter / ParameterDescriptor classes).
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { describeOptions } from "../../../src/config/load.js";
import { VlaRuntimeNode } from "../../../src/transports/ros2/node.js";
import { z } from "zod";
import { configFromParameters, describeSchemaOptions, nodeOptions, optionValue, parameterFileYaml, rosParameterName, rosParameterSpecs } from "../../../src/transports/ros2/parameters.js";
import { ParameterTypes } from "../../../src/transports/ros2/rcl.js";
import { createStandIn, StandInGraph, type StandInLifecycleNode } from "./standIn.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const neverPolicy = () => new Promise<never>(() => {});

async function makeNode(overrides: Record<string, unknown> = {}) {
  const graph = new StandInGraph(overrides);
  const rcl = await createStandIn(graph, { realTimers: false });
  const node = new VlaRuntimeNode({ rcl, packageRoot: root, policyFactory: neverPolicy });
  return { graph, node, ros: node.node as StandInLifecycleNode };
}

describe("ROS parameter names and specs", () => {
  it("maps schema paths to snake_case ROS names, section by section", () => {
    expect(rosParameterName("control.rateHz")).toBe("control.rate_hz");
    expect(rosParameterName("safety.workspaceMinM")).toBe("safety.workspace_min_m");
    expect(rosParameterName("ros2.jointStatesTopic")).toBe("ros2.joint_states_topic");
    expect(rosParameterName("episode.seed")).toBe("episode.seed");
    expect(rosParameterName("observability.maxBufferedMiB")).toBe("observability.max_buffered_mib");
  });

  it("has one spec per schema option (plus the ros2 section), types and ranges from the schema", () => {
    const options = nodeOptions();
    const specs = rosParameterSpecs(options);
    for (const option of describeOptions()) expect(specs.map((s) => s.path)).toContain(option.path);
    expect(specs.some((s) => s.path === "ros2.output")).toBe(true);
    const byPath = new Map(specs.map((s) => [s.path, s]));
    const rate = byPath.get("control.rateHz")!;
    expect(rate).toMatchObject({ type: ParameterTypes.DOUBLE, defaultValue: 500, change: "read-only", range: { kind: "floating", from: 50, to: 1000 } });
    expect(rate.additionalConstraints).toContain("range [50, 1000]");
    expect(byPath.get("policy.timeoutMs")).toMatchObject({ type: ParameterTypes.INTEGER, defaultValue: 2000n, change: "configure", range: { kind: "integer", from: 1n, to: 60000n } });
    expect(byPath.get("safety.workspaceMinM")).toMatchObject({ type: ParameterTypes.DOUBLE_ARRAY, defaultValue: [-0.9, -0.9, -0.05] });
    expect(byPath.get("episode.instruction")).toMatchObject({ type: ParameterTypes.STRING, change: "live" });
    // Loop, safety, backend and ROS wiring are fixed at launch; the rest waits for the next configure.
    for (const spec of specs) {
      const section = spec.path.split(".")[0];
      const expected = spec.path === "episode.instruction" ? "live" : ["control", "safety", "backend", "ros2"].includes(section) ? "read-only" : "configure";
      expect(spec.change, spec.path).toBe(expected);
    }
    // An optional choice without a default gets "" for "automatic".
    expect(byPath.get("scheduler.mode")).toMatchObject({ type: ParameterTypes.STRING, defaultValue: "", choices: ["", "replace", "crossfade", "temporal-ensemble", "prefix-hold"] });
  });

  it("turns parameter values back into the validated config, and rejects what the schema rejects", () => {
    const specs = rosParameterSpecs();
    const config = configFromParameters(specs, new Map<string, unknown>([["control.rate_hz", 250], ["policy.timeout_ms", 500n], ["scheduler.mode", "crossfade"], ["ros2.output", "forward"]]));
    expect(config.runtime.control.rateHz).toBe(250);
    expect(config.runtime.policy.timeoutMs).toBe(500);
    expect(config.runtime.scheduler.mode).toBe("crossfade");
    expect(config.ros2.output).toBe("forward");
    expect(configFromParameters(specs, new Map()).runtime.scheduler.mode).toBeUndefined();
    expect(() => configFromParameters(specs, new Map([["scheduler.mode", "fastest"]]))).toThrow(/scheduler\.mode: expected one of "", "replace".*got "fastest"/);
    expect(() => configFromParameters(specs, new Map([["safety.workspace_min_m", [0, 0]]]))).toThrow(/safety\.workspaceMinM/);
    expect(() => configFromParameters(specs, new Map([["ros2.joint_states_topic", "joint states"]]))).toThrow(/ros2\.joint_states_topic: expected a ROS topic name/);
  });

  it("gives a number option without a default NaN for 'automatic'", () => {
    const options = describeSchemaOptions(z.object({ gainPerS: z.number().min(0).max(5).optional().describe("a gain") }), "x");
    const [spec] = rosParameterSpecs(options);
    expect(spec).toMatchObject({ rosName: "x.gain_per_s", type: ParameterTypes.DOUBLE, automaticWhenNaN: true });
    expect(spec.defaultValue).toBeNaN();
    expect(spec.range).toBeUndefined();
    expect(spec.additionalConstraints).toBe("range [0, 5] (checked by the schema); NaN: automatic; applied at configure: change it while the node is unconfigured");
    expect(optionValue(spec, NaN)).toBeUndefined();
    expect(optionValue(spec, 2.5)).toBe(2.5);
    expect(parameterFileYaml([spec])).toContain("gain_per_s: .nan  # a gain");
  });

  it("writes a parameter file with doubles that stay doubles", () => {
    const yaml = parameterFileYaml();
    expect(yaml).toContain("/**:\n  ros__parameters:\n    control:\n      rate_hz: 500.0");
    expect(yaml).toMatch(/workspace_min_m: \[-0\.9, -0\.9, -0\.05\]/);
    expect(yaml).toMatch(/timeout_ms: 2000\b(?!\.)/);
    expect(yaml).toMatch(/mode: ""/);
  });
});

describe("parameter declarations on the node", () => {
  it("declares every spec with rclnodejs descriptors: type, description, range, read-only", async () => {
    const { node, ros } = await makeNode();
    expect([...ros.parameters.keys()]).toEqual(node.parameterSpecs.map((s) => s.rosName));
    const rate = ros.parameters.get("control.rate_hz")!;
    expect(rate.parameter.value).toBe(500);
    expect(rate.descriptor.readOnly).toBe(true);
    expect(rate.descriptor.type).toBe(ParameterTypes.DOUBLE);
    expect(rate.descriptor.description).toBe("fast loop (control) rate in Hz");
    expect(rate.descriptor.additionalConstraints).toMatch(/range \[50, 1000\]; read-only/);
    // rclnodejs enforces the range when a value is checked against the descriptor.
    const { Parameter } = await createStandIn(new StandInGraph());
    expect(() => rate.descriptor.validateParameter(new Parameter("control.rate_hz", ParameterTypes.DOUBLE, 2000))).toThrow();
    expect(() => rate.descriptor.validateParameter(new Parameter("control.rate_hz", ParameterTypes.DOUBLE, 777.5))).not.toThrow();
    const timeout = ros.parameters.get("policy.timeout_ms")!;
    expect(timeout.parameter.value).toBe(2000n);
    expect(timeout.descriptor.readOnly).toBe(false);
  });

  it("takes overrides from a parameter file and names the parameter when one does not fit", async () => {
    const { ros } = await makeNode({ "control.rate_hz": 250.0, "ros2.output": "forward" });
    expect(ros.getParameter("control.rate_hz").value).toBe(250);
    expect(ros.getParameter("ros2.output").value).toBe("forward");
    await expect(makeNode({ "control.rate_hz": 5000.0 })).rejects.toThrow(/^ros2: parameter control\.rate_hz: the value given was rejected .*expected a double, range \[50, 1000\]/);
    // An integer where a double is declared (a YAML 500 without ".0") is rejected the same way.
    await expect(makeNode({ "control.rate_hz": 500n })).rejects.toThrow(/control\.rate_hz.*expected a double/);
  });

  it("handles changes by kind: read-only refused, configure-time only while unconfigured, the instruction live", async () => {
    const { node, ros } = await makeNode();
    expect(ros.setParameter("control.rate_hz", 250.0)).toMatchObject({ successful: false, reason: expect.stringMatching(/readonly/) });
    expect(ros.setParameter("policy.rate_hz", 10.0)).toEqual({ successful: true, reason: "" });
    expect(ros.setParameter("scheduler.mode", "fastest")).toMatchObject({ successful: false, reason: expect.stringMatching(/expected one of/) });
    expect(ros.setParameter("episode.instruction", "wipe the left half")).toEqual({ successful: true, reason: "" });
    expect(node.currentInstruction).toBe("wipe the left half");
    ros.configure();
    expect(node.state).toBe("inactive");
    expect(ros.setParameter("policy.rate_hz", 12.0)).toMatchObject({ successful: false, reason: expect.stringMatching(/applied at configure.*now inactive/) });
    expect(ros.setParameter("episode.instruction", "stop wiping")).toMatchObject({ successful: true });
    expect(node.currentInstruction).toBe("stop wiping");
  });
});
