// The WIPE task: a marked rectangle on a raised platform that the arm must cover with a sponge pad while
// pressing with a normal force inside a band. This module holds the task's options (validated, with
// seeded sampling), its perturbations and the episode metrics. It does not touch MuJoCo.

/** Perturbations the backend applies during an episode (at `atS` seconds of sim time, or on demand). */
export type WipePerturbation =
  /** The platform moves up (+) or down (-) by `deltaM`, ramped over `rampS` (0 = a step). */
  | { kind: "surfaceHeightShift"; atS: number; deltaM: number; rampS?: number }
  /** The platform's sliding friction becomes `friction` (e.g. a sticky spot). */
  | { kind: "friction"; atS: number; friction: number }
  /** A push on the gripper: a world-frame force for `durationS`. */
  | { kind: "push"; atS: number; forceN: [number, number, number]; durationS: number };

/** What the policy / expert may know about an episode: the marked area and the force band, never the surface height. */
export interface WipeTaskSpec {
  /** Centre of the marked rectangle on the platform top, world x/y (m). */
  areaCenterXyM: [number, number];
  /** Side lengths of the marked rectangle along world x/y (m). */
  areaSizeXyM: [number, number];
  /** Normal force band to hold while wiping [low, high] (N). */
  forceBandN: [number, number];
  /** The episode ends unsuccessfully at this sim time (s). */
  timeLimitS: number;
  /** Fraction of the area that must be wiped for success. */
  coverageThreshold: number;
}

/** The full episode definition, including what is hidden from the policy. */
export interface WipeTask extends WipeTaskSpec {
  /** Height of the platform top above the table top (m); hidden from the policy. */
  surfaceHeightM: number;
  /** Sliding friction coefficient of the platform. */
  friction: number;
  /** Side of one coverage grid cell (m). */
  coverageCellM: number;
  /** A contact counts as "in contact" above this total normal force (N). */
  contactThresholdN: number;
  /** Out-of-band intervals shorter than this are transients (touch-down, lift-off), not violation events (s). */
  violationGraceS: number;
  perturbations: WipePerturbation[];
}

export type WipeTaskOptions = Partial<WipeTask>;

export const DEFAULT_WIPE_TASK: Readonly<WipeTask> = Object.freeze({
  areaCenterXyM: [0.45, 0] as [number, number],
  areaSizeXyM: [0.18, 0.12] as [number, number],
  forceBandN: [5, 15] as [number, number],
  timeLimitS: 40,
  coverageThreshold: 0.9,
  surfaceHeightM: 0.08,
  friction: 0.5,
  coverageCellM: 0.01,
  contactThresholdN: 0.5,
  violationGraceS: 0.15,
  perturbations: [] as WipePerturbation[],
});

/** Ranges that keep the task reachable for the bundled arm and physically sensible. */
const LIMITS = {
  areaCenterXM: [0.25, 0.65],
  areaCenterYM: [-0.35, 0.35],
  areaSizeM: [0.02, 0.4],
  surfaceHeightM: [0.0, 0.3],
  friction: [0.01, 2.0],
  forceN: [0, 200],
  timeLimitS: [0.1, 3600],
  coverageThreshold: [0.01, 1],
  coverageCellM: [0.001, 0.1],
} as const;

function describe(value: unknown): string {
  if (typeof value === "number" || typeof value === "boolean" || value === null || value === undefined) return String(value);
  try {
    return JSON.stringify(value);
  } catch {
    return typeof value;
  }
}

function fail(field: string, expected: string, got: unknown): never {
  throw new Error(`wipe task: ${field} must be ${expected}, got ${describe(got)}`);
}

function checkNumber(field: string, value: unknown, [lo, hi]: readonly [number, number], unit: string): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < lo || value > hi) {
    fail(field, `a number in [${lo}, ${hi}]${unit ? " " + unit : ""}`, value);
  }
  return value;
}

function checkPair(field: string, value: unknown, range: readonly [number, number], unit: string): [number, number] {
  if (!Array.isArray(value) || value.length !== 2) fail(field, `a pair [a, b] of numbers in [${range[0]}, ${range[1]}] ${unit}`, value);
  return [checkNumber(`${field}[0]`, value[0], range, unit), checkNumber(`${field}[1]`, value[1], range, unit)];
}

