// The embedded MuJoCo arm: an ArmBackend over the wipe scene. Lockstep use calls step()/stepTo() explicitly;
// real-time use sets the time origin once and calls stepTo(nowNs) every tick before readSensors(). Everything
// here is plain computation on the wasm module, so it runs the same in a worker_thread as on the main thread.
import type { MjData, MjModel } from "mujoco";
import type { ArmDescription } from "../kinematics/description.js";
import { commandDim } from "../kinematics/description.js";
import type { ArmBackend, SensorSnapshot } from "../runtime/types.js";
import { buildWipeScene, type WipeSceneLayout, type WipeSceneOptions } from "./mjcf.js";
import { compileMjcf, loadMujoco, type MujocoModule } from "./mujocoLoader.js";
import {
  resolvePerturbation,
  resolveWipeTask,
  sampleWipeTask,
  WipeMetrics,
  type WipeEpisodeMetrics,
  type WipePerturbation,
  type WipeTask,
  type WipeTaskOptions,
} from "./task.js";

/** A perturbation to apply right now (its `atS` is the current sim time). */
export type ImmediatePerturbation = WithoutAtS<WipePerturbation>;
type WithoutAtS<P> = P extends unknown ? Omit<P, "atS"> : never;

export interface MujocoArmOptions {
  arm: ArmDescription;
  /** The episode. Omitted: sampled from `seed` when a seed is given, else the default task. */
  task?: WipeTaskOptions;
  /** Physics step (s); default 0.002 (one step per 500 Hz control tick). */
  timestepS?: number;
  /** Seed for the sampled task (when `task` is omitted). */
  seed?: number;
  /** Pad taxel grid and pitch. */
  scene?: Omit<WipeSceneOptions, "timestepS">;
  /** Joint positions (rad) + gripper width (m) to start from; default: the ready pose above the table. */
  initialPositions?: ArrayLike<number>;
  /** Monotonic time (ns) that corresponds to sim time 0; default 0 (lockstep: runtime time = sim time). */
  timeOriginNs?: number;
  /** stepTo() never runs more steps than this in one call; a real-time caller that falls further behind drops sim time. */
  maxStepsPerCall?: number;
  /** Servo velocity feedforward from consecutive commands (default true): removes the servo's tracking lag. */
  velocityFeedforward?: boolean;
}

/** Ready pose of the bundled 6-DoF arm: pad pointing down, 0.4 m in front of the base, 0.35 m above the table. */
export const READY_POSITIONS_VLA_ARM6 = Object.freeze([0, 0.3702, 0.7752, 1.9962, 0, 0, 0.06]);

function defaultInitialPositions(arm: ArmDescription): number[] {
  if (arm.name === "vla_arm6" && arm.joints.length === 6) return [...READY_POSITIONS_VLA_ARM6];
  // Another arm: straight, gripper open (pass initialPositions for something better).
  return [...arm.joints.map(() => 0), arm.gripper.upperM];
}

/**
 * Cached typed-array views into wasm memory. When the memory grows, views over a plain ArrayBuffer detach
 * (length 0) and are rebuilt; the npm build uses a SharedArrayBuffer, whose old views stay valid for the
 * objects they cover, so nothing needs rebuilding there.
 */
interface Views {
  qpos: Float64Array;
  ctrl: Float64Array;
  sensordata: Float64Array;
  siteXpos: Float64Array;
  siteXmat: Float64Array;
  subtreeCom: Float64Array;
  xfrcApplied: Float64Array;
  mocapPos: Float64Array;
  geomFriction: Float64Array;
}

export class MujocoArm implements ArmBackend {
  readonly name = "mujoco";
  readonly dim: number;
  readonly tactileCount: number;
  readonly timestepS: number;
  readonly task: WipeTask;
  readonly layout: WipeSceneLayout;
  readonly xml: string;

