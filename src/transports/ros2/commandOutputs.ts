// Safe commands -> ros2_control controller messages. Only commands that passed the safety stage arrive here; the
// builders translate them and add nothing the safety stage has not seen (the velocity sent with a trajectory is
// the rate of change of the safe commands themselves).
//
// joint_trajectory_controller: a one-point JointTrajectory with header.stamp = 0 ("start on receipt"), the latest
// safe command at time_from_start = lookahead, re-sent faster than the lookahead so each new trajectory replaces
// the previous one mid-segment; the controller splices it from its current desired state (with velocities, a
// cubic segment that keeps the velocity continuous). If the stream stops, the controller reaches the last safe
// command and holds it.
// forward_command_controller: the latest safe command as Float64MultiArray data, in the controller's joint order.
// The messages are preallocated and reused: rclnodejs serializes them synchronously inside publish().
import type { builtin_interfaces, std_msgs, trajectory_msgs } from "rclnodejs";

export type CommandOutputMode = "trajectory" | "forward";

export interface CommandOutputOptions {
  mode: CommandOutputMode;
  /** Command entry names in command order (arm joints, then the gripper). */
  names: readonly string[];
  /** The gripper (last entry) goes to its own Float64MultiArray instead of the arm message. */
  gripperSeparate: boolean;
  /** trajectory: time_from_start of the point (ns). */
  lookaheadNs: number;
  /** trajectory: include velocities. */
  withVelocities: boolean;
}

export class CommandOutput {
  readonly armNames: readonly string[];
  /** Safe commands received since the last build (0: the stream stalled). */
  private fresh = 0;
  private haveCommand = false;
  private readonly latest: Float64Array;
  private latestTimeNs = 0;
  private readonly previous: Float64Array;
  private previousTimeNs = NaN;
  private readonly velocity: Float64Array;
  private readonly armCount: number;
  readonly trajectory: trajectory_msgs.msg.JointTrajectory;
  readonly forward: std_msgs.msg.Float64MultiArray;
  readonly gripper: std_msgs.msg.Float64MultiArray;
  private readonly point: trajectory_msgs.msg.JointTrajectoryPoint;
  private readonly positions: Float64Array;
  private readonly velocities: Float64Array;
  private readonly forwardData: Float64Array;
  private readonly gripperData = new Float64Array(1);

  constructor(private readonly options: CommandOutputOptions) {
    const dim = options.names.length;
    this.armCount = options.gripperSeparate ? dim - 1 : dim;
    this.armNames = options.names.slice(0, this.armCount);
    this.latest = new Float64Array(dim);
    this.previous = new Float64Array(dim);
    this.velocity = new Float64Array(dim);
    this.positions = new Float64Array(this.armCount);
    this.velocities = new Float64Array(this.armCount);
    this.forwardData = new Float64Array(this.armCount);
    this.point = {
      positions: this.positions,
      velocities: options.withVelocities ? this.velocities : [],
      accelerations: [],
      effort: [],
      time_from_start: durationMsg(options.lookaheadNs),
    };
    this.trajectory = { header: { stamp: { sec: 0, nanosec: 0 }, frame_id: "" }, joint_names: [...this.armNames], points: [this.point] };
    this.forward = { layout: { dim: [], data_offset: 0 }, data: this.forwardData };
    this.gripper = { layout: { dim: [], data_offset: 0 }, data: this.gripperData };
  }

  get hasCommand(): boolean {
    return this.haveCommand;
  }

  /** Newest safe command (called by the bridge for every command it forwards or holds). Allocation-free. */
  update(command: ArrayLike<number>, timeNs: number): void {
    const dim = this.latest.length;
    for (let i = 0; i < dim; i++) this.latest[i] = command[i];
    this.latestTimeNs = timeNs;
    this.haveCommand = true;
    this.fresh++;
  }

  /** Largest |velocity| of the safe commands over the last build period (rad/s or m/s). */
  speed(): number {
    let max = 0;
    for (let i = 0; i < this.velocity.length; i++) max = Math.max(max, Math.abs(this.velocity[i]));
    return max;
  }

  /**
   * Fill the arm message (and the gripper's) from the newest safe command. `atRest` zeroes the velocities (the
   * final message after a brake). Returns false when no command has arrived yet.
   */
  build(atRest = false): boolean {
    if (!this.haveCommand) return false;
    const dim = this.latest.length;
    const dtS = (this.latestTimeNs - this.previousTimeNs) / 1e9;
    for (let i = 0; i < dim; i++) {
      // Rate of change of the safe commands since the last build; a stalled stream (nothing new) is at rest.
      this.velocity[i] = atRest || this.fresh === 0 || !(dtS > 0) ? 0 : (this.latest[i] - this.previous[i]) / dtS;
      this.previous[i] = this.latest[i];
    }
    this.previousTimeNs = this.latestTimeNs;
    this.fresh = 0;
    for (let i = 0; i < this.armCount; i++) {
      this.positions[i] = this.latest[i];
      this.velocities[i] = this.velocity[i];
      this.forwardData[i] = this.latest[i];
    }
    if (this.options.gripperSeparate) this.gripperData[0] = this.latest[dim - 1];
    return true;
  }

  /** The arm message in the configured mode. */
  armMessage(): trajectory_msgs.msg.JointTrajectory | std_msgs.msg.Float64MultiArray {
    return this.options.mode === "trajectory" ? this.trajectory : this.forward;
  }
}

export function durationMsg(ns: number): builtin_interfaces.msg.Duration {
  const sec = Math.floor(ns / 1e9);
  return { sec, nanosec: Math.round(ns - sec * 1e9) };
}
