// One plot panel on a raster: data ranges mapped to a pixel rectangle, axes with "nice" ticks and labels, line
// series, vertical markers, bars and spans. The mapping is returned as a layout so callers (and tests) can find
// where a data point landed.
import { GLYPH_HEIGHT, textWidth } from "./font.js";
import { hexColor, type Raster, type Rgb } from "./raster.js";

export const PLOT_COLORS = {
  axis: hexColor("#333333"),
  grid: hexColor("#e6e6e6"),
  text: hexColor("#222222"),
  command: hexColor("#1f77b4"),
  measured: hexColor("#ff7f0e"),
  chunkBoundary: hexColor("#9a9a9a"),
  force: hexColor("#2ca02c"),
  tactile: hexColor("#9467bd"),
  reactive: hexColor("#d62728"),
  latency: hexColor("#8c564b"),
  inference: hexColor("#17becf"),
  histogram: hexColor("#1f77b4"),
  safety: hexColor("#d62728"),
  teleop: hexColor("#e377c2"),
} as const;

export interface PanelLayout {
  title: string;
  /** Plot area in pixels (inside the axes). */
  x: number;
  y: number;
  width: number;
  height: number;
  xMin: number;
  xMax: number;
  yMin: number;
  yMax: number;
}

/** Ticks at 1, 2 or 5 times a power of ten, about `count` of them, covering [min, max]. */
export function niceTicks(min: number, max: number, count = 5): { ticks: number[]; step: number } {
  if (!(max > min)) return { ticks: [min], step: 1 };
  const raw = (max - min) / count;
  const power = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? 10 * power;
  const ticks: number[] = [];
  for (let t = Math.ceil(min / step) * step; t <= max + step * 1e-9; t += step) ticks.push(Math.abs(t) < step * 1e-9 ? 0 : t);
  return { ticks, step };
}

function formatTick(v: number, step: number): string {
  const decimals = Math.max(0, Math.min(6, -Math.floor(Math.log10(step) + 1e-9)));
  return v.toFixed(decimals);
}

