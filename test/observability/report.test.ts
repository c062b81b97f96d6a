// The report's PNGs are checked by their pixels (decoded with pngjs): axes where the layout says, the command line's
// colour at the height of a known step on either side of it, chunk-boundary markers, the period-error bar in the
// right bin, a safety intervention in its row and time span, and the reactive markers of a real contact episode.
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PNG } from "pngjs";
import { beforeAll, describe, expect, it } from "vitest";
import { McapSink } from "../../src/observability/mcapSink.js";
import { PLOT_COLORS, type PanelLayout } from "../../src/observability/plot/panel.js";
import type { Rgb } from "../../src/observability/plot/raster.js";
import { Recorder } from "../../src/observability/recorder.js";
import { report, type ReportResult } from "../../src/observability/report.js";
import { RecordingClock } from "../../src/observability/topics.js";
import { SafetyReason } from "../../src/runtime/types.js";
import { runRecordedLockstep } from "./lockstepRun.js";
import { bundledArm, TACTILE } from "./synthetic.js";

const dir = mkdtempSync(join(tmpdir(), "vla-report-"));

interface Image {
  width: number;
  height: number;
  at(x: number, y: number): Rgb;
}

function readPng(path: string): Image {
  const png = PNG.sync.read(readFileSync(path));
  return {
    width: png.width,
    height: png.height,
    at: (x, y) => {
      const i = (Math.round(y) * png.width + Math.round(x)) * 4;
      return [png.data[i], png.data[i + 1], png.data[i + 2]];
    },
  };
}

const same = (a: Rgb, b: Rgb) => a[0] === b[0] && a[1] === b[1] && a[2] === b[2];
const px = (l: PanelLayout, x: number) => l.x + ((x - l.xMin) / (l.xMax - l.xMin)) * l.width;
const py = (l: PanelLayout, y: number) => l.y + l.height - ((y - l.yMin) / (l.yMax - l.yMin)) * l.height;

/** Rows of column x inside the panel's plot area that have colour c. */
function rowsWithColor(img: Image, l: PanelLayout, x: number, c: Rgb): number[] {
  const rows: number[] = [];
  for (let y = Math.ceil(l.y); y <= l.y + l.height; y++) if (same(img.at(x, y), c)) rows.push(y);
  return rows;
}

/** 2 s at 500 Hz: joint 0 commanded 0 rad until 1 s then 1 rad; every 10th tick 100 us late; MaxStep from 1.2 to 1.3 s. */
async function syntheticRun(path: string): Promise<void> {
  const arm = bundledArm();
  const sink = await McapSink.create({ path, flushIntervalMs: 0 });
  const recorder = new Recorder({
    info: { mode: "realtime", arm, jointNames: [...arm.joints.map((j) => j.name), arm.gripper.name], tactile: TACTILE },
    clock: RecordingClock.forRealtime(0),
    sinks: [sink],
  });
  let measured = 0;
  for (let k = 1; k <= 1000; k++) {
    const t = k * 2e6 + (k % 10 === 0 ? 100e3 : 0);
    const target = k * 2e6 < 1e9 ? 0 : 1;
    measured += (target - measured) * 0.05;
    const positions = Float64Array.from({ length: 7 }, (_, i) => (i === 0 ? measured : 0.1 * i));
    recorder.sensors({ timeNs: t - 1e6, positions, velocities: new Float64Array(7), wrench: Float64Array.of(0, 0, -k / 100, 0, 0, 0), tactile: new Float64Array(16).fill(k / 1000) });
    const command = Float64Array.from({ length: 7 }, (_, i) => (i === 0 ? target : 0.1 * i));
    const maxStep = t >= 1.2e9 && t < 1.3e9;
    recorder.command({ timeNs: t, sensorTimeNs: t - 1e6, sampleState: "ok", safetyReasons: maxStep ? SafetyReason.MaxStep : 0, chunkSequence: 1 + Math.floor(k / 250), tick: k, command, target: command });
  }
  await recorder.close();
}

