// The CLI entry points: replay prints IDENTICAL and exits 0 for an untouched recording (slow path included) and 2
// for a file that is not a recording; report writes next to the file by default.
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { defaultReportDir, replayCommand, reportCommand } from "../../src/observability/commands.js";
import { packageRoot, runRecordedLockstep } from "./lockstepRun.js";

describe("the replay and report commands", () => {
  it("replay exits 0 with IDENTICAL (and the slow path checked); report writes its folder next to the file", async () => {
    const dir = mkdtempSync(join(tmpdir(), "vla-cmd-"));
    const path = join(dir, "run.mcap");
    await runRecordedLockstep({ path, config: { episode: { durationS: 1, seed: 1 } } });
    const lines: string[] = [];
    expect(await replayCommand(path, { packageRoot, slowPath: true, log: (l) => lines.push(l) })).toBe(0);
    expect(lines.join("\n")).toMatch(/replay: IDENTICAL: \d+ commands reproduced bit for bit/);
    expect(lines.join("\n")).toMatch(/slow path: \d+ chunks decoded again from the recorded tokens, all identical/);
    expect(defaultReportDir(path)).toBe(join(dir, "run-report"));
    expect(await reportCommand(path, undefined, () => {})).toBe(0);
    expect(existsSync(join(dir, "run-report", "index.html"))).toBe(true);
  });

  it("says clearly when the file is not an MCAP recording", async () => {
    const path = join(mkdtempSync(join(tmpdir(), "vla-cmd-")), "notes.mcap");
    writeFileSync(path, "this is not MCAP");
    await expect(replayCommand(path, { log: () => {} })).rejects.toThrow(/recording: .*notes\.mcap is not an MCAP file \(expected the MCAP magic bytes at the start\)/);
  });
});
