// Teleop and AR clients over authenticated ZeroMQ: endpoint, protocol, keys, client library, reference client.
export { attachTeleop, DEFAULT_TELEOP_CONFIG, type AttachTeleopParts, type TeleopConfig } from "./attach.js";
export { TeleopClient, type TeleopClientOptions } from "./client.js";
export { Rejection, TELEOP_DEFAULTS, TeleopController, type InterventionListener, type TeleopClientRef, type TeleopControllerOptions, type TeleopControllerStats } from "./controller.js";
export { randomRoutingId, TELEOP_ZAP_DOMAIN, TeleopEndpoint, type TeleopAddresses, type TeleopEndpointOptions, type TeleopEndpointStats } from "./endpoint.js";
export * from "./keys.js";
export * from "./protocol.js";
export { KEYS_CLI_USAGE, runKeysCli, runTeleopCli, streamPoses, keyboardJog, builtinPoseScript, loadPoseScript, TELEOP_CLI_USAGE, type CliIo, type PoseScript } from "./referenceClient.js";
export { CurveAuthenticator, ZAP_ENDPOINT, type ZapDecision } from "./zap.js";
export { isCurveKey, z85Decode, z85Encode } from "./z85.js";
