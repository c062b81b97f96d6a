// Attaching the teleop endpoint to a running runtime from the configuration (key files on disk).
import type { ArmDescription } from "../../kinematics/description.js";
import type { SharedRuntimeState } from "../../runtime/sharedState.js";
import { TeleopEndpoint } from "./endpoint.js";
import { loadAllowedClients, readKeyPair } from "./keys.js";

/** The `teleop` section of the runtime configuration (see docs/teleop.md for defaults and ranges). */
export interface TeleopConfig {
  enabled: boolean;
  commandAddress: string;
  stateAddress: string;
  /** "" = no unauthenticated stream. */
  readOnlyStateAddress: string;
  /** The server's secret certificate (`<name>.key_secret`). */
  serverKeyFile: string;
  /** Folder of client `.key` files, one certificate, or a text file of `<key> [name]` lines. */
  allowedClients: string;
  stateRateHz: number;
  watchdogMs: number;
  takeoverTimeoutMs: number;
  poseScale: number;
  operatorFrameRpyRad: [number, number, number];
}

export const DEFAULT_TELEOP_CONFIG: TeleopConfig = {
  enabled: false,
  commandAddress: "tcp://127.0.0.1:5590",
  stateAddress: "tcp://127.0.0.1:5591",
  readOnlyStateAddress: "",
  serverKeyFile: "keys/server.key_secret",
  allowedClients: "keys/clients",
  stateRateHz: 50,
  watchdogMs: 250,
  takeoverTimeoutMs: 30_000,
  poseScale: 1,
  operatorFrameRpyRad: [0, 0, 0],
};

export interface AttachTeleopParts {
  /** Runtime.state (or the episode's SharedRuntimeState). */
  state: SharedRuntimeState;
  arm: ArmDescription;
  /** e.g. () => ({ ...slowExecutor.stats() flattened }) */
  policyStatus?: () => Record<string, number | string | boolean | null>;
  onError?: (message: string) => void;
  /** The fast loop's clock when it is not the process monotonic clock (lockstep simulation). */
  nowNs?: () => number;
}

/** Load the keys named in the config and start the endpoint on the runtime's shared state. */
export async function attachTeleop(config: TeleopConfig, parts: AttachTeleopParts): Promise<TeleopEndpoint> {
  const serverKeys = readKeyPair(config.serverKeyFile);
  const allowedClients = loadAllowedClients(config.allowedClients);
  return TeleopEndpoint.start({
    state: parts.state,
    arm: parts.arm,
    commandAddress: config.commandAddress,
    stateAddress: config.stateAddress,
    readOnlyStateAddress: config.readOnlyStateAddress === "" ? undefined : config.readOnlyStateAddress,
    serverKeys,
    allowedClients,
    stateRateHz: config.stateRateHz,
    watchdogMs: config.watchdogMs,
    takeoverTimeoutMs: config.takeoverTimeoutMs,
    poseScale: config.poseScale,
    operatorFrameRpyRad: config.operatorFrameRpyRad,
    policyStatus: parts.policyStatus,
    onError: parts.onError,
    nowNs: parts.nowNs,
  });
}
