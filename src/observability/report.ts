// The report of a recording: PNG plots and an HTML page that shows them with a summary.
//   joints.png          commanded vs measured position per joint, chunk boundaries marked
//   period_error.png    histogram of the fast loop's period error (from the recorded tick times)
//   policy_latency.png  chunk latency (arrival - observation) and policy inference time over the run
//   force_tactile.png   wrist force and tactile signals, and what the reactive step added to the command (from a
//                       replay of the run), with the moments it started changing the command marked
//   safety.png          which safety interventions were active when, plus teleop and control events
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { SafetyReason, type SafetyReasonName } from "../runtime/types.js";
import { GLYPH_HEIGHT } from "./plot/font.js";
import { dataRange, Panel, PLOT_COLORS, type PanelLayout } from "./plot/panel.js";
import { Raster } from "./plot/raster.js";
import { loadRecording, type Recording } from "./recordingReader.js";
import { formatReplayResult, replay, type ReplayResult } from "./replay.js";

export interface ReportOptions {
  /** Replay the run to find the reactive step's corrections (default true when the file has a fast-loop config). */
  replay?: boolean;
  /** A correction larger than this (rad or m, any entry) counts as the reactive step changing the command. Default 1e-5. */
  reactiveThreshold?: number;
  /** Image width in pixels (default 1100). */
  widthPx?: number;
}

export interface ReportResult {
  outDir: string;
  files: string[];
  /** Panels per figure file name, with their pixel rectangles and data ranges (time axes in seconds from the start). */
  figures: Record<string, PanelLayout[]>;
  /** Times (s from the start) at which the reactive step started changing the command. */
  reactiveChangesS: number[];
  replay: ReplayResult | null;
}

const REASONS = Object.keys(SafetyReason) as SafetyReasonName[];

