// The teleop controller: what a validated command does to the runtime. No sockets here (the endpoint owns them),
// so every rule can be tested directly.
//
// Rules (docs/teleop.md has them for client authors):
// - observe (default): the policy drives; clients watch. takeover: one client (the owner) drives through the teleop
//   slot; the fast loop sends its target through the same reactive and safety stages as the policy's.
// - A takeover starts by holding (the safety stage brakes the policy's motion smoothly to rest) until the owner's
//   first target. Pose targets are relative (TactAR): the first pose after the takeover, after `engage: true`, or
//   after a watchdog hold anchors the hand to the tool's current target, so engaging never jumps. After a takeover
//   the anchor waits until the arm has come to rest (at most ENGAGE_WAIT_MAX_NS): anchored mid-brake, the target
//   would sit behind the arm and pull it back.
// - Watchdog: no motion command for watchdogMs -> the fast loop holds (still in takeover). takeoverTimeoutMs
//   without any message from the owner -> automatic hand-back to the policy (0: never).
// - Another client's takeover is refused while the owner is active (motion within the watchdog); once the owner
//   is silent past it, the takeover passes to the new client. Any authenticated client may hand back or stop.
// - Hand-back: the fast loop drops the policy's stale layers; its next chunk starts from the current command.
import type { ArmDescription } from "../../kinematics/description.js";
import { commandDim } from "../../kinematics/description.js";
import { ArmKinematics, rotationError, rpyToMatrix } from "../../kinematics/kinematics.js";
import { monotonicNowNs } from "../../runtime/clock.js";
import type { CommandRecord, SharedRuntimeState, TeleopMode, TeleopTarget } from "../../runtime/sharedState.js";
import type { SensorSnapshot } from "../../runtime/types.js";
import { followPose, mapHandToTool, quaternionToMatrix, twistToJointVelocities, type EngageAnchor } from "./poseMath.js";
import {
  isMotion,
  PROTOCOL_VERSION,
  REJECT_CODES,
  type ArmInfo,
  type CommandType,
  type InterventionEvent,
  type JogMessage,
  type JointsMessage,
  type MotionCommand,
  type PoseMessage,
  type RejectCode,
  type TeleopCommand,
  type TeleopReply,
  type TwistMessage,
} from "./protocol.js";

export interface TeleopControllerOptions {
  state: SharedRuntimeState;
  arm: ArmDescription;
  /** No motion command for this long: the arm holds (default 250 ms). */
  watchdogMs?: number;
  /** No message at all from the owner for this long: hand back to the policy (default 30 s; 0: never). */
  takeoverTimeoutMs?: number;
  /** Hand motion to tool motion (default 1). */
  poseScale?: number;
  /** Rotation from the operator's frame to the robot base frame, fixed-axis roll, pitch, yaw (default 0, 0, 0). */
  operatorFrameRpyRad?: [number, number, number];
  /** Accept an IK solution this close to the pose target when it is not exactly reachable (default 0.01 m, 0.1 rad). */
  ikToleranceM?: number;
  ikToleranceRad?: number;
  /** State stream rate, reported in the welcome reply. */
  stateRateHz?: number;
  /** Monotonic clock (ns); the fast loop's clock (default process.hrtime). */
  nowNs?: () => number;
}

/** A connected client as the endpoint knows it. */
export interface TeleopClientRef {
  /** Stable per connection (the ROUTER routing id, hex). */
  id: string;
  /** From the allow-list (or the hello message, or derived from the id). */
  name: string;
}

export interface TeleopControllerStats {
  accepted: Record<CommandType, number>;
  rejected: Record<RejectCode, number>;
  targetsWritten: number;
  takeovers: number;
  handBacks: number;
  watchdogHolds: number;
}

export type InterventionListener = (event: InterventionEvent) => void;

/** Commanded joint speed (rad/s) below which the arm counts as at rest for anchoring a pose. */
const REST_SPEED_RAD_PER_S = 0.02;
/** Anchor anyway this long after the takeover (a real arm's commands may never be exactly still). */
const ENGAGE_WAIT_MAX_NS = 1e9;
/**
 * Pose streams: consecutive poses at most this far apart (s) give the target a velocity, so the fast loop follows
 * a moving hand along a path instead of stepping through a staircase. The target keeps that velocity until the
 * next pose is due plus the fast loop's hand-over (POSE_LEAD_MARGIN_S), at most POSE_LEAD_MAX_S, then stops: a
 * stream that ends overshoots by about v * (lead + 30 ms).
 */
