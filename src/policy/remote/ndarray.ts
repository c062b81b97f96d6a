// numpy arrays in msgpack, the convention openpi (and many policy servers) use: an array is a map with the binary
// keys __ndarray__ (true), data (the raw bytes, C order), dtype (numpy's dtype.str, e.g. "<f4", "|u1") and shape
// (array of ints); a numpy scalar is {__npgeneric__: true, data: <plain value>, dtype}. Only plain numeric and boolean
// dtypes are accepted: object, void, string, complex and date dtypes are refused, never interpreted.
import type { MsgpackWriter } from "./msgpackWriter.js";

/** A decoded array: validated header, raw bytes (a view into the message). */
export class NdArray {
  constructor(
    readonly dtype: string,
    readonly shape: readonly number[],
    readonly data: Uint8Array,
  ) {}
}

/** A decoded wire value with numpy arrays and scalars resolved. */
export type WireValue = null | boolean | number | bigint | string | Uint8Array | NdArray | WireValue[] | { [key: string]: WireValue };

interface DtypeInfo {
  kind: "b" | "i" | "u" | "f";
  itemBytes: number;
  littleEndian: boolean;
}

const MAX_NDIM = 32;

/** Parse numpy's dtype.str; null when the dtype is not one we accept. */
export function parseDtype(dtype: string): DtypeInfo | null {
  const match = /^([<>|])([biuf])(\d)$/.exec(dtype);
  if (match === null) return null;
  const [, order, kind, sizeText] = match;
  const itemBytes = Number(sizeText);
  const single = itemBytes === 1;
  // numpy writes "|" exactly for one-byte types and "<"/">" for wider ones.
  if (single !== (order === "|")) return null;
  const allowed = kind === "b" ? [1] : kind === "f" ? [4, 8] : [1, 2, 4, 8];
  if (!allowed.includes(itemBytes)) return null;
  return { kind: kind as DtypeInfo["kind"], itemBytes, littleEndian: order !== ">" };
}

const SUPPORTED = '"|b1", "|u1", "|i1", "<u2".."<u8", "<i2".."<i8", "<f4", "<f8" (or big-endian ">")';

function isMap(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}

/** True when `value` is a map in the ndarray convention (whatever its validity). */
export function isNdarrayMap(value: unknown): value is Record<string, unknown> {
  return isMap(value) && Object.hasOwn(value, "__ndarray__");
}

/** Validate an ndarray map. Returns the array or a one-line error naming `path`. */
export function readNdarray(value: unknown, path: string): NdArray | string {
  if (!isNdarrayMap(value)) return `expected ${path} as a numpy array map {__ndarray__, data, dtype, shape}, got ${describeWire(value)}`;
  if (value.__ndarray__ !== true) return `expected ${path}.__ndarray__ to be true, got ${describeWire(value.__ndarray__)}`;
  const { data, dtype, shape } = value;
  if (typeof dtype !== "string") return `expected ${path}.dtype as a numpy dtype string, got ${describeWire(dtype)}`;
  const info = parseDtype(dtype);
  if (info === null) return `expected ${path}.dtype to be one of ${SUPPORTED}, got ${JSON.stringify(dtype.slice(0, 40))}`;
  if (!(data instanceof Uint8Array)) return `expected ${path}.data as binary, got ${describeWire(data)}`;
  if (!Array.isArray(shape) || shape.length > MAX_NDIM) return `expected ${path}.shape as an array of at most ${MAX_NDIM} sizes, got ${describeWire(shape)}`;
  let count = 1;
  for (let i = 0; i < shape.length; i++) {
    const size = shape[i];
    if (typeof size !== "number" || !Number.isSafeInteger(size) || size < 0) return `expected ${path}.shape[${i}] as a non-negative integer, got ${describeWire(size)}`;
    count *= size;
  }
  if (count * info.itemBytes !== data.byteLength) {
    return `${path}: shape [${shape.join(", ")}] of ${dtype} needs ${count * info.itemBytes} bytes, data has ${data.byteLength}`;
  }
  return new NdArray(dtype, shape as number[], data);
}

/** The values of a float32/float64 array as float64 (row-major), or a one-line error. */
export function ndarrayToFloat64(array: NdArray, path: string): Float64Array | string {
  const info = parseDtype(array.dtype);
  if (info === null || info.kind !== "f") return `expected ${path} as float32 or float64 ("<f4", "<f8"), got dtype ${JSON.stringify(array.dtype)}`;
  const n = array.data.byteLength / info.itemBytes;
  const out = new Float64Array(n);
  // DataView: the bytes may sit at any offset inside the message, and may be big-endian.
  const view = new DataView(array.data.buffer, array.data.byteOffset, array.data.byteLength);
  if (info.itemBytes === 4) for (let i = 0; i < n; i++) out[i] = view.getFloat32(i * 4, info.littleEndian);
  else for (let i = 0; i < n; i++) out[i] = view.getFloat64(i * 8, info.littleEndian);
  return out;
}

