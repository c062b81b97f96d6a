// ROS 2 message bytes: plain CDR (XCDR1), little-endian, behind the 4-byte encapsulation header 00 01 00 00, as
// the DDS middlewares of Humble and Jazzy put them on the wire. Driven by the parsed interface definitions.
//
// Rules (OMG CDR / DDS-XTypes XCDR1, "final" structs): every primitive is aligned to its own size (8 at most),
// measured from the first byte after the encapsulation header; a string is a uint32 length that counts the
// terminating NUL, the UTF-8 bytes and the NUL; a sequence is a uint32 count and its elements; a fixed array is
// just its elements; a struct with no fields carries one uint8 (ROS 2's structure_needs_at_least_one_member).
//
// Values follow rclnodejs's conventions: numbers, bigint for 64-bit integers, boolean, string, arrays or typed
// arrays for sequences, Uint8Array for byte/uint8 sequences. Errors name the field path, what was expected and
// what came, in one line.
import type { InterfaceRegistry } from "./interfaces.js";
import type { FieldDefinition, FieldType, MessageDefinition, PrimitiveTypeName } from "./msgParser.js";

export class CdrError extends Error {}

/** Encapsulation header for CDR little-endian (representation id 0x0001, options 0). */
export const CDR_LE_HEADER = Uint8Array.of(0x00, 0x01, 0x00, 0x00);
const HEADER_BYTES = 4;

interface PrimitiveInfo {
  size: number;
}

const PRIMITIVES: Record<Exclude<PrimitiveTypeName, "string" | "wstring">, PrimitiveInfo> = {
  bool: { size: 1 },
  byte: { size: 1 },
  char: { size: 1 },
  int8: { size: 1 },
  uint8: { size: 1 },
  int16: { size: 2 },
  uint16: { size: 2 },
  int32: { size: 4 },
  uint32: { size: 4 },
  int64: { size: 8 },
  uint64: { size: 8 },
  float32: { size: 4 },
  float64: { size: 8 },
};

const INTEGER_RANGES: Partial<Record<PrimitiveTypeName, [number, number]>> = {
  byte: [0, 255],
  char: [0, 255],
  uint8: [0, 255],
  int8: [-128, 127],
  int16: [-32768, 32767],
  uint16: [0, 65535],
  int32: [-2147483648, 2147483647],
  uint32: [0, 4294967295],
};

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder("utf-8", { fatal: true });

// ---------------------------------------------------------------------------------------------------------------
// Encoding

class CdrWriter {
  private bytes = new Uint8Array(256);
  private view = new DataView(this.bytes.buffer);
  offset = HEADER_BYTES;

  constructor() {
    this.bytes.set(CDR_LE_HEADER, 0);
  }

  private reserve(n: number): void {
    if (this.offset + n <= this.bytes.length) return;
    let size = this.bytes.length * 2;
    while (size < this.offset + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.bytes.subarray(0, this.offset));
    this.bytes = next;
    this.view = new DataView(next.buffer);
  }

  align(n: number): void {
    const pad = (n - ((this.offset - HEADER_BYTES) % n)) % n;
    this.reserve(pad);
    for (let i = 0; i < pad; i++) this.bytes[this.offset++] = 0;
  }

  uint8(v: number): void {
    this.reserve(1);
    this.view.setUint8(this.offset, v);
    this.offset += 1;
  }
  int8(v: number): void {
    this.reserve(1);
    this.view.setInt8(this.offset, v);
    this.offset += 1;
  }
  int16(v: number): void {
    this.align(2);
    this.reserve(2);
    this.view.setInt16(this.offset, v, true);
    this.offset += 2;
  }
  uint16(v: number): void {
    this.align(2);
    this.reserve(2);
    this.view.setUint16(this.offset, v, true);
    this.offset += 2;
  }
  int32(v: number): void {
    this.align(4);
    this.reserve(4);
    this.view.setInt32(this.offset, v, true);
    this.offset += 4;
  }
  uint32(v: number): void {
    this.align(4);
    this.reserve(4);
    this.view.setUint32(this.offset, v, true);
    this.offset += 4;
  }
  int64(v: bigint): void {
    this.align(8);
    this.reserve(8);
    this.view.setBigInt64(this.offset, v, true);
    this.offset += 8;
  }
  uint64(v: bigint): void {
    this.align(8);
    this.reserve(8);
    this.view.setBigUint64(this.offset, v, true);
    this.offset += 8;
  }
  float32(v: number): void {
    this.align(4);
    this.reserve(4);
    this.view.setFloat32(this.offset, v, true);
    this.offset += 4;
  }
  float64(v: number): void {
    this.align(8);
    this.reserve(8);
    this.view.setFloat64(this.offset, v, true);
    this.offset += 8;
  }
  raw(data: Uint8Array): void {
    this.reserve(data.length);
    this.bytes.set(data, this.offset);
    this.offset += data.length;
  }

