import { describe, expect, it } from "vitest";
import * as api from "../src/index.js";

describe("package entry", () => {
  it("exports the public API the README documents", () => {
    for (const name of ["FastTokenizer", "BeastTokenizer", "BinningTokenizer", "ChunkScheduler", "SafetyStage", "Runtime", "ArmKinematics", "loadConfig"]) {
      expect(typeof (api as Record<string, unknown>)[name], name).toBe("function");
    }
    expect(api.DEFAULT_TRANSITION_MODE).toBe("crossfade");
  });
});