  private readonly timestepNs: number;
  private readonly jointCount: number;
  private readonly initial: Float64Array;
  /** qpos addresses of the arm joints, then the two fingers. */
  private readonly qposAdr: Int32Array;
  /** Per actuator kv/kp (s): the ctrl offset per rad/s of commanded velocity (velocity feedforward). */
  private readonly feedforwardS: Float64Array;
  private readonly maxVelocity: Float64Array;
  private readonly velocityFeedforward: boolean;
  private readonly previousCommand: Float64Array;
  private previousCommandNs = Number.NaN;
  /** Runtime time after which the feedforward of the last command is stale (no newer command came). */
  private feedforwardExpiresNs = Number.POSITIVE_INFINITY;
  private feedforwardActive = false;
  private views!: Views;
  private timeOriginNs: number;
  private readonly maxStepsPerCall: number;
  private steps = 0;
  private droppedSteps = 0;
  private closed = false;

  // Sensor addresses in sensordata.
  private readonly adrJointPos: Int32Array;
  private readonly adrJointVel: Int32Array;
  private readonly adrGripperPos: number;
  private readonly adrGripperVel: number;
  private readonly adrForce: number;
  private readonly adrTorque: number;
  private readonly adrTouch: Int32Array;
  // Object ids.
  private readonly taxelSiteIds: Int32Array;
  private readonly ftSiteId: number;
  private readonly tcpSiteId: number;
  private readonly gripperBodyId: number;
  private readonly surfaceMocapId: number;
  private readonly surfaceGeomId: number;
  private readonly toolMassKg: number;
  private readonly gravity = new Float64Array(3);

  // Task state.
  private readonly metricsTracker: WipeMetrics;
  private readonly taxelXy: Float64Array;
  private readonly taxelForce: Float64Array;
  private padForceN = 0;
  private nextPerturbation = 0;
  private readonly initialSurfaceZ: number;
  private readonly initialFriction: number;
  private rampStartS = 0;
  private rampDurationS = 0;
  private rampFromZ = 0;
  private rampToZ = 0;
  private rampActive = false;
  private pushEndS = -1;

