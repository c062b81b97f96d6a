// Public API of vla-runtime.
export { FastTokenizer, roundHalfEven, type DecodeResult, type FastFitOptions, type FastProcessorConfig, type MalformedPolicy } from "./tokenizers/fast.js";
export { BeastTokenizer, type BeastConfig } from "./tokenizers/beast.js";
export { BinningTokenizer } from "./tokenizers/binning.js";
export { dctOrtho, idctOrtho } from "./tokenizers/dct.js";

export * from "./config/schema.js";
export { ConfigError, describeOptions, loadConfig, parseConfig, type OptionInfo } from "./config/load.js";

export * from "./runtime/types.js";
export { ChunkScheduler, DEFAULT_TRANSITION_MODE, type TransitionMode, type SchedulerOptions } from "./runtime/scheduler.js";
export { SafetyStage, type SafetyOptions } from "./runtime/safety.js";
export { SharedRuntimeState } from "./runtime/sharedState.js";
export { FastLoop } from "./runtime/fastLoop.js";
export { FastExecutor, SharedMemoryBridge } from "./runtime/fastExecutor.js";
export { SlowExecutor, type SlowPolicy, type Observation, type PolicyOutput } from "./runtime/slowExecutor.js";
export { Runtime, type RuntimeOptions, type RuntimeBackend } from "./runtime/runtime.js";
export { toJointChunk, type ActionSpace } from "./runtime/actionSpace.js";

export * from "./kinematics/description.js";
export { ArmKinematics } from "./kinematics/kinematics.js";

export { loadNormStats, normalizeInto, unnormalizeInto, type NormStats } from "./policy/normalization.js";
export { actionConverter, beastDecoder, binningDecoder, fastDecoder } from "./policy/chunkCodec.js";
export * from "./policy/remote/index.js";
export { replay, formatReplayResult, type ReplayResult } from "./observability/replay.js";
export { report } from "./observability/report.js";
export { loadRecording } from "./observability/recordingReader.js";
export { EpisodeRecording } from "./observability/episodeRecording.js";
export { Recorder } from "./observability/recorder.js";
export { LiveView, startLiveView } from "./observability/liveView.js";
export { ProgressBar } from "./observability/progress.js";
export { armUrdf } from "./observability/urdf.js";
export * from "./transports/teleop/index.js";
export * from "./transports/gz/index.js";
export { buildGazeboWorld, defaultGazeboWorlds } from "./sim/sdf.js";
export { VlaRunner, VlaPolicy, vlaChunkCodec, loadVlaPolicy } from "./policy/vla.js";
export { RdpComposedPolicy, RdpEncoder, RdpReactiveStep, encodeChunkToLatent, rdpPluginUrl } from "./policy/rdp.js";
