// A small msgpack writer for the messages this runtime sends.
//
// Our own data only (it is never used on bytes that came from a peer). It exists because numpy's convention puts
// *binary* map keys (b"__ndarray__", b"data", ...) on the wire, which the msgpack library's encoder cannot write
// (its map keys are always strings), and because typed arrays go straight into the buffer as little-endian bytes.
// Encodings follow the msgpack spec and pick the smallest form, as the reference Python packer does, so a message
// written here is byte-identical to the same dict packed by Python's msgpack.

/** Plain values the writer can encode generically. */
export type MsgpackValue = null | boolean | number | string | Uint8Array | readonly MsgpackValue[] | { readonly [key: string]: MsgpackValue };

const utf8 = new TextEncoder();

export class MsgpackWriter {
  private buffer: Uint8Array;
  private view: DataView;
  private pos = 0;

  constructor(initialBytes = 4096) {
    this.buffer = new Uint8Array(Math.max(16, initialBytes));
    this.view = new DataView(this.buffer.buffer);
  }

  /** Start a new message (the buffer is kept). */
  reset(): this {
    this.pos = 0;
    return this;
  }

  get length(): number {
    return this.pos;
  }

  /** A copy of the message so far (senders may hold on to it after the writer moves on). */
  bytes(): Uint8Array {
    return this.buffer.slice(0, this.pos);
  }

  nil(): this {
    this.ensure(1);
    this.buffer[this.pos++] = 0xc0;
    return this;
  }

  boolean(value: boolean): this {
    this.ensure(1);
    this.buffer[this.pos++] = value ? 0xc3 : 0xc2;
    return this;
  }

  /** Integers in the safe range take the smallest integer form; everything else is a float64. */
  number(value: number): this {
    if (Number.isSafeInteger(value) && !Object.is(value, -0)) return this.integer(value);
    return this.float64(value);
  }

  integer(value: number): this {
    if (!Number.isSafeInteger(value)) throw new Error(`msgpack writer: expected a safe integer, got ${value}`);
    this.ensure(9);
    const b = this.buffer;
    const v = this.view;
    if (value >= 0) {
      if (value < 0x80) b[this.pos++] = value;
      else if (value < 0x100) (b[this.pos++] = 0xcc), (b[this.pos++] = value);
      else if (value < 0x10000) (b[this.pos++] = 0xcd), v.setUint16(this.pos, value), (this.pos += 2);
      else if (value < 0x100000000) (b[this.pos++] = 0xce), v.setUint32(this.pos, value), (this.pos += 4);
      else (b[this.pos++] = 0xcf), v.setBigUint64(this.pos, BigInt(value)), (this.pos += 8);
    } else {
      if (value >= -32) b[this.pos++] = value & 0xff;
      else if (value >= -0x80) (b[this.pos++] = 0xd0), v.setInt8(this.pos, value), (this.pos += 1);
      else if (value >= -0x8000) (b[this.pos++] = 0xd1), v.setInt16(this.pos, value), (this.pos += 2);
      else if (value >= -0x80000000) (b[this.pos++] = 0xd2), v.setInt32(this.pos, value), (this.pos += 4);
      else (b[this.pos++] = 0xd3), v.setBigInt64(this.pos, BigInt(value)), (this.pos += 8);
    }
    return this;
  }

  float64(value: number): this {
    this.ensure(9);
    this.buffer[this.pos++] = 0xcb;
    this.view.setFloat64(this.pos, value);
    this.pos += 8;
    return this;
  }

  string(value: string): this {
    const encoded = utf8.encode(value);
    const n = encoded.byteLength;
    this.ensure(5 + n);
    if (n < 32) this.buffer[this.pos++] = 0xa0 | n;
    else if (n < 0x100) (this.buffer[this.pos++] = 0xd9), (this.buffer[this.pos++] = n);
    else if (n < 0x10000) (this.buffer[this.pos++] = 0xda), this.view.setUint16(this.pos, n), (this.pos += 2);
    else (this.buffer[this.pos++] = 0xdb), this.view.setUint32(this.pos, n), (this.pos += 4);
    this.buffer.set(encoded, this.pos);
    this.pos += n;
    return this;
  }

