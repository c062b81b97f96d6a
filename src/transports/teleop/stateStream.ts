// The state stream's content: one JSON-ready sample of what the robot feels and does, read from the shared slots.
// Runs on the main thread at the state rate (30-100 Hz): allocation here is fine.
import type { ArmDescription } from "../../kinematics/description.js";
import { ArmKinematics } from "../../kinematics/kinematics.js";
import type { SharedRuntimeState } from "../../runtime/sharedState.js";
import { SafetyReason, type ActionChunk, type SafetyReasonName } from "../../runtime/types.js";
import { matrixToQuaternion } from "./poseMath.js";
import type { TeleopMode, TeleopStateMessage } from "./protocol.js";

const REASONS = Object.entries(SafetyReason) as [SafetyReasonName, number][];

export function safetyReasonNames(bits: number): string[] {
  return REASONS.filter(([, bit]) => (bits & bit) !== 0).map(([name]) => name);
}

export interface StateContext {
  mode: TeleopMode;
  owner: string | null;
  policy: Record<string, number | string | boolean | null>;
}

export class StateSampler {
  private readonly kinematics: ArmKinematics;
  private readonly sensors;
  private readonly record;
  private readonly chunk: ActionChunk;
  private readonly toolPosition = new Float64Array(3);
  private readonly toolRotation = new Float64Array(9);
  private sequence = 0;

  constructor(
    private readonly state: SharedRuntimeState,
    arm: ArmDescription,
  ) {
    this.kinematics = new ArmKinematics(arm);
    this.sensors = state.createSensorSnapshot();
    this.record = state.createCommandRecord();
    const l = state.layout;
    this.chunk = { actions: new Float64Array(l.maxChunkSteps * l.dim), steps: 0, dim: l.dim, stepPeriodNs: 0, observationTimeNs: 0, arrivalTimeNs: 0, sequence: 0 };
  }

  sample(nowNs: number, context: StateContext): TeleopStateMessage {
    const haveSensors = this.state.readSensors(this.sensors);
    const haveCommand = this.state.readCommand(this.record) !== 0;
    const haveChunk = this.state.readChunk(this.chunk) !== 0;
    const s = this.sensors;
    let tool: TeleopStateMessage["tool"] = null;
    if (haveSensors) {
      this.kinematics.forward(s.positions, this.toolPosition, this.toolRotation);
      tool = { position: Array.from(this.toolPosition), quaternion: matrixToQuaternion(this.toolRotation) };
    }
    const r = this.record;
    const c = this.chunk;
    return {
      type: "state",
      seq: ++this.sequence,
      timeS: nowNs / 1e9,
      mode: context.mode,
      owner: context.owner,
      emergencyStop: haveCommand && (r.safetyReasons & SafetyReason.EmergencyStop) !== 0,
      joints: haveSensors ? { positions: Array.from(s.positions), velocities: Array.from(s.velocities), timeS: s.timeNs / 1e9 } : null,
      tool,
      wrench: haveSensors ? Array.from(s.wrench) : null,
      tactile: haveSensors ? Array.from(s.tactile) : null,
      command: haveCommand ? { positions: Array.from(r.command), source: r.source ?? "policy", safety: safetyReasonNames(r.safetyReasons), teleopSequence: r.teleopSequence ?? 0 } : null,
      chunk: haveChunk
        ? {
            sequence: c.sequence,
            steps: c.steps,
            dim: c.dim,
            stepPeriodMs: c.stepPeriodNs / 1e6,
            ageMs: (nowNs - c.observationTimeNs) / 1e6,
            actions: Array.from(c.actions.subarray(0, c.steps * c.dim)),
          }
        : null,
      policy: context.policy,
    };
  }
}