  result(): Uint8Array {
    return this.bytes.slice(0, this.offset);
  }
}

/** Serialize `value` as the message `typeName` (e.g. "sensor_msgs/msg/JointState"), header included. */
export function encodeCdr(registry: InterfaceRegistry, typeName: string, value: unknown): Uint8Array {
  const writer = new CdrWriter();
  writeStruct(writer, registry, registry.message(typeName), value, shortName(typeName));
  return writer.result();
}

function writeStruct(w: CdrWriter, registry: InterfaceRegistry, def: MessageDefinition, value: unknown, path: string): void {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new CdrError(`${path}: expected a ${def.name} object, got ${describe(value)}`);
  }
  if (def.fields.length === 0) {
    w.uint8(0);
    return;
  }
  const record = value as Record<string, unknown>;
  for (const field of def.fields) {
    const fieldPath = `${path}.${field.name}`;
    if (!(field.name in record)) throw new CdrError(`${fieldPath}: expected a value, got none (field missing)`);
    writeField(w, registry, field, record[field.name], fieldPath);
  }
}

function writeField(w: CdrWriter, registry: InterfaceRegistry, field: FieldDefinition, value: unknown, path: string): void {
  const array = field.array;
  if (array.kind === "none") {
    writeElement(w, registry, field.type, value, path);
    return;
  }
  if (!isArrayLike(value)) throw new CdrError(`${path}: expected an array, got ${describe(value)}`);
  const length = value.length;
  if (array.kind === "fixed" && length !== array.size) throw new CdrError(`${path}: expected exactly ${array.size} elements, got ${length}`);
  if (array.kind === "bounded" && length > array.maxSize) throw new CdrError(`${path}: expected at most ${array.maxSize} elements, got ${length}`);
  if (array.kind !== "fixed") w.uint32(length);
  if (field.type.kind === "primitive" && (field.type.name === "uint8" || field.type.name === "byte") && value instanceof Uint8Array) {
    w.raw(value);
    return;
  }
  for (let i = 0; i < length; i++) writeElement(w, registry, field.type, value[i], `${path}[${i}]`);
}

