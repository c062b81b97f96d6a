import { describe, expect, it } from "vitest";
import {
  PiecewiseTrajectory,
  SplineScratch,
  appendUniformSpline,
  quinticHermite,
  sCurveInto,
  smootherstep,
} from "../../src/runtime/interpolation.js";

/** Spline through `values` (one dim) at uniform spacing, origin 0. */
function splineOf(values: number[], spacingS: number, kind: "cubic" | "linear" = "cubic"): PiecewiseTrajectory {
  const traj = new PiecewiseTrajectory(1, 2);
  traj.reset(0, values.length - 1);
  appendUniformSpline(traj, Float64Array.from(values), 0, values.length, spacingS, kind, new SplineScratch(), new Float64Array(1), new Float64Array(1));
  return traj;
}

function at(traj: PiecewiseTrajectory, tS: number): { p: number; v: number; a: number } {
  const p = new Float64Array(traj.dim), v = new Float64Array(traj.dim), a = new Float64Array(traj.dim);
  traj.evaluate(tS * 1e9, p, v, a);
  return { p: p[0], v: v[0], a: a[0] };
}

describe("weights", () => {
  it("smootherstep goes 0 -> 1 with zero slope at both ends and clamps outside", () => {
    expect(smootherstep(-1)).toBe(0);
    expect(smootherstep(0)).toBe(0);
    expect(smootherstep(0.5)).toBeCloseTo(0.5, 12);
    expect(smootherstep(1)).toBe(1);
    expect(smootherstep(2)).toBe(1);
    const h = 1e-6;
    expect((smootherstep(h) - smootherstep(0)) / h).toBeLessThan(1e-9);
  });

  it("the S-curve is C2, symmetric, and its third derivative peaks at 32 (smootherstep: 60)", () => {
    const out = new Float64Array(3);
    const value = (x: number) => (sCurveInto(x, out), out[0]);
    expect(value(0)).toBe(0);
    expect(value(1)).toBe(1);
    expect(value(0.5)).toBeCloseTo(0.5, 12);
    for (const x of [0.1, 0.3, 0.6, 0.9]) expect(value(x) + value(1 - x)).toBeCloseTo(1, 12);
    // Returned derivatives agree with finite differences; continuity across the quarter joints.
    const h = 1e-5;
    for (const x of [0.05, 0.2499, 0.25, 0.2501, 0.5, 0.7499, 0.75, 0.7501, 0.95]) {
      sCurveInto(x, out);
      const [w, dw, ddw] = out;
      const dwNumeric = (value(x + h) - value(x - h)) / (2 * h);
      const ddwNumeric = (value(x + h) - 2 * w + value(x - h)) / (h * h);
      expect(dw).toBeCloseTo(dwNumeric, 6);
      expect(ddw).toBeCloseTo(ddwNumeric, 3);
    }
    let peak = 0;
    const step = 1e-3;
    for (let x = step; x < 1 - 2 * step; x += step) {
      const third = (value(x + 2 * step) - 3 * value(x + step) + 3 * value(x) - value(x - step)) / step ** 3;
      peak = Math.max(peak, Math.abs(third));
    }
    expect(peak).toBeGreaterThan(31);
    expect(peak).toBeLessThan(33);
  });
});

describe("quinticHermite", () => {
  it("matches position, velocity and acceleration at both ends", () => {
    const c = new Float64Array(6);
    const cases = [
      [0.1, -0.4, 2.0, 0.7, 0.3, -1.5, 0.25],
      [-2, 0, 0, 3, 0, 0, 1.7],
      [0, 1, 0, 0, -1, 5, 0.05],
    ];
    for (const [p0, v0, a0, p1, v1, a1, T] of cases) {
      quinticHermite(p0, v0, a0, p1, v1, a1, T, c, 0);
      const p = (t: number) => c[0] + t * (c[1] + t * (c[2] + t * (c[3] + t * (c[4] + t * c[5]))));
      const v = (t: number) => c[1] + t * (2 * c[2] + t * (3 * c[3] + t * (4 * c[4] + t * 5 * c[5])));
      const a = (t: number) => 2 * c[2] + t * (6 * c[3] + t * (12 * c[4] + t * 20 * c[5]));
      expect(p(0)).toBeCloseTo(p0, 12);
      expect(v(0)).toBeCloseTo(v0, 12);
      expect(a(0)).toBeCloseTo(a0, 12);
      expect(p(T)).toBeCloseTo(p1, 9);
      expect(v(T)).toBeCloseTo(v1, 8);
      expect(a(T)).toBeCloseTo(a1, 6);
    }
  });
});

