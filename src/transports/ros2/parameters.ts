// Every runtime setting as a declared ROS parameter, generated from the one config schema: name (snake_case,
// dotted by section, as ROS parameter files nest them), type, default, description, range and how a change is
// handled. Parameter values come back as the config object the rest of the runtime takes.
import { z } from "zod";
import { describeOptions, parseConfig, type OptionInfo } from "../../config/load.js";
import type { RuntimeConfig } from "../../config/schema.js";
import { ParameterTypes } from "./rcl.js";
import { ros2SettingsSchema, type Ros2Settings } from "./settings.js";

/**
 * How a change after declaration is handled:
 * - "live": applied at once (the instruction);
 * - "configure": accepted only while the node is unconfigured and applied at the next configure;
 * - "read-only": fixed when the node starts (loop, safety, topics, outputs: changing them live is unsafe).
 */
export type ParameterChange = "live" | "configure" | "read-only";

export type RosParameterValue = boolean | bigint | number | string | number[];

export interface RosParameterSpec {
  /** ROS name, e.g. "control.rate_hz". */
  rosName: string;
  /** Schema path, e.g. "control.rateHz". */
  path: string;
  type: (typeof ParameterTypes)[keyof typeof ParameterTypes];
  defaultValue: RosParameterValue;
  description: string;
  additionalConstraints: string;
  change: ParameterChange;
  range?: { kind: "floating"; from: number; to: number } | { kind: "integer"; from: bigint; to: bigint };
  /** Allowed string values ("" stands for the schema's automatic choice when the option has no default). */
  choices?: string[];
  /** A number option without a default: NaN stands for the automatic choice. */
  automaticWhenNaN?: boolean;
}

const LIVE_PATHS = new Set(["episode.instruction"]);
const READ_ONLY_SECTIONS = new Set(["control", "safety", "backend", "ros2"]);

/** "control.rateHz" -> "control.rate_hz"; binary-prefix units stay one word ("maxBufferedMiB" -> "max_buffered_mib"). */
export function rosParameterName(path: string): string {
  return path
    .split(".")
    .map((part) =>
      part
        .replace(/([KMGT])iB(?![a-z])/g, (_m, p: string) => `${p}ib`)
        .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
        .replace(/([A-Z])([A-Z][a-z])/g, "$1_$2")
        .toLowerCase(),
    )
    .join(".");
}

/** The options of a zod object schema, described the way describeOptions() describes the config schema. */
export function describeSchemaOptions(schema: z.ZodType, prefix: string): OptionInfo[] {
  interface Node {
    type?: string;
    properties?: Record<string, Node>;
    description?: string;
    default?: unknown;
    enum?: string[];
    minimum?: number;
    maximum?: number;
    exclusiveMinimum?: number;
  }
  const root = z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as Node;
  return Object.entries(root.properties ?? {}).map(([key, child]) => ({
    path: `${prefix}.${key}`,
    type: child.type === "array" ? "number[]" : ((child.type ?? "string") as OptionInfo["type"]),
    description: child.description ?? "",
    default: child.default,
    choices: child.enum,
    minimum: child.minimum ?? child.exclusiveMinimum,
    maximum: child.maximum,
  }));
}

/** Every option the node declares: the config schema's, plus the ros2 section while the schema lacks it. */
export function nodeOptions(): OptionInfo[] {
  const options = describeOptions();
  if (options.some((o) => o.path.startsWith("ros2."))) return options;
  return [...options, ...describeSchemaOptions(ros2SettingsSchema, "ros2")];
}

function changeOf(path: string): ParameterChange {
  if (LIVE_PATHS.has(path)) return "live";
  return READ_ONLY_SECTIONS.has(path.split(".")[0]) ? "read-only" : "configure";
}

const CHANGE_TEXT: Record<ParameterChange, string> = {
  live: "applied at once",
  configure: "applied at configure: change it while the node is unconfigured",
  "read-only": "read-only: set it at launch (changing it on a running arm is unsafe)",
};

