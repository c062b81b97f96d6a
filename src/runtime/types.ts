// Plain data shared by the runtime's stages. Time is monotonic nanoseconds as a JS number
// (Number(process.hrtime.bigint()): exact to the nanosecond for ~104 days of uptime).

/** A decoded, unnormalized action chunk in the arm's command space (absolute joint targets + gripper width). */
export interface ActionChunk {
  /** Row-major [steps * dim]. Step i is due at observationTimeNs + i * stepPeriodNs. */
  actions: Float64Array;
  steps: number;
  dim: number;
  stepPeriodNs: number;
  /** Monotonic time of the observation the policy saw. */
  observationTimeNs: number;
  /** Monotonic time the decoded chunk became available to the fast loop. */
  arrivalTimeNs: number;
  /** Increments with every chunk the slow side publishes. */
  sequence: number;
}

/** What the fast loop sees of the arm and its sensors at one instant. Preallocated, overwritten in place. */
export interface SensorSnapshot {
  /** Monotonic time the sample was taken. */
  timeNs: number;
  /** Measured joint positions (rad) and gripper width (m): length = command dim. */
  positions: Float64Array;
  velocities: Float64Array;
  /** Wrist wrench in the tool frame: fx, fy, fz (N), tx, ty, tz (N m). */
  wrench: Float64Array;
  /** Fingertip tactile array, one normal force per taxel (N). */
  tactile: Float64Array;
}

/** Why the safety stage changed or withheld a command (bit flags; counts are kept per reason). */
export const SafetyReason = {
  NonFinite: 1 << 0,
  PositionLimit: 1 << 1,
  VelocityLimit: 1 << 2,
  AccelerationLimit: 1 << 3,
  MaxStep: 1 << 4,
  Workspace: 1 << 5,
  StaleSensors: 1 << 6,
  PolicyLate: 1 << 7,
  EmergencyStop: 1 << 8,
  ForceLimit: 1 << 9,
} as const;
export type SafetyReasonName = keyof typeof SafetyReason;

/** Where a stage of the fast loop gets its commands from: the arm backend contract. */
export interface ArmBackend {
  readonly name: string;
  /** Command dimension the backend expects (arm joints + gripper). */
  readonly dim: number;
  /** Fill `into` with the newest sensor sample; return false when there is none yet. */
  readSensors(into: SensorSnapshot): boolean;
  /** Send a command that has passed the safety stage. Must not allocate. */
  sendCommand(command: Float64Array, timeNs: number): void;
  close(): Promise<void> | void;
}

/** What the scheduler could give for a tick. */
export type SampleState =
  | "ok" // a target from a chunk
  | "empty" // no chunk yet: hold
  | "exhausted"; // the newest chunk ran out (policy late): the safety stage decelerates to hold

/** Turns a stream of time-stamped chunks into a target at any instant (implemented by the chunk scheduler). */
export interface CommandSource {
  /** A new chunk arrived at `nowNs`; `currentCommand` is what the arm is being sent now (for blending). */
  submit(chunk: ActionChunk, nowNs: number, currentCommand: Float64Array): void;
  /** Write the target for `nowNs` into `out` (length dim). Must not allocate. */
  sample(nowNs: number, out: Float64Array): SampleState;
  reset(): void;
}

/** A reactive correction applied every fast tick before safety (passthrough, compliance, RDP decoder). */
export interface ReactiveStep {
  readonly name: string;
  /** Adjust `target` in place from the newest sensors. Must not allocate. */
  step(nowNs: number, target: Float64Array, sensors: SensorSnapshot): void;
  /** Called when a new chunk (or latent) takes over, so recurrent state restarts as RDP does. */
  onNewChunk(): void;
}

/** The last stage before any backend. */
export interface SafetyGate {
  /**
   * Turn `proposed` into a safe command in `out` given the newest sensors and what the scheduler said.
   * Returns the bit set of SafetyReason values that changed the command (0 = passed untouched).
   */
  apply(nowNs: number, proposed: Float64Array, state: SampleState, sensors: SensorSnapshot, out: Float64Array): number;
  /** Latch the emergency stop; only resetEmergencyStop clears it. */
  emergencyStop(): void;
  resetEmergencyStop(): void;
  /** Interventions counted per reason since start. */
  counts(): Record<SafetyReasonName, number>;
}
