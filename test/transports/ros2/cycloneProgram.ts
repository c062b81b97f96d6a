// Generates, from the interface definitions, the IDL that ROS 2 hands to a DDS middleware (modules
// <pkg>::<msg|srv>::dds_, struct names with a trailing underscore) and a C program that fills one sample per
// value with Cyclone DDS's generated types and serializes it with Cyclone's own CDR stream writer (XCDR1,
// little-endian), printing "<label>\t<hex>" per sample with the 4-byte encapsulation header in front.
import type { InterfaceRegistry } from "../../../src/transports/ros2/interfaces.js";
import { splitTypeName, type FieldDefinition, type FieldType, type MessageDefinition, type PrimitiveTypeName } from "../../../src/transports/ros2/msgParser.js";

const IDL_PRIMITIVES: Record<PrimitiveTypeName, string> = {
  bool: "boolean",
  byte: "octet",
  char: "uint8",
  int8: "int8",
  uint8: "uint8",
  int16: "int16",
  uint16: "uint16",
  int32: "int32",
  uint32: "uint32",
  int64: "int64",
  uint64: "uint64",
  float32: "float",
  float64: "double",
  string: "string",
  wstring: "wstring",
};

const EMPTY_MEMBER = "structure_needs_at_least_one_member";

function scoped(name: string): string {
  const { pkg, folder, type } = splitTypeName(name);
  return `${pkg}::${folder}::dds_::${type}_`;
}

export function cTypeName(name: string): string {
  const { pkg, folder, type } = splitTypeName(name);
  return `${pkg}_${folder}_dds__${type}_`;
}

function idlType(type: FieldType): string {
  if (type.kind === "message") return scoped(type.name);
  if (type.stringBound !== undefined) return `${IDL_PRIMITIVES[type.name]}<${type.stringBound}>`;
  return IDL_PRIMITIVES[type.name];
}

function idlMember(field: FieldDefinition): string {
  const t = idlType(field.type);
  switch (field.array.kind) {
    case "none":
      return `${t} ${field.name};`;
    case "dynamic":
      return `sequence<${t}> ${field.name};`;
    case "bounded":
      return `sequence<${t}, ${field.array.maxSize}> ${field.name};`;
    case "fixed":
      return `${t} ${field.name}[${field.array.size}];`;
  }
}

/** IDL for `types` and everything they need, dependencies first. */
export function generateIdl(registry: InterfaceRegistry, types: string[]): string {
  const ordered: MessageDefinition[] = [];
  const seen = new Set<string>();
  for (const t of types) for (const def of registry.closure(t)) if (!seen.has(def.name)) (seen.add(def.name), ordered.push(def));
  const lines: string[] = [];
  for (const def of ordered) {
    const { pkg, folder, type } = splitTypeName(def.name);
    const members = def.fields.length ? def.fields.map(idlMember) : [`uint8 ${EMPTY_MEMBER};`];
    lines.push(`module ${pkg} { module ${folder} { module dds_ {`, `  @final struct ${type}_ {`, ...members.map((m) => `    ${m}`), "  };", "}; }; };");
  }
  return lines.join("\n") + "\n";
}

const C_PRIMITIVES: Record<PrimitiveTypeName, string> = {
  bool: "bool",
  byte: "uint8_t",
  char: "uint8_t",
  int8: "int8_t",
  uint8: "uint8_t",
  int16: "int16_t",
  uint16: "uint16_t",
  int32: "int32_t",
  uint32: "uint32_t",
  int64: "int64_t",
  uint64: "uint64_t",
  float32: "float",
  float64: "double",
  string: "char *",
  wstring: "wchar_t *",
};

/** C string literal of UTF-8 text (octal escapes: they never swallow a following character). */
function cString(text: string): string {
  let out = '"';
  for (const b of new TextEncoder().encode(text)) {
    out += b >= 0x20 && b < 0x7f && b !== 0x22 && b !== 0x5c && b !== 0x3f ? String.fromCharCode(b) : `\\${b.toString(8).padStart(3, "0")}`;
  }
  return out + '"';
}

function cScalar(type: PrimitiveTypeName, value: unknown): string {
  switch (type) {
    case "bool":
      return value ? "true" : "false";
    case "float32":
    case "float64": {
      const v = value as number;
      if (!Number.isFinite(v)) throw new Error(`cyclone program: non-finite ${v} has no portable C literal`);
      const text = v.toPrecision(17);
      return type === "float32" ? `(float)${text}` : text;
    }
    case "int64":
      return `INT64_C(${String(value)})`;
    case "uint64":
      return `UINT64_C(${String(value)})`;
    case "string":
      return cString(value as string);
    default:
      return String(value);
  }
}

