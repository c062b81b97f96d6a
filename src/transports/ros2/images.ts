// Camera messages -> ImageFrame (interleaved RGB, or one channel for mono). Raw images are repacked from their
// encoding and row stride; compressed images (image_transport's "compressed": JPEG or PNG) are decoded by their
// magic bytes, whatever the format string says about the original channel order (a JPEG decodes to RGB).
import { decode as decodeJpeg } from "jpeg-js";
import { PNG } from "pngjs";
import type { sensor_msgs } from "rclnodejs";
import type { ImageFrame } from "../../runtime/slowExecutor.js";

/** Channels and the source index of R, G, B (or the single channel) per supported encoding. */
const RAW_ENCODINGS: Record<string, { bytesPerPixel: number; order: number[] }> = {
  rgb8: { bytesPerPixel: 3, order: [0, 1, 2] },
  bgr8: { bytesPerPixel: 3, order: [2, 1, 0] },
  rgba8: { bytesPerPixel: 4, order: [0, 1, 2] },
  bgra8: { bytesPerPixel: 4, order: [2, 1, 0] },
  mono8: { bytesPerPixel: 1, order: [0] },
  "8UC1": { bytesPerPixel: 1, order: [0] },
  "8UC3": { bytesPerPixel: 3, order: [2, 1, 0] }, // OpenCV's default channel order
};

/** Largest decoded image accepted (megapixels): guards against a hostile or broken header. */
const MAX_MEGAPIXELS = 64;

export function imageFrameFromRaw(msg: sensor_msgs.msg.Image, timeNs: number): ImageFrame {
  const format = RAW_ENCODINGS[msg.encoding];
  if (!format) throw new Error(`image: expected encoding ${Object.keys(RAW_ENCODINGS).join(", ")}, got "${msg.encoding}"`);
  const { width, height, step } = msg;
  if (step < width * format.bytesPerPixel) throw new Error(`image: expected a step of at least ${width * format.bytesPerPixel} bytes for ${width} ${msg.encoding} pixels, got ${step}`);
  const data: ArrayLike<number> = msg.data;
  if (data.length < step * height) throw new Error(`image: expected ${step * height} bytes (${height} rows of ${step}), got ${data.length}`);
  const channels = format.order.length;
  const out = new Uint8Array(width * height * channels);
  let o = 0;
  for (let y = 0; y < height; y++) {
    let p = y * step;
    for (let x = 0; x < width; x++, p += format.bytesPerPixel) {
      for (let c = 0; c < channels; c++) out[o++] = data[p + format.order[c]];
    }
  }
  return { width, height, channels, data: out, timeNs };
}

export function decodeCompressedImage(msg: sensor_msgs.msg.CompressedImage, timeNs: number): ImageFrame {
  const bytes = msg.data instanceof Uint8Array ? msg.data : Uint8Array.from(msg.data);
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) {
    try {
      const image = decodeJpeg(bytes, { useTArray: true, formatAsRGBA: false, maxResolutionInMP: MAX_MEGAPIXELS, maxMemoryUsageInMB: 512 });
      return { width: image.width, height: image.height, channels: 3, data: image.data, timeNs };
    } catch (error) {
      throw new Error(`compressed image: cannot decode the JPEG (${firstLine(error)})`);
    }
  }
  if (bytes.length >= 8 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) {
    let png: PNG;
    try {
      png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    } catch (error) {
      throw new Error(`compressed image: cannot decode the PNG (${firstLine(error)})`);
    }
    if (png.width * png.height > MAX_MEGAPIXELS * 1e6) throw new Error(`compressed image: expected at most ${MAX_MEGAPIXELS} MP, got ${png.width}x${png.height}`);
    const rgb = new Uint8Array(png.width * png.height * 3);
    for (let i = 0, o = 0; i < png.data.length; i += 4) {
      rgb[o++] = png.data[i];
      rgb[o++] = png.data[i + 1];
      rgb[o++] = png.data[i + 2];
    }
    return { width: png.width, height: png.height, channels: 3, data: rgb, timeNs };
  }
  const head = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, "0")).join(" ");
  throw new Error(`compressed image: expected JPEG or PNG data, got format "${msg.format}" starting with ${head || "nothing"}`);
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split("\n")[0];
}
