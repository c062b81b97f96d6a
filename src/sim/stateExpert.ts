// A state-labelling expert for the wipe task: from any arm state a policy reaches (where the tool is, where its
// plan has it, the contact force) it says what the scripted expert's way of wiping would do next. The scripted
// WipeExpert is indexed by time (its phase and timers), so it can only demonstrate its own episodes; labelling the
// states a trained policy visits (DAgger, Ross et al. 2011) needs answers that follow from the state instead:
//   progress  how far along the lane path the pad has got (only forward, only while touching, from the plan's
//             position when the plan is near the tool: the pad drags behind its command in contact);
//   approach  not touched yet and away from the path start: ease to the hover point above it;
//   descend   above the path start, or contact lost after wiping began: straight down at the descent speed;
//   return    (an approach) off the path by more than 3 cm after wiping began (off the area, over the platform's
//             edge): up 3 cm above where it last pressed, back over the path point, then down;
//   wipe      touching: on along the path from the progress at the wipe speed, the depth set from the measured force
//             and a stiffness prior (a proportional jump to the target force, so the answer needs no memory);
//   lift      the path is done: straight up to the hover height, then hold.
// The path is the one the demonstrations used (lanes along the longer side from the corner nearest the tool's first
// position), so a policy trained on both sees one way of doing the task.
import type { ArmDescription } from "../kinematics/description.js";
import { commandDim } from "../kinematics/description.js";
import { ArmKinematics } from "../kinematics/kinematics.js";
import type { SensorSnapshot } from "../runtime/types.js";
import { nearestCornerPath, padDownChunk, padNormalForceN, reachableHoverHeightM, resolveWipeExpertOptions, type WipeExpertOptions, type WipeExpertPhase, type WipePath } from "./expert.js";
import type { WipeTaskSpec } from "./task.js";

/** What the labeller reads: a sensor snapshot, plus the joint targets the policy's current plan has now (if any). */
export type LabelledState = Pick<SensorSnapshot, "timeNs" | "positions" | "wrench" | "tactile"> & { plannedPositions?: ArrayLike<number> };

/** The options of the scripted expert that mean the same here (its nominal wipe speed: no seed varies it). */
export type WipeStateExpertOptions = Pick<
  WipeExpertOptions,
  | "stepPeriodS" | "chunkSteps" | "wipeSpeedMPerS" | "approachSpeedMPerS" | "descentSpeedMPerS" | "hoverHeightM" | "padSizeM"
  | "laneOverlap" | "edgeOverhangM" | "contactStiffnessNPerM" | "contactForceN" | "gripperWidthM"
>;

/** The plan counts as where the pad is when it is this close to the measured tool position (m). */
const PLAN_NEAR_TOOL_M = 0.02;
/** Progress moves to the nearest path point within this far ahead (m): never onto a lane further on. */
const PROGRESS_WINDOW_M = 0.04;
/** ... and only when that point is under the pad (m). */
const PROGRESS_CAPTURE_M = 0.02;
/** Off the path by more than this, a wipe chunk first brings the pad back over the next half second (m). */
const BACK_ON_PATH_STEPS = 5;
/** Further than this from the path point the pad should be at (m), it goes back up and over instead of on. */
const OFF_PATH_M = 0.03;
/** Height above the last pressing height a return to the path travels at (m). */
const RETURN_CLEARANCE_M = 0.03;
/** The path counts as done this close to its end (m): progress moves in 2 mm samples. */
const PATH_END_TOLERANCE_M = 0.004;
/** Above the hover point within this (m) in x/y: descend rather than approach. */
const OVER_START_M = 0.006;
/** The pressing depth stays within this of where the pad is now (m): one chunk's worth of correction. */
const MAX_DEPTH_STEP_M = 0.012;

export class WipeStateExpert {
  readonly dim: number;
  readonly chunkSteps: number;
  readonly stepPeriodNs: number;
  private readonly o: Required<WipeStateExpertOptions>;
  private readonly kinematics: ArmKinematics;
  private readonly jointCount: number;
  private readonly targetForceN: number;
  private path: WipePath | null = null;
  private progressM = 0;
  private touched = false;
  private phaseName: WipeExpertPhase = "approach";
  private unreachable = 0;
  private readonly hover = new Float64Array(3);
  /** Where an approach goes: the hover point before the first touch, back over the path after it. */
  private readonly approachTarget = new Float64Array(3);
  /** Tool height while last pressing on the path (m); NaN before. */
  private surfaceZ = Number.NaN;
  private readonly tool = new Float64Array(3);
  private readonly planTool = new Float64Array(3);
  private readonly rotation = new Float64Array(9);
  private readonly xy = new Float64Array(2);