describe("appendUniformSpline", () => {
  it("reproduces a cubic polynomial exactly (not-a-knot ends)", () => {
    const f = (t: number) => 0.3 - 1.2 * t + 0.8 * t * t - 0.5 * t * t * t;
    const h = 0.2;
    const values = Array.from({ length: 7 }, (_, i) => f(i * h));
    const traj = splineOf(values, h);
    for (let t = 0; t <= 6 * h; t += 0.013) {
      expect(at(traj, t).p).toBeCloseTo(f(t), 10);
      expect(at(traj, t).v).toBeCloseTo(-1.2 + 1.6 * t - 1.5 * t * t, 8);
    }
  });

  it("three knots give the parabola through them, two the line, one a constant", () => {
    const parabola = splineOf([1, 0, 1], 0.5);
    expect(at(parabola, 0.25).p).toBeCloseTo(0.25, 12); // y = 4 (t - 0.5)^2
    expect(at(parabola, 0.9).a).toBeCloseTo(8, 9);
    const line = splineOf([2, 3], 0.1);
    expect(at(line, 0.05).p).toBeCloseTo(2.5, 12);
    expect(at(line, 0.05).a).toBe(0);
  });

  it("has continuous velocity and acceleration at interior knots", () => {
    const values = [0, 0.4, -0.1, 0.8, 0.2, 0.5, -0.3, 0.1];
    const h = 0.1;
    const traj = splineOf(values, h);
    for (let k = 1; k < values.length - 1; k++) {
      const before = at(traj, k * h - 1e-9);
      const after = at(traj, k * h + 1e-9);
      expect(at(traj, k * h).p).toBeCloseTo(values[k], 12);
      expect(after.v).toBeCloseTo(before.v, 5);
      expect(after.a).toBeCloseTo(before.a, 4);
    }
  });

  it("resamples a 10 Hz chunk to 500 Hz without stair steps", () => {
    const f = (t: number) => 0.4 * Math.sin(2 * Math.PI * 0.3 * t);
    const h = 0.1;
    const traj = splineOf(Array.from({ length: 21 }, (_, i) => f(i * h)), h);
    const samples: number[] = [];
    for (let k = 0; k <= 1000; k++) samples.push(at(traj, k * 0.002).p);
    let maxError = 0;
    let maxSecondDiff = 0;
    for (let k = 0; k < samples.length; k++) {
      maxError = Math.max(maxError, Math.abs(samples[k] - f(k * 0.002)));
      if (k >= 2) maxSecondDiff = Math.max(maxSecondDiff, Math.abs(samples[k] - 2 * samples[k - 1] + samples[k - 2]));
    }
    expect(maxError).toBeLessThan(1e-4);
    // A hold-then-jump resampler would show second differences of the size of a whole step (~7.5e-3 here).
    const trueAcceleration = 0.4 * (2 * Math.PI * 0.3) ** 2;
    expect(maxSecondDiff / 0.002 ** 2).toBeLessThan(trueAcceleration * 1.1);
  });

  it("linear interpolation is piecewise linear", () => {
    const traj = splineOf([0, 1, 0], 0.5, "linear");
    expect(at(traj, 0.25).p).toBeCloseTo(0.5, 12);
    expect(at(traj, 0.75).p).toBeCloseTo(0.5, 12);
    expect(at(traj, 0.75).v).toBeCloseTo(-2, 12);
  });
});

describe("PiecewiseTrajectory", () => {
  it("clamps outside its span and evaluates correctly when time goes backwards", () => {
    const traj = splineOf([0, 1, 4, 9, 16], 1); // t^2
    expect(at(traj, -5).p).toBe(0);
    expect(at(traj, 99).p).toBeCloseTo(16, 12);
    for (const t of [3.5, 0.5, 2.5, 1.5, 3.9, 0.1]) expect(at(traj, t).p).toBeCloseTo(t * t, 10);
    expect(traj.endNs).toBeCloseTo(4e9, 3);
  });

  it("grows its buffers for more segments than it was built for, keeping earlier ones", () => {
    const traj = new PiecewiseTrajectory(2, 1);
    traj.reset(0, 1);
    for (let s = 0; s < 20; s++) {
      const seg = traj.appendSegment(s + 1);
      traj.coefficients[traj.coefficientOffset(seg, 0)] = s;
      traj.coefficients[traj.coefficientOffset(seg, 1)] = 100 - s;
    }
    const p = new Float64Array(2);
    traj.evaluate(0.5e9, p);
    expect(Array.from(p)).toEqual([0, 100]);
    traj.evaluate(17.5e9, p);
    expect(Array.from(p)).toEqual([17, 83]);
  });

  it("rejects a bad dim and evaluation of an empty trajectory", () => {
    expect(() => new PiecewiseTrajectory(0)).toThrow(/positive integer dim/);
    expect(() => new PiecewiseTrajectory(1).evaluate(0, new Float64Array(1))).toThrow(/empty trajectory/);
  });
});