  private constructor(
    private readonly mujoco: MujocoModule,
    private readonly model: MjModel,
    private readonly data: MjData,
    arm: ArmDescription,
    task: WipeTask,
    layout: WipeSceneLayout,
    xml: string,
    options: MujocoArmOptions,
  ) {
    this.task = task;
    this.layout = layout;
    this.xml = xml;
    this.dim = commandDim(arm);
    this.jointCount = arm.joints.length;
    this.timestepS = layout.timestepS;
    this.timestepNs = Math.round(layout.timestepS * 1e9);
    this.timeOriginNs = options.timeOriginNs ?? 0;
    this.maxStepsPerCall = options.maxStepsPerCall ?? 250;
    if (!Number.isFinite(this.timeOriginNs)) throw new Error(`mujoco arm: timeOriginNs must be a finite number (ns), got ${options.timeOriginNs}`);
    if (!Number.isInteger(this.maxStepsPerCall) || this.maxStepsPerCall < 1) {
      throw new Error(`mujoco arm: maxStepsPerCall must be a positive integer, got ${options.maxStepsPerCall}`);
    }

    const init = options.initialPositions ?? defaultInitialPositions(arm);
    if (init.length !== this.dim) throw new Error(`mujoco arm: initialPositions must have ${this.dim} entries (joints + gripper), got ${init.length}`);
    this.initial = Float64Array.from(init);
    for (let i = 0; i < this.dim; i++) {
      if (!Number.isFinite(this.initial[i])) throw new Error(`mujoco arm: initialPositions[${i}] must be finite, got ${this.initial[i]}`);
    }

    const id = (type: number, name: string, what: string) => {
      const i = mujoco.mj_name2id(model, type, name);
      if (i < 0) throw new Error(`mujoco arm: the scene has no ${what} named "${name}"`);
      return i;
    };
    const SENSOR = mujoco.mjtObj.mjOBJ_SENSOR.value;
    const SITE = mujoco.mjtObj.mjOBJ_SITE.value;
    const BODY = mujoco.mjtObj.mjOBJ_BODY.value;
    const GEOM = mujoco.mjtObj.mjOBJ_GEOM.value;
    const JOINT = mujoco.mjtObj.mjOBJ_JOINT.value;
    const jntQposAdr = model.jnt_qposadr as Int32Array;
    this.qposAdr = Int32Array.from([...layout.jointNames, ...layout.fingerJointNames].map((n) => jntQposAdr[id(JOINT, n, "joint")]));
    const sensorAdr = model.sensor_adr as Int32Array;
    const adr = (name: string) => sensorAdr[id(SENSOR, name, "sensor")];
    const s = layout.sensors;
    this.adrJointPos = Int32Array.from(s.jointPos.map(adr));
    this.adrJointVel = Int32Array.from(s.jointVel.map(adr));
    this.adrGripperPos = adr(s.gripperPos);
    this.adrGripperVel = adr(s.gripperVel);
    this.adrForce = adr(s.force);
    this.adrTorque = adr(s.torque);
    this.adrTouch = Int32Array.from(s.touch.map(adr));
    this.tactileCount = s.touch.length;
    this.taxelSiteIds = Int32Array.from(layout.taxelSiteNames.map((n) => id(SITE, n, "site")));
    this.ftSiteId = id(SITE, layout.ftSiteName, "site");
    this.tcpSiteId = id(SITE, layout.tcpSiteName, "site");
    this.gripperBodyId = id(BODY, layout.gripperBodyName, "body");
    this.surfaceMocapId = (model.body_mocapid as Int32Array)[id(BODY, layout.surfaceBodyName, "body")];
    this.surfaceGeomId = id(GEOM, layout.surfaceGeomName, "geom");
    this.toolMassKg = (model.body_subtreemass as Float64Array)[this.gripperBodyId];
    this.gravity.set(model.opt.gravity as Float64Array);
    if (model.nu !== this.dim) throw new Error(`mujoco arm: the scene has ${model.nu} actuators, expected ${this.dim}`);
    // Position servo: force = kp (ctrl - q) - kv qdot. Shifting ctrl by (kv/kp) v_desired turns it into
    // kp (q_d - q) + kv (v_d - qdot): velocity feedforward, which removes the kv/kp * v tracking lag.
    const gain = model.actuator_gainprm as Float64Array;
    const bias = model.actuator_biasprm as Float64Array;
    const NGAIN = gain.length / model.nu;
    const NBIAS = bias.length / model.nu;
    this.feedforwardS = new Float64Array(this.dim);
    for (let i = 0; i < this.dim; i++) this.feedforwardS[i] = -bias[i * NBIAS + 2] / gain[i * NGAIN];
    this.maxVelocity = Float64Array.from([...arm.joints.map((j) => j.maxVelocityRadPerS), arm.gripper.maxVelocityMPerS]);
    this.velocityFeedforward = options.velocityFeedforward ?? true;
    this.previousCommand = new Float64Array(this.dim);

    this.refreshViews();
    this.initialSurfaceZ = this.views.mocapPos[3 * this.surfaceMocapId + 2];
    this.initialFriction = this.views.geomFriction[3 * this.surfaceGeomId];
    this.metricsTracker = new WipeMetrics(task, layout.taxelPitchM);
    this.taxelXy = new Float64Array(2 * this.tactileCount);
    this.taxelForce = new Float64Array(this.tactileCount);
    this.reset();
  }

  /** Build the scene for `options.task` (or a task sampled from `options.seed`), compile it and start at the initial pose. */
  static async create(options: MujocoArmOptions): Promise<MujocoArm> {
    if (typeof options !== "object" || options === null || typeof options.arm !== "object") {
      throw new Error("mujoco arm: create() expects { arm: ArmDescription, task?, timestepS?, seed? }");
    }
    if (options.seed !== undefined && !Number.isFinite(options.seed)) throw new Error(`mujoco arm: seed must be a finite number, got ${options.seed}`);
    const task = options.task !== undefined ? resolveWipeTask(options.task) : options.seed !== undefined ? sampleWipeTask(options.seed) : resolveWipeTask();
    const { xml, layout } = buildWipeScene(options.arm, task, { ...options.scene, timestepS: options.timestepS });
    const mujoco = await loadMujoco();
    const model = compileMjcf(mujoco, xml, `${options.arm.name}_wipe`);
    let data: MjData | null = null;
    try {
      data = new mujoco.MjData(model);
      return new MujocoArm(mujoco, model, data, options.arm, task, layout, xml, options);
    } catch (error) {
      data?.delete();
      model.delete();
      throw error;
    }
  }