  binary(value: Uint8Array): this {
    this.binaryHeader(value.byteLength);
    this.buffer.set(value, this.pos);
    this.pos += value.byteLength;
    return this;
  }

  /** A binary string key, as numpy's msgpack convention writes them. */
  binaryKey(key: string): this {
    return this.binary(utf8.encode(key));
  }

  /** Float64 values as one binary blob, little-endian (numpy dtype "<f8"). */
  float64Binary(values: ArrayLike<number>): this {
    const n = values.length * 8;
    this.binaryHeader(n);
    for (let i = 0; i < values.length; i++) this.view.setFloat64(this.pos + i * 8, values[i], true);
    this.pos += n;
    return this;
  }

  /** Float32 values as one binary blob, little-endian (numpy dtype "<f4"). */
  float32Binary(values: ArrayLike<number>): this {
    const n = values.length * 4;
    this.binaryHeader(n);
    for (let i = 0; i < values.length; i++) this.view.setFloat32(this.pos + i * 4, values[i], true);
    this.pos += n;
    return this;
  }

  arrayHeader(count: number): this {
    this.ensure(5);
    if (count < 16) this.buffer[this.pos++] = 0x90 | count;
    else if (count < 0x10000) (this.buffer[this.pos++] = 0xdc), this.view.setUint16(this.pos, count), (this.pos += 2);
    else (this.buffer[this.pos++] = 0xdd), this.view.setUint32(this.pos, count), (this.pos += 4);
    return this;
  }

  mapHeader(count: number): this {
    this.ensure(5);
    if (count < 16) this.buffer[this.pos++] = 0x80 | count;
    else if (count < 0x10000) (this.buffer[this.pos++] = 0xde), this.view.setUint16(this.pos, count), (this.pos += 2);
    else (this.buffer[this.pos++] = 0xdf), this.view.setUint32(this.pos, count), (this.pos += 4);
    return this;
  }

  /** Any plain value; object keys in insertion order, `undefined` fields left out. */
  value(value: MsgpackValue, depth = 0): this {
    if (depth > 64) throw new Error("msgpack writer: value nested deeper than 64");
    if (value === null) return this.nil();
    switch (typeof value) {
      case "boolean":
        return this.boolean(value);
      case "number":
        return this.number(value);
      case "string":
        return this.string(value);
    }
    if (value instanceof Uint8Array) return this.binary(value);
    if (Array.isArray(value)) {
      this.arrayHeader(value.length);
      for (const item of value) this.value(item, depth + 1);
      return this;
    }
    if (typeof value === "object") {
      const entries = Object.entries(value).filter(([, v]) => v !== undefined);
      this.mapHeader(entries.length);
      for (const [key, item] of entries) this.string(key).value(item, depth + 1);
      return this;
    }
    throw new Error(`msgpack writer: cannot encode a ${typeof value}`);
  }

  private binaryHeader(n: number): void {
    this.ensure(5 + n);
    if (n < 0x100) (this.buffer[this.pos++] = 0xc4), (this.buffer[this.pos++] = n);
    else if (n < 0x10000) (this.buffer[this.pos++] = 0xc5), this.view.setUint16(this.pos, n), (this.pos += 2);
    else (this.buffer[this.pos++] = 0xc6), this.view.setUint32(this.pos, n), (this.pos += 4);
  }

  private ensure(extra: number): void {
    if (this.pos + extra <= this.buffer.byteLength) return;
    let size = this.buffer.byteLength * 2;
    while (size < this.pos + extra) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.buffer.subarray(0, this.pos));
    this.buffer = grown;
    this.view = new DataView(grown.buffer);
  }
}
