// A synthesized top-down camera for the wipe task: what the trained VLA looks at, made the same way when the
// demonstrations are recorded and when the policy runs. It is not a physics render: it draws the task spec (the
// marked area), the part of it already wiped (a trail of the pad footprint where the pad pressed within the force
// band, as the task scores it), the tool from forward kinematics, and a strip of gauges that carries proprioception
// and touch (the runner's contract has only an image and an instruction, so the joint state and the contact force
// travel in pixels).
//
// Layout of the default 112 x 112 RGB frame (14 px patches: 8 x 8 patches):
//   rows 0..97   scene, orthographic from above: row = (x - 0.20 m) / 5 mm, column = (y + 0.28 m) / 5 mm.
//                table (40, 40, 40); marked area not yet wiped (200, 50, 50); wiped (50, 200, 80);
//                tool: a 5 x 5 px square at the tool's x/y, colour (255, 255, height), height = z / 0.4 m * 255.
//   rows 98..111 gauges, one 14 x 14 patch each: joints 1..6 and the gripper as grey levels of their position in
//                [lower, upper]; the last patch is (normal force, band low, band high) / 30 N in R, G, B.
import type { ArmDescription } from "../kinematics/description.js";
import { ArmKinematics } from "../kinematics/kinematics.js";
import type { ImageFrame, Observation, PolicyOutput, SlowPolicy } from "../runtime/slowExecutor.js";
import type { WipeTaskSpec } from "./task.js";

export const WIPE_CAMERA = Object.freeze({
  widthPx: 112,
  heightPx: 112,
  /** Metres per pixel in the scene part. */
  metresPerPx: 0.005,
  /** World x at row 0 and world y at column 0 (m). */
  originXM: 0.2,
  originYM: -0.28,
  sceneRows: 98,
  gaugePx: 14,
  /** Tool height mapped to 0..255 over this range (m). */
  heightRangeM: 0.4,
  /** Force gauges saturate here (N). */
  forceRangeN: 30,
  /** The pad counts as touching above this normal force (N); the trail also needs the force inside the band. */
  contactN: 1,
  /** Half side of the pad footprint (m): 4 taxels at 14 mm. */
  padHalfSideM: 0.028,
});

const TABLE = [40, 40, 40];
const MARKED = [200, 50, 50];
const WIPED = [50, 200, 80];

export class WipeCamera {
  private readonly kinematics: ArmKinematics;
  private readonly joints: number;
  private readonly low: Float64Array;
  private readonly high: Float64Array;
  private readonly wiped: Uint8Array;
  private readonly toolPosM = new Float64Array(3);
  private readonly toolRot = new Float64Array(9);
  private lastContact: [number, number] | null = null;

  constructor(arm: ArmDescription, private readonly spec: WipeTaskSpec) {
    if (WIPE_CAMERA.gaugePx * 8 !== WIPE_CAMERA.widthPx || arm.joints.length + 1 > 7) {
      throw new Error(`wipe camera: expected an arm with at most 6 joints and a gripper, got ${arm.joints.length} joints`);
    }
    this.kinematics = new ArmKinematics(arm);
    this.joints = arm.joints.length;
    this.low = Float64Array.from([...arm.joints.map((j) => j.lowerRad), arm.gripper.lowerM]);
    this.high = Float64Array.from([...arm.joints.map((j) => j.upperRad), arm.gripper.upperM]);
    this.wiped = new Uint8Array(WIPE_CAMERA.sceneRows * WIPE_CAMERA.widthPx);
  }

  /** Forget the wiped trail (a new episode). */
  reset(): void {
    this.wiped.fill(0);
    this.lastContact = null;
  }

  /** Tool position (m, world) of the last frame. */
  get toolPositionM(): Float64Array {
    return this.toolPosM;
  }

