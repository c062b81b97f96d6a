import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, describeOptions, loadConfig, optionsHelp, parseConfig } from "../../src/config/load.js";

describe("config schema", () => {
  it("gives working defaults for an empty config", () => {
    const config = parseConfig({});
    expect(config.control.rateHz).toBe(500);
    expect(config.backend.kind).toBe("mujoco");
    expect(config.safety.workspaceMinM).toHaveLength(3);
  });

  it("lists every leaf option with its description and range", () => {
    const options = describeOptions();
    const rate = options.find((o) => o.path === "control.rateHz");
    expect(rate).toMatchObject({ type: "number", default: 500, minimum: 50, maximum: 1000 });
    const mode = options.find((o) => o.path === "scheduler.mode");
    expect(mode?.choices).toContain("crossfade");
    expect(options.every((o) => o.description.length > 0)).toBe(true);
    expect(optionsHelp()).toContain("--control.rateHz");
  });

  it("converts and validates CLI overrides", () => {
    const config = loadConfig({ overrides: { "scheduler.mode": "crossfade", "safety.workspaceMinM": "-1,-1,0", "control.realtime": "false" } });
    expect(config.scheduler.mode).toBe("crossfade");
    expect(config.safety.workspaceMinM).toEqual([-1, -1, 0]);
    expect(config.control.realtime).toBe(false);
  });

  it("says what was expected and what came, in one line", () => {
    expect(() => loadConfig({ overrides: { "control.rateHz": "5000" } })).toThrow(/control\.rateHz: .*1000.*got 5000/);
    expect(() => loadConfig({ overrides: { "scheduler.mode": "bogus" } })).toThrow(/scheduler\.mode: .*crossfade.*got "bogus"/);
    expect(() => loadConfig({ overrides: { "control.rateHz": "fast" } })).toThrow(/expected a number, got "fast"/);
    expect(() => loadConfig({ overrides: { "no.such": "1" } })).toThrow(/unknown option --no\.such/);
    try {
      parseConfig({ control: { rateHz: 1 }, extra: 1 });
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      expect(String(error)).not.toContain("\n");
    }
  });

  it("reads YAML files and rejects unknown keys in them", () => {
    const dir = mkdtempSync(join(tmpdir(), "vla-config-"));
    const good = join(dir, "good.yaml");
    writeFileSync(good, "control:\n  rateHz: 1000\nscheduler:\n  mode: replace\n");
    expect(loadConfig({ file: good }).control.rateHz).toBe(1000);
    const bad = join(dir, "bad.yaml");
    writeFileSync(bad, "control:\n  rateHz: 1000\n  turbo: true\n");
    expect(() => loadConfig({ file: bad })).toThrow(/control: .*turbo/);
    expect(() => loadConfig({ file: join(dir, "missing.yaml") })).toThrow(/cannot read it \(ENOENT\)/);
  });
});
