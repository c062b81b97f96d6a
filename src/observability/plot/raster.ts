// An RGBA raster with the few drawing operations plots need (lines, rectangles, dashed lines, bitmap text), encoded
// to PNG by pngjs.
import { PNG } from "pngjs";
import { GLYPH_ADVANCE, GLYPH_HEIGHT, glyph } from "./font.js";

export type Rgb = readonly [number, number, number];

export function hexColor(hex: string): Rgb {
  const m = /^#([0-9a-f]{6})$/i.exec(hex);
  if (!m) throw new Error(`plot: expected a colour like #1f77b4, got "${hex}"`);
  const v = parseInt(m[1], 16);
  return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
}

export class Raster {
  readonly data: Uint8Array;

  constructor(readonly width: number, readonly height: number, background: Rgb = [255, 255, 255]) {
    if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1 || width * height > 64e6) {
      throw new Error(`plot: expected a raster size of at least 1x1 and at most 64 Mpixel, got ${width}x${height}`);
    }
    this.data = new Uint8Array(width * height * 4);
    for (let i = 0; i < width * height; i++) {
      this.data[i * 4] = background[0];
      this.data[i * 4 + 1] = background[1];
      this.data[i * 4 + 2] = background[2];
      this.data[i * 4 + 3] = 255;
    }
  }

  set(x: number, y: number, c: Rgb): void {
    x = Math.round(x);
    y = Math.round(y);
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    const i = (y * this.width + x) * 4;
    this.data[i] = c[0];
    this.data[i + 1] = c[1];
    this.data[i + 2] = c[2];
  }

  get(x: number, y: number): Rgb {
    const i = (y * this.width + x) * 4;
    return [this.data[i], this.data[i + 1], this.data[i + 2]];
  }

  fillRect(x: number, y: number, w: number, h: number, c: Rgb): void {
    const x0 = Math.max(0, Math.round(x)), y0 = Math.max(0, Math.round(y));
    const x1 = Math.min(this.width, Math.round(x + w)), y1 = Math.min(this.height, Math.round(y + h));
    for (let yy = y0; yy < y1; yy++) for (let xx = x0; xx < x1; xx++) this.set(xx, yy, c);
  }

  strokeRect(x: number, y: number, w: number, h: number, c: Rgb): void {
    this.line(x, y, x + w, y, c);
    this.line(x, y + h, x + w, y + h, c);
    this.line(x, y, x, y + h, c);
    this.line(x + w, y, x + w, y + h, c);
  }

  /** Bresenham line; `thickness` pixels wide (grown perpendicular-ish by stamping a square). */
  line(x0: number, y0: number, x1: number, y1: number, c: Rgb, thickness = 1): void {
    if (![x0, y0, x1, y1].every(Number.isFinite)) return;
    let ax = Math.round(x0), ay = Math.round(y0);
    const bx = Math.round(x1), by = Math.round(y1);
    const dx = Math.abs(bx - ax), dy = -Math.abs(by - ay);
    const sx = ax < bx ? 1 : -1, sy = ay < by ? 1 : -1;
    let err = dx + dy;
    const r0 = -Math.floor((thickness - 1) / 2), r1 = Math.ceil((thickness - 1) / 2);
    for (let guard = 0; guard < 100_000; guard++) {
      for (let oy = r0; oy <= r1; oy++) for (let ox = r0; ox <= r1; ox++) this.set(ax + ox, ay + oy, c);
      if (ax === bx && ay === by) break;
      const e2 = 2 * err;
      if (e2 >= dy) {
        err += dy;
        ax += sx;
      }
      if (e2 <= dx) {
        err += dx;
        ay += sy;
      }
    }
  }

  /** Vertical dashed line from y0 to y1 at x. */
  dashedVLine(x: number, y0: number, y1: number, c: Rgb, dash = 4, gap = 3): void {
    for (let y = Math.round(Math.min(y0, y1)); y <= Math.max(y0, y1); y++) {
      if ((y - y0) % (dash + gap) < dash) this.set(x, y, c);
    }
  }

  /** Text with its top-left corner at (x, y). */
  text(x: number, y: number, s: string, c: Rgb, scale = 1): void {
    for (let k = 0; k < s.length; k++) {
      const rows = glyph(s[k]);
      const gx = x + k * GLYPH_ADVANCE * scale;
      for (let r = 0; r < GLYPH_HEIGHT; r++) {
        for (let col = 0; col < rows[r].length; col++) {
          if (rows[r][col] !== "#") continue;
          this.fillRect(gx + col * scale, y + r * scale, scale, scale, c);
        }
      }
    }
  }

  /** Text rotated 90 degrees counter-clockwise (reads bottom to top), its glyphs' top towards the left, ending at y. */
  textVertical(x: number, yBottom: number, s: string, c: Rgb): void {
    for (let k = 0; k < s.length; k++) {
      const rows = glyph(s[k]);
      const gy = yBottom - k * GLYPH_ADVANCE;
      for (let r = 0; r < GLYPH_HEIGHT; r++) {
        for (let col = 0; col < rows[r].length; col++) if (rows[r][col] === "#") this.set(x + r, gy - col, c);
      }
    }
  }

  toPng(): Buffer {
    const png = new PNG({ width: this.width, height: this.height });
    png.data = Buffer.from(this.data.buffer, this.data.byteOffset, this.data.byteLength);
    return PNG.sync.write(png);
  }
}