class CWriter {
  readonly statics: string[] = [];
  readonly body: string[] = [];
  private counter = 0;

  constructor(private readonly registry: InterfaceRegistry) {}

  fresh(prefix: string): string {
    return `${prefix}${this.counter++}`;
  }

  struct(def: MessageDefinition, value: Record<string, unknown>, lvalue: string): void {
    if (def.fields.length === 0) {
      this.body.push(`${lvalue}.${EMPTY_MEMBER} = 0;`);
      return;
    }
    for (const field of def.fields) this.field(field, value[field.name], `${lvalue}.${field.name}`);
  }

  private element(type: FieldType, value: unknown, lvalue: string): void {
    if (type.kind === "message") {
      this.struct(this.registry.message(type.name), value as Record<string, unknown>, lvalue);
    } else if (type.stringBound !== undefined) {
      this.body.push(`strcpy(${lvalue}, ${cString(value as string)});`);
    } else {
      this.body.push(`${lvalue} = ${cScalar(type.name, value)};`);
    }
  }

  private elementCType(type: FieldType): string {
    if (type.kind === "message") return cTypeName(type.name);
    if (type.stringBound !== undefined) throw new Error("cyclone program: sequences of bounded strings are not generated");
    return C_PRIMITIVES[type.name];
  }

  private field(field: FieldDefinition, value: unknown, lvalue: string): void {
    if (field.array.kind === "none") return this.element(field.type, value, lvalue);
    const items = Array.from(value as ArrayLike<unknown>);
    if (field.array.kind === "fixed") {
      items.forEach((item, i) => this.element(field.type, item, `${lvalue}[${i}]`));
      return;
    }
    if (items.length === 0) {
      this.body.push(`${lvalue}._length = 0; ${lvalue}._maximum = 0; ${lvalue}._buffer = NULL;`);
      return;
    }
    const buffer = this.fresh("buf");
    this.statics.push(`static ${this.elementCType(field.type)} ${buffer}[${items.length}];`);
    items.forEach((item, i) => this.element(field.type, item, `${buffer}[${i}]`));
    this.body.push(`${lvalue}._length = ${items.length}; ${lvalue}._maximum = ${items.length}; ${lvalue}._buffer = ${buffer}; ${lvalue}._release = false;`);
  }
}

/** The C program: one fill-and-serialize block per sample, in order. */
export function generateCProgram(registry: InterfaceRegistry, header: string, samples: { label: string; type: string; value: unknown }[]): string {
  const blocks: string[] = [];
  const statics: string[] = [];
  samples.forEach((s, k) => {
    const w = new CWriter(registry);
    const sampleVar = `sample${k}`;
    statics.push(`static ${cTypeName(s.type)} ${sampleVar};`);
    w.struct(registry.message(s.type), s.value as Record<string, unknown>, sampleVar);
    statics.push(...w.statics.map((line) => line.replace(/ (buf\d+)\[/, ` s${k}_$1[`)));
    const body = w.body.map((line) => line.replace(/\b(buf\d+)\b/g, `s${k}_$1`));
    blocks.push(
      `  /* ${s.label} */`,
      `  memset(&${sampleVar}, 0, sizeof ${sampleVar});`,
      ...body.map((l) => `  ${l}`),
      `  emit(${cString(s.label)}, &${sampleVar}, ${cTypeName(s.type)}_desc.m_ops);`,
    );
  });
  return [
    "#include <stdio.h>",
    "#include <string.h>",
    "#include <stdint.h>",
    "#include <stdbool.h>",
    '#include "dds/dds.h"',
    '#include "dds/ddsi/ddsi_cdrstream.h"',
    `#include "${header}"`,
    "",
    ...statics,
    "",
    "static void emit(const char *label, const void *sample, const uint32_t *ops) {",
    "  dds_ostreamLE_t os;",
    "  dds_ostreamLE_init(&os, 0, CDR_ENC_VERSION_1);",
    "  dds_stream_writeLE(&os, (const char *)sample, ops);",
    '  printf("%s\\t00010000", label);',
    '  for (uint32_t i = 0; i < os.x.m_index; i++) printf("%02x", os.x.m_buffer[i]);',
    '  printf("\\n");',
    "  dds_ostreamLE_fini(&os);",
    "}",
    "",
    "int main(void) {",
    ...blocks,
    "  return 0;",
    "}",
    "",
  ].join("\n");
}
