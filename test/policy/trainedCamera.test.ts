// The synthesized camera the trained VLA looks at: the tool is drawn where forward kinematics puts it, the marked
// area turns "wiped" only where the pad pressed, and the gauge strip carries the joint positions and the force.
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { loadArmDescription } from "../../src/kinematics/description.js";
import { ArmKinematics } from "../../src/kinematics/kinematics.js";
import type { Observation } from "../../src/runtime/slowExecutor.js";
import { WipeCamera, WIPE_CAMERA, withWipeCamera } from "../../src/sim/camera.js";
import { publicSpec, sampleWipeTask } from "../../src/sim/task.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const arm = loadArmDescription(join(ROOT, "sim", "arm", "description.json"));
const spec = publicSpec(sampleWipeTask(5));
const READY = Float64Array.from([0, 0.37, 0.78, 2.0, 0, 0, 0.04]);
const W = WIPE_CAMERA.widthPx;

function pixel(data: Uint8Array, row: number, col: number): number[] {
  const o = (row * W + col) * 3;
  return [data[o], data[o + 1], data[o + 2]];
}

function toolPixel(q: Float64Array): [number, number, number] {
  const pos = new Float64Array(3);
  new ArmKinematics(arm).forward(q, pos, new Float64Array(9));
  return [Math.round((pos[0] - WIPE_CAMERA.originXM) / WIPE_CAMERA.metresPerPx), Math.round((pos[1] - WIPE_CAMERA.originYM) / WIPE_CAMERA.metresPerPx), pos[2]];
}

/** The tool over the marked area's centre (by IK), and a pixel under its pad footprint. */
function overAreaCentre(): { q: Float64Array; areaRow: number; areaCol: number } {
  const [ax, ay] = spec.areaCenterXyM;
  const ik = new ArmKinematics(arm).solve({ positionM: [ax, ay, 0.1] }, READY.subarray(0, 6));
  expect(ik.ok).toBe(true);
  return {
    q: Float64Array.from([...ik.q, 0.04]),
    areaRow: Math.round((ax - WIPE_CAMERA.originXM) / WIPE_CAMERA.metresPerPx),
    // 4 px beside the centre: under the pad footprint (5.6 px half side), clear of the 5 x 5 tool square.
    areaCol: Math.round((ay - WIPE_CAMERA.originYM) / WIPE_CAMERA.metresPerPx) + 4,
  };
}

describe("WipeCamera", () => {
  it("draws the tool at its forward-kinematics position with its height in blue", () => {
    const frame = new WipeCamera(arm, spec).observe(READY, new Float64Array(6), 7);
    expect([frame.width, frame.height, frame.channels, frame.timeNs]).toEqual([112, 112, 3, 7]);
    const [row, col, z] = toolPixel(READY);
    expect(row).toBeGreaterThanOrEqual(0);
    expect(row).toBeLessThan(WIPE_CAMERA.sceneRows);
    expect(pixel(frame.data, row, col)).toEqual([255, 255, Math.round(255 * Math.min(1, Math.max(0, z / WIPE_CAMERA.heightRangeM)))]);
  });

  it("marks the area wiped only where the pad pressed, and keeps the trail until reset", () => {
    const camera = new WipeCamera(arm, spec);
    const { q, areaRow, areaCol } = overAreaCentre();
    const before = camera.observe(READY, new Float64Array(6), 0);
    expect(pixel(before.data, areaRow, areaCol)).toEqual([200, 50, 50]);
    // Pressing with 8 N, inside the band.
    const pressed = camera.observe(q, Float64Array.from([0, 0, -8, 0, 0, 0]), 1);
    expect(pixel(pressed.data, areaRow, areaCol)).toEqual([50, 200, 80]);
    const lifted = camera.observe(READY, new Float64Array(6), 2);
    expect(pixel(lifted.data, areaRow, areaCol)).toEqual([50, 200, 80]);
    camera.reset();
    expect(pixel(camera.observe(READY, new Float64Array(6), 3).data, areaRow, areaCol)).toEqual([200, 50, 50]);
  });

  it("leaves the area marked where the pad pressed outside the force band (the task does not count it)", () => {
    const [low, high] = spec.forceBandN;
    const { q, areaRow, areaCol } = overAreaCentre();
    for (const forceN of [(WIPE_CAMERA.contactN + low) / 2, high + 5]) {
      const frame = new WipeCamera(arm, spec).observe(q, Float64Array.from([0, 0, -forceN, 0, 0, 0]), 1);
      expect(pixel(frame.data, areaRow, areaCol), `${forceN} N against the band ${low}-${high} N`).toEqual([200, 50, 50]);
    }
  });

  it("encodes joints as grey levels and force / band in the last gauge", () => {
    const frame = new WipeCamera(arm, spec).observe(READY, Float64Array.from([0, 0, -6, 0, 0, 0]), 0);
    const row = WIPE_CAMERA.sceneRows + 3;
    for (let j = 0; j < 6; j++) {
      const joint = arm.joints[j];
      const v = Math.round((255 * (READY[j] - joint.lowerRad)) / (joint.upperRad - joint.lowerRad));
      expect(pixel(frame.data, row, j * 14 + 5)).toEqual([v, v, v]);
    }
    expect(pixel(frame.data, row, 7 * 14 + 1)).toEqual([51, Math.round((255 * spec.forceBandN[0]) / 30), Math.round((255 * spec.forceBandN[1]) / 30)]);
  });

  it("rejects an output buffer of the wrong size with a clear message", () => {
    expect(() => new WipeCamera(arm, spec).observe(READY, new Float64Array(6), 0, new Uint8Array(10))).toThrow(/expected an output buffer of 37632 bytes, got 10/);
  });
});

describe("withWipeCamera", () => {
  it("hands the inner policy the frame of the observation's own state", async () => {
    let seen: { width: number; timeNs: number; tool: number[] } | null = null;
    const inner = {
      name: "probe",
      infer: async (obs: Observation) => {
        const [row, col] = toolPixel(obs.positions);
        seen = { width: obs.image!.width, timeNs: obs.image!.timeNs, tool: pixel(obs.image!.data, row, col) };
        return { kind: "tokens" as const, tokens: [1] };
      },
    };
    const policy = withWipeCamera(inner, new WipeCamera(arm, spec));
    const out = await policy.infer({ timeNs: 42, positions: READY, velocities: new Float64Array(7), wrench: new Float64Array(6), tactile: new Float64Array(16), instruction: "x" }, new AbortController().signal);
    expect(out).toEqual({ kind: "tokens", tokens: [1] });
    expect(seen).toEqual({ width: 112, timeNs: 42, tool: [255, 255, Math.round(255 * Math.min(1, toolPixel(READY)[2] / WIPE_CAMERA.heightRangeM))] });
  });
});