const POSE_STREAM_MAX_GAP_S = 0.15;
const POSE_LEAD_MARGIN_S = 0.05;
const POSE_LEAD_MAX_S = 0.15;

export const TELEOP_DEFAULTS = {
  watchdogMs: 250,
  takeoverTimeoutMs: 30_000,
  poseScale: 1,
  ikToleranceM: 0.01,
  ikToleranceRad: 0.1,
  stateRateHz: 50,
} as const;

/** A rejected command: the code is counted, the reason goes back to the client. */
export class Rejection extends Error {
  constructor(
    readonly code: RejectCode,
    message: string,
  ) {
    super(message);
  }
}

export class TeleopController {
  readonly dim: number;
  readonly jointCount: number;
  readonly watchdogNs: number;
  readonly takeoverTimeoutNs: number;
  private readonly options: Required<Omit<TeleopControllerOptions, "state" | "arm" | "nowNs" | "operatorFrameRpyRad">>;
  private readonly state: SharedRuntimeState;
  private readonly arm: ArmDescription;
  private readonly kinematics: ArmKinematics;
  private readonly operatorToRobot = new Float64Array(9);
  private readonly now: () => number;
  private readonly lower: Float64Array;
  private readonly upper: Float64Array;

  private readonly slot: TeleopTarget;
  private readonly record: CommandRecord;
  private readonly sensors: SensorSnapshot;
  private modeValue: TeleopMode = "observe";
  private ownerRef: TeleopClientRef | null = null;
  private ownerLastMessageNs = 0;
  private anchor: EngageAnchor | null = null;
  /** The previous pose target of the stream (joints, and its time in the client's clock when given, else ours). */
  private lastPose: { q: Float64Array; timeS: number } | null = null;
  private holdReported = false;
  private takeoverTimeNs = 0;
  /** The last command record seen (tick and positions) and the commanded joint speed estimated from it. */
  private readonly lastSeenCommand: Float64Array;
  private lastSeenTick = -1;
  private lastSeenTimeNs = 0;
  /** 0 until two command records were seen: without a running loop nothing moves the arm. */
  private commandSpeed = 0;
  private estopRequested = false;
  private readonly listeners = new Set<InterventionListener>();
  private readonly counters: TeleopControllerStats;

  constructor(options: TeleopControllerOptions) {
    const { state, arm } = options;
    this.state = state;
    this.arm = arm;
    this.dim = commandDim(arm);
    if (state.layout.dim !== this.dim) throw new Error(`teleop: the arm has ${this.dim} command entries but the shared layout has dim ${state.layout.dim}`);
    this.jointCount = arm.joints.length;
    this.options = {
      watchdogMs: options.watchdogMs ?? TELEOP_DEFAULTS.watchdogMs,
      takeoverTimeoutMs: options.takeoverTimeoutMs ?? TELEOP_DEFAULTS.takeoverTimeoutMs,
      poseScale: options.poseScale ?? TELEOP_DEFAULTS.poseScale,
      ikToleranceM: options.ikToleranceM ?? TELEOP_DEFAULTS.ikToleranceM,
      ikToleranceRad: options.ikToleranceRad ?? TELEOP_DEFAULTS.ikToleranceRad,
      stateRateHz: options.stateRateHz ?? TELEOP_DEFAULTS.stateRateHz,
    };
    const o = this.options;
    if (!(o.watchdogMs >= 10 && o.watchdogMs <= 10_000)) throw new Error(`teleop: expected watchdogMs in [10, 10000], got ${o.watchdogMs}`);
    if (!(o.takeoverTimeoutMs === 0 || (o.takeoverTimeoutMs >= o.watchdogMs && o.takeoverTimeoutMs <= 3_600_000))) {
      throw new Error(`teleop: expected takeoverTimeoutMs 0 (never) or in [watchdogMs, 3600000], got ${o.takeoverTimeoutMs}`);
    }
    if (!(o.poseScale > 0 && o.poseScale <= 10)) throw new Error(`teleop: expected poseScale in (0, 10], got ${o.poseScale}`);
    this.watchdogNs = o.watchdogMs * 1e6;
    this.takeoverTimeoutNs = o.takeoverTimeoutMs * 1e6;
    const rpy = options.operatorFrameRpyRad ?? [0, 0, 0];
    if (!Array.isArray(rpy) || rpy.length !== 3 || !rpy.every(Number.isFinite)) throw new Error(`teleop: expected operatorFrameRpyRad as 3 finite numbers, got ${JSON.stringify(rpy)}`);
    rpyToMatrix(rpy[0], rpy[1], rpy[2], this.operatorToRobot);
    this.kinematics = new ArmKinematics(arm);
    this.now = options.nowNs ?? monotonicNowNs;
    this.lower = Float64Array.from([...arm.joints.map((j) => j.lowerRad), arm.gripper.lowerM]);
    this.upper = Float64Array.from([...arm.joints.map((j) => j.upperRad), arm.gripper.upperM]);
    this.slot = state.createTeleopTarget();
    this.record = state.createCommandRecord();
    this.sensors = state.createSensorSnapshot();
    this.lastSeenCommand = new Float64Array(this.dim);
    // Continue from what the slot holds (a controller replaced while the runtime runs keeps the mode).
    if (state.readTeleop(this.slot) === 0) this.slot.mode = "observe";
    this.modeValue = this.slot.mode;
    this.counters = {
      accepted: Object.fromEntries(["hello", "takeover", "hand-back", "emergency-stop", "reset-emergency-stop", "ping", "pose", "joints", "jog", "twist"].map((t) => [t, 0])) as Record<CommandType, number>,
      rejected: Object.fromEntries(REJECT_CODES.map((c) => [c, 0])) as Record<RejectCode, number>,
      targetsWritten: 0,
      takeovers: 0,
      handBacks: 0,
      watchdogHolds: 0,
    };
  }

