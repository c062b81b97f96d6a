// The ROS 2 node's own settings: topic names, the command output, rates. Written as a section of the one config
// schema (it is meant to become `ros2` in src/config/schema.ts); until it is merged there, the node adds it to
// the options it declares as ROS parameters itself.
import { z } from "zod";

const topic = (fallback: string, what: string) =>
  z
    .string()
    .regex(/^(~\/|\/)?[A-Za-z_][A-Za-z0-9_]*(\/[A-Za-z_][A-Za-z0-9_]*)*$/, "expected a ROS topic name such as /joint_states or ~/estop")
    .default(fallback)
    .describe(what);

export const ros2SettingsShape = {
  jointStatesTopic: topic("/joint_states", "sensor_msgs/JointState input (every joint of the arm description, gripper included)"),
  imageTopic: topic("/camera/image_raw", "sensor_msgs/Image input; sensor_msgs/CompressedImage is read from <topic>/compressed"),
  wrenchTopic: topic("/wrench", "geometry_msgs/WrenchStamped input (wrist force/torque in the tool frame)"),
  tactileTopic: topic("/tactile", "vla_runtime/TactileArray input"),
  instructionTopic: topic("~/instruction", "std_msgs/String input: the task instruction"),
  estopTopic: topic("~/estop", "std_msgs/Bool input: true latches the emergency stop (reset with the ~/reset_estop service)"),
  output: z
    .enum(["trajectory", "forward"])
    .default("trajectory")
    .describe("command output: trajectory_msgs/JointTrajectory for a joint_trajectory_controller, or std_msgs/Float64MultiArray for a forward_command_controller"),
  trajectoryTopic: topic("/joint_trajectory_controller/joint_trajectory", "where JointTrajectory commands go (output trajectory)"),
  forwardTopic: topic("/forward_position_controller/commands", "where Float64MultiArray commands go (output forward)"),
  gripperTopic: z
    .string()
    .regex(/^$|^(~\/|\/)?[A-Za-z_][A-Za-z0-9_]*(\/[A-Za-z_][A-Za-z0-9_]*)*$/, "expected a ROS topic name or an empty string")
    .default("")
    .describe("Float64MultiArray [opening in m] for a separate gripper controller; empty: the gripper joint is part of the arm command"),
  trajectoryRateHz: z.number().min(1).max(500).default(50).describe("output trajectory: how often the short trajectory is re-sent"),
  trajectoryLookaheadMs: z.number().min(2).max(2000).default(60).describe("output trajectory: time_from_start of its point (longer than one re-send period)"),
  trajectoryVelocities: z
    .boolean()
    .default(true)
    .describe("output trajectory: send velocities (cubic splines); Jazzy's controller then needs allow_nonzero_velocity_at_trajectory_end: true"),
  forwardRateHz: z.number().min(1).max(1000).default(250).describe("output forward: command stream rate"),
  statusRateHz: z.number().min(0.1).max(50).default(2).describe("PolicyStatus and /diagnostics rate"),
  chunkPollHz: z.number().min(1).max(200).default(20).describe("how often new chunks are looked for and published on ~/action_chunk"),
  brakeTimeoutMs: z.number().min(50).max(10_000).default(2000).describe("deactivate: longest the node keeps streaming the safety stage's brake before it stops publishing"),
  autoActivate: z.boolean().default(false).describe("configure and activate on start (activation waits for joint states and the policy)"),
  armDescription: z.string().default("").describe("arm description JSON (joints, limits, gripper); empty: the bundled sim/arm/description.json"),
  tactileCount: z.number().int().min(0).max(4096).default(16).describe("values per tactile message: rows*cols forces, or rows*cols*2 marker displacements"),
};

export const ros2SettingsSchema = z.object(ros2SettingsShape).strict();
export type Ros2Settings = z.infer<typeof ros2SettingsSchema>;
