// Shared test fixtures live beside the checkout (../shared/fixtures relative to the repository root),
// never inside it. Suites that need them use `describeWithFixtures`, which reports the whole suite as
// skipped with the reason when the folder is absent instead of failing on a missing file.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe } from "vitest";

/** Repository root: this file sits in <root>/test/helpers/. */
export const repoRoot = fileURLToPath(new URL("../../", import.meta.url));

/** The shared fixtures folder: <root>/../shared/fixtures. */
export const fixturesRoot = join(repoRoot, "..", "shared", "fixtures");

export const MISSING_FIXTURES_REASON = "skipped: ../shared/fixtures not found (it sits beside the checkout in CI)";

/** Absolute path of a fixture, e.g. `fixturePath("fast_plus", "golden.json")`. */
export function fixturePath(...parts: string[]): string {
  return join(fixturesRoot, ...parts);
}

/** True when the fixture (or the fixtures folder, with no parts) exists. */
export function fixtureExists(...parts: string[]): boolean {
  return existsSync(fixturePath(...parts));
}

/** Parsed JSON fixture. */
export function readFixtureJson<T = unknown>(...parts: string[]): T {
  return JSON.parse(readFileSync(fixturePath(...parts), "utf8")) as T;
}

/**
 * `describe` that runs only when `fixturePath(...parts)` exists; otherwise the suite shows up as
 * skipped, its name carrying the reason. Read fixtures inside `fn` (in hooks or tests), not at
 * module level, so a missing folder never throws while collecting.
 */
export function describeWithFixtures(name: string, parts: string[], fn: () => void): void {
  const present = fixtureExists(...parts);
  const reason = !fixtureExists() ? MISSING_FIXTURES_REASON : `skipped: ${join("..", "shared", "fixtures", ...parts)} not found`;
  describe.skipIf(!present)(present ? name : `${name} (${reason})`, fn);
}