  get mode(): TeleopMode {
    return this.modeValue;
  }

  get owner(): TeleopClientRef | null {
    return this.ownerRef;
  }

  get emergencyStopRequested(): boolean {
    return this.estopRequested;
  }

  /** The newest target written to the teleop slot (positions; live view). */
  get targetPositions(): Float64Array {
    return this.slot.positions;
  }

  get targetSequence(): number {
    return this.slot.targetSequence;
  }

  stats(): TeleopControllerStats {
    return { ...this.counters, accepted: { ...this.counters.accepted }, rejected: { ...this.counters.rejected } };
  }

  /** Subscribe to interventions (takeover, hand-back, stops, watchdog holds); returns the unsubscribe function. */
  onIntervention(listener: InterventionListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Count a rejection that happened before a message reached the controller (decoding). */
  countRejection(code: RejectCode): void {
    this.counters.rejected[code]++;
  }

  armInfo(): ArmInfo {
    return {
      name: this.arm.name,
      joints: this.arm.joints.map((j) => ({ name: j.name, lowerRad: j.lowerRad, upperRad: j.upperRad, maxVelocityRadPerS: j.maxVelocityRadPerS })),
      gripper: { name: this.arm.gripper.name, lowerM: this.arm.gripper.lowerM, upperM: this.arm.gripper.upperM },
      tactileCount: this.state.layout.tactileCount,
    };
  }

  /**
   * Apply one validated command from `client`. Returns the reply to send (null: none, for an accepted motion
   * command). Never throws for anything a client can send: rejections come back as error replies and are counted.
   */
  handle(client: TeleopClientRef, message: TeleopCommand): TeleopReply | null {
    const nowNs = this.now();
    if (this.ownerRef !== null && this.ownerRef.id === client.id) this.ownerLastMessageNs = nowNs;
    try {
      const reply = isMotion(message) ? this.motion(client, message, nowNs) : this.request(client, message, nowNs);
      this.counters.accepted[message.type]++;
      return reply;
    } catch (error) {
      if (!(error instanceof Rejection)) throw error;
      this.counters.rejected[error.code]++;
      return { type: "error", seq: message.seq, code: error.code, reason: error.message };
    }
  }

  /** Periodic duties (the endpoint calls it with every state sample): takeover timeout, watchdog events. */
  update(nowNs: number = this.now()): void {
    this.observeCommand();
    if (this.modeValue !== "takeover") return;
    if (this.takeoverTimeoutNs > 0 && nowNs - this.ownerLastMessageNs > this.takeoverTimeoutNs) {
      const who = this.ownerRef?.name ?? "the owner";
      this.handBack(nowNs, "runtime", `timeout: no message from ${who} for ${this.options.takeoverTimeoutMs} ms`);
      return;
    }
    if (this.slot.hasTarget && !this.holdReported && nowNs - this.slot.targetTimeNs > this.watchdogNs) {
      this.holdReported = true;
      this.counters.watchdogHolds++;
      this.emit(nowNs, "watchdog-hold", this.ownerRef?.name ?? "runtime", `no motion command for ${this.options.watchdogMs} ms: holding`);
    }
  }

  // ----- mode requests -----

  private request(client: TeleopClientRef, message: Exclude<TeleopCommand, MotionCommand>, nowNs: number): TeleopReply {
    switch (message.type) {
      case "hello":
        return {
          type: "welcome",
          seq: message.seq,
          protocol: PROTOCOL_VERSION,
          client: client.name,
          arm: this.armInfo(),
          mode: this.modeValue,
          stateRateHz: this.options.stateRateHz,
          watchdogMs: this.options.watchdogMs,
          takeoverTimeoutMs: this.options.takeoverTimeoutMs,
        };
      case "ping":
        return { type: "pong", seq: message.seq, clientTimeS: message.clientTimeS, serverTimeS: nowNs / 1e9 };
      case "takeover":
        return this.ack(message, this.takeover(client, nowNs));
      case "hand-back":
        if (this.modeValue === "observe") return this.ack(message, "already observing: the policy drives");
        this.handBack(nowNs, client.name, client.id === this.ownerRef?.id ? "operator" : `by ${client.name} (owner ${this.ownerRef?.name ?? "none"})`);
        return this.ack(message);
      case "emergency-stop":
        this.state.requestEmergencyStop();
        this.estopRequested = true;
        this.emit(nowNs, "emergency-stop", client.name, "requested by a teleop client");
        return this.ack(message);
      case "reset-emergency-stop":
        this.state.requestEmergencyStopReset();
        this.estopRequested = false;
        this.emit(nowNs, "emergency-stop-reset", client.name, "requested by a teleop client");
        return this.ack(message);
    }
  }

  private ack(message: { type: CommandType; seq?: number }, detail?: string): TeleopReply {
    return {
      type: "ack",
      seq: message.seq,
      request: message.type,
      mode: this.modeValue,
      owner: this.ownerRef?.name ?? null,
      emergencyStop: this.estopRequested,
      ...(detail ? { detail } : {}),
    };
  }

  private takeover(client: TeleopClientRef, nowNs: number): string | undefined {
    const owner = this.ownerRef;
    if (this.modeValue === "takeover" && owner?.id === client.id) return "already in takeover";
    let reason = "operator";
    if (this.modeValue === "takeover" && owner) {
      const silentNs = nowNs - Math.max(this.ownerLastMessageNs, this.slot.hasTarget ? this.slot.targetTimeNs : 0);
      if (silentNs <= this.watchdogNs) throw new Rejection("busy", `${owner.name} holds the takeover (active ${Math.round(silentNs / 1e6)} ms ago); ask them to hand back`);
      reason = `from ${owner.name}, silent for ${Math.round(silentNs / 1e6)} ms`;
    }
    this.ownerRef = client;
    this.ownerLastMessageNs = nowNs;
    this.takeoverTimeNs = nowNs;
    this.anchor = null;
    this.lastPose = null;
    this.holdReported = false;
    this.modeValue = "takeover";
    const s = this.slot;
    s.mode = "takeover";
    s.modeSequence++;
    s.hasTarget = false;
    s.watchdogNs = this.watchdogNs;
    s.velocities.fill(0);
    this.state.writeTeleop(s);
    this.counters.takeovers++;
    this.emit(nowNs, "takeover", client.name, reason);
    return undefined;
  }

  private handBack(nowNs: number, by: string, reason: string): void {
    this.modeValue = "observe";
    this.ownerRef = null;
    this.anchor = null;
    const s = this.slot;
    s.mode = "observe";
    s.modeSequence++;
    s.hasTarget = false;
    s.velocities.fill(0);
    this.state.writeTeleop(s);
    this.counters.handBacks++;
    this.emit(nowNs, "hand-back", by, reason);
  }

  // ----- motion -----

  private motion(client: TeleopClientRef, message: MotionCommand, nowNs: number): null {
    if (this.modeValue !== "takeover") throw new Rejection("not-in-takeover", `${message.type}: expected a takeover first (mode is observe: the policy drives)`);
    if (this.ownerRef?.id !== client.id) throw new Rejection("not-owner", `${message.type}: ${this.ownerRef?.name ?? "another client"} holds the takeover`);
    const fresh = this.slot.hasTarget && nowNs - this.slot.targetTimeNs <= this.watchdogNs;
    const base = this.baseTarget(nowNs, fresh);
    switch (message.type) {
      case "pose":
        this.pose(message, base, fresh, nowNs);
        break;
      case "joints":
        this.joints(message, base, nowNs);
        break;
      case "jog":
        this.jog(message, base, nowNs);
        break;
      case "twist":
        this.twist(message, base, nowNs);
        break;
    }
    return null;
  }

  /** Where a new target starts from: the current target while it is fresh, else the arm's last command. */
  private baseTarget(nowNs: number, fresh: boolean): Float64Array {
    const base = new Float64Array(this.dim);
    if (fresh) {
      const s = this.slot;
      const moving = Math.max(0, Math.min(nowNs - s.targetTimeNs, s.velocityUntilNs - s.targetTimeNs)) * 1e-9;
      for (let i = 0; i < this.dim; i++) base[i] = s.positions[i] + s.velocities[i] * moving;
      return base;
    }
    if (this.state.readCommand(this.record) !== 0) {
      base.set(this.record.command);
      return base;
    }
    if (this.state.readSensors(this.sensors)) {
      base.set(this.sensors.positions);
      return base;
    }
    throw new Rejection("no-arm-state", "no command or sensor sample from the arm yet: cannot place a target");
  }

  private pose(message: PoseMessage, base: Float64Array, fresh: boolean, nowNs: number): void {
    const [w, x, y, z] = message.quaternion;
    const handRotation = quaternionToMatrix(w, x, y, z);
    if (this.anchor === null || message.engage === true || !fresh) {
      if (!this.slot.hasTarget) {
        // First anchor of this takeover: wait for the hold to bring the arm to rest (the pose is accepted, unused).
        this.observeCommand();
        if (this.commandSpeed > REST_SPEED_RAD_PER_S && nowNs - this.takeoverTimeNs < ENGAGE_WAIT_MAX_NS) return;
      }
      const robotPosition = new Float64Array(3);
      const robotRotation = new Float64Array(9);
      this.kinematics.forward(base, robotPosition, robotRotation);
      this.lastPose = null;
      this.anchor = {
        handPositionM: [...message.position],
        handRotation,
        robotPositionM: [robotPosition[0], robotPosition[1], robotPosition[2]],
        robotRotation,
      };
    }
    const goal = mapHandToTool(this.anchor, message.position, handRotation, this.options.poseScale, this.operatorToRobot);
    // Differential IK from the current target: consecutive poses give consecutive joint solutions (see followPose).
    // Seeded with the previous pose's solution, not the extrapolated target: the stream's velocity must not feed
    // back into the solutions it is estimated from.
    const seed = this.lastPose?.q ?? base;
    const solution = followPose(this.kinematics, rotationError, goal.positionM, goal.rotation, seed, this.lower, this.upper);
    if (solution.positionErrorM > this.options.ikToleranceM || solution.rotationErrorRad > this.options.ikToleranceRad) {
      throw new Rejection(
        "unreachable",
        `pose: the target is out of reach (closest: ${(solution.positionErrorM * 1000).toFixed(1)} mm, ${solution.rotationErrorRad.toFixed(3)} rad away); holding the last target`,
      );
    }
    const target = new Float64Array(this.dim);
    target.set(solution.q.subarray(0, this.jointCount));
    const g = this.arm.gripper;
    // TactAR: the trigger closes the gripper (0: open, 1: closed).
    target[this.jointCount] = message.trigger === undefined ? base[this.jointCount] : g.upperM - message.trigger * (g.upperM - g.lowerM);
    // The stream's velocity (joint space, capped at the joint limits like a twist) from the previous pose.
    const timeS = message.timeS ?? nowNs / 1e9;
    const previous = this.lastPose;
    this.lastPose = { q: Float64Array.from(target), timeS };
    const dtS = previous ? timeS - previous.timeS : 0;
    if (previous && dtS > 1e-3 && dtS <= POSE_STREAM_MAX_GAP_S) {
      const velocities = new Float64Array(this.dim);
      let scale = 1;
      for (let i = 0; i < this.jointCount; i++) {
        velocities[i] = (target[i] - previous.q[i]) / dtS;
        scale = Math.min(scale, this.arm.joints[i].maxVelocityRadPerS / Math.max(Math.abs(velocities[i]), 1e-12));
      }
      for (let i = 0; i < this.jointCount; i++) velocities[i] *= scale;
      this.writeTarget(target, velocities, nowNs, nowNs + Math.min(dtS + POSE_LEAD_MARGIN_S, POSE_LEAD_MAX_S) * 1e9);
    } else {
      this.writeTarget(target, null, nowNs, nowNs);
    }
  }

  /** Estimate the commanded joint speed from consecutive command records (called at the state rate and on poses). */
  private observeCommand(): void {
    if (this.state.readCommand(this.record) === 0) return;
    const r = this.record;
    if (r.tick === this.lastSeenTick) return;
    const dtS = (r.timeNs - this.lastSeenTimeNs) * 1e-9;
    if (this.lastSeenTick >= 0 && dtS > 0) {
      let speed = 0;
      for (let i = 0; i < this.jointCount; i++) speed = Math.max(speed, Math.abs(r.command[i] - this.lastSeenCommand[i]) / dtS);
      this.commandSpeed = speed;
    }
    this.lastSeenTick = r.tick;
    this.lastSeenTimeNs = r.timeNs;
    this.lastSeenCommand.set(r.command);
  }

  private joints(message: JointsMessage, base: Float64Array, nowNs: number): void {
    if (message.positions.length !== this.jointCount) {
      throw new Rejection("shape", `joints: expected ${this.jointCount} positions (${this.arm.joints.map((j) => j.name).join(", ")}), got ${message.positions.length}`);
    }
    const target = new Float64Array(this.dim);
    target.set(message.positions);
    target[this.jointCount] = message.gripperM ?? base[this.jointCount];
    this.writeTarget(target, null, nowNs, nowNs);
  }

  private jog(message: JogMessage, base: Float64Array, nowNs: number): void {
    if (message.joint > this.jointCount) {
      throw new Rejection("shape", `jog: expected joint 0..${this.jointCount} (${this.jointCount} is the gripper), got ${message.joint}`);
    }
    const target = Float64Array.from(base);
    target[message.joint] += message.delta;
    this.writeTarget(target, null, nowNs, nowNs);
  }

  private twist(message: TwistMessage, base: Float64Array, nowNs: number): void {
    const n = this.jointCount;
    const jacobian = new Float64Array(6 * n);
    this.kinematics.jacobian(base, jacobian);
    const qdot = twistToJointVelocities(jacobian, n, [...message.linear, ...message.angular]);
    // Keep the direction, cap the speed at the joint limits (the safety stage would clip each joint on its own).
    let scale = 1;
    this.arm.joints.forEach((j, i) => (scale = Math.min(scale, j.maxVelocityRadPerS / Math.max(Math.abs(qdot[i]), 1e-12))));
    const velocities = new Float64Array(this.dim);
    for (let i = 0; i < n; i++) velocities[i] = qdot[i] * scale;
    velocities[n] = message.gripperMPerS ?? 0;
    const durationNs = (message.durationMs ?? 100) * 1e6;
    this.writeTarget(base, velocities, nowNs, nowNs + durationNs);
  }

  private writeTarget(positions: Float64Array, velocities: Float64Array | null, nowNs: number, velocityUntilNs: number): void {
    const s = this.slot;
    for (let i = 0; i < this.dim; i++) {
      const p = positions[i];
      if (!Number.isFinite(p)) throw new Rejection("shape", `target: expected finite values, got ${p} at index ${i}`);
      s.positions[i] = Math.min(this.upper[i], Math.max(this.lower[i], p));
      s.velocities[i] = velocities ? velocities[i] : 0;
    }
    s.hasTarget = true;
    s.targetSequence++;
    s.targetTimeNs = nowNs;
    s.velocityUntilNs = velocityUntilNs;
    s.watchdogNs = this.watchdogNs;
    this.state.writeTeleop(s);
    this.counters.targetsWritten++;
    if (this.holdReported) {
      this.holdReported = false;
      this.emit(nowNs, "watchdog-resume", this.ownerRef?.name ?? "runtime", "motion commands again");
    }
  }

  private emit(nowNs: number, kind: InterventionEvent["kind"], client: string, reason: string): void {
    const event: InterventionEvent = { type: "event", kind, timeNs: nowNs, wallTimeMs: Date.now(), client, reason };
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch {
        // A listener's failure (e.g. a recorder that closed) must not stop the teleop path.
      }
    }
  }
}