/** Validate one perturbation; `field` names it in the error message. */
export function resolvePerturbation(p: unknown, field = "perturbation"): WipePerturbation {
  if (typeof p !== "object" || p === null) fail(field, "an object with a kind", p);
  const o = p as Record<string, unknown>;
  const atS = checkNumber(`${field}.atS`, o.atS, [0, 3600], "s");
  switch (o.kind) {
    case "surfaceHeightShift": {
      const deltaM = checkNumber(`${field}.deltaM`, o.deltaM, [-0.1, 0.1], "m");
      const rampS = o.rampS === undefined ? 0 : checkNumber(`${field}.rampS`, o.rampS, [0, 10], "s");
      return { kind: "surfaceHeightShift", atS, deltaM, rampS };
    }
    case "friction":
      return { kind: "friction", atS, friction: checkNumber(`${field}.friction`, o.friction, LIMITS.friction, "") };
    case "push": {
      if (!Array.isArray(o.forceN) || o.forceN.length !== 3) fail(`${field}.forceN`, "a world-frame force [fx, fy, fz] in N", o.forceN);
      const f = o.forceN as unknown[];
      const forceN: [number, number, number] = [
        checkNumber(`${field}.forceN[0]`, f[0], [-500, 500], "N"),
        checkNumber(`${field}.forceN[1]`, f[1], [-500, 500], "N"),
        checkNumber(`${field}.forceN[2]`, f[2], [-500, 500], "N"),
      ];
      return { kind: "push", atS, forceN, durationS: checkNumber(`${field}.durationS`, o.durationS, [0.001, 60], "s") };
    }
    default:
      return fail(`${field}.kind`, `one of "surfaceHeightShift", "friction", "push"`, o.kind);
  }
}

const KNOWN_FIELDS = new Set(Object.keys(DEFAULT_WIPE_TASK));

/** Fill defaults and validate every field; throws a one-line error naming the field, the expectation and the value. */
export function resolveWipeTask(options: WipeTaskOptions = {}): WipeTask {
  if (typeof options !== "object" || options === null) fail("options", "an object", options);
  for (const key of Object.keys(options)) {
    if (!KNOWN_FIELDS.has(key)) fail(`option "${key}"`, `one of ${[...KNOWN_FIELDS].join(", ")}`, key);
  }
  const merged = { ...DEFAULT_WIPE_TASK, ...options };
  const [cx, cy] = checkPair("areaCenterXyM", merged.areaCenterXyM, [-1, 1], "m");
  checkNumber("areaCenterXyM[0]", cx, LIMITS.areaCenterXM, "m (reach of the arm)");
  checkNumber("areaCenterXyM[1]", cy, LIMITS.areaCenterYM, "m (reach of the arm)");
  const areaSizeXyM = checkPair("areaSizeXyM", merged.areaSizeXyM, LIMITS.areaSizeM, "m");
  const forceBandN = checkPair("forceBandN", merged.forceBandN, LIMITS.forceN, "N");
  if (!(forceBandN[0] < forceBandN[1])) fail("forceBandN", "[low, high] with low < high", forceBandN);
  const contactThresholdN = checkNumber("contactThresholdN", merged.contactThresholdN, [0.001, 100], "N");
  if (contactThresholdN >= forceBandN[1]) fail("contactThresholdN", `below the band's high end ${forceBandN[1]} N`, contactThresholdN);
  if (!Array.isArray(merged.perturbations)) fail("perturbations", "an array", merged.perturbations);
  return {
    areaCenterXyM: [cx, cy],
    areaSizeXyM,
    forceBandN,
    timeLimitS: checkNumber("timeLimitS", merged.timeLimitS, LIMITS.timeLimitS, "s"),
    coverageThreshold: checkNumber("coverageThreshold", merged.coverageThreshold, LIMITS.coverageThreshold, ""),
    surfaceHeightM: checkNumber("surfaceHeightM", merged.surfaceHeightM, LIMITS.surfaceHeightM, "m"),
    friction: checkNumber("friction", merged.friction, LIMITS.friction, ""),
    coverageCellM: checkNumber("coverageCellM", merged.coverageCellM, LIMITS.coverageCellM, "m"),
    contactThresholdN,
    violationGraceS: checkNumber("violationGraceS", merged.violationGraceS, [0, 10], "s"),
    perturbations: merged.perturbations.map((p, i) => resolvePerturbation(p, `perturbations[${i}]`)).sort((a, b) => a.atS - b.atS),
  };
}

/** The part of a task a policy may see. */
export function publicSpec(task: WipeTask): WipeTaskSpec {
  return {
    areaCenterXyM: [...task.areaCenterXyM],
    areaSizeXyM: [...task.areaSizeXyM],
    forceBandN: [...task.forceBandN],
    timeLimitS: task.timeLimitS,
    coverageThreshold: task.coverageThreshold,
  };
}

