// UTF-8 helpers for the byte-level tokenizers: encode one code point, decode strictly (report the
// first broken sequence) or lossily (U+FFFD per maximal invalid subpart, the policy shared by the
// WHATWG decoder and Rust's `String::from_utf8_lossy`, which the reference decoder uses).

export const REPLACEMENT_CHARACTER = 0xfffd;
export const MAX_CODE_POINT = 0x10ffff;

/** True for U+D800..U+DFFF, which UTF-8 cannot carry. */
export function isSurrogate(codePoint: number): boolean {
  return codePoint >= 0xd800 && codePoint <= 0xdfff;
}

/** Bytes needed to encode `codePoint` (1..4). */
export function utf8Length(codePoint: number): number {
  if (codePoint < 0x80) return 1;
  if (codePoint < 0x800) return 2;
  if (codePoint < 0x10000) return 3;
  return 4;
}

/** Writes the UTF-8 bytes of a valid, non-surrogate code point at `offset`; returns the byte count. */
export function writeUtf8(codePoint: number, out: Uint8Array, offset: number): number {
  if (codePoint < 0x80) {
    out[offset] = codePoint;
    return 1;
  }
  if (codePoint < 0x800) {
    out[offset] = 0xc0 | (codePoint >> 6);
    out[offset + 1] = 0x80 | (codePoint & 0x3f);
    return 2;
  }
  if (codePoint < 0x10000) {
    out[offset] = 0xe0 | (codePoint >> 12);
    out[offset + 1] = 0x80 | ((codePoint >> 6) & 0x3f);
    out[offset + 2] = 0x80 | (codePoint & 0x3f);
    return 3;
  }
  out[offset] = 0xf0 | (codePoint >> 18);
  out[offset + 1] = 0x80 | ((codePoint >> 12) & 0x3f);
  out[offset + 2] = 0x80 | ((codePoint >> 6) & 0x3f);
  out[offset + 3] = 0x80 | (codePoint & 0x3f);
  return 4;
}

/** UTF-8 bytes of a whole JS string (code point by code point; lone surrogates are an error). */
export function encodeUtf8(text: string): Uint8Array {
  let length = 0;
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (isSurrogate(cp)) throw new Error(`cannot UTF-8 encode: expected no lone surrogates, got U+${cp.toString(16).toUpperCase()}`);
    length += utf8Length(cp);
  }
  const out = new Uint8Array(length);
  let offset = 0;
  for (const ch of text) offset += writeUtf8(ch.codePointAt(0)!, out, offset);
  return out;
}

/** Result of `decodeUtf8Strict`: the number of code points, or where the first broken sequence starts. */
export interface StrictDecodeResult {
  /** Code points found (counted past `out.length` too, so callers can report the real count). */
  count: number;
  /** Byte offset of the first invalid or truncated sequence, or -1 when the bytes are valid UTF-8. */
  invalidAt: number;
}

/**
 * Decodes `bytes[0..length)` into code points written to `out` (up to its length; the count keeps going).
 * Stops at the first invalid or truncated sequence. Writes into `result` so the hot path allocates nothing.
 */
export function decodeUtf8Strict(
  bytes: Uint8Array,
  length: number,
  out: { length: number; [index: number]: number },
  result: StrictDecodeResult,
): StrictDecodeResult {
  let count = 0;
  let i = 0;
  const capacity = out.length;
  while (i < length) {
    const b0 = bytes[i];
    let cp: number;
    let size: number;
    // Inline fast paths for 1- and 2-byte sequences (all FAST+ coefficients in normal use).
    if (b0 < 0x80) {
      cp = b0;
      size = 1;
    } else if (b0 >= 0xc2 && b0 <= 0xdf && i + 1 < length && (bytes[i + 1] & 0xc0) === 0x80) {
      cp = ((b0 & 0x1f) << 6) | (bytes[i + 1] & 0x3f);
      size = 2;
    } else {
      size = validSequenceLength(bytes, i, length);
      if (size === 0) {
        result.count = count;
        result.invalidAt = i;
        return result;
      }
      cp = sequenceCodePoint(bytes, i, size);
    }
    if (count < capacity) out[count] = cp;
    count++;
    i += size;
  }
  result.count = count;
  result.invalidAt = -1;
  return result;
}

