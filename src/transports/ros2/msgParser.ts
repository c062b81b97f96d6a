// Parser for ROS 2 interface definitions (.msg / .srv text): fields, array kinds, bounded strings, constants.
// One parsed form feeds the CDR codec, the type declarations for rclnodejs and the IDL for the Cyclone DDS check.
// Grammar: https://docs.ros.org/en/rolling/Concepts/Basic/About-Interfaces.html (field types, arrays, bounds,
// constants, default values). Default values are parsed and kept but never needed on the wire.

export const PRIMITIVE_TYPES = [
  "bool",
  "byte",
  "char",
  "float32",
  "float64",
  "int8",
  "uint8",
  "int16",
  "uint16",
  "int32",
  "uint32",
  "int64",
  "uint64",
  "string",
  "wstring",
] as const;
export type PrimitiveTypeName = (typeof PRIMITIVE_TYPES)[number];

export type FieldType =
  | { kind: "primitive"; name: PrimitiveTypeName; /** Upper bound of a bounded string (string<=N). */ stringBound?: number }
  | { kind: "message"; /** Full name "pkg/msg/Type". */ name: string };

export type ArrayKind = { kind: "none" } | { kind: "dynamic" } | { kind: "bounded"; maxSize: number } | { kind: "fixed"; size: number };

export interface FieldDefinition {
  name: string;
  type: FieldType;
  array: ArrayKind;
  /** The default value text as written (not interpreted on the wire). */
  defaultText?: string;
}

export interface ConstantDefinition {
  name: string;
  type: PrimitiveTypeName;
  value: number | bigint | boolean | string;
}

export interface MessageDefinition {
  /** Full name "pkg/msg/Type" (service parts: "pkg/srv/Name_Request"). */
  name: string;
  fields: FieldDefinition[];
  constants: ConstantDefinition[];
}

export interface ServiceDefinition {
  /** "pkg/srv/Name". */
  name: string;
  request: MessageDefinition;
  response: MessageDefinition;
}

const FIELD_NAME = /^[a-z][a-z0-9_]*$/;
const CONSTANT_NAME = /^[A-Z][A-Z0-9_]*$/;

export class InterfaceParseError extends Error {}

/** Split "pkg/msg/Type" (or "pkg/Type") into its parts. */
export function splitTypeName(full: string): { pkg: string; folder: string; type: string } {
  const parts = full.split("/");
  if (parts.length === 3 && parts.every((p) => p.length > 0)) return { pkg: parts[0], folder: parts[1], type: parts[2] };
  if (parts.length === 2 && parts.every((p) => p.length > 0)) return { pkg: parts[0], folder: "msg", type: parts[1] };
  throw new InterfaceParseError(`expected an interface name like pkg/msg/Type, got "${full}"`);
}

/** Parse the text of a .msg file named `name` ("pkg/msg/Type"). */
export function parseMessage(name: string, text: string): MessageDefinition {
  const { pkg } = splitTypeName(name);
  const fields: FieldDefinition[] = [];
  const constants: ConstantDefinition[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = stripComment(lines[i]).trim();
    if (line === "") continue;
    const where = `${name} line ${i + 1}`;
    const match = /^(\S+)\s+([A-Za-z][A-Za-z0-9_]*)\s*(=\s*(.*)|\s+(.*))?$/.exec(line);
    if (!match) throw new InterfaceParseError(`${where}: expected "type name [default]" or "type NAME=value", got "${line}"`);
    const [, typeText, fieldName, , constantText, defaultText] = match;
    const parsed = parseFieldType(typeText, pkg, where);
    if (constantText !== undefined) {
      if (!CONSTANT_NAME.test(fieldName)) throw new InterfaceParseError(`${where}: expected an upper-case constant name, got "${fieldName}"`);
      if (parsed.type.kind !== "primitive" || parsed.array.kind !== "none") throw new InterfaceParseError(`${where}: constants must have a primitive, non-array type, got "${typeText}"`);
      constants.push({ name: fieldName, type: parsed.type.name, value: parseConstant(parsed.type.name, constantText.trim(), where) });
      continue;
    }
    if (!FIELD_NAME.test(fieldName)) throw new InterfaceParseError(`${where}: expected a lower_snake_case field name, got "${fieldName}"`);
    if (fields.some((f) => f.name === fieldName)) throw new InterfaceParseError(`${where}: duplicate field "${fieldName}"`);
    const field: FieldDefinition = { name: fieldName, type: parsed.type, array: parsed.array };
    if (defaultText !== undefined && defaultText.trim() !== "") field.defaultText = defaultText.trim();
    fields.push(field);
  }
  return { name, fields, constants };
}