  private refreshViews(): void {
    const d = this.data;
    const m = this.model;
    this.views = {
      qpos: d.qpos,
      ctrl: d.ctrl,
      sensordata: d.sensordata,
      siteXpos: d.site_xpos,
      siteXmat: d.site_xmat,
      subtreeCom: d.subtree_com,
      xfrcApplied: d.xfrc_applied,
      mocapPos: d.mocap_pos,
      geomFriction: m.geom_friction,
    };
  }

  /** Re-read the views if they detached (memory growth on a non-shared build). Cheap enough to call every tick. */
  private live(): Views {
    if (this.closed) throw new Error("mujoco arm: used after close()");
    if (this.views.sensordata.length === 0) this.refreshViews();
    return this.views;
  }

  /** Back to the initial pose, the task's initial surface and friction, cleared metrics and sim time 0. */
  reset(): void {
    const m = this.mujoco;
    m.mj_resetData(this.model, this.data);
    const v = this.live();
    for (let i = 0; i < this.jointCount; i++) v.qpos[this.qposAdr[i]] = this.initial[i];
    // Fingers: each slides half the width.
    const half = this.initial[this.jointCount] / 2;
    v.qpos[this.qposAdr[this.jointCount]] = half;
    v.qpos[this.qposAdr[this.jointCount + 1]] = half;
    for (let i = 0; i < this.dim; i++) v.ctrl[i] = this.initial[i];
    this.previousCommand.set(this.initial);
    this.previousCommandNs = Number.NaN;
    this.feedforwardActive = false;
    v.mocapPos[3 * this.surfaceMocapId + 2] = this.initialSurfaceZ;
    v.geomFriction[3 * this.surfaceGeomId] = this.initialFriction;
    v.xfrcApplied.fill(0);
    this.steps = 0;
    this.droppedSteps = 0;
    this.nextPerturbation = 0;
    this.rampActive = false;
    this.pushEndS = -1;
    this.metricsTracker.reset();
    m.mj_forward(this.model, this.data);
    this.readTaxels();
  }

  /** Runtime time (ns) that corresponds to sim time 0. */
  setTimeOriginNs(originNs: number): void {
    if (!Number.isFinite(originNs)) throw new Error(`mujoco arm: time origin must be a finite number (ns), got ${originNs}`);
    this.timeOriginNs = originNs;
  }

  get timeOrigin(): number {
    return this.timeOriginNs;
  }

  /** Sim time of the physics state (s). */
  get simTimeS(): number {
    return this.steps * this.timestepS;
  }

  get stepCount(): number {
    return this.steps;
  }

  /** Steps skipped because a real-time caller fell more than maxStepsPerCall behind. */
  get droppedStepCount(): number {
    return this.droppedSteps;
  }

  /** Advance the physics by n steps. */
  step(n = 1): void {
    const v = this.live();
    for (let i = 0; i < n; i++) {
      if (this.feedforwardActive && this.timeOriginNs + this.steps * this.timestepNs > this.feedforwardExpiresNs) this.dropFeedforward(v);
      this.applyScheduled(v);
      this.mujoco.mj_step(this.model, this.data);
      this.steps++;
      this.readTaxels();
      // Sensors of mj_step describe the state at the start of the step: that is the time the metrics see.
      this.metricsTracker.update(this.timestepS, (this.steps - 1) * this.timestepS, this.padForceN, this.taxelXy, this.taxelForce);
    }
  }

  /** Advance until sim time reaches runtime time `timeNs` (nothing if already there). Returns the steps taken. */
  stepTo(timeNs: number): number {
    const target = Math.floor((timeNs - this.timeOriginNs) / this.timestepNs + 1e-6);
    let n = target - this.steps;
    if (n <= 0) return 0;
    if (n > this.maxStepsPerCall) {
      // Too far behind the wall clock: run what we may and move the origin so sim time stays continuous.
      const drop = n - this.maxStepsPerCall;
      this.droppedSteps += drop;
      this.timeOriginNs += drop * this.timestepNs;
      n = this.maxStepsPerCall;
    }
    this.step(n);
    return n;
  }