function writeElement(w: CdrWriter, registry: InterfaceRegistry, type: FieldType, value: unknown, path: string): void {
  if (type.kind === "message") {
    writeStruct(w, registry, registry.message(type.name), value, path);
    return;
  }
  const name = type.name;
  switch (name) {
    case "string": {
      if (typeof value !== "string") throw new CdrError(`${path}: expected a string, got ${describe(value)}`);
      const bytes = utf8Encoder.encode(value);
      if (bytes.includes(0)) throw new CdrError(`${path}: expected a string without NUL characters`);
      if (type.stringBound !== undefined && value.length > type.stringBound) {
        throw new CdrError(`${path}: expected at most ${type.stringBound} characters, got ${value.length}`);
      }
      w.uint32(bytes.length + 1);
      w.raw(bytes);
      w.uint8(0);
      return;
    }
    case "wstring":
      throw new CdrError(`${path}: wstring fields are not supported by this codec`);
    case "bool":
      if (typeof value !== "boolean") throw new CdrError(`${path}: expected a boolean, got ${describe(value)}`);
      w.uint8(value ? 1 : 0);
      return;
    case "float32":
    case "float64":
      if (typeof value !== "number") throw new CdrError(`${path}: expected a number, got ${describe(value)}`);
      if (name === "float32") w.float32(value);
      else w.float64(value);
      return;
    case "int64":
    case "uint64": {
      const big = toBigInt(value, path);
      if (name === "uint64" ? big < 0n || big > 0xffffffffffffffffn : big < -(1n << 63n) || big >= 1n << 63n) {
        throw new CdrError(`${path}: expected a ${name}, got ${big} (out of range)`);
      }
      if (name === "int64") w.int64(big);
      else w.uint64(big);
      return;
    }
    default: {
      const range = INTEGER_RANGES[name];
      if (typeof value !== "number" || !Number.isInteger(value)) throw new CdrError(`${path}: expected an integer (${name}), got ${describe(value)}`);
      if (range && (value < range[0] || value > range[1])) throw new CdrError(`${path}: expected a ${name} in [${range[0]}, ${range[1]}], got ${value}`);
      if (name === "int8") w.int8(value);
      else if (name === "int16") w.int16(value);
      else if (name === "uint16") w.uint16(value);
      else if (name === "int32") w.int32(value);
      else if (name === "uint32") w.uint32(value);
      else w.uint8(value);
    }
  }
}

function toBigInt(value: unknown, path: string): bigint {
  if (typeof value === "bigint") return value;
  if (typeof value === "number" && Number.isSafeInteger(value)) return BigInt(value);
  throw new CdrError(`${path}: expected a bigint (or a safe integer), got ${describe(value)}`);
}

// ---------------------------------------------------------------------------------------------------------------
// Decoding

class CdrReader {
  private readonly view: DataView;
  offset = HEADER_BYTES;