/** One parameter per option, in schema order. */
export function rosParameterSpecs(options: OptionInfo[] = nodeOptions()): RosParameterSpec[] {
  return options.map((option) => specFor(option));
}

type SpecBase = Pick<RosParameterSpec, "rosName" | "path" | "description" | "change">;

function integerSpec(o: OptionInfo, base: SpecBase, constraints: string[]): RosParameterSpec {
  const from = BigInt(o.minimum ?? Number.MIN_SAFE_INTEGER);
  const to = BigInt(o.maximum ?? Number.MAX_SAFE_INTEGER);
  if (o.minimum !== undefined || o.maximum !== undefined) constraints.push(`range [${o.minimum ?? "-inf"}, ${o.maximum ?? "inf"}]`);
  return { ...base, type: ParameterTypes.INTEGER, defaultValue: BigInt(Number(o.default)), additionalConstraints: "", range: { kind: "integer", from, to } };
}

function doubleSpec(o: OptionInfo, base: SpecBase, constraints: string[]): RosParameterSpec {
  const from = o.minimum ?? -Number.MAX_VALUE;
  const to = o.maximum ?? Number.MAX_VALUE;
  if (o.minimum !== undefined || o.maximum !== undefined) constraints.push(`range [${o.minimum ?? "-inf"}, ${o.maximum ?? "inf"}]`);
  return { ...base, type: ParameterTypes.DOUBLE, defaultValue: Number(o.default), additionalConstraints: "", range: { kind: "floating", from, to } };
}

function specFor(o: OptionInfo): RosParameterSpec {
  const rosName = rosParameterName(o.path);
  const change = changeOf(o.path);
  const constraints: string[] = [];
  const base: SpecBase = { rosName, path: o.path, description: o.description, change };
  let spec: RosParameterSpec;
  switch (o.type) {
    case "boolean":
      spec = { ...base, type: ParameterTypes.BOOL, defaultValue: Boolean(o.default ?? false), additionalConstraints: "" };
      break;
    case "integer":
    case "number":
      if (o.default === undefined) {
        // No default means "the runtime chooses": a double parameter can say so with NaN (an integer cannot).
        if (o.minimum !== undefined || o.maximum !== undefined) constraints.push(`range [${o.minimum ?? "-inf"}, ${o.maximum ?? "inf"}] (checked by the schema)`);
        constraints.push("NaN: automatic");
        spec = { ...base, type: ParameterTypes.DOUBLE, defaultValue: NaN, additionalConstraints: "", automaticWhenNaN: true };
        break;
      }
      spec = o.type === "integer" ? integerSpec(o, base, constraints) : doubleSpec(o, base, constraints);
      break;
    case "number[]": {
      const values = Array.isArray(o.default) ? (o.default as unknown[]).map(Number) : [];
      spec = { ...base, type: ParameterTypes.DOUBLE_ARRAY, defaultValue: values, additionalConstraints: "" };
      constraints.push(`${values.length} values`);
      break;
    }
    default: {
      const choices = o.choices ? (o.default === undefined ? ["", ...o.choices] : [...o.choices]) : undefined;
      if (choices) constraints.push(`one of ${choices.map((c) => (c === "" ? '"" (automatic)' : c)).join(", ")}`);
      spec = { ...base, type: ParameterTypes.STRING, defaultValue: o.default === undefined ? "" : String(o.default), additionalConstraints: "", choices };
    }
  }
  constraints.push(CHANGE_TEXT[change]);
  spec.additionalConstraints = constraints.join("; ");
  return spec;
}

