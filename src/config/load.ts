// Config from a file (YAML or JSON) plus `--section.key value` overrides, validated by the one schema.
import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { configSchema, type RuntimeConfig } from "./schema.js";

export class ConfigError extends Error {}

/** One configurable leaf of the schema: what the CLI help and the ROS parameter declarations are made from. */
export interface OptionInfo {
  /** Dotted path, e.g. "scheduler.mode"; the CLI flag is `--scheduler.mode`. */
  path: string;
  type: "number" | "integer" | "boolean" | "string" | "number[]";
  description: string;
  default?: unknown;
  choices?: string[];
  minimum?: number;
  maximum?: number;
}

interface JsonSchemaNode {
  type?: string;
  properties?: Record<string, JsonSchemaNode>;
  description?: string;
  default?: unknown;
  enum?: string[];
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  prefixItems?: JsonSchemaNode[];
}

let optionCache: OptionInfo[] | undefined;

/** Every leaf option of the schema, in declaration order. */
export function describeOptions(): OptionInfo[] {
  if (optionCache) return optionCache;
  const root = z.toJSONSchema(configSchema, { io: "input", unrepresentable: "any" }) as JsonSchemaNode;
  const out: OptionInfo[] = [];
  const walk = (node: JsonSchemaNode, prefix: string) => {
    for (const [key, child] of Object.entries(node.properties ?? {})) {
      const path = prefix ? `${prefix}.${key}` : key;
      if (child.type === "object") {
        walk(child, path);
        continue;
      }
      out.push({
        path,
        type: child.type === "array" ? "number[]" : ((child.type ?? "string") as OptionInfo["type"]),
        description: child.description ?? "",
        default: child.default,
        choices: child.enum,
        minimum: child.minimum ?? child.exclusiveMinimum,
        maximum: child.maximum,
      });
    }
  };
  walk(root, "");
  optionCache = out;
  return out;
}

/** Validate a plain object against the schema; the error is one line per problem, naming the field, what was expected and what came. */
export function parseConfig(input: unknown, source = "config"): RuntimeConfig {
  const result = configSchema.safeParse(input ?? {});
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const where = issue.path.join(".") || "(top level)";
    const got = valueAt(input, issue.path as PropertyKey[]);
    const came = got === undefined ? "" : `, got ${JSON.stringify(got)}`;
    return `${where}: ${issue.message}${came}`;
  });
  throw new ConfigError(`${source}: ${problems.join("; ")}`);
}

export function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new ConfigError(`config file ${path}: cannot read it (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
  }
  let parsed: unknown;
  try {
    parsed = parseYaml(text);
  } catch (error) {
    throw new ConfigError(`config file ${path}: not valid YAML/JSON (${(error as Error).message.split("\n")[0]})`);
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new ConfigError(`config file ${path}: expected a mapping of sections, got ${Array.isArray(parsed) ? "a list" : typeof parsed}`);
  }
  return parsed as Record<string, unknown>;
}

/** Set `--a.b value` overrides on a config object, converting the text to the option's type. */
export function applyOverrides(base: Record<string, unknown>, overrides: Record<string, string>): Record<string, unknown> {
  const options = new Map(describeOptions().map((o) => [o.path, o]));
  const result = structuredClone(base);
  for (const [path, text] of Object.entries(overrides)) {
    const option = options.get(path);
    if (!option) throw new ConfigError(`unknown option --${path} (see --help for the list)`);
    setAt(result, path.split("."), convert(option, text));
  }
  return result;
}

export function loadConfig(options: { file?: string; overrides?: Record<string, string> } = {}): RuntimeConfig {
  const fromFile = options.file ? readConfigFile(options.file) : {};
  const merged = applyOverrides(fromFile, options.overrides ?? {});
  return parseConfig(merged, options.file ? `config ${options.file}` : "config");
}

function convert(option: OptionInfo, text: string): unknown {
  switch (option.type) {
    case "number":
    case "integer": {
      const value = Number(text);
      if (text.trim() === "" || !Number.isFinite(value)) throw new ConfigError(`--${option.path}: expected a number, got "${text}"`);
      return value;
    }
    case "boolean":
      if (text === "true" || text === "") return true;
      if (text === "false") return false;
      throw new ConfigError(`--${option.path}: expected true or false, got "${text}"`);
    case "number[]": {
      const values = text.split(",").map((part) => Number(part));
      if (values.some((v) => !Number.isFinite(v))) throw new ConfigError(`--${option.path}: expected comma-separated numbers, got "${text}"`);
      return values;
    }
    default:
      return text;
  }
}

function valueAt(input: unknown, path: PropertyKey[]): unknown {
  let node: unknown = input;
  for (const key of path) {
    if (node === null || typeof node !== "object") return undefined;
    node = (node as Record<PropertyKey, unknown>)[key];
  }
  return node;
}

function setAt(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (next === undefined) node[key] = {};
    else if (typeof next !== "object" || next === null) throw new ConfigError(`cannot set ${path.join(".")}: ${key} is not a section`);
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1]] = value;
}

/** The help text for every option, generated from the schema. */
export function optionsHelp(): string {
  return describeOptions()
    .map((o) => {
      const range = o.choices ? ` (${o.choices.join("|")})` : o.minimum !== undefined || o.maximum !== undefined ? ` [${o.minimum ?? ""}..${o.maximum ?? ""}]` : "";
      const def = o.default === undefined ? "" : ` default ${JSON.stringify(o.default)}`;
      return `  --${o.path.padEnd(32)} ${o.description}${range}${def}`;
    })
    .join("\n");
}