  /**
   * One frame from the measured joint positions (rad, then gripper m) and the wrist wrench (N, N m). Updates the
   * wiped trail first (a straight segment from the previous touching sample, so a 5 Hz caller leaves no gaps).
   */
  observe(positions: ArrayLike<number>, wrench: ArrayLike<number>, timeNs: number, out?: Uint8Array): ImageFrame {
    const c = WIPE_CAMERA;
    const width = c.widthPx;
    const data = out ?? new Uint8Array(width * c.heightPx * 3);
    if (data.length !== width * c.heightPx * 3) throw new Error(`wipe camera: expected an output buffer of ${width * c.heightPx * 3} bytes, got ${data.length}`);
    this.kinematics.forward(positions, this.toolPosM, this.toolRot);
    const forceN = Math.abs(wrench[2]);
    const [tx, ty, tz] = this.toolPosM;
    // Only pressing within the force band wipes (as the task scores it), so the trail shows what is left to do.
    const [lowN, highN] = this.spec.forceBandN;
    if (Number.isFinite(forceN) && forceN > c.contactN && forceN >= lowN && forceN <= highN) {
      const from = this.lastContact ?? [tx, ty];
      const steps = Math.max(1, Math.ceil(Math.hypot(tx - from[0], ty - from[1]) / c.metresPerPx));
      for (let s = 0; s <= steps; s++) this.markWiped(from[0] + ((tx - from[0]) * s) / steps, from[1] + ((ty - from[1]) * s) / steps);
      this.lastContact = [tx, ty];
    } else {
      this.lastContact = null;
    }

    // Scene.
    const [ax, ay] = this.spec.areaCenterXyM;
    const [sx, sy] = this.spec.areaSizeXyM;
    for (let r = 0; r < c.sceneRows; r++) {
      const x = c.originXM + (r + 0.5) * c.metresPerPx;
      for (let col = 0; col < width; col++) {
        const y = c.originYM + (col + 0.5) * c.metresPerPx;
        const inside = Math.abs(x - ax) <= sx / 2 && Math.abs(y - ay) <= sy / 2;
        const rgb = inside ? (this.wiped[r * width + col] ? WIPED : MARKED) : TABLE;
        const o = (r * width + col) * 3;
        data[o] = rgb[0];
        data[o + 1] = rgb[1];
        data[o + 2] = rgb[2];
      }
    }
    const toolRow = Math.round((tx - c.originXM) / c.metresPerPx);
    const toolCol = Math.round((ty - c.originYM) / c.metresPerPx);
    const heightByte = byte(tz / c.heightRangeM);
    for (let r = toolRow - 2; r <= toolRow + 2; r++) {
      for (let col = toolCol - 2; col <= toolCol + 2; col++) {
        if (r < 0 || r >= c.sceneRows || col < 0 || col >= width) continue;
        const o = (r * width + col) * 3;
        data[o] = 255;
        data[o + 1] = 255;
        data[o + 2] = heightByte;
      }
    }

    // Gauges: one patch per joint / gripper, then the force patch.
    for (let g = 0; g < 8; g++) {
      let rgb: [number, number, number];
      if (g <= this.joints) {
        const v = byte((positions[g] - this.low[g]) / (this.high[g] - this.low[g]));
        rgb = [v, v, v];
      } else if (g === 7) {
        rgb = [byte(forceN / c.forceRangeN), byte(this.spec.forceBandN[0] / c.forceRangeN), byte(this.spec.forceBandN[1] / c.forceRangeN)];
      } else {
        rgb = [0, 0, 0];
      }
      for (let r = c.sceneRows; r < c.heightPx; r++) {
        for (let col = g * c.gaugePx; col < (g + 1) * c.gaugePx; col++) {
          const o = (r * width + col) * 3;
          data[o] = rgb[0];
          data[o + 1] = rgb[1];
          data[o + 2] = rgb[2];
        }
      }
    }
    return { width, height: c.heightPx, channels: 3, data, timeNs };
  }

  private markWiped(x: number, y: number): void {
    const c = WIPE_CAMERA;
    const half = c.padHalfSideM / c.metresPerPx;
    const r0 = Math.max(0, Math.floor((x - c.originXM) / c.metresPerPx - half));
    const r1 = Math.min(c.sceneRows - 1, Math.ceil((x - c.originXM) / c.metresPerPx + half));
    const c0 = Math.max(0, Math.floor((y - c.originYM) / c.metresPerPx - half));
    const c1 = Math.min(c.widthPx - 1, Math.ceil((y - c.originYM) / c.metresPerPx + half));
    for (let r = r0; r <= r1; r++) for (let col = c0; col <= c1; col++) this.wiped[r * c.widthPx + col] = 1;
  }
}

/** 0..1 -> 0..255, clipped; non-finite -> 0. */
function byte(v: number): number {
  if (!Number.isFinite(v)) return 0;
  return Math.round(255 * Math.min(1, Math.max(0, v)));
}

/**
 * A slow policy that sees the WipeCamera frame of each observation: renders it from the observation's own joint
 * positions and wrench (so image and state are the same instant) and hands the observation on with it.
 */
export function withWipeCamera(inner: SlowPolicy, camera: WipeCamera): SlowPolicy {
  return {
    name: inner.name,
    infer(obs: Observation, signal: AbortSignal): Promise<PolicyOutput> {
      return inner.infer({ ...obs, image: camera.observe(obs.positions, obs.wrench, obs.timeNs) }, signal);
    },
  };
}