  constructor(arm: ArmDescription, readonly spec: WipeTaskSpec, options: WipeStateExpertOptions = {}) {
    this.o = resolveWipeExpertOptions(options);
    this.kinematics = new ArmKinematics(arm);
    this.jointCount = arm.joints.length;
    this.dim = commandDim(arm);
    this.chunkSteps = this.o.chunkSteps;
    this.stepPeriodNs = Math.round(this.o.stepPeriodS * 1e9);
    this.targetForceN = (spec.forceBandN[0] + spec.forceBandN[1]) / 2;
  }

  /** The phase of the last label. */
  get phase(): WipeExpertPhase {
    return this.phaseName;
  }

  /** Steps of the last label the arm could not reach with the pad down (they hold the step before). */
  get unreachableSteps(): number {
    return this.unreachable;
  }

  /** Arc length of the lane path wiped so far, and the whole path (m). */
  progress(): { progressM: number; pathLengthM: number } {
    return { progressM: this.progressM, pathLengthM: this.path?.lengthM ?? Number.NaN };
  }

  /** The lane path's point at arc length s (m) into out[0..1]; the path is chosen at the first state labelled. */
  pathAt(sM: number, out: Float64Array): void {
    if (this.path === null) throw new Error("wipe state expert: no path before the first state is labelled");
    this.path.at(sM, out);
  }

  /** The next chunk from this state, row-major [chunkSteps * dim] absolute joint targets + gripper width. */
  plan(state: LabelledState, out: Float64Array = new Float64Array(this.chunkSteps * this.dim)): Float64Array {
    const q = state.positions;
    if (!q || q.length < this.jointCount) throw new Error(`wipe state expert: state.positions must hold ${this.jointCount} joint positions, got ${q?.length}`);
    for (let i = 0; i < this.jointCount; i++) {
      if (!Number.isFinite(q[i])) throw new Error(`wipe state expert: state.positions[${i}] must be finite, got ${q[i]}`);
    }
    if (out.length < this.chunkSteps * this.dim) throw new Error(`wipe state expert: output buffer must hold ${this.chunkSteps * this.dim} numbers, got ${out.length}`);
    this.kinematics.forward(q, this.tool, this.rotation);
    if (this.path === null) this.start(q);
    const path = this.path as WipePath;
    this.planTool.set(this.tool);
    const planned = state.plannedPositions && state.plannedPositions.length >= this.jointCount ? state.plannedPositions : null;
    if (planned) {
      this.kinematics.forward(planned, this.planTool, this.rotation);
      if (Math.hypot(this.planTool[0] - this.tool[0], this.planTool[1] - this.tool[1], this.planTool[2] - this.tool[2]) > PLAN_NEAR_TOOL_M) this.planTool.set(this.tool);
    }
    const forceN = padNormalForceN(state);
    const touching = forceN >= this.o.contactForceN;
    if (touching) {
      this.touched = true;
      this.advanceProgress(path);
    }
    this.phaseName = this.choosePhase(path, touching);
    // Pressing depth for the target force: where the pad is now, moved by the force error over the stiffness prior.
    const depthStepM = clamp((forceN - this.targetForceN) / this.o.contactStiffnessNPerM, -MAX_DEPTH_STEP_M, MAX_DEPTH_STEP_M);
    const pressZ = this.tool[2] + depthStepM;

    this.unreachable = padDownChunk(this.kinematics, planned ?? q, this.chunkSteps, this.o.gripperWidthM, (step, target) => this.toolTarget(path, step, pressZ, target), out);
    return out;
  }

  private start(q: ArrayLike<number>): void {
    this.path = nearestCornerPath(this.spec, this.o.padSizeM, this.o.laneOverlap, this.o.edgeOverhangM, this.tool);
    this.path.at(0, this.xy);
    this.hover[0] = this.xy[0];
    this.hover[1] = this.xy[1];
    this.hover[2] = reachableHoverHeightM(this.kinematics, this.hover, this.o.hoverHeightM, q);
  }

