// What an episode reports: the progress line while it runs and the summary at the end.
import type { RuntimeConfig } from "../config/schema.js";
import { durationQuantileNs, type FastStatusSnapshot } from "../runtime/sharedState.js";
import type { SlowExecutorStats } from "../runtime/slowExecutor.js";
import type { SafetyReasonName } from "../runtime/types.js";
import type { EpisodeRecordingResult } from "../observability/episodeRecording.js";
import type { EpisodeSetup } from "./episodeSetup.js";
import type { WipeEpisodeMetrics } from "./task.js";

export interface EpisodeProgress {
  elapsedS: number;
  durationS: number;
  ticks: number;
  chunksAccepted: number;
  safetyInterventions: number;
  policyPhase: string;
}

export interface EpisodeSummary {
  mode: "realtime" | "lockstep";
  policy: string;
  backend: string;
  reactive: string;
  durationS: number;
  loop: {
    rateHz: number;
    achievedRateHz: number;
    ticks: number;
    overruns: number;
    periodErrorP50Us: number;
    periodErrorP99Us: number;
    periodErrorMaxUs: number;
    tactileToCommandP99Us: number;
  };
  chunks: { policyCalls: number; published: number; acceptedByFastLoop: number; rejectedByFastLoop: number; decodeFailures: number; otherFailures: number };
  safety: Record<SafetyReasonName, number>;
  task: WipeEpisodeMetrics | null;
  errors: string[];
  /** The MCAP file written (null: none), and what could not be written to it. */
  recording: { path: string | null; droppedMessages: number; writeError: string | null } | null;
}

export function progressOf(status: FastStatusSnapshot, elapsedS: number, durationS: number, policyPhase: string): EpisodeProgress {
  const safetyInterventions = Object.values(status.safetyCounts).reduce((a, b) => a + b, 0);
  return { elapsedS, durationS, ticks: status.ticks, chunksAccepted: status.chunksAccepted, safetyInterventions, policyPhase };
}

export function summarize(
  mode: EpisodeSummary["mode"],
  config: RuntimeConfig,
  setup: EpisodeSetup,
  status: FastStatusSnapshot,
  slow: SlowExecutorStats,
  elapsedS: number,
  task: WipeEpisodeMetrics | null,
  backend: string,
  errors: string[],
  recorded?: EpisodeRecordingResult,
): EpisodeSummary {
  const us = (ns: number) => ns / 1e3;
  const failures = slow.failures;
  return {
    mode,
    policy: setup.slowOptions.policy.name,
    backend,
    reactive: setup.fastConfig.reactive.kind,
    durationS: elapsedS,
    loop: {
      rateHz: config.control.rateHz,
      achievedRateHz: status.ticks / Math.max(elapsedS, 1e-9),
      ticks: status.ticks,
      overruns: status.overruns,
      periodErrorP50Us: us(durationQuantileNs(status.periodErrorHistogram, 0.5, status.periodErrorMaxNs)),
      periodErrorP99Us: us(durationQuantileNs(status.periodErrorHistogram, 0.99, status.periodErrorMaxNs)),
      periodErrorMaxUs: us(status.periodErrorMaxNs),
      tactileToCommandP99Us: us(durationQuantileNs(status.latencyHistogram, 0.99, status.latencyMaxNs)),
    },
    chunks: {
      policyCalls: slow.calls,
      published: slow.chunksPublished,
      acceptedByFastLoop: status.chunksAccepted,
      rejectedByFastLoop: status.chunksRejected,
      decodeFailures: failures.decode + failures.malformed,
      otherFailures: failures.threw + failures.timedOut + failures.convert + failures.noSensors,
    },
    safety: status.safetyCounts,
    task,
    errors,
    recording: recorded ? { path: recorded.path, droppedMessages: recorded.droppedMessages, writeError: recorded.writeError } : null,
  };
}

/** A short human-readable summary. */
export function formatSummary(summary: EpisodeSummary): string {
  const l = summary.loop;
  const c = summary.chunks;
  const safety = Object.entries(summary.safety).filter(([, n]) => n > 0);
  const lines = [
    `episode (${summary.mode}): ${summary.durationS.toFixed(1)} s, policy "${summary.policy}", backend ${summary.backend}, reactive ${summary.reactive}`,
    `  fast loop   ${l.achievedRateHz.toFixed(1)} Hz achieved of ${l.rateHz} Hz, ${l.ticks} ticks, ${l.overruns} overruns`,
    summary.mode === "realtime"
      ? `  jitter      period error p50 ${l.periodErrorP50Us.toFixed(0)} us, p99 ${l.periodErrorP99Us.toFixed(0)} us, max ${l.periodErrorMaxUs.toFixed(0)} us; tactile->command p99 ${l.tactileToCommandP99Us.toFixed(0)} us`
      : `  jitter      n/a (lockstep: simulated clock)`,
    `  chunks      ${c.policyCalls} policy calls, ${c.published} decoded and published, ${c.decodeFailures} rejected by the decoder, ${c.otherFailures} other failures; fast loop accepted ${c.acceptedByFastLoop}, rejected ${c.rejectedByFastLoop}`,
    `  safety      ${safety.length === 0 ? "no interventions" : safety.map(([name, n]) => `${name} ${n} ticks`).join(", ")}`,
  ];
  const t = summary.task;
  if (t) {
    lines.push(
      `  task        wipe ${t.success ? "SUCCEEDED" : "not finished"}: coverage ${(100 * t.coverage).toFixed(0)}%` +
        (t.completionTimeS !== null ? ` at ${t.completionTimeS.toFixed(1)} s` : "") +
        `, force-band violations ${t.forceBandViolationCount} (${t.forceBandViolationTimeS.toFixed(2)} s out of band), peak force ${t.peakForceN.toFixed(1)} N, contact ${t.contactTimeS.toFixed(1)} s`,
    );
  }
  const r = summary.recording;
  if (r?.path) lines.push(`  recording   ${r.path}${r.droppedMessages ? ` (${r.droppedMessages} messages dropped)` : ""}${r.writeError ? ` write error: ${r.writeError}` : ""}`);
  for (const error of summary.errors.slice(0, 5)) lines.push(`  error       ${error}`);
  if (summary.errors.length > 5) lines.push(`  ...         ${summary.errors.length - 5} more errors`);
  return lines.join("\n");
}