/** Small deterministic PRNG (mulberry32): the same seed gives the same episode on every machine. */
export function seededRandom(seed: number): () => number {
  let state = (Math.floor(seed) ^ 0x9e3779b9) >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface SampleWipeTaskOptions {
  /** Add a height shift, a friction change and a push at random times (default false). */
  perturbations?: boolean;
  /** Overrides applied after sampling (validated like everything else). */
  overrides?: WipeTaskOptions;
}

/** A randomized episode: area position and size, surface height, friction and force band vary with the seed. */
export function sampleWipeTask(seed: number, options: SampleWipeTaskOptions = {}): WipeTask {
  if (!Number.isFinite(seed)) fail("seed", "a finite number", seed);
  const rand = seededRandom(seed);
  const uniform = (lo: number, hi: number) => lo + (hi - lo) * rand();
  const round = (v: number, step: number) => Math.round(v / step) * step;
  const areaSizeXyM: [number, number] = [round(uniform(0.14, 0.2), 0.01), round(uniform(0.1, 0.14), 0.01)];
  const areaCenterXyM: [number, number] = [round(uniform(0.37, 0.47), 0.005), round(uniform(-0.12, 0.12), 0.005)];
  const low = round(uniform(4, 7), 0.5);
  const forceBandN: [number, number] = [low, low + round(uniform(8, 11), 0.5)];
  const surfaceHeightM = round(uniform(0.04, 0.14), 0.001);
  const friction = round(uniform(0.3, 0.9), 0.01);
  const perturbations: WipePerturbation[] = [];
  if (options.perturbations) {
    perturbations.push(
      { kind: "surfaceHeightShift", atS: round(uniform(8, 14), 0.1), deltaM: round(uniform(-0.008, 0.008), 0.001), rampS: 0.2 },
      { kind: "friction", atS: round(uniform(4, 10), 0.1), friction: round(friction * uniform(1.4, 2), 0.01) },
      {
        kind: "push",
        atS: round(uniform(10, 18), 0.1),
        forceN: [round(uniform(-15, 15), 0.5), round(uniform(-15, 15), 0.5), 0],
        durationS: 0.2,
      },
    );
  }
  return resolveWipeTask({ areaCenterXyM, areaSizeXyM, forceBandN, surfaceHeightM, friction, perturbations, ...options.overrides });
}

/** Summary of one episode. */
export interface WipeEpisodeMetrics {
  success: boolean;
  /** Fraction of the marked area's grid cells wiped (0..1). */
  coverage: number;
  /** Sim time when coverage first reached the threshold within the time limit, else null (s). */
  completionTimeS: number | null;
  /** Total time in contact with the force outside the band (s). */
  forceBandViolationTimeS: number;
  /** Out-of-band intervals while in contact that lasted longer than the grace time. */
  forceBandViolationCount: number;
  /** Time in contact with the force inside the band (s). */
  inBandTimeS: number;
  /** Time with total normal force above the contact threshold (s). */
  contactTimeS: number;
  peakForceN: number;
  /** Sim time covered by the metrics (s). */
  elapsedS: number;
}

/**
 * Episode metrics, updated once per physics step from the pad's taxels.
 * Coverage rule: a grid cell of the marked area counts as wiped when the centre of the cell lies under the
 * square footprint (side `taxelPitchM`, world-axis aligned) of a taxel that touches (force above `taxelThresholdN`)
 * while the pad's total normal force is inside the band. Pressing too lightly does not clean; pressing too
 * hard cleans but is a violation.
 */
export class WipeMetrics {
  readonly cellsX: number;
  readonly cellsY: number;
  private readonly wiped: Uint8Array;
  private wipedCount = 0;
  private readonly x0M: number;
  private readonly y0M: number;
  private readonly cellXM: number;
  private readonly cellYM: number;
  private readonly halfPitchM: number;
  private elapsedS = 0;
  private contactTimeS = 0;
  private inBandTimeS = 0;
  private violationTimeS = 0;
  private violationCount = 0;
  private currentViolationS = 0;
  private currentViolationCounted = false;
  private peakForceN = 0;
  private completionTimeS: number | null = null;

  constructor(
    readonly task: WipeTask,
    readonly taxelPitchM: number,
    readonly taxelThresholdN = 0.02,
  ) {
    if (!(taxelPitchM > 0)) fail("taxelPitchM", "a positive number (m)", taxelPitchM);
    this.cellsX = Math.max(1, Math.round(task.areaSizeXyM[0] / task.coverageCellM));
    this.cellsY = Math.max(1, Math.round(task.areaSizeXyM[1] / task.coverageCellM));
    this.cellXM = task.areaSizeXyM[0] / this.cellsX;
    this.cellYM = task.areaSizeXyM[1] / this.cellsY;
    this.x0M = task.areaCenterXyM[0] - task.areaSizeXyM[0] / 2;
    this.y0M = task.areaCenterXyM[1] - task.areaSizeXyM[1] / 2;
    this.halfPitchM = taxelPitchM / 2;
    this.wiped = new Uint8Array(this.cellsX * this.cellsY);
  }

  reset(): void {
    this.wiped.fill(0);
    this.wipedCount = 0;
    this.elapsedS = this.contactTimeS = this.inBandTimeS = this.violationTimeS = 0;
    this.violationCount = 0;
    this.currentViolationS = 0;
    this.currentViolationCounted = false;
    this.peakForceN = 0;
    this.completionTimeS = null;
  }

  /**
   * Advance by one step of `dtS` ending at `timeS`. `taxelXy` holds world x, y per taxel (length 2 * count),
   * `taxelForceN` the normal force per taxel, `normalForceN` the pad's total normal force. Does not allocate.
   */
  update(dtS: number, timeS: number, normalForceN: number, taxelXy: ArrayLike<number>, taxelForceN: ArrayLike<number>): void {
    this.elapsedS += dtS;
    if (normalForceN > this.peakForceN) this.peakForceN = normalForceN;
    const [low, high] = this.task.forceBandN;
    const inContact = normalForceN > this.task.contactThresholdN;
    const inBand = normalForceN >= low && normalForceN <= high;
    if (inContact) {
      this.contactTimeS += dtS;
      if (inBand) {
        this.inBandTimeS += dtS;
        this.currentViolationS = 0;
        this.currentViolationCounted = false;
      } else {
        this.violationTimeS += dtS;
        this.currentViolationS += dtS;
        if (!this.currentViolationCounted && this.currentViolationS > this.task.violationGraceS) {
          this.violationCount++;
          this.currentViolationCounted = true;
        }
      }
    } else {
      this.currentViolationS = 0;
      this.currentViolationCounted = false;
    }
    if (inContact && inBand) this.markUnderTaxels(taxelXy, taxelForceN);
    if (this.completionTimeS === null && timeS <= this.task.timeLimitS + 1e-9 && this.coverage() >= this.task.coverageThreshold) {
      this.completionTimeS = timeS;
    }
  }

  private markUnderTaxels(taxelXy: ArrayLike<number>, taxelForceN: ArrayLike<number>): void {
    const h = this.halfPitchM;
    for (let t = 0; t < taxelForceN.length; t++) {
      if (!(taxelForceN[t] > this.taxelThresholdN)) continue;
      const x = taxelXy[2 * t];
      const y = taxelXy[2 * t + 1];
      // Cells whose centres (x0 + (i + 0.5) * cell) lie within [x - h, x + h].
      const iLo = Math.max(0, Math.ceil((x - h - this.x0M) / this.cellXM - 0.5));
      const iHi = Math.min(this.cellsX - 1, Math.floor((x + h - this.x0M) / this.cellXM - 0.5));
      const jLo = Math.max(0, Math.ceil((y - h - this.y0M) / this.cellYM - 0.5));
      const jHi = Math.min(this.cellsY - 1, Math.floor((y + h - this.y0M) / this.cellYM - 0.5));
      for (let j = jLo; j <= jHi; j++) {
        for (let i = iLo; i <= iHi; i++) {
          const k = j * this.cellsX + i;
          if (this.wiped[k] === 0) {
            this.wiped[k] = 1;
            this.wipedCount++;
          }
        }
      }
    }
  }

  coverage(): number {
    return this.wipedCount / this.wiped.length;
  }

  /** Whether cell (i along x, j along y) has been wiped. */
  isWiped(i: number, j: number): boolean {
    return this.wiped[j * this.cellsX + i] === 1;
  }

  /** The episode is over: success reached or time limit passed. */
  done(timeS: number): boolean {
    return this.completionTimeS !== null || timeS >= this.task.timeLimitS;
  }

  summary(): WipeEpisodeMetrics {
    return {
      success: this.completionTimeS !== null,
      coverage: this.coverage(),
      completionTimeS: this.completionTimeS,
      forceBandViolationTimeS: this.violationTimeS,
      forceBandViolationCount: this.violationCount,
      inBandTimeS: this.inBandTimeS,
      contactTimeS: this.contactTimeS,
      peakForceN: this.peakForceN,
      elapsedS: this.elapsedS,
    };
  }
}