describe("the report of a synthetic run with known values", () => {
  let result: ReportResult;

  beforeAll(async () => {
    const path = join(dir, "synthetic.mcap");
    await syntheticRun(path);
    result = await report(path, join(dir, "synthetic-report"));
  });

  it("writes every figure and an HTML page that shows them", () => {
    const names = result.files.map((f) => f.split("/").pop());
    expect(names).toEqual(["joints.png", "period_error.png", "policy_latency.png", "force_tactile.png", "safety.png", "index.html"]);
    const html = readFileSync(join(dir, "synthetic-report", "index.html"), "utf8");
    for (const png of names.filter((n) => n!.endsWith(".png"))) expect(html).toContain(`<img src="${png}"`);
    expect(html).toContain("MaxStep 50");
    expect(result.replay).toBeNull(); // no fast-loop config in this file: nothing to replay
  });

  it("draws joint 0's commanded step at the right height on either side of t = 1 s, with axes and chunk markers", () => {
    const img = readPng(join(dir, "synthetic-report", "joints.png"));
    const l = result.figures["joints.png"][0];
    expect(l.title).toContain("shoulder_pan");
    // Axes: the left and bottom edges of the plot area are drawn in the axis colour.
    for (let y = Math.ceil(l.y); y <= l.y + l.height; y += 3) expect(img.at(l.x, y)).toEqual([...PLOT_COLORS.axis]);
    for (let x = Math.ceil(l.x); x <= l.x + l.width; x += 7) expect(img.at(x, l.y + l.height)).toEqual([...PLOT_COLORS.axis]);
    // Before the step the command line is at 0 rad, after it at 1 rad (within the line's pixel).
    for (const [t, value] of [[0.5, 0], [0.8, 0], [1.3, 1], [1.7, 1]] as const) {
      const rows = rowsWithColor(img, l, px(l, t), PLOT_COLORS.command);
      expect(rows.length, `command pixels at t = ${t} s`).toBeGreaterThan(0);
      for (const y of rows) expect(Math.abs(y - py(l, value))).toBeLessThanOrEqual(1.5);
    }
    // The step itself: the columns at t = 1 s are command-coloured all the way from the 0 line up to the 1 line.
    const covered = new Set([-2, -1, 0, 1, 2].flatMap((d) => rowsWithColor(img, l, Math.round(px(l, 1.0)) + d, PLOT_COLORS.command)));
    expect(covered.size).toBeGreaterThan(0.9 * Math.abs(py(l, 0) - py(l, 1)));
    // A new chunk every 0.5 s: dashed boundary markers (chunk 2 takes over at tick 250; the time axis starts at the
    // first command, tick 1 at 2 ms).
    expect(rowsWithColor(img, l, Math.round(px(l, 0.5001 - 0.002)), PLOT_COLORS.chunkBoundary).length).toBeGreaterThan(10);
    expect(rowsWithColor(img, l, Math.round(px(l, 0.25)), PLOT_COLORS.chunkBoundary).length).toBe(0);
    // Measured follows in its own colour, below the command right after the step.
    expect(rowsWithColor(img, l, px(l, 1.02), PLOT_COLORS.measured).some((y) => y > py(l, 1) + 3)).toBe(true);
  });

  it("puts the 100 us period errors in the 100 us bin of the histogram and none in between", () => {
    const img = readPng(join(dir, "synthetic-report", "period_error.png"));
    const l = result.figures["period_error.png"][0];
    const barRows = (us: number) => rowsWithColor(img, l, px(l, us), PLOT_COLORS.histogram).length;
    expect(barRows(98)).toBeGreaterThan(20);
    expect(barRows(1)).toBeGreaterThan(20); // the on-time periods
    expect(barRows(50)).toBe(0);
  });

  it("marks MaxStep in its row from 1.2 s to 1.3 s only", () => {
    const img = readPng(join(dir, "synthetic-report", "safety.png"));
    const l = result.figures["safety.png"][0];
    const rows = Object.keys(SafetyReason).length + 1;
    const row = Object.keys(SafetyReason).indexOf("MaxStep");
    const y = l.y + ((row + 0.5) / rows) * l.height;
    expect(img.at(px(l, 1.25), y)).toEqual([...PLOT_COLORS.safety]);
    expect(img.at(px(l, 1.1), y)).not.toEqual([...PLOT_COLORS.safety]);
    expect(img.at(px(l, 1.4), y)).not.toEqual([...PLOT_COLORS.safety]);
    const other = l.y + ((Object.keys(SafetyReason).indexOf("Workspace") + 0.5) / rows) * l.height;
    expect(img.at(px(l, 1.25), other)).not.toEqual([...PLOT_COLORS.safety]);
  });
});

describe("the report of a recorded contact episode", () => {
  it("replays the run and marks when the reactive step started changing the command", async () => {
    const path = join(dir, "contact.mcap");
    await runRecordedLockstep({ path, config: { episode: { durationS: 7, seed: 3 } } });
    const result = await report(path, join(dir, "contact-report"));
    expect(result.replay?.identical).toBe(true);
    expect(result.reactiveChangesS.length).toBeGreaterThan(0);
    const img = readPng(join(dir, "contact-report", "force_tactile.png"));
    const [force, , reactive] = result.figures["force_tactile.png"];
    for (const t of result.reactiveChangesS) {
      // The red tick hangs from the top of the force panel at that time.
      const x = Math.round(px(force, t));
      const red = [-1, 0, 1].some((d) => rowsWithColor(img, force, x + d, PLOT_COLORS.reactive).length >= 5);
      expect(red, `reactive marker at ${t.toFixed(3)} s`).toBe(true);
    }
    // The correction curve leaves zero after the first marker, not before it.
    const first = result.reactiveChangesS[0];
    expect(rowsWithColor(img, reactive, px(reactive, first * 0.5), PLOT_COLORS.reactive).every((y) => Math.abs(y - py(reactive, 0)) <= 1.5)).toBe(true);
  });
});