export async function report(file: string | Recording, outDir: string, options: ReportOptions = {}): Promise<ReportResult> {
  const rec = typeof file === "string" ? await loadRecording(file) : file;
  await mkdir(outDir, { recursive: true });
  const width = options.widthPx ?? 1100;
  if (!Number.isInteger(width) || width < 400 || width > 8000) throw new Error(`report: expected widthPx in 400..8000, got ${String(width)}`);
  const t0 = rec.commands[0]?.timeNs ?? rec.sensors[0]?.timeNs ?? 0;
  const tEnd = Math.max(rec.commands[rec.commands.length - 1]?.timeNs ?? t0, rec.sensors[rec.sensors.length - 1]?.timeNs ?? t0);
  const sec = (ns: number) => (ns - t0) / 1e9;
  const xRange: [number, number] = [0, Math.max(sec(tEnd), 1e-3)];

  // Reactive corrections per tick, from a replay of the run (the recording holds the loop's config and inputs).
  const threshold = options.reactiveThreshold ?? 1e-5;
  const reactiveMagnitude = new Float64Array(rec.commands.length).fill(NaN);
  let replayResult: ReplayResult | null = null;
  if ((options.replay ?? true) && rec.info.fastLoop && rec.commands.length > 0) {
    replayResult = await replay(rec, {
      onTick: (t) => {
        let m = 0;
        for (let i = 0; i < t.reactiveOffset.length; i++) m = Math.max(m, Math.abs(t.reactiveOffset[i]));
        reactiveMagnitude[t.index] = m;
      },
    });
  }
  const reactiveChangesS: number[] = [];
  for (let i = 0; i < reactiveMagnitude.length; i++) {
    const active = reactiveMagnitude[i] > threshold;
    const before = i > 0 && reactiveMagnitude[i - 1] > threshold;
    if (active && !before) reactiveChangesS.push(sec(rec.commands[i].timeNs));
  }

  const figures: Record<string, PanelLayout[]> = {};
  const files: string[] = [];
  const save = async (name: string, raster: Raster, panels: Panel[]) => {
    const path = join(outDir, name);
    await writeFile(path, raster.toPng());
    figures[name] = panels.map((p) => p.layout);
    files.push(path);
  };

  const commandTimes = rec.commands.map((c) => sec(c.timeNs));
  const sensorTimes = rec.sensors.map((s) => sec(s.timeNs));
  const chunkStarts: number[] = [];
  for (let i = 1; i < rec.commands.length; i++) {
    if (rec.commands[i].chunkSequence !== rec.commands[i - 1].chunkSequence && rec.commands[i].chunkSequence !== 0) chunkStarts.push(commandTimes[i]);
  }

  // --- joints ---------------------------------------------------------------------------------------------------
  {
    const names = rec.info.jointNames;
    const panelH = 150;
    const raster = new Raster(width, 30 + names.length * panelH);
    raster.text(10, 8, `commanded vs measured joint positions (${rec.info.mode}); dashed: a new chunk takes over`, PLOT_COLORS.text);
    const panels: Panel[] = [];
    names.forEach((name, j) => {
      const commanded = rec.commands.map((c) => c.command[j]);
      const measured = rec.sensors.map((s) => s.positions[j]);
      const unit = j === names.length - 1 ? "m" : "rad";
      const panel = new Panel(raster, { x: 0, y: 30 + j * panelH, width, height: panelH }, { title: `${name} (${unit})`, xRange, yRange: dataRange([...commanded, ...measured]), xLabel: j === names.length - 1 ? "time (s)" : undefined });
      for (const t of chunkStarts) panel.vMarker(t, PLOT_COLORS.chunkBoundary);
      panel.series(sensorTimes, measured, PLOT_COLORS.measured);
      panel.series(commandTimes, commanded, PLOT_COLORS.command);
      panel.legend([
        { label: "command", color: PLOT_COLORS.command },
        { label: "measured", color: PLOT_COLORS.measured },
      ]);
      panels.push(panel);
    });
    await save("joints.png", raster, panels);
  }

  // --- period error ---------------------------------------------------------------------------------------------
  const periodNs = rec.info.fastLoop ? 1e9 / rec.info.fastLoop.rateHz : medianTickInterval(rec);
  const errorsUs: number[] = [];
  for (let i = 1; i < rec.commands.length; i++) {
    const a = rec.commands[i - 1];
    const b = rec.commands[i];
    if (b.tick === a.tick + 1 && periodNs === periodNs) errorsUs.push(Math.abs(b.timeNs - a.timeNs - periodNs) / 1e3);
  }
  const sortedErrors = [...errorsUs].sort((x, y) => x - y);
  const q = (p: number) => (sortedErrors.length ? sortedErrors[Math.min(sortedErrors.length - 1, Math.floor(p * sortedErrors.length))] : NaN);
  {
    const raster = new Raster(width, 360);
    const maxUs = Math.max(1, sortedErrors[sortedErrors.length - 1] ?? 1);
    const bins = 40;
    const edges = Float64Array.from({ length: bins + 1 }, (_, i) => (i * maxUs) / bins);
    const counts = new Float64Array(bins);
    for (const e of errorsUs) counts[Math.min(bins - 1, Math.floor((e / maxUs) * bins))]++;
    const panel = new Panel(raster, { x: 0, y: 20, width, height: 320 }, { title: "fast-loop period error |actual - nominal period| (ticks per bin)", xRange: [0, maxUs], yRange: [0, Math.max(1, ...counts) * 1.08], xLabel: "period error (us)" });
    panel.bars(edges, counts, PLOT_COLORS.histogram);
    const note =
      rec.info.mode === "lockstep"
        ? "lockstep run: ticks on a simulated clock, the period error is zero by construction"
        : `${errorsUs.length} periods: p50 ${q(0.5).toFixed(1)} us, p99 ${q(0.99).toFixed(1)} us, max ${maxUs.toFixed(1)} us`;
    raster.text(panel.layout.x + 10, panel.layout.y + 10, note, PLOT_COLORS.text);
    await save("period_error.png", raster, [panel]);
  }

  // --- policy latency ------------------------------------------------------------------------------------------
  {
    const raster = new Raster(width, 420);
    const chunkT = rec.chunks.map((c) => sec(c.arrivalTimeNs));
    const chunkMs = rec.chunks.map((c) => (c.arrivalTimeNs - c.observationTimeNs) / 1e6);
    const callT = rec.policyCalls.map((c) => sec(c.timeNs));
    const callMs = rec.policyCalls.map((c) => c.inferenceWallMs);
    const top = new Panel(raster, { x: 0, y: 10, width, height: 200 }, { title: "chunk latency: arrival - observation (ms, runtime clock)", xRange, yRange: [0, dataRange(chunkMs)[1]] });
    top.series(chunkT, chunkMs, PLOT_COLORS.latency);
    top.points(chunkT, chunkMs, PLOT_COLORS.latency);
    const bottom = new Panel(raster, { x: 0, y: 210, width, height: 200 }, { title: "policy inference time per call (ms, wall clock)", xRange, yRange: [0, dataRange(callMs)[1]], xLabel: "time (s)" });
    bottom.series(callT, callMs, PLOT_COLORS.inference);
    bottom.points(callT, callMs, PLOT_COLORS.inference);
    for (const c of rec.policyCalls) if (c.outputKind === "error") bottom.topTick(sec(c.timeNs), PLOT_COLORS.safety);
    await save("policy_latency.png", raster, [top, bottom]);
  }

  // --- force, tactile, reactive --------------------------------------------------------------------------------
  {
    const raster = new Raster(width, 560);
    const fz = rec.sensors.map((s) => s.wrench[2]);
    const fNorm = rec.sensors.map((s) => Math.hypot(s.wrench[0], s.wrench[1], s.wrench[2]));
    const tacSum = rec.sensors.map((s) => s.tactile.reduce((a, b) => a + b, 0));
    const tacMax = rec.sensors.map((s) => s.tactile.reduce((a, b) => Math.max(a, b), 0));
    const force = new Panel(raster, { x: 0, y: 10, width, height: 180 }, { title: "wrist force (N); red ticks: the reactive step starts changing the command", xRange, yRange: dataRange([...fz, ...fNorm]) });
    force.series(sensorTimes, fNorm, PLOT_COLORS.tactile);
    force.series(sensorTimes, fz, PLOT_COLORS.force);
    force.legend([
      { label: "fz", color: PLOT_COLORS.force },
      { label: "|f|", color: PLOT_COLORS.tactile },
    ]);
    const tactile = new Panel(raster, { x: 0, y: 190, width, height: 180 }, { title: "tactile array (N)", xRange, yRange: dataRange([...tacSum, ...tacMax]) });
    tactile.series(sensorTimes, tacSum, PLOT_COLORS.force);
    tactile.series(sensorTimes, tacMax, PLOT_COLORS.tactile);
    tactile.legend([
      { label: "sum", color: PLOT_COLORS.force },
      { label: "max taxel", color: PLOT_COLORS.tactile },
    ]);
    const reactiveTitle = replayResult
      ? `reactive correction, largest entry (rad or m), from a replay${replayResult.identical ? "" : " that did NOT reproduce the run: approximate"}`
      : "reactive correction: not available (no fast-loop configuration in the recording)";
    const reactive = new Panel(raster, { x: 0, y: 370, width, height: 180 }, { title: reactiveTitle, xRange, yRange: [0, dataRange(reactiveMagnitude)[1]], xLabel: "time (s)" });
    reactive.series(commandTimes, reactiveMagnitude, PLOT_COLORS.reactive);
    for (const t of reactiveChangesS) for (const p of [force, tactile, reactive]) p.topTick(t, PLOT_COLORS.reactive);
    await save("force_tactile.png", raster, [force, tactile, reactive]);
  }

  // --- safety ---------------------------------------------------------------------------------------------------
  const safetyTicks: Record<string, number> = {};
  {
    const rowH = 24;
    const panelH = 16 + 26 + (REASONS.length + 1) * rowH;
    const raster = new Raster(width, panelH + 20);
    const panel = new Panel(
      raster,
      { x: 0, y: 10, width, height: panelH },
      { title: "safety interventions (filled: active); pink: teleop events, grey: control changes", xRange, yRange: [0, REASONS.length + 1], xLabel: "time (s)", leftPx: 130, yTicks: false },
    );
    const rows = REASONS.length + 1;
    REASONS.forEach((name, row) => {
      const bit = SafetyReason[name];
      let start: number | null = null;
      let count = 0;
      for (let i = 0; i < rec.commands.length; i++) {
        const on = (rec.commands[i].safetyReasons & bit) !== 0;
        if (on) count++;
        if (on && start === null) start = commandTimes[i];
        const last = i === rec.commands.length - 1;
        if (start !== null && (!on || last)) {
          panel.span(start, commandTimes[i], PLOT_COLORS.safety, (row + 0.2) / rows, (row + 0.8) / rows);
          start = null;
        }
      }
      safetyTicks[name] = count;
      const y = panel.layout.y + ((row + 0.5) / rows) * panel.layout.height - GLYPH_HEIGHT / 2;
      raster.text(8, y, name, PLOT_COLORS.text);
    });
    const eventRow = REASONS.length;
    for (const e of rec.teleopEvents) panel.span(sec(e.timeNs), sec(e.timeNs) + 0.002, PLOT_COLORS.teleop, (eventRow + 0.1) / rows, (eventRow + 0.9) / rows);
    for (const c of rec.controls.slice(1)) panel.span(sec(c.timeNs), sec(c.timeNs) + 0.002, PLOT_COLORS.chunkBoundary, (eventRow + 0.1) / rows, (eventRow + 0.9) / rows);
    const y = panel.layout.y + ((eventRow + 0.5) / rows) * panel.layout.height - GLYPH_HEIGHT / 2;
    raster.text(8, y, "events", PLOT_COLORS.text);
    await save("safety.png", raster, [panel]);
  }

  const html = renderHtml(rec, {
    durationS: xRange[1],
    chunkTakeovers: chunkStarts.length,
    safetyTicks,
    periodErrorUs: { p50: q(0.5), p99: q(0.99), max: sortedErrors[sortedErrors.length - 1] ?? NaN },
    reactiveChangesS,
    replay: replayResult,
  });
  const htmlPath = join(outDir, "index.html");
  await writeFile(htmlPath, html);
  files.push(htmlPath);
  return { outDir, files, figures, reactiveChangesS, replay: replayResult };
}

