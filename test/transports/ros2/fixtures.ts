// Shared by the node tests and the ROS 2 benchmark: a policy that always asks for one pose, and a fake arm that
// plays joint_state_broadcaster + controller on the stand-in graph.
import type { Observation, PolicyOutput, SlowPolicy } from "../../../src/runtime/slowExecutor.js";
import type { StandInGraph } from "./standIn.js";

export const NAMES = ["shoulder_pan", "shoulder_lift", "elbow", "wrist_1", "wrist_2", "wrist_3", "gripper"];
export const READY = [0, 0.3702, 0.7752, 1.9962, 0, 0, 0.06];
/** Shoulder pan turned by 0.2 rad from the ready pose. */
export const TARGET = [0.2, ...READY.slice(1)];

/** Asks for the same pose every time and remembers what it was shown. */
export class HoldPosePolicy implements SlowPolicy {
  readonly name = "hold-pose";
  instructions: string[] = [];
  images: (Observation["image"] | undefined)[] = [];
  async infer(obs: Observation): Promise<PolicyOutput> {
    this.instructions.push(obs.instruction);
    this.images.push(obs.image);
    const steps = 5;
    const actions = new Float64Array(steps * 7);
    for (let i = 0; i < steps; i++) actions.set(TARGET, i * 7);
    return { kind: "actions", actions, steps, dim: 7 };
  }
}

/** joint_state_broadcaster + a controller that follows the node's commands (first-order, 30 ms time constant). */
export class FakeArm {
  readonly positions = [...READY];
  private target = [...READY];
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly graph: StandInGraph,
    commandTopic: string,
    gripperTopic: string | null = null,
  ) {
    graph.listen(commandTopic, (m) => {
      const data = "points" in m ? ((m.points as { positions: Float64Array }[])[0].positions as Float64Array) : (m.data as Float64Array);
      for (let i = 0; i < data.length; i++) this.target[i] = data[i];
    });
    if (gripperTopic) graph.listen(gripperTopic, (m) => (this.target[6] = (m.data as Float64Array)[0]));
  }

  start(periodMs = 4): void {
    this.timer = setInterval(() => this.step(periodMs / 1000), periodMs);
  }

  step(dtS: number): void {
    const k = Math.min(1, dtS / 0.03);
    for (let i = 0; i < 7; i++) this.positions[i] += (this.target[i] - this.positions[i]) * k;
    this.graph.inject("/joint_states", "sensor_msgs/msg/JointState", {
      header: { stamp: { sec: 0, nanosec: 0 }, frame_id: "" },
      name: NAMES,
      position: this.positions,
      velocity: [],
      effort: [],
    });
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}

