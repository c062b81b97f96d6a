// Incoming ROS messages -> the runtime's sensor sample. Subscription callbacks copy into preallocated buffers; the
// bridge reads them with readInto(). A malformed message (wrong names or lengths, non-finite values) is rejected
// with a one-line reason and counted; the previous sample stays, so its age keeps growing and the safety stage
// holds the arm when nothing valid arrives.
import type { geometry_msgs, sensor_msgs, vla_runtime } from "rclnodejs";
import type { ArmDescription } from "../../kinematics/description.js";
import type { ImageFrame } from "../../runtime/slowExecutor.js";
import type { SensorSnapshot } from "../../runtime/types.js";
import { decodeCompressedImage, imageFrameFromRaw } from "./images.js";

export type SensorInputKind = "jointState" | "wrench" | "tactile" | "image";

type NumberArray = ArrayLike<number>;

export interface SensorInputsOptions {
  arm: ArmDescription;
  /** Values per tactile message the runtime's tactile slot holds. */
  tactileCount: number;
  /** Monotonic clock (ns). */
  nowNs: () => number;
  onReject?: (kind: SensorInputKind, message: string) => void;
}

export class SensorInputs {
  /** Names in command order: the arm joints, then the gripper. */
  readonly names: readonly string[];
  readonly rejected: Record<SensorInputKind, number> = { jointState: 0, wrench: 0, tactile: 0, image: 0 };
  readonly accepted: Record<SensorInputKind, number> = { jointState: 0, wrench: 0, tactile: 0, image: 0 };
  lastError: string | null = null;

  private readonly dim: number;
  private readonly positions: Float64Array;
  private readonly velocities: Float64Array;
  private readonly jointTimeNs: Float64Array;
  private readonly wrench = new Float64Array(6);
  private readonly tactile: Float64Array;
  private readonly indexByName = new Map<string, number>();
  /** The name order of the last JointState and where each entry goes (-1: a joint we do not drive). */
  private cachedNames: string[] = [];
  private cachedTargets = new Int32Array(0);
  private latestRaw: sensor_msgs.msg.Image | null = null;
  private latestCompressed: sensor_msgs.msg.CompressedImage | null = null;
  private latestImageTimeNs = 0;
  private decoded: { source: object; frame: ImageFrame | undefined } | null = null;

  constructor(private readonly options: SensorInputsOptions) {
    const arm = options.arm;
    this.names = [...arm.joints.map((j) => j.name), arm.gripper.name];
    this.dim = this.names.length;
    this.names.forEach((name, i) => this.indexByName.set(name, i));
    this.positions = new Float64Array(this.dim);
    this.velocities = new Float64Array(this.dim);
    this.jointTimeNs = new Float64Array(this.dim).fill(NaN);
    this.tactile = new Float64Array(options.tactileCount);
  }

  /** True once every joint (gripper included) has been reported at least once. */
  get complete(): boolean {
    for (let i = 0; i < this.dim; i++) if (Number.isNaN(this.jointTimeNs[i])) return false;
    return true;
  }

  /** Joints never reported so far (for the activation message). */
  missingJoints(): string[] {
    return this.names.filter((_, i) => Number.isNaN(this.jointTimeNs[i]));
  }

  /** A JointState may carry any subset of the joints (e.g. the gripper from its own driver). */
  onJointState(msg: sensor_msgs.msg.JointState): boolean {
    const names = msg.name;
    const position: NumberArray = msg.position;
    const velocity: NumberArray = msg.velocity;
    if (!Array.isArray(names) || position === undefined || position.length !== names.length) {
      return this.reject("jointState", `joint_states: expected as many positions as names, got ${position?.length ?? "none"} for ${names?.length ?? "no"} names`);
    }
    if (velocity.length !== 0 && velocity.length !== names.length) {
      return this.reject("jointState", `joint_states: expected no velocities or one per name, got ${velocity.length} for ${names.length} names`);
    }
    const targets = this.targetsFor(names);
    let matched = 0;
    for (let k = 0; k < names.length; k++) {
      if (targets[k] < 0) continue;
      matched++;
      const p = position[k];
      const v = velocity.length ? velocity[k] : 0;
      if (!Number.isFinite(p) || !Number.isFinite(v)) {
        return this.reject("jointState", `joint_states: expected finite position and velocity for ${names[k]}, got ${p} and ${v}`);
      }
    }
    if (matched === 0) {
      return this.reject("jointState", `joint_states: expected some of ${this.names.join(", ")}, got ${names.slice(0, 8).join(", ") || "no names"}`);
    }
    const now = this.options.nowNs();
    for (let k = 0; k < names.length; k++) {
      const i = targets[k];
      if (i < 0) continue;
      this.positions[i] = position[k];
      this.velocities[i] = velocity.length ? velocity[k] : 0;
      this.jointTimeNs[i] = now;
    }
    this.accepted.jointState++;
    return true;
  }

