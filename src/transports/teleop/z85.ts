// Z85 (ZeroMQ RFC 32): the printable encoding of CURVE keys. 4 bytes (big-endian) become 5 characters of an
// 85-symbol alphabet, most significant first. A 32-byte key is 40 characters.
const ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";
const DECODE = new Int16Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) DECODE[ALPHABET.charCodeAt(i)] = i;

/** Encode bytes whose length is a multiple of 4. */
export function z85Encode(bytes: Uint8Array): string {
  if (bytes.length % 4 !== 0) throw new Error(`z85: expected a byte length that is a multiple of 4, got ${bytes.length}`);
  let out = "";
  for (let i = 0; i < bytes.length; i += 4) {
    let value = ((bytes[i] << 24) | (bytes[i + 1] << 16) | (bytes[i + 2] << 8) | bytes[i + 3]) >>> 0;
    let chunk = "";
    for (let k = 0; k < 5; k++) {
      chunk = ALPHABET[value % 85] + chunk;
      value = Math.floor(value / 85);
    }
    out += chunk;
  }
  return out;
}

/** Decode a Z85 string (length a multiple of 5); throws a one-line error on a bad length or character. */
export function z85Decode(text: string): Uint8Array {
  if (typeof text !== "string" || text.length % 5 !== 0) {
    throw new Error(`z85: expected a string whose length is a multiple of 5, got ${typeof text === "string" ? `length ${text.length}` : typeof text}`);
  }
  const out = new Uint8Array((text.length / 5) * 4);
  for (let i = 0, o = 0; i < text.length; i += 5, o += 4) {
    let value = 0;
    for (let k = 0; k < 5; k++) {
      const code = text.charCodeAt(i + k);
      const digit = code < 128 ? DECODE[code] : -1;
      if (digit < 0) throw new Error(`z85: unexpected character ${JSON.stringify(text[i + k])} at index ${i + k}`);
      value = value * 85 + digit;
    }
    if (value > 0xffffffff) throw new Error(`z85: group at index ${i} encodes ${value}, above 2^32 - 1`);
    out[o] = value >>> 24;
    out[o + 1] = (value >>> 16) & 0xff;
    out[o + 2] = (value >>> 8) & 0xff;
    out[o + 3] = value & 0xff;
  }
  return out;
}

/** True for a 40-character Z85 text that decodes to a 32-byte CURVE key. */
export function isCurveKey(text: unknown): text is string {
  if (typeof text !== "string" || text.length !== 40) return false;
  try {
    z85Decode(text);
    return true;
  } catch {
    return false;
  }
}