  constructor(readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  private need(n: number, what: string): void {
    if (this.offset + n > this.bytes.length) {
      throw new CdrError(`cdr: truncated message: expected ${n} more bytes for ${what} at offset ${this.offset}, got ${this.bytes.length - this.offset}`);
    }
  }

  align(n: number): void {
    this.offset += (n - ((this.offset - HEADER_BYTES) % n)) % n;
  }

  read(type: Exclude<PrimitiveTypeName, "string" | "wstring">, what: string): number | bigint {
    const size = PRIMITIVES[type].size;
    this.align(size);
    this.need(size, what);
    const o = this.offset;
    this.offset += size;
    const v = this.view;
    switch (type) {
      case "bool":
      case "byte":
      case "char":
      case "uint8":
        return v.getUint8(o);
      case "int8":
        return v.getInt8(o);
      case "int16":
        return v.getInt16(o, true);
      case "uint16":
        return v.getUint16(o, true);
      case "int32":
        return v.getInt32(o, true);
      case "uint32":
        return v.getUint32(o, true);
      case "int64":
        return v.getBigInt64(o, true);
      case "uint64":
        return v.getBigUint64(o, true);
      case "float32":
        return v.getFloat32(o, true);
      case "float64":
        return v.getFloat64(o, true);
    }
  }

  uint32(what: string): number {
    return this.read("uint32", what) as number;
  }

  bytesOf(n: number, what: string): Uint8Array {
    this.need(n, what);
    const out = this.bytes.slice(this.offset, this.offset + n);
    this.offset += n;
    return out;
  }
}

/** Parse message bytes (header included) as `typeName`; throws a one-line CdrError on malformed input. */
export function decodeCdr(registry: InterfaceRegistry, typeName: string, bytes: Uint8Array): Record<string, unknown> {
  if (bytes.length < HEADER_BYTES) throw new CdrError(`cdr: expected at least a 4-byte encapsulation header, got ${bytes.length} bytes`);
  if (bytes[0] !== 0x00 || bytes[1] !== 0x01) {
    throw new CdrError(`cdr: expected the CDR little-endian encapsulation 00 01, got ${hex(bytes[0])} ${hex(bytes[1])}`);
  }
  const reader = new CdrReader(bytes);
  return readStruct(reader, registry, registry.message(typeName), shortName(typeName));
}

function readStruct(r: CdrReader, registry: InterfaceRegistry, def: MessageDefinition, path: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (def.fields.length === 0) {
    r.read("uint8", `${path} (empty struct)`);
    return out;
  }
  for (const field of def.fields) out[field.name] = readField(r, registry, field, `${path}.${field.name}`);
  return out;
}

/** Largest sequence the decoder accepts before it believes the count (guards against garbage lengths). */
const MAX_SEQUENCE_ELEMENTS = 1 << 26;

function readField(r: CdrReader, registry: InterfaceRegistry, field: FieldDefinition, path: string): unknown {
  const array = field.array;
  if (array.kind === "none") return readElement(r, registry, field.type, path);
  const length = array.kind === "fixed" ? array.size : r.uint32(`${path} length`);
  if (array.kind === "bounded" && length > array.maxSize) throw new CdrError(`${path}: expected at most ${array.maxSize} elements, got ${length}`);
  if (length > MAX_SEQUENCE_ELEMENTS || length > r.bytes.length) throw new CdrError(`${path}: implausible element count ${length} for a ${r.bytes.length}-byte message`);
  const type = field.type;
  if (type.kind === "primitive") {
    const typed = typedArrayFor(type.name, length);
    if (typed) {
      if (typed instanceof Uint8Array) return r.bytesOf(length, path);
      for (let i = 0; i < length; i++) typed[i] = r.read(type.name as Exclude<PrimitiveTypeName, "string" | "wstring">, `${path}[${i}]`) as number;
      return typed;
    }
  }
  const out: unknown[] = [];
  for (let i = 0; i < length; i++) out.push(readElement(r, registry, type, `${path}[${i}]`));
  return out;
}

type NumericTypedArray = Uint8Array | Int8Array | Int16Array | Uint16Array | Int32Array | Uint32Array | Float32Array | Float64Array;

/** The typed array rclnodejs hands out for a numeric sequence (none for bool, 64-bit integers and strings). */
function typedArrayFor(name: PrimitiveTypeName, length: number): NumericTypedArray | null {
  switch (name) {
    case "byte":
    case "uint8":
      return new Uint8Array(length);
    case "char":
    case "int8":
      return new Int8Array(length);
    case "int16":
      return new Int16Array(length);
    case "uint16":
      return new Uint16Array(length);
    case "int32":
      return new Int32Array(length);
    case "uint32":
      return new Uint32Array(length);
    case "float32":
      return new Float32Array(length);
    case "float64":
      return new Float64Array(length);
    default:
      return null;
  }
}

function readElement(r: CdrReader, registry: InterfaceRegistry, type: FieldType, path: string): unknown {
  if (type.kind === "message") return readStruct(r, registry, registry.message(type.name), path);
  if (type.name === "string") {
    const length = r.uint32(`${path} length`);
    if (length === 0) throw new CdrError(`${path}: expected a string length of at least 1 (the NUL), got 0`);
    const bytes = r.bytesOf(length, path);
    if (bytes[length - 1] !== 0) throw new CdrError(`${path}: expected a NUL-terminated string`);
    try {
      return utf8Decoder.decode(bytes.subarray(0, length - 1));
    } catch {
      throw new CdrError(`${path}: expected UTF-8 text`);
    }
  }
  if (type.name === "wstring") throw new CdrError(`${path}: wstring fields are not supported by this codec`);
  const value = r.read(type.name, path);
  if (type.name === "bool") return value !== 0;
  return value;
}

// ---------------------------------------------------------------------------------------------------------------

function isArrayLike(value: unknown): value is ArrayLike<unknown> {
  return Array.isArray(value) || (ArrayBuffer.isView(value) && !(value instanceof DataView));
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (typeof value === "string") return `string ${JSON.stringify(value.length > 40 ? value.slice(0, 40) + "..." : value)}`;
  if (typeof value === "number" || typeof value === "bigint" || typeof value === "boolean") return `${typeof value} ${String(value)}`;
  return typeof value;
}

function shortName(typeName: string): string {
  return typeName.split("/").pop() ?? typeName;
}

function hex(b: number | undefined): string {
  return b === undefined ? "--" : b.toString(16).padStart(2, "0");
}
