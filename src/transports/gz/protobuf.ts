// Protocol Buffers wire format, the small subset the gz messages need: varints, 64-bit doubles, 32-bit
// fixed values (skipped), length-delimited fields. The reader never reads past its bounds and throws a
// ProtoError with a one-line reason on anything malformed, so a hostile datagram or frame can be dropped and
// counted by the caller. The writer is for messages built off the control path (discovery); hot-path encoders
// write into preallocated buffers themselves (see messages.ts).
//
// Wire format reference: https://protobuf.dev/programming-guides/encoding/ (field numbers are per message).

export const WireType = {
  Varint: 0,
  Fixed64: 1,
  LengthDelimited: 2,
  StartGroup: 3,
  EndGroup: 4,
  Fixed32: 5,
} as const;

export class ProtoError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ProtoError";
  }
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Cursor over a byte range. `tag()` returns the next field's number and leaves its wire type in `wireType`;
 * the caller then reads the value with the matching method or calls `skip()`. Reusable via `reset` so a hot
 * decoder can keep one instance per nesting depth and allocate nothing.
 */
export class ProtoReader {
  private buf: Uint8Array = new Uint8Array(0);
  private view: DataView = new DataView(new ArrayBuffer(0));
  pos = 0;
  end = 0;
  /** Wire type of the field whose tag was read last. */
  wireType = 0;

  constructor(buf?: Uint8Array, start = 0, end = buf ? buf.length : 0) {
    if (buf) this.reset(buf, start, end);
  }

  reset(buf: Uint8Array, start = 0, end = buf.length): this {
    if (start < 0 || end > buf.length || start > end) throw new ProtoError(`protobuf: bad range [${start}, ${end}) for a buffer of ${buf.length} bytes`);
    if (buf !== this.buf) {
      this.buf = buf;
      this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    }
    this.pos = start;
    this.end = end;
    return this;
  }

  get bytes(): Uint8Array {
    return this.buf;
  }

  done(): boolean {
    return this.pos >= this.end;
  }

  /** Next field number (>= 1); its wire type is left in `wireType`. */
  tag(): number {
    const key = this.varint();
    const wt = key % 8;
    const field = Math.floor(key / 8);
    if (field < 1 || field > 536_870_911) throw new ProtoError(`protobuf: field number must be in [1, 2^29), got ${field} at byte ${this.pos}`);
    if (wt === WireType.StartGroup || wt === WireType.EndGroup || wt > 5) {
      throw new ProtoError(`protobuf: wire type ${wt} (field ${field}) is not used by these messages`);
    }
    this.wireType = wt;
    return field;
  }