/** [min, max] of the finite values, padded by a fraction of the span (a flat series gets +-1 or +-10%). */
export function dataRange(values: Iterable<number>, pad = 0.05): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (!Number.isFinite(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (lo === Infinity) return [0, 1];
  if (hi - lo < 1e-12) {
    const d = Math.abs(lo) > 1e-9 ? Math.abs(lo) * 0.1 : 1;
    return [lo - d, hi + d];
  }
  const p = (hi - lo) * pad;
  return [lo - p, hi + p];
}

export class Panel {
  readonly layout: PanelLayout;

  constructor(
    private readonly r: Raster,
    rect: { x: number; y: number; width: number; height: number },
    options: { title: string; xRange: [number, number]; yRange: [number, number]; xLabel?: string; yLabel?: string; leftPx?: number; yTicks?: boolean },
  ) {
    // Room for the y tick labels on the left, the title on top, the x tick labels below.
    const left = options.leftPx ?? 64;
    const top = 16;
    const bottom = 26;
    const right = 12;
    const [xMin, xMax] = options.xRange[1] > options.xRange[0] ? options.xRange : [options.xRange[0], options.xRange[0] + 1];
    const [yMin, yMax] = options.yRange[1] > options.yRange[0] ? options.yRange : [options.yRange[0] - 1, options.yRange[0] + 1];
    this.layout = {
      title: options.title,
      x: rect.x + left,
      y: rect.y + top,
      width: rect.width - left - right,
      height: rect.height - top - bottom,
      xMin,
      xMax,
      yMin,
      yMax,
    };
    this.drawFrame(options.xLabel, options.yLabel, options.yTicks ?? true);
  }

  px(x: number): number {
    const l = this.layout;
    return l.x + ((x - l.xMin) / (l.xMax - l.xMin)) * l.width;
  }

  py(y: number): number {
    const l = this.layout;
    return l.y + l.height - ((y - l.yMin) / (l.yMax - l.yMin)) * l.height;
  }

  private drawFrame(xLabel: string | undefined, yLabel: string | undefined, yTicks: boolean): void {
    const l = this.layout;
    const r = this.r;
    const xt = niceTicks(l.xMin, l.xMax, Math.max(2, Math.floor(l.width / 90)));
    const yt = niceTicks(l.yMin, l.yMax, Math.max(2, Math.floor(l.height / 28)));
    for (const t of xt.ticks) {
      const x = Math.round(this.px(t));
      r.line(x, l.y, x, l.y + l.height, PLOT_COLORS.grid);
      r.line(x, l.y + l.height, x, l.y + l.height + 4, PLOT_COLORS.axis);
      const label = formatTick(t, xt.step);
      r.text(x - textWidth(label) / 2, l.y + l.height + 7, label, PLOT_COLORS.text);
    }
    for (const t of yTicks ? yt.ticks : []) {
      const y = Math.round(this.py(t));
      r.line(l.x, y, l.x + l.width, y, PLOT_COLORS.grid);
      r.line(l.x - 4, y, l.x, y, PLOT_COLORS.axis);
      const label = formatTick(t, yt.step);
      r.text(l.x - 7 - textWidth(label), y - 3, label, PLOT_COLORS.text);
    }
    r.line(l.x, l.y, l.x, l.y + l.height, PLOT_COLORS.axis);
    r.line(l.x, l.y + l.height, l.x + l.width, l.y + l.height, PLOT_COLORS.axis);
    r.text(l.x, l.y - GLYPH_HEIGHT - 5, l.title, PLOT_COLORS.text);
    if (xLabel) r.text(l.x + l.width - textWidth(xLabel), l.y + l.height + 17, xLabel, PLOT_COLORS.text);
    if (yLabel) r.textVertical(l.x - 62, l.y + l.height / 2 + textWidth(yLabel) / 2, yLabel, PLOT_COLORS.text);
  }

  private clipY(y: number): number {
    const l = this.layout;
    return Math.min(l.y + l.height, Math.max(l.y, y));
  }

  /** A polyline through (xs[i], ys[i]); non-finite points break it. Clipped to the plot area. */
  series(xs: ArrayLike<number>, ys: ArrayLike<number>, color: Rgb, thickness = 1): void {
    let prevX = NaN;
    let prevY = NaN;
    for (let i = 0; i < xs.length; i++) {
      const x = this.px(xs[i]);
      const y = this.clipY(this.py(ys[i]));
      if (!Number.isFinite(x) || !Number.isFinite(ys[i])) {
        prevX = NaN;
        continue;
      }
      if (prevX === prevX && Math.round(x) === Math.round(prevX) && Math.round(y) === Math.round(prevY)) continue;
      if (prevX === prevX) this.r.line(prevX, prevY, x, y, color, thickness);
      else this.r.set(x, y, color);
      prevX = x;
      prevY = y;
    }
  }

  /** Small filled squares at the points. */
  points(xs: ArrayLike<number>, ys: ArrayLike<number>, color: Rgb, size = 3): void {
    for (let i = 0; i < xs.length; i++) {
      if (!Number.isFinite(xs[i]) || !Number.isFinite(ys[i])) continue;
      const x = this.px(xs[i]);
      const y = this.clipY(this.py(ys[i]));
      this.r.fillRect(x - (size - 1) / 2, y - (size - 1) / 2, size, size, color);
    }
  }

  /** A dashed vertical line across the plot area at data x. */
  vMarker(x: number, color: Rgb): void {
    const l = this.layout;
    const px = Math.round(this.px(x));
    if (px < l.x || px > l.x + l.width) return;
    this.r.dashedVLine(px, l.y, l.y + l.height - 1, color);
  }

  /** A short solid tick hanging from the top of the plot area at data x (event markers). */
  topTick(x: number, color: Rgb, length = 8): void {
    const l = this.layout;
    const px = Math.round(this.px(x));
    if (px < l.x || px > l.x + l.width) return;
    this.r.line(px, l.y + 1, px, l.y + length, color, 2);
  }

  /** A filled band between data x0 and x1 in a row of the plot area (fractions of its height, 0 = top). */
  span(x0: number, x1: number, color: Rgb, rowTop = 0, rowBottom = 1): void {
    const l = this.layout;
    const a = Math.max(l.x, this.px(x0));
    const b = Math.min(l.x + l.width, Math.max(this.px(x1), a + 1));
    this.r.fillRect(a, l.y + rowTop * l.height, b - a, (rowBottom - rowTop) * l.height, color);
  }

  /** Vertical bars from y = 0 (histograms): bar i covers [edges[i], edges[i+1]). */
  bars(edges: ArrayLike<number>, heights: ArrayLike<number>, color: Rgb): void {
    for (let i = 0; i < heights.length; i++) {
      if (!(heights[i] > 0)) continue;
      const x0 = this.px(edges[i]);
      const x1 = this.px(edges[i + 1]);
      const y = this.clipY(this.py(heights[i]));
      const y0 = this.clipY(this.py(Math.max(0, this.layout.yMin)));
      this.r.fillRect(x0 + 1, y, Math.max(1, x1 - x0 - 1), y0 - y, color);
    }
  }

  /** A legend row right-aligned in the title line, above the plot area (never over the data). */
  legend(entries: { label: string; color: Rgb }[]): void {
    const l = this.layout;
    const y = l.y - GLYPH_HEIGHT - 5;
    let x = l.x + l.width;
    for (const e of [...entries].reverse()) {
      x -= textWidth(e.label);
      this.r.text(x, y, e.label, PLOT_COLORS.text);
      x -= 16;
      this.r.fillRect(x, y + 2, 12, 3, e.color);
      x -= 14;
    }
  }
}