  readSensors(into: SensorSnapshot): boolean {
    if (into.positions.length < this.dim || into.velocities.length < this.dim || into.wrench.length < 6 || into.tactile.length < this.tactileCount) {
      throw new Error(
        `mujoco arm: snapshot buffers too small: need positions/velocities >= ${this.dim}, wrench >= 6, tactile >= ${this.tactileCount}; ` +
          `got ${into.positions.length}/${into.velocities.length}/${into.wrench.length}/${into.tactile.length}`,
      );
    }
    const v = this.live();
    const sd = v.sensordata;
    for (let i = 0; i < this.jointCount; i++) {
      into.positions[i] = sd[this.adrJointPos[i]];
      into.velocities[i] = sd[this.adrJointVel[i]];
    }
    into.positions[this.jointCount] = sd[this.adrGripperPos];
    into.velocities[this.jointCount] = sd[this.adrGripperVel];
    this.toolWrench(v, into.wrench);
    for (let i = 0; i < this.tactileCount; i++) into.tactile[i] = this.taxelForce[i];
    into.timeNs = this.timeOriginNs + Math.max(0, this.steps - 1) * this.timestepNs;
    return true;
  }

  /**
   * Wrist wrench in the tool (F/T site) frame: the force and torque (about the site) that the environment applies
   * to the tool, with the tool's own weight removed as a tared sensor would. Pressing the pad straight down onto
   * the table gives fz < 0 (the surface pushes back against the tool's z axis, which points down).
   */
  private toolWrench(v: Views, out: Float64Array): void {
    const sd = v.sensordata;
    const R = v.siteXmat;
    const r0 = 9 * this.ftSiteId;
    const p0 = 3 * this.ftSiteId;
    const c0 = 3 * this.gripperBodyId;
    const m = this.toolMassKg;
    const wx = m * this.gravity[0], wy = m * this.gravity[1], wz = m * this.gravity[2];
    const rx = v.subtreeCom[c0] - v.siteXpos[p0];
    const ry = v.subtreeCom[c0 + 1] - v.siteXpos[p0 + 1];
    const rz = v.subtreeCom[c0 + 2] - v.siteXpos[p0 + 2];
    const tx = ry * wz - rz * wy, ty = rz * wx - rx * wz, tz = rx * wy - ry * wx;
    // The site's xmat is row-major with the site axes as columns: local = R^T world.
    for (let k = 0; k < 3; k++) {
      const gk = R[r0 + k] * wx + R[r0 + 3 + k] * wy + R[r0 + 6 + k] * wz;
      const tk = R[r0 + k] * tx + R[r0 + 3 + k] * ty + R[r0 + 6 + k] * tz;
      out[k] = -sd[this.adrForce + k] - gk;
      out[3 + k] = -sd[this.adrTorque + k] - tk;
    }
  }

  /**
   * Set the servo targets. The commanded velocity for feedforward is the difference to the previous command over
   * the difference of their times, clipped to the joint's velocity limit (zero for the first command, or when the
   * previous one is older than 0.25 s). It holds for 1.5 command intervals: a stream that stops leaves a plain hold.
   */
  sendCommand(command: Float64Array, timeNs: number): void {
    const v = this.live();
    const n = Math.min(command.length, this.dim);
    const dtS = (timeNs - this.previousCommandNs) * 1e-9;
    const useVelocity = this.velocityFeedforward && dtS > 0 && dtS <= 0.25;
    for (let i = 0; i < n; i++) {
      const c = command[i];
      // A non-finite entry keeps the previous target: the physics must never see NaN (the safety stage should
      // already have caught it).
      if (!Number.isFinite(c)) continue;
      let velocity = useVelocity ? (c - this.previousCommand[i]) / dtS : 0;
      const vmax = this.maxVelocity[i];
      velocity = velocity > vmax ? vmax : velocity < -vmax ? -vmax : velocity;
      v.ctrl[i] = c + this.feedforwardS[i] * velocity;
      this.previousCommand[i] = c;
    }
    if (useVelocity) {
      this.feedforwardActive = true;
      this.feedforwardExpiresNs = timeNs + 1.5 * (timeNs - this.previousCommandNs);
    } else {
      this.feedforwardActive = false;
    }
    if (Number.isFinite(timeNs)) this.previousCommandNs = timeNs;
  }

  private dropFeedforward(v: Views): void {
    for (let i = 0; i < this.dim; i++) v.ctrl[i] = this.previousCommand[i];
    this.feedforwardActive = false;
  }

