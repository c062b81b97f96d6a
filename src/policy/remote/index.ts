// Remote policies: clients for policy servers (openpi websocket, our ZeroMQ "vla-policy" protocol) and servers that
// expose any SlowPolicy over either protocol.
import { OpenpiPolicyClient, type OpenpiClientOptions } from "./openpiClient.js";
import type { OpenpiKeyPreset, OpenpiKeys } from "./openpiObservation.js";
import { ZmqPolicyClient } from "./zmqClient.js";

export { OpenpiPolicyClient, type OpenpiClientOptions, type OpenpiTiming } from "./openpiClient.js";
export { OpenpiPolicyServer, type OpenpiPolicyServerOptions } from "./openpiServer.js";
export { OPENPI_KEY_PRESETS, type OpenpiKeyPreset, type OpenpiKeys } from "./openpiObservation.js";
export { ZmqPolicyClient, type ZmqPolicyClientOptions, type ZmqReplyInfo } from "./zmqClient.js";
export { ZmqPolicyServer, type ZmqPolicyServerOptions, type ZmqPolicyServerStats } from "./zmqServer.js";
export { POLICY_PROTOCOL, POLICY_PROTOCOL_VERSION, PROTOCOL_LIMITS, type PolicyReply, type PolicyRequest, type ServerMetadata } from "./zmqProtocol.js";
export { RemotePolicyError, type RemoteFailureKind, type RemotePolicyStats } from "./errors.js";
export { decodeMsgpackStrict, type StrictDecodeResult } from "./msgpackStrict.js";
export { NdArray, type WireValue } from "./ndarray.js";

/** The config-level description of a remote policy (what the runtime config's policy section carries). */
export type RemotePolicyConfig =
  | {
      kind: "openpi";
      url: string;
      keys: OpenpiKeyPreset | OpenpiKeys;
      timeoutMs: number;
      maxMessageBytes?: number;
      actionDim?: number;
      stateDtype?: "float32" | "float64";
      apiKey?: string;
    }
  | {
      kind: "zmq";
      endpoint: string;
      timeoutMs: number;
      maxMessageBytes?: number;
      actionDim?: number;
      stepPeriodS?: number;
      tokenizer?: string;
      includeImage?: boolean;
    };

/** A remote policy client from its config. */
export function createRemotePolicy(config: RemotePolicyConfig): OpenpiPolicyClient | ZmqPolicyClient {
  if (config.kind === "openpi") {
    const options: OpenpiClientOptions = {
      url: config.url,
      keys: config.keys,
      timeoutMs: config.timeoutMs,
      maxMessageBytes: config.maxMessageBytes,
      actionDim: config.actionDim,
      stateDtype: config.stateDtype,
      apiKey: config.apiKey,
    };
    return new OpenpiPolicyClient(options);
  }
  return new ZmqPolicyClient({
    endpoint: config.endpoint,
    timeoutMs: config.timeoutMs,
    maxReplyBytes: config.maxMessageBytes,
    actionDim: config.actionDim,
    stepPeriodS: config.stepPeriodS,
    tokenizer: config.tokenizer,
    includeImage: config.includeImage,
  });
}