  /** Unsigned varint up to 2^53 (enough for lengths, enums, uint32/uint64 counts). Larger values lose precision but never throw. */
  varint(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new ProtoError("protobuf: truncated varint");
      const b = this.buf[this.pos++];
      result += (b & 0x7f) * scale;
      if (b < 0x80) {
        if (i === 9 && b > 1) throw new ProtoError("protobuf: varint longer than 64 bits");
        return result;
      }
      scale *= 128;
    }
    throw new ProtoError("protobuf: varint longer than 10 bytes");
  }

  /** int32/int64 varint as a signed number (two's complement over 64 bits). */
  int64(): number {
    // Low and high 32-bit halves kept apart so negative values (ten bytes, top bit set) stay exact.
    let lo = 0;
    let hi = 0;
    let shift = 0;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new ProtoError("protobuf: truncated varint");
      const b = this.buf[this.pos++];
      const bits = b & 0x7f;
      if (shift < 28) lo |= bits << shift;
      else if (shift === 28) {
        lo |= bits << 28;
        hi |= bits >>> 4;
      } else hi |= bits << (shift - 32);
      if (b < 0x80) return (hi | 0) * 4294967296 + (lo >>> 0);
      shift += 7;
    }
    throw new ProtoError("protobuf: varint longer than 10 bytes");
  }

  bool(): boolean {
    return this.varint() !== 0;
  }

  double(): number {
    if (this.end - this.pos < 8) throw new ProtoError("protobuf: truncated double");
    const v = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return v;
  }

  /** Length of a length-delimited field; leaves `pos` at its first byte. Returns the end offset. */
  lengthDelimited(): number {
    const len = this.varint();
    if (len > this.end - this.pos) throw new ProtoError(`protobuf: length ${len} runs past the end of the message (${this.end - this.pos} bytes left)`);
    return this.pos + len;
  }

  string(): string {
    const end = this.lengthDelimited();
    let s: string;
    try {
      s = utf8.decode(this.buf.subarray(this.pos, end));
    } catch {
      throw new ProtoError("protobuf: string field is not valid UTF-8");
    }
    this.pos = end;
    return s;
  }

  /** Skip the value of the field whose tag was just read. */
  skip(): void {
    switch (this.wireType) {
      case WireType.Varint:
        this.varint();
        return;
      case WireType.Fixed64:
        if (this.end - this.pos < 8) throw new ProtoError("protobuf: truncated fixed64");
        this.pos += 8;
        return;
      case WireType.LengthDelimited:
        this.pos = this.lengthDelimited();
        return;
      case WireType.Fixed32:
        if (this.end - this.pos < 4) throw new ProtoError("protobuf: truncated fixed32");
        this.pos += 4;
        return;
      default:
        throw new ProtoError(`protobuf: cannot skip wire type ${this.wireType}`);
    }
  }

  /** Throw unless the field just tagged has the wire type the schema says. */
  expect(wireType: number, field: number, message: string): void {
    if (this.wireType !== wireType) {
      throw new ProtoError(`protobuf: ${message} field ${field} must have wire type ${wireType}, got ${this.wireType}`);
    }
  }
}

/** Growable writer for messages built off the hot path. */
export class ProtoWriter {
  private buf: Uint8Array;
  private view: DataView;
  private len = 0;

  constructor(initialSize = 256) {
    this.buf = new Uint8Array(initialSize);
    this.view = new DataView(this.buf.buffer);
  }

  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  private rawVarint(v: number): void {
    if (!Number.isInteger(v) || v < 0 || v > Number.MAX_SAFE_INTEGER) throw new ProtoError(`protobuf: varint must be a non-negative safe integer, got ${v}`);
    this.ensure(10);
    while (v >= 0x80) {
      this.buf[this.len++] = (v % 128) | 0x80;
      v = Math.floor(v / 128);
    }
    this.buf[this.len++] = v;
  }

  private key(field: number, wireType: number): void {
    this.rawVarint(field * 8 + wireType);
  }

  uint(field: number, v: number): this {
    this.key(field, WireType.Varint);
    this.rawVarint(v);
    return this;
  }

  /** uint64 written as the full 64-bit pattern (e.g. UINT64_MAX for "unthrottled"). */
  uint64Max(field: number): this {
    this.key(field, WireType.Varint);
    this.ensure(10);
    for (let i = 0; i < 9; i++) this.buf[this.len++] = 0xff;
    this.buf[this.len++] = 0x01;
    return this;
  }

  bool(field: number, v: boolean): this {
    return this.uint(field, v ? 1 : 0);
  }

  double(field: number, v: number): this {
    this.key(field, WireType.Fixed64);
    this.ensure(8);
    this.view.setFloat64(this.len, v, true);
    this.len += 8;
    return this;
  }

  bytes(field: number, v: Uint8Array): this {
    this.key(field, WireType.LengthDelimited);
    this.rawVarint(v.length);
    this.ensure(v.length);
    this.buf.set(v, this.len);
    this.len += v.length;
    return this;
  }

  string(field: number, v: string): this {
    return this.bytes(field, new TextEncoder().encode(v));
  }

  /** Nested message: `write` fills a fresh writer whose bytes become this field. */
  message(field: number, write: (w: ProtoWriter) => void): this {
    const inner = new ProtoWriter(64);
    write(inner);
    return this.bytes(field, inner.finish());
  }

  /** A copy of the bytes written so far. */
  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}