/** Parse the text of a .srv file named `name` ("pkg/srv/Name"): request and response separated by "---". */
export function parseService(name: string, text: string): ServiceDefinition {
  const lines = text.split("\n");
  const separator = lines.findIndex((l) => stripComment(l).trim() === "---");
  if (separator < 0) throw new InterfaceParseError(`${name}: expected a "---" line between request and response`);
  const request = parseMessage(`${name}_Request`, lines.slice(0, separator).join("\n"));
  const response = parseMessage(`${name}_Response`, lines.slice(separator + 1).join("\n"));
  return { name, request, response };
}

function stripComment(line: string): string {
  // A '#' inside a quoted string default is not a comment.
  let quote: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) {
      if (c === quote) quote = null;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === "#") return line.slice(0, i);
  }
  return line;
}

function parseFieldType(text: string, pkg: string, where: string): { type: FieldType; array: ArrayKind } {
  const arrayMatch = /^(.*?)\[(<=)?(\d*)\]$/.exec(text);
  let base = text;
  let array: ArrayKind = { kind: "none" };
  if (arrayMatch) {
    base = arrayMatch[1];
    const bounded = arrayMatch[2] === "<=";
    const size = arrayMatch[3];
    if (size === "") {
      if (bounded) throw new InterfaceParseError(`${where}: expected a bound after "<=" in "${text}"`);
      array = { kind: "dynamic" };
    } else {
      const n = Number(size);
      if (!Number.isInteger(n) || n < 1) throw new InterfaceParseError(`${where}: expected a positive array size in "${text}"`);
      array = bounded ? { kind: "bounded", maxSize: n } : { kind: "fixed", size: n };
    }
  }
  const boundedString = /^(w?string)<=(\d+)$/.exec(base);
  if (boundedString) {
    return { type: { kind: "primitive", name: boundedString[1] as PrimitiveTypeName, stringBound: Number(boundedString[2]) }, array };
  }
  if ((PRIMITIVE_TYPES as readonly string[]).includes(base)) return { type: { kind: "primitive", name: base as PrimitiveTypeName }, array };
  if (/^[A-Za-z][A-Za-z0-9_]*\/[A-Z][A-Za-z0-9]*$/.test(base)) {
    const [typePkg, type] = base.split("/");
    return { type: { kind: "message", name: `${typePkg}/msg/${type}` }, array };
  }
  if (/^[A-Z][A-Za-z0-9]*$/.test(base)) return { type: { kind: "message", name: `${pkg}/msg/${base}` }, array };
  throw new InterfaceParseError(`${where}: unknown field type "${text}"`);
}

function parseConstant(type: PrimitiveTypeName, text: string, where: string): number | bigint | boolean | string {
  if (type === "string" || type === "wstring") {
    const quoted = /^(["'])(.*)\1$/.exec(text);
    return quoted ? quoted[2] : text;
  }
  if (type === "bool") {
    if (text === "true" || text === "1") return true;
    if (text === "false" || text === "0") return false;
    throw new InterfaceParseError(`${where}: expected true or false, got "${text}"`);
  }
  if (type === "int64" || type === "uint64") {
    try {
      return BigInt(text);
    } catch {
      throw new InterfaceParseError(`${where}: expected an integer, got "${text}"`);
    }
  }
  const value = Number(text);
  if (!Number.isFinite(value)) throw new InterfaceParseError(`${where}: expected a number, got "${text}"`);
  return value;
}
