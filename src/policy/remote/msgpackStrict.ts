// Decoding msgpack that came over the network, strictly.
//
// A preflight scan walks the bytes once before anything is built: it rejects extension types (nothing but plain
// msgpack crosses the wire, so no type can ask for code to run or objects to be constructed), the reserved byte 0xc1,
// map keys other than strings or binary, lengths that run past the end, containers that claim more items than there
// are bytes left (a 5-byte header must not make the decoder allocate a 4-billion-slot array), nesting deeper than the
// limit and trailing bytes. Only then does @msgpack/msgpack build the values. Every failure comes back as a one-line
// string; nothing here throws.
import { Decoder, type ExtensionCodecType } from "@msgpack/msgpack";

export interface StrictDecodeLimits {
  /** Largest message accepted (bytes). */
  maxBytes: number;
  /** Deepest nesting of arrays and maps. Default 32. */
  maxDepth?: number;
}

export type StrictDecodeResult = { ok: true; value: unknown } | { ok: false; error: string };

const DEFAULT_MAX_DEPTH = 32;

/** Decode one msgpack value that must fill `bytes` exactly. Never throws. */
export function decodeMsgpackStrict(bytes: Uint8Array, limits: StrictDecodeLimits): StrictDecodeResult {
  if (!(bytes instanceof Uint8Array)) return { ok: false, error: `expected msgpack bytes, got ${typeof bytes}` };
  if (bytes.byteLength > limits.maxBytes) return { ok: false, error: `message of ${bytes.byteLength} bytes is over the ${limits.maxBytes}-byte limit` };
  if (bytes.byteLength === 0) return { ok: false, error: "empty message (expected one msgpack value)" };
  const scanError = scanMsgpack(bytes, limits.maxDepth ?? DEFAULT_MAX_DEPTH);
  if (scanError !== null) return { ok: false, error: `malformed msgpack: ${scanError}` };
  try {
    const decoder = new Decoder({
      extensionCodec: REJECT_EXTENSIONS,
      mapKeyConverter: convertMapKey,
      // The scan has bounded every count by the bytes left; these caps repeat that for the library's own checks.
      maxArrayLength: bytes.byteLength,
      maxMapLength: bytes.byteLength,
      maxStrLength: bytes.byteLength,
      maxBinLength: bytes.byteLength,
      maxExtLength: 0,
    });
    return { ok: true, value: decoder.decode(bytes) };
  } catch (err) {
    return { ok: false, error: `malformed msgpack: ${oneLine(err)}` };
  }
}

const REJECT_EXTENSIONS: ExtensionCodecType<undefined> = {
  tryToEncode: () => null,
  decode: (_data, extType) => {
    throw new Error(`extension type ${extType} is not allowed`);
  },
};

const UTF8 = new TextDecoder("utf-8", { fatal: true });

/** Binary map keys (numpy's convention: b"__ndarray__") become strings; keys that would reach the prototype are refused. */
function convertMapKey(key: unknown): string {
  let text: string;
  if (typeof key === "string") text = key;
  else if (key instanceof Uint8Array) {
    try {
      text = UTF8.decode(key);
    } catch {
      throw new Error("a binary map key is not valid UTF-8");
    }
  } else throw new Error(`map keys must be strings or binary, got ${typeof key}`);
  if (text === "__proto__") throw new Error('the map key "__proto__" is not allowed');
  return text;
}

/**
 * Structural check of a msgpack buffer without building any value. Returns null when it is one well-formed value
 * that fills the buffer, else what is wrong.
 */