  /** Forward along the path to the point nearest the pad, if one within the window lies under it. */
  private advanceProgress(path: WipePath): void {
    let bestS = -1;
    let bestDistanceM = PROGRESS_CAPTURE_M;
    for (let s = this.progressM; s <= Math.min(path.lengthM, this.progressM + PROGRESS_WINDOW_M) + 1e-9; s += 0.002) {
      path.at(s, this.xy);
      const d = Math.hypot(this.xy[0] - this.planTool[0], this.xy[1] - this.planTool[1]);
      if (d < bestDistanceM) {
        bestDistanceM = d;
        bestS = s;
      }
    }
    if (bestS > this.progressM) this.progressM = Math.min(path.lengthM, bestS);
  }

  private choosePhase(path: WipePath, touching: boolean): WipeExpertPhase {
    if (this.progressM >= path.lengthM - PATH_END_TOLERANCE_M) return this.tool[2] >= this.hover[2] - 0.005 ? "done" : "lift";
    if (!this.touched) {
      this.approachTarget.set(this.hover);
      const overStart = Math.hypot(this.planTool[0] - this.hover[0], this.planTool[1] - this.hover[1]) <= OVER_START_M;
      return overStart && this.planTool[2] <= this.hover[2] + 0.01 ? "descend" : "approach";
    }
    path.at(this.progressM, this.xy);
    const offPathM = Math.hypot(this.planTool[0] - this.xy[0], this.planTool[1] - this.xy[1]);
    if (offPathM <= OFF_PATH_M) {
      // Pressing where the pad has been: the height to come back to if contact is lost further on.
      if (touching) this.surfaceZ = this.tool[2];
      return touching ? "wipe" : "descend";
    }
    // Off the path (off the area, or over the platform's edge): up clear of the surface, back over the path, down.
    this.approachTarget[0] = this.xy[0];
    this.approachTarget[1] = this.xy[1];
    this.approachTarget[2] = Math.min(this.hover[2], (Number.isNaN(this.surfaceZ) ? this.tool[2] : Math.max(this.surfaceZ, this.tool[2])) + RETURN_CLEARANCE_M);
    return "approach";
  }

  /** Tool centre target of chunk step `step` in the current phase. */
  private toolTarget(path: WipePath, step: number, pressZ: number, out: Float64Array): void {
    const t = step * this.o.stepPeriodS;
    switch (this.phaseName) {
      case "approach": {
        const goal = this.approachTarget;
        const d = Math.hypot(goal[0] - this.planTool[0], goal[1] - this.planTool[1], goal[2] - this.planTool[2]);
        const u = d > 0 ? Math.min(1, t / (d / this.o.approachSpeedMPerS)) : 1;
        const s = u * u * (3 - 2 * u);
        for (let k = 0; k < 3; k++) out[k] = this.planTool[k] + s * (goal[k] - this.planTool[k]);
        return;
      }
      case "descend": {
        this.backOnPath(path, this.progressM, step, out);
        out[2] = this.planTool[2] - this.o.descentSpeedMPerS * t;
        return;
      }
      case "wipe":
        this.backOnPath(path, this.progressM + this.o.wipeSpeedMPerS * t, step, out);
        out[2] = pressZ;
        return;
      case "lift":
      case "done":
        out[0] = this.planTool[0];
        out[1] = this.planTool[1];
        out[2] = Math.min(this.hover[2], this.planTool[2] + this.o.approachSpeedMPerS * t);
        return;
      default:
        throw new Error(`wipe state expert: no target for phase ${this.phaseName}`);
    }
  }

  /** Path point at arc length s, with the plan's offset from the path fading out over the first steps. */
  private backOnPath(path: WipePath, s: number, step: number, out: Float64Array): void {
    path.at(this.progressM, this.xy);
    const offsetX = this.planTool[0] - this.xy[0];
    const offsetY = this.planTool[1] - this.xy[1];
    const fade = Math.max(0, 1 - step / BACK_ON_PATH_STEPS);
    path.at(s, this.xy);
    out[0] = this.xy[0] + fade * offsetX;
    out[1] = this.xy[1] + fade * offsetY;
  }
}

function clamp(x: number, low: number, high: number): number {
  return x < low ? low : x > high ? high : x;
}
