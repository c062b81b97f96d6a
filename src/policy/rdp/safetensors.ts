// A reader for the safetensors format (8-byte little-endian header length, a JSON header naming every tensor's
// dtype, shape and byte range, then the raw little-endian data). Float32 tensors only: that is what the RDP
// decoder's weights are. No code runs from the file; everything is checked against the file's length.
import { readFileSync } from "node:fs";

export interface Float32Tensor {
  shape: number[];
  data: Float32Array;
}

const MAX_HEADER_BYTES = 100 * 1024 * 1024;

export function parseSafetensors(bytes: Uint8Array, source = "safetensors"): Map<string, Float32Tensor> {
  if (bytes.length < 8) throw new Error(`${source}: expected at least an 8-byte header length, got ${bytes.length} bytes`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerBytes = Number(view.getBigUint64(0, true));
  if (headerBytes > MAX_HEADER_BYTES || 8 + headerBytes > bytes.length) {
    throw new Error(`${source}: expected a header of at most ${Math.min(MAX_HEADER_BYTES, bytes.length - 8)} bytes, got a length field of ${headerBytes}`);
  }
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + headerBytes)));
  } catch (error) {
    throw new Error(`${source}: expected a JSON header, got ${(error as Error).message.split("\n")[0]}`);
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) throw new Error(`${source}: expected the header to be a JSON object`);
  const dataStart = 8 + headerBytes;
  const dataBytes = bytes.length - dataStart;
  const tensors = new Map<string, Float32Tensor>();
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === "__metadata__") continue;
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (e?.dtype !== "F32") throw new Error(`${source}: expected tensor "${name}" of dtype F32, got ${JSON.stringify(e?.dtype)}`);
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isInteger(d) && d >= 0)) throw new Error(`${source}: expected tensor "${name}" to have a shape of non-negative integers, got ${JSON.stringify(e.shape)}`);
    const offsets = e.data_offsets;
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isInteger(o) && o >= 0) || offsets[0] > offsets[1] || offsets[1] > dataBytes) {
      throw new Error(`${source}: expected tensor "${name}" data_offsets [begin, end] within the ${dataBytes} data bytes, got ${JSON.stringify(offsets)}`);
    }
    const count = (e.shape as number[]).reduce((a, b) => a * b, 1);
    const [begin, end] = offsets as [number, number];
    if (end - begin !== 4 * count) throw new Error(`${source}: expected ${4 * count} bytes for tensor "${name}" of shape [${(e.shape as number[]).join(", ")}], got ${end - begin}`);
    const data = new Float32Array(count);
    const dv = new DataView(bytes.buffer, bytes.byteOffset + dataStart + begin, end - begin);
    for (let i = 0; i < count; i++) data[i] = dv.getFloat32(4 * i, true);
    tensors.set(name, { shape: (e.shape as number[]).slice(), data });
  }
  return tensors;
}

export function readSafetensors(path: string): Map<string, Float32Tensor> {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    throw new Error(`safetensors ${path}: cannot read it: ${(error as Error).message.split("\n")[0]}`);
  }
  return parseSafetensors(bytes, `safetensors ${path}`);
}