export function scanMsgpack(bytes: Uint8Array, maxDepth: number): string | null {
  const n = bytes.byteLength;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // Items still to read in each open container; for maps, 2 per entry (even = a key is next).
  const remaining: number[] = [];
  const isMap: boolean[] = [];
  let pos = 0;
  let done = false;
  while (!done) {
    if (pos >= n) return `truncated at byte ${pos}`;
    const depth = remaining.length;
    const expectingKey = depth > 0 && isMap[depth - 1] && remaining[depth - 1] % 2 === 0;
    const head = bytes[pos];
    const at = pos;
    pos++;
    let skip = 0; // payload bytes after the header
    let children = -1; // >= 0: this is a container
    let childIsMap = false;
    let kind: "str" | "bin" | "other" = "other";
    const need = (count: number): boolean => pos + count <= n;
    if (head <= 0x7f || head >= 0xe0 || head === 0xc0 || head === 0xc2 || head === 0xc3) {
      // fixint, nil, false, true
    } else if (head <= 0x8f) {
      children = 2 * (head & 0x0f);
      childIsMap = true;
    } else if (head <= 0x9f) {
      children = head & 0x0f;
    } else if (head <= 0xbf) {
      skip = head & 0x1f;
      kind = "str";
    } else if (head === 0xc1) {
      return `reserved byte 0xc1 at byte ${at}`;
    } else if (head >= 0xc4 && head <= 0xc6) {
      const size = head === 0xc4 ? 1 : head === 0xc5 ? 2 : 4;
      if (!need(size)) return `truncated length at byte ${at}`;
      skip = readLength(view, pos, size);
      pos += size;
      kind = "bin";
    } else if ((head >= 0xc7 && head <= 0xc9) || (head >= 0xd4 && head <= 0xd8)) {
      const typeAt = head >= 0xd4 ? pos : pos + (head === 0xc7 ? 1 : head === 0xc8 ? 2 : 4);
      const type = typeAt < n ? view.getInt8(typeAt) : "?";
      return `extension type ${type} at byte ${at} is not allowed (only plain msgpack types are accepted)`;
    } else if (head === 0xca || head === 0xcb) {
      skip = head === 0xca ? 4 : 8;
    } else if (head >= 0xcc && head <= 0xd3) {
      skip = 1 << ((head - 0xcc) & 3);
    } else if (head >= 0xd9 && head <= 0xdb) {
      const size = head === 0xd9 ? 1 : head === 0xda ? 2 : 4;
      if (!need(size)) return `truncated length at byte ${at}`;
      skip = readLength(view, pos, size);
      pos += size;
      kind = "str";
    } else if (head === 0xdc || head === 0xdd || head === 0xde || head === 0xdf) {
      const size = head === 0xdc || head === 0xde ? 2 : 4;
      if (!need(size)) return `truncated length at byte ${at}`;
      const count = readLength(view, pos, size);
      pos += size;
      childIsMap = head >= 0xde;
      children = childIsMap ? 2 * count : count;
    }
    if (expectingKey && kind === "other") return `map key at byte ${at} is not a string or binary (type byte 0x${head.toString(16)})`;
    if (skip > n - pos) return `${kind === "other" ? "value" : kind} at byte ${at} needs ${skip} bytes, ${n - pos} left`;
    pos += skip;
    if (children > 0) {
      // Every item takes at least one byte: a count beyond the bytes left is a lie.
      if (children > n - pos) return `container at byte ${at} declares ${childIsMap ? children / 2 + " entries" : children + " items"} but only ${n - pos} bytes are left`;
      if (depth + 1 > maxDepth) return `nesting deeper than ${maxDepth} at byte ${at}`;
      remaining.push(children);
      isMap.push(childIsMap);
      continue;
    }
    // A scalar (or an empty container) completed: close every container it finished.
    let level = remaining.length;
    while (level > 0) {
      remaining[level - 1]--;
      if (remaining[level - 1] > 0) break;
      remaining.pop();
      isMap.pop();
      level--;
    }
    if (level === 0) done = true;
  }
  if (pos !== n) return `${n - pos} trailing bytes after the value`;
  return null;
}

function readLength(view: DataView, pos: number, size: number): number {
  return size === 1 ? view.getUint8(pos) : size === 2 ? view.getUint16(pos) : view.getUint32(pos);
}

function oneLine(err: unknown): string {
  const text = err instanceof Error ? err.message || err.name : String(err);
  return text.split("\n")[0].slice(0, 200);
}
