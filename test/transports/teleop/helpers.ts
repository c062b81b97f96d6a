// Shared set-up for the teleop tests: the bundled arm, shared state with a sensor sample, keys, an endpoint.
import { fileURLToPath } from "node:url";
import { loadArmDescription, type ArmDescription } from "../../../src/kinematics/description.js";
import { SharedRuntimeState } from "../../../src/runtime/sharedState.js";
import { READY_POSITIONS_VLA_ARM6 } from "../../../src/sim/mujocoArm.js";
import { TeleopClient, type TeleopClientOptions } from "../../../src/transports/teleop/client.js";
import { TeleopEndpoint, type TeleopEndpointOptions } from "../../../src/transports/teleop/endpoint.js";
import { generateCurveKeyPair, type CurveKeyPair } from "../../../src/transports/teleop/keys.js";

export const arm: ArmDescription = loadArmDescription(fileURLToPath(new URL("../../../sim/arm/description.json", import.meta.url)));
export const DIM = arm.joints.length + 1;
export const READY = Float64Array.from(READY_POSITIONS_VLA_ARM6);

export function makeState(tactileCount = 4): SharedRuntimeState {
  return SharedRuntimeState.create({ dim: DIM, tactileCount, maxChunkSteps: 32, latentSize: 0 });
}

/** One sensor sample at `positions` (as a backend would publish it). */
export function writeSensors(state: SharedRuntimeState, positions: ArrayLike<number> = READY, timeNs = 1e9): void {
  const s = state.createSensorSnapshot();
  s.timeNs = timeNs;
  s.positions.set(positions);
  s.wrench.set([0.5, -0.25, 9, 0, 0.01, 0]);
  s.tactile.fill(1.5);
  state.writeSensors(s);
}

export interface TestRig {
  state: SharedRuntimeState;
  endpoint: TeleopEndpoint;
  serverKeys: CurveKeyPair;
  operatorKeys: CurveKeyPair;
  connect(keys?: CurveKeyPair, extra?: Partial<TeleopClientOptions>): Promise<TeleopClient>;
  close(): Promise<void>;
}

export async function startRig(options: Partial<TeleopEndpointOptions> = {}): Promise<TestRig> {
  const state = options.state ?? makeState();
  if (!options.state) writeSensors(state);
  const serverKeys = generateCurveKeyPair();
  const operatorKeys = generateCurveKeyPair();
  const endpoint = await TeleopEndpoint.start({
    state,
    arm,
    commandAddress: "tcp://127.0.0.1:*",
    stateAddress: "tcp://127.0.0.1:*",
    serverKeys,
    allowedClients: [{ publicKey: operatorKeys.publicKey, name: "operator" }],
    stateRateHz: 100,
    ...options,
  });
  const clients: TeleopClient[] = [];
  return {
    state,
    endpoint,
    serverKeys,
    operatorKeys,
    async connect(keys = operatorKeys, extra = {}) {
      const client = await TeleopClient.connect({
        commandAddress: endpoint.addresses.command,
        stateAddress: endpoint.addresses.state,
        serverPublicKey: serverKeys.publicKey,
        keys,
        requestTimeoutMs: 1500,
        ...extra,
      });
      clients.push(client);
      return client;
    },
    async close() {
      await Promise.all(clients.map((c) => c.close()));
      await endpoint.stop();
    },
  };
}

export async function waitFor(condition: () => boolean, timeoutMs = 3000, what = "condition"): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