/** Nominal period when the file does not say: the median interval between consecutive ticks. */
function medianTickInterval(rec: Recording): number {
  const dts: number[] = [];
  for (let i = 1; i < rec.commands.length; i++) if (rec.commands[i].tick === rec.commands[i - 1].tick + 1) dts.push(rec.commands[i].timeNs - rec.commands[i - 1].timeNs);
  dts.sort((a, b) => a - b);
  return dts.length ? dts[Math.floor(dts.length / 2)] : NaN;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

function renderHtml(
  rec: Recording,
  s: {
    durationS: number;
    chunkTakeovers: number;
    safetyTicks: Record<string, number>;
    periodErrorUs: { p50: number; p99: number; max: number };
    reactiveChangesS: number[];
    replay: ReplayResult | null;
  },
): string {
  const row = (k: string, v: string) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`;
  const safety = Object.entries(s.safetyTicks).filter(([, n]) => n > 0);
  const events = [
    ...rec.teleopEvents.map((e) => ({ t: e.timeNs, what: `teleop ${e.kind}`, detail: e.detail })),
    ...rec.instructions.map((e) => ({ t: e.timeNs, what: "instruction", detail: e.detail })),
    ...rec.safetyEvents.map((e) => ({ t: e.timeNs, what: "safety", detail: e.detail || "(cleared)" })),
    ...rec.controls.slice(1).map((c) => ({ t: c.timeNs, what: "control", detail: `e-stop requests ${c.emergencyStopRequests}, resets ${c.emergencyStopResets}, policy ${c.policyEnabled ? "on" : "off"}` })),
  ].sort((a, b) => a.t - b.t);
  const t0 = rec.commands[0]?.timeNs ?? 0;
  const period = rec.info.mode === "lockstep" ? "n/a (simulated clock)" : `p50 ${s.periodErrorUs.p50.toFixed(1)} us, p99 ${s.periodErrorUs.p99.toFixed(1)} us, max ${s.periodErrorUs.max.toFixed(1)} us`;
  const figure = (file: string, caption: string) => `<figure><img src="${file}" alt="${escapeHtml(caption)}"><figcaption>${escapeHtml(caption)}</figcaption></figure>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>vla-runtime report: ${escapeHtml(rec.path)}</title>
<style>body{font-family:sans-serif;margin:2em;max-width:1160px}th{text-align:left;padding-right:1em}td,th{vertical-align:top}img{max-width:100%;border:1px solid #ddd}figure{margin:1.5em 0}pre{background:#f6f6f6;padding:.6em}</style>
</head><body>
<h1>Run report</h1>
<table>
${row("file", rec.path)}
${row("mode", rec.info.mode + (rec.complete ? "" : " (file cut short: no footer)"))}
${row("policy", rec.info.policyName ?? "unknown")}
${row("duration", `${s.durationS.toFixed(2)} s, ${rec.commands.length} commands, ${rec.sensors.length} sensor samples`)}
${row("chunks", `${rec.chunks.length} recorded, ${s.chunkTakeovers} took over; ${rec.policyCalls.length} policy calls, ${rec.policyCalls.filter((c) => c.outputKind === "error").length} failed`)}
${row("period error", period)}
${row("safety (ticks)", safety.length ? safety.map(([n, c]) => `${n} ${c}`).join(", ") : "no interventions")}
${row("reactive step", `${s.reactiveChangesS.length} ${s.reactiveChangesS.length === 1 ? "time" : "times"} it started changing the command`)}
${row("recording", `${rec.droppedMessages === null ? "drop count unknown (cut short)" : `${rec.droppedMessages} messages dropped`}, ${rec.undecodable} undecodable`)}
${row("replay", s.replay ? formatReplayResult(s.replay) : "not run")}
</table>
${figure("joints.png", "Commanded (blue) vs measured (orange) joint positions; dashed grey lines: a new chunk takes over")}
${figure("force_tactile.png", "Wrist force, tactile array and the reactive step's correction; red ticks: the reactive step starts changing the command")}
${figure("policy_latency.png", "Chunk latency on the runtime clock and policy inference time per call")}
${figure("period_error.png", "Fast-loop period error histogram")}
${figure("safety.png", "Safety interventions over time, teleop and control events")}
<h2>Events</h2>
<pre>${events.length ? events.slice(0, 500).map((e) => `${((e.t - t0) / 1e9).toFixed(3).padStart(9)} s  ${e.what.padEnd(16)} ${escapeHtml(e.detail)}`).join("\n") : "none"}${events.length > 500 ? `\n... ${events.length - 500} more` : ""}</pre>
</body></html>
`;
}