/** A declared value back in the option's type: bigint -> number, "" for an automatic choice -> absent. */
export function optionValue(spec: RosParameterSpec, value: unknown): unknown {
  if (spec.type === ParameterTypes.INTEGER) return typeof value === "bigint" ? Number(value) : value;
  if (spec.automaticWhenNaN && typeof value === "number" && Number.isNaN(value)) return undefined;
  if (spec.type === ParameterTypes.DOUBLE_ARRAY) return Array.isArray(value) ? [...value] : ArrayBuffer.isView(value) ? Array.from(value as Float64Array) : value;
  if (spec.type === ParameterTypes.STRING && spec.choices?.[0] === "" && value === "") return undefined;
  return value;
}

/** Check one value against its spec (type, choices); the range is checked by the parameter descriptor. */
export function checkParameterValue(spec: RosParameterSpec, value: unknown): string | null {
  if (spec.choices && !spec.choices.includes(String(value))) {
    return `${spec.rosName}: expected one of ${spec.choices.map((c) => JSON.stringify(c)).join(", ")}, got ${JSON.stringify(value)}`;
  }
  return null;
}

export interface NodeConfig {
  runtime: RuntimeConfig;
  ros2: Ros2Settings;
}

/**
 * The config from parameter values (by ROS name). Throws a one-line error naming the parameter when a value is
 * outside the schema (the schema checks what a descriptor cannot, e.g. exclusive bounds and tuple lengths).
 */
export function configFromParameters(specs: RosParameterSpec[], values: ReadonlyMap<string, unknown>): NodeConfig {
  const nested: Record<string, Record<string, unknown>> = {};
  for (const spec of specs) {
    const raw = values.has(spec.rosName) ? values.get(spec.rosName) : spec.defaultValue;
    const problem = checkParameterValue(spec, raw);
    if (problem) throw new Error(problem);
    const value = optionValue(spec, raw);
    if (value === undefined) continue;
    const [section, key] = spec.path.split(".");
    (nested[section] ??= {})[key] = value;
  }
  const { ros2, ...rest } = nested;
  const runtime = parseConfig(rest, "ROS parameters");
  const parsed = ros2SettingsSchema.safeParse(ros2 ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const key = issue.path.join(".");
    throw new Error(`ROS parameters: ${rosParameterName(`ros2.${key}`)}: ${issue.message}, got ${JSON.stringify((ros2 ?? {})[key])}`);
  }
  return { runtime, ros2: parsed.data };
}

/** A ROS 2 parameter file with every parameter at its default, for any node name ("/**"). */
export function parameterFileYaml(specs: RosParameterSpec[] = rosParameterSpecs()): string {
  const lines = [
    "# vla_runtime node parameters, generated from the config schema (src/transports/ros2/parameters.ts).",
    "# Every value is the default; edit a copy, or override single values in the launch file.",
    "# Doubles are written with a decimal point: ROS 2 types 500 as an integer and the declaration would reject it.",
    "/**:",
    "  ros__parameters:",
  ];
  let section = "";
  for (const spec of specs) {
    const [sec, key] = spec.rosName.split(".");
    if (sec !== section) {
      lines.push(`    ${sec}:`);
      section = sec;
    }
    const comment = spec.description ? `  # ${spec.description}` : "";
    lines.push(`      ${key}: ${yamlValue(spec)}${comment}`);
  }
  return lines.join("\n") + "\n";
}

function yamlValue(spec: RosParameterSpec): string {
  const v = spec.defaultValue;
  switch (spec.type) {
    case ParameterTypes.DOUBLE:
      return yamlDouble(v as number);
    case ParameterTypes.DOUBLE_ARRAY:
      return `[${(v as number[]).map(yamlDouble).join(", ")}]`;
    case ParameterTypes.STRING:
      return JSON.stringify(v);
    default:
      return String(v);
  }
}

function yamlDouble(v: number): string {
  if (Number.isNaN(v)) return ".nan";
  if (!Number.isFinite(v)) return v > 0 ? ".inf" : "-.inf";
  const text = String(v);
  return /[.eE]/.test(text) || !Number.isFinite(v) ? text : `${text}.0`;
}