  private readTaxels(): void {
    const v = this.views;
    let sum = 0;
    for (let i = 0; i < this.tactileCount; i++) {
      const f = v.sensordata[this.adrTouch[i]];
      this.taxelForce[i] = f;
      sum += f;
      const s = 3 * this.taxelSiteIds[i];
      this.taxelXy[2 * i] = v.siteXpos[s];
      this.taxelXy[2 * i + 1] = v.siteXpos[s + 1];
    }
    this.padForceN = sum;
  }

  // --- perturbations -------------------------------------------------------------------------------------------

  private applyScheduled(v: Views): void {
    const t = this.steps * this.timestepS;
    const list = this.task.perturbations;
    while (this.nextPerturbation < list.length && list[this.nextPerturbation].atS <= t + 1e-9) {
      this.start(list[this.nextPerturbation], t, v);
      this.nextPerturbation++;
    }
    if (this.rampActive) {
      const u = this.rampDurationS > 0 ? Math.min(1, (t - this.rampStartS) / this.rampDurationS) : 1;
      v.mocapPos[3 * this.surfaceMocapId + 2] = this.rampFromZ + (this.rampToZ - this.rampFromZ) * u;
      if (u >= 1) this.rampActive = false;
    }
    if (this.pushEndS >= 0 && t >= this.pushEndS - 1e-9) {
      const b = 6 * this.gripperBodyId;
      v.xfrcApplied[b] = v.xfrcApplied[b + 1] = v.xfrcApplied[b + 2] = 0;
      this.pushEndS = -1;
    }
  }

  private start(p: WipePerturbation, t: number, v: Views): void {
    switch (p.kind) {
      case "surfaceHeightShift": {
        const z = v.mocapPos[3 * this.surfaceMocapId + 2];
        this.rampFromZ = z;
        this.rampToZ = (this.rampActive ? this.rampToZ : z) + p.deltaM;
        this.rampStartS = t;
        this.rampDurationS = p.rampS ?? 0;
        this.rampActive = true;
        break;
      }
      case "friction":
        v.geomFriction[3 * this.surfaceGeomId] = p.friction;
        break;
      case "push": {
        const b = 6 * this.gripperBodyId;
        v.xfrcApplied[b] = p.forceN[0];
        v.xfrcApplied[b + 1] = p.forceN[1];
        v.xfrcApplied[b + 2] = p.forceN[2];
        this.pushEndS = t + p.durationS;
        break;
      }
    }
  }

  /** Apply a perturbation now (validated like the scheduled ones); it takes effect from the next physics step. */
  applyPerturbation(perturbation: ImmediatePerturbation): void {
    const t = this.simTimeS;
    const p = resolvePerturbation({ ...perturbation, atS: t }, "perturbation");
    const v = this.live();
    this.start(p, t, v);
    if (p.kind === "surfaceHeightShift" && (p.rampS ?? 0) === 0) this.applyScheduled(v);
  }

  // --- task state ----------------------------------------------------------------------------------------------

  /** Fraction of the marked area wiped so far. */
  coverage(): number {
    return this.metricsTracker.coverage();
  }

  /** The pad's total normal contact force (sum of the taxels, N). */
  contactForceN(): number {
    return this.padForceN;
  }

  metrics(): WipeEpisodeMetrics {
    return this.metricsTracker.summary();
  }

  /** Success reached or time limit passed. */
  done(): boolean {
    return this.metricsTracker.done(this.simTimeS);
  }

  /** Current height of the platform top above the table (m): hidden task state, for tests and logs. */
  surfaceHeightM(): number {
    return this.live().mocapPos[3 * this.surfaceMocapId + 2] + this.layout.surfaceHalfHeightM;
  }

  /** Current sliding friction of the platform. */
  surfaceFriction(): number {
    return this.live().geomFriction[3 * this.surfaceGeomId];
  }

  /** World position of the tool centre point (m), written into `out`. */
  tcpPositionM(out: Float64Array): Float64Array {
    const v = this.live();
    const s = 3 * this.tcpSiteId;
    out[0] = v.siteXpos[s];
    out[1] = v.siteXpos[s + 1];
    out[2] = v.siteXpos[s + 2];
    return out;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.data.delete();
    this.model.delete();
  }
}