/** Length of the well-formed UTF-8 sequence starting at `i`, or 0 if it is broken or truncated. */
function validSequenceLength(bytes: Uint8Array, i: number, length: number): number {
  const b0 = bytes[i];
  let size: number;
  let lower = 0x80;
  let upper = 0xbf;
  if (b0 < 0x80) return 1;
  if (b0 >= 0xc2 && b0 <= 0xdf) size = 2;
  else if (b0 >= 0xe0 && b0 <= 0xef) {
    size = 3;
    if (b0 === 0xe0) lower = 0xa0;
    if (b0 === 0xed) upper = 0x9f;
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    size = 4;
    if (b0 === 0xf0) lower = 0x90;
    if (b0 === 0xf4) upper = 0x8f;
  } else return 0;
  if (i + size > length) return 0;
  const b1 = bytes[i + 1];
  if (b1 < lower || b1 > upper) return 0;
  for (let k = 2; k < size; k++) {
    if ((bytes[i + k] & 0xc0) !== 0x80) return 0;
  }
  return size;
}

function sequenceCodePoint(bytes: Uint8Array, i: number, size: number): number {
  if (size === 1) return bytes[i];
  if (size === 2) return ((bytes[i] & 0x1f) << 6) | (bytes[i + 1] & 0x3f);
  if (size === 3) return ((bytes[i] & 0x0f) << 12) | ((bytes[i + 1] & 0x3f) << 6) | (bytes[i + 2] & 0x3f);
  return ((bytes[i] & 0x07) << 18) | ((bytes[i + 1] & 0x3f) << 12) | ((bytes[i + 2] & 0x3f) << 6) | (bytes[i + 3] & 0x3f);
}

/** Lossy decode to code points: every maximal invalid subpart becomes one U+FFFD (reference behaviour). */
export function decodeUtf8Lossy(bytes: Uint8Array, length: number = bytes.length): number[] {
  const codePoints: number[] = [];
  let needed = 0;
  let seen = 0;
  let codePoint = 0;
  let lower = 0x80;
  let upper = 0xbf;
  let i = 0;
  while (i < length) {
    const byte = bytes[i];
    if (needed === 0) {
      i++;
      if (byte < 0x80) {
        codePoints.push(byte);
      } else if (byte >= 0xc2 && byte <= 0xdf) {
        needed = 1;
        codePoint = byte & 0x1f;
      } else if (byte >= 0xe0 && byte <= 0xef) {
        // Narrowed ranges reject overlong forms (E0) and surrogates (ED).
        if (byte === 0xe0) lower = 0xa0;
        if (byte === 0xed) upper = 0x9f;
        needed = 2;
        codePoint = byte & 0x0f;
      } else if (byte >= 0xf0 && byte <= 0xf4) {
        // Narrowed ranges reject overlong forms (F0) and code points above U+10FFFF (F4).
        if (byte === 0xf0) lower = 0x90;
        if (byte === 0xf4) upper = 0x8f;
        needed = 3;
        codePoint = byte & 0x07;
      } else {
        codePoints.push(REPLACEMENT_CHARACTER);
      }
      continue;
    }
    if (byte < lower || byte > upper) {
      // The broken prefix becomes one U+FFFD; this byte is examined again as a fresh start.
      codePoints.push(REPLACEMENT_CHARACTER);
      needed = seen = codePoint = 0;
      lower = 0x80;
      upper = 0xbf;
      continue;
    }
    i++;
    lower = 0x80;
    upper = 0xbf;
    codePoint = (codePoint << 6) | (byte & 0x3f);
    if (++seen === needed) {
      codePoints.push(codePoint);
      needed = seen = codePoint = 0;
    }
  }
  if (needed !== 0) codePoints.push(REPLACEMENT_CHARACTER);
  return codePoints;
}