/** A numpy scalar map {__npgeneric__, data, dtype} as a plain value, or a one-line error. */
export function readNpGeneric(value: Record<string, unknown>, path: string): { value: number | boolean } | string {
  const { data, dtype } = value;
  if (typeof dtype !== "string" || parseDtype(dtype) === null) return `expected ${path}.dtype to be one of ${SUPPORTED}, got ${describeWire(dtype)}`;
  if (typeof data === "number" || typeof data === "boolean") return { value: data };
  return `expected ${path}.data as a number or boolean, got ${describeWire(data)}`;
}

/** Resolve numpy arrays/scalars everywhere in a decoded value (the strict decoder has bounded the depth). */
export function resolveWire(value: unknown, path: string): { ok: true; value: WireValue } | { ok: false; error: string } {
  if (value === null || typeof value === "boolean" || typeof value === "number" || typeof value === "bigint" || typeof value === "string") return { ok: true, value };
  if (value instanceof Uint8Array) return { ok: true, value };
  if (Array.isArray(value)) {
    const out: WireValue[] = [];
    for (let i = 0; i < value.length; i++) {
      const item = resolveWire(value[i], `${path}[${i}]`);
      if (!item.ok) return item;
      out.push(item.value);
    }
    return { ok: true, value: out };
  }
  if (isMap(value)) {
    if (Object.hasOwn(value, "__ndarray__")) {
      const array = readNdarray(value, path);
      return typeof array === "string" ? { ok: false, error: array } : { ok: true, value: array };
    }
    if (Object.hasOwn(value, "__npgeneric__")) {
      const scalar = readNpGeneric(value, path);
      return typeof scalar === "string" ? { ok: false, error: scalar } : { ok: true, value: scalar.value };
    }
    const out: { [key: string]: WireValue } = {};
    for (const key of Object.keys(value)) {
      const item = resolveWire(value[key], `${path}.${key}`);
      if (!item.ok) return item;
      out[key] = item.value;
    }
    return { ok: true, value: out };
  }
  return { ok: false, error: `${path}: unsupported value ${describeWire(value)}` };
}

/** Write an ndarray map in the numpy convention: binary keys, in the order numpy's packer writes them. */
function writeNdarray(writer: MsgpackWriter, dtype: string, shape: readonly number[], writeData: (w: MsgpackWriter) => void): MsgpackWriter {
  writer.mapHeader(4).binaryKey("__ndarray__").boolean(true).binaryKey("data");
  writeData(writer);
  writer.binaryKey("dtype").string(dtype).binaryKey("shape").arrayHeader(shape.length);
  for (const size of shape) writer.integer(size);
  return writer;
}

/** uint8 array (e.g. an image [H, W, C]) as "|u1". */
export function writeUint8Ndarray(writer: MsgpackWriter, data: Uint8Array, shape: readonly number[]): MsgpackWriter {
  return writeNdarray(writer, "|u1", shape, (w) => w.binary(data));
}

/** float64 values as "<f8". */
export function writeFloat64Ndarray(writer: MsgpackWriter, values: ArrayLike<number>, shape: readonly number[]): MsgpackWriter {
  return writeNdarray(writer, "<f8", shape, (w) => w.float64Binary(values));
}

/** float32 values as "<f4". */
export function writeFloat32Ndarray(writer: MsgpackWriter, values: ArrayLike<number>, shape: readonly number[]): MsgpackWriter {
  return writeNdarray(writer, "<f4", shape, (w) => w.float32Binary(values));
}

/** Short description of a decoded value for error messages. */
export function describeWire(value: unknown): string {
  if (value === null) return "nil";
  if (value === undefined) return "nothing";
  if (typeof value === "string") return `the string ${JSON.stringify(value.length > 40 ? value.slice(0, 40) + "..." : value)}`;
  if (typeof value === "number") return Number.isNaN(value) ? "NaN" : `the number ${value}`;
  if (typeof value === "boolean" || typeof value === "bigint") return `${typeof value} ${String(value)}`;
  if (value instanceof Uint8Array) return `${value.byteLength} bytes of binary`;
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (isNdarrayMap(value)) return `a numpy array (dtype ${JSON.stringify(value.dtype)}, shape ${JSON.stringify(Array.isArray(value.shape) ? value.shape : null)})`;
  if (isMap(value)) {
    const keys = Object.keys(value);
    return `a map with keys ${keys.slice(0, 6).join(", ")}${keys.length > 6 ? ", ..." : ""}`.replace(/keys $/, "no keys");
  }
  return typeof value;
}