  onWrench(msg: geometry_msgs.msg.WrenchStamped): boolean {
    const f = msg.wrench?.force;
    const t = msg.wrench?.torque;
    const values = [f?.x, f?.y, f?.z, t?.x, t?.y, t?.z];
    for (const v of values) {
      if (typeof v !== "number" || !Number.isFinite(v)) return this.reject("wrench", `wrench: expected finite force and torque, got ${values.join(", ")}`);
    }
    for (let i = 0; i < 6; i++) this.wrench[i] = values[i] as number;
    this.accepted.wrench++;
    return true;
  }

  onTactile(msg: vla_runtime.msg.TactileArray): boolean {
    const cells = msg.rows * msg.cols;
    const grid = msg.layout === 0;
    const values: NumberArray = grid ? msg.forces : msg.displacements_m;
    const expected = grid ? cells : cells * 2;
    if (msg.layout !== 0 && msg.layout !== 1) return this.reject("tactile", `tactile: expected layout 0 (taxel grid) or 1 (marker field), got ${msg.layout}`);
    if (values.length !== expected) {
      return this.reject("tactile", `tactile: expected ${expected} ${grid ? "forces" : "displacements"} for ${msg.rows}x${msg.cols}, got ${values.length}`);
    }
    if (values.length !== this.tactile.length) {
      return this.reject("tactile", `tactile: expected ${this.tactile.length} values (ros2.tactile_count), got ${values.length} (${msg.rows}x${msg.cols}${grid ? "" : "x2"})`);
    }
    for (let i = 0; i < values.length; i++) {
      if (!Number.isFinite(values[i])) return this.reject("tactile", `tactile: expected finite values, got ${values[i]} at index ${i}`);
    }
    for (let i = 0; i < values.length; i++) this.tactile[i] = values[i];
    this.accepted.tactile++;
    return true;
  }

  onImage(msg: sensor_msgs.msg.Image): boolean {
    const problem = imageProblem(msg);
    if (problem) return this.reject("image", problem);
    this.latestRaw = msg;
    this.latestCompressed = null;
    this.latestImageTimeNs = this.options.nowNs();
    this.accepted.image++;
    return true;
  }

  onCompressedImage(msg: sensor_msgs.msg.CompressedImage): boolean {
    if (!msg.data || msg.data.length === 0) return this.reject("image", `compressed image: expected data, got none (format "${msg.format}")`);
    this.latestCompressed = msg;
    this.latestRaw = null;
    this.latestImageTimeNs = this.options.nowNs();
    this.accepted.image++;
    return true;
  }

  /** The newest camera frame as RGB (or mono), converted or decoded when first asked for. */
  latestImage(): ImageFrame | undefined {
    const source = this.latestRaw ?? this.latestCompressed;
    if (!source) return undefined;
    if (this.decoded?.source === source) return this.decoded.frame;
    let frame: ImageFrame | undefined;
    try {
      frame = this.latestRaw ? imageFrameFromRaw(this.latestRaw, this.latestImageTimeNs) : decodeCompressedImage(this.latestCompressed!, this.latestImageTimeNs);
    } catch (error) {
      this.reject("image", (error as Error).message);
      frame = undefined;
    }
    this.decoded = { source, frame };
    return frame;
  }

  /** Copy the newest complete sample; its time is the oldest joint's, so a silent joint ages the whole sample. */
  readInto(into: SensorSnapshot): boolean {
    let oldest = Infinity;
    for (let i = 0; i < this.dim; i++) {
      const t = this.jointTimeNs[i];
      if (Number.isNaN(t)) return false;
      if (t < oldest) oldest = t;
    }
    into.timeNs = oldest;
    for (let i = 0; i < this.dim; i++) {
      into.positions[i] = this.positions[i];
      into.velocities[i] = this.velocities[i];
    }
    for (let i = 0; i < 6; i++) into.wrench[i] = this.wrench[i];
    const n = Math.min(into.tactile.length, this.tactile.length);
    for (let i = 0; i < n; i++) into.tactile[i] = this.tactile[i];
    return true;
  }

  get totalRejected(): number {
    return this.rejected.jointState + this.rejected.wrench + this.rejected.tactile + this.rejected.image;
  }

  private targetsFor(names: string[]): Int32Array {
    const cached = this.cachedNames;
    let same = cached.length === names.length;
    for (let k = 0; same && k < names.length; k++) same = cached[k] === names[k];
    if (same) return this.cachedTargets;
    this.cachedNames = [...names];
    this.cachedTargets = Int32Array.from(names, (n) => this.indexByName.get(n) ?? -1);
    return this.cachedTargets;
  }

  private reject(kind: SensorInputKind, message: string): false {
    this.rejected[kind]++;
    this.lastError = message;
    this.options.onReject?.(kind, message);
    return false;
  }
}

function imageProblem(msg: sensor_msgs.msg.Image): string | null {
  const { width, height, step, data } = msg;
  if (!(width > 0 && height > 0)) return `image: expected a positive width and height, got ${width}x${height}`;
  if (!(step > 0) || data.length < step * height) return `image: expected at least step*height = ${step * height} bytes, got ${data.length}`;
  return null;
}
