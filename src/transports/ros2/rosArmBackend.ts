// The ROS 2 arm as the runtime sees it: a main-thread ArmBackend. Subscriptions fill the sensor inputs; the
// shared-memory bridge reads them and hands over every safe command, which the node's publish timer turns into
// controller messages. Both directions only copy numbers: no allocation per command.
import type { ArmBackend, SensorSnapshot } from "../../runtime/types.js";
import type { CommandOutput } from "./commandOutputs.js";
import type { SensorInputs } from "./sensorInputs.js";

export class RosArmBackend implements ArmBackend {
  readonly name = "ros2";
  readonly dim: number;
  commandsReceived = 0;

  constructor(
    private readonly inputs: SensorInputs,
    private readonly output: CommandOutput,
  ) {
    this.dim = inputs.names.length;
  }

  readSensors(into: SensorSnapshot): boolean {
    return this.inputs.readInto(into);
  }

  sendCommand(command: Float64Array, timeNs: number): void {
    this.output.update(command, timeNs);
    this.commandsReceived++;
  }

  close(): void {}
}
