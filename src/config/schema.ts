// One schema for the CLI flags, config files and (later) the ROS parameters. Every field has a default
// that works out of the box with the embedded simulator, a description (it becomes the help text) and a range.
import { z } from "zod";

// prefault: a missing section is parsed as {} so the defaults of its fields apply.
const section = <T extends z.ZodRawShape>(shape: T) => z.object(shape).strict().prefault({} as never);

export const configSchema = z
  .object({
    control: section({
      rateHz: z.number().min(50).max(1000).default(500).describe("fast loop (control) rate in Hz"),
      realtime: z.boolean().default(true).describe("run against the wall clock (false: lockstep simulation, as fast as possible)"),
      lockstepPolicyLatencyMs: z.number().min(0).max(5000).default(150).describe("lockstep only: simulated policy inference time (chunks arrive this late)"),
    }),
    episode: section({
      durationS: z.number().positive().max(3600).default(20).describe("length of one episode in seconds"),
      seed: z.number().int().min(0).max(1_000_000_000).default(1).describe("seed for the task layout and the policy"),
      perturbations: z.boolean().default(false).describe("shift the surface, add friction and push the arm during the episode"),
      instruction: z.string().default("wipe the marked area").describe("the task text handed to the policy"),
    }),
    policy: section({
      kind: z
        .enum(["scripted-expert", "onnx-vla", "openpi", "zmq"])
        .default("onnx-vla")
        .describe("slow policy: the scripted wipe expert speaking FAST tokens, a NORA-style VLA exported to ONNX (default: the bundled one trained on the wipe task), an openpi server, or a vla-policy ZeroMQ server"),
      modelDir: z.string().default("models/wipe_vla").describe("onnx-vla: folder with the three ONNX files, tokenizer.json and vla_config.json (the bundled one is trained on the wipe task)"),
      intraOpThreads: z.number().int().min(1).max(16).default(1).describe("onnx-vla: ONNX Runtime threads (the other core runs the fast loop)"),
      rateHz: z.number().min(0.1).max(100).default(5).describe("how often the slow executor asks the policy for a chunk"),
      timeoutMs: z.number().int().min(1).max(60_000).default(2000).describe("a policy call that takes longer is abandoned"),
      url: z.string().default("").describe("remote policy address: ws://host:8000 (openpi) or tcp://host:5555 (zmq); empty: 127.0.0.1 with the protocol's port"),
      openpiKeys: z.enum(["libero", "droid"]).default("libero").describe("openpi: observation key preset"),
      stateDtype: z.enum(["float64", "float32"]).default("float64").describe("openpi: dtype of the state array sent"),
      maxMessageBytes: z.number().int().min(1024).max(2 ** 30).default(16_777_216).describe("remote: largest reply accepted"),
      includeImage: z.boolean().default(true).describe("zmq: send the camera image with each request"),
      stepPeriodMs: z.number().min(1).max(10_000).default(100).describe("remote: time between the steps of a chunk (zmq replies carry their own and must match)"),
      actionSpace: z.enum(["joint-absolute", "joint-delta", "ee-delta"]).default("joint-absolute").describe("remote: what the policy's actions mean"),
      deltaOrigin: z.enum(["measured", "plan"]).default("measured").describe("remote: where delta chunks start: the measured joints, or where the previous chunk put the arm (contact drag is not folded into the next plan)"),
      normalizedActions: z.boolean().default(false).describe("remote: actions come normalized to [-1, 1] and are unnormalized with normStatsPath"),
      normStatsPath: z.string().default("").describe("norm_stats.json for normalizedActions (empty: the bundled wipe statistics)"),
    }),
    scheduler: section({
      mode: z.enum(["replace", "crossfade", "temporal-ensemble", "prefix-hold"]).optional().describe("how a new chunk takes over from the current one (default: the smoothest in the benchmark)"),
      crossfadeSteps: z.number().int().min(1).max(64).default(4).describe("policy steps a crossfade lasts"),
      ensembleDecayPerStep: z.number().min(0).max(10).default(0.01).describe("ACT temporal ensembling weight decay exp(-k i)"),
      interpolation: z.enum(["cubic", "linear"]).default("cubic").describe("resampling from the policy step rate to the control rate"),
    }),
    safety: section({
      sensorMaxAgeMs: z.number().min(1).max(10_000).default(50).describe("hold position when the newest sensor sample is older than this"),
      workspaceMinM: z.tuple([z.number(), z.number(), z.number()]).default([-0.9, -0.9, -0.05]).describe("end-effector workspace box, lower corner (m)"),
      workspaceMaxM: z.tuple([z.number(), z.number(), z.number()]).default([0.9, 0.9, 1.2]).describe("end-effector workspace box, upper corner (m)"),
      maxContactForceN: z.number().positive().max(1000).default(40).describe("above this wrist force the tool may not move further into the contact (N)"),
    }),
    reactive: section({
      kind: z.enum(["passthrough", "compliance", "rdp"]).default("compliance").describe("fast-loop step from touch and force: none, force-feedback compliance, or the RDP decoder (latent + newest touch; npm start uses the bundled one trained with the wipe VLA)"),
      modelDir: z.string().default("models/wipe_rdp").describe("rdp: folder with rdp.json, the encoder ONNX and the decoder weights (the bundled one is trained on the wipe task)"),
      rdpSmoothing: z.enum(["smooth", "hold"]).default("smooth").describe("rdp: move linearly between the decoder's steps, fade in each new latent and low-pass the output; or hold each decoded step"),
      rdpHandoverMs: z.number().min(0).max(10_000).default(100).describe("rdp: how long the jump to a new latent's first action is faded in"),
      rdpFilterMs: z.number().min(0).max(1000).default(25).describe("rdp: time constant of the output's critically damped low-pass (0: none)"),
      mode: z.enum(["limit", "regulate"]).default("limit").describe("compliance: only back off above the target force, or hold the force at it"),
      targetForceN: z.number().min(0).max(200).default(14).describe("compliance: contact force not to exceed (limit) or to hold (regulate)"),
      gainMPerN: z.number().min(0).max(0.01).default(0.0004).describe("compliance: tool offset per newton of force error"),
      maxOffsetM: z.number().min(0).max(0.1).default(0.02).describe("compliance: largest correction"),
    }),
    observability: section({
      recordPath: z.string().default("").describe("record the run to this MCAP file (ROS 2 CDR); empty: no recording"),
      viz: z.boolean().default(false).describe("serve a live Foxglove WebSocket view of the run"),
      vizHost: z.string().default("127.0.0.1").describe("interface the live view listens on (0.0.0.0: other machines too; no authentication)"),
      vizPort: z.number().int().min(0).max(65535).default(8765).describe("live view TCP port (0: any free port)"),
      vizMaxRateHz: z.number().min(1).max(1000).default(60).describe("live view: messages per second per high-rate topic"),
      flushIntervalMs: z.number().int().min(0).max(60000).default(500).describe("recording: close an MCAP chunk at least this often; a crash loses at most this much"),
      maxBufferedMiB: z.number().min(1).max(4096).default(32).describe("recording: bytes waiting for the disk before messages are dropped and counted"),
    }),
    teleop: section({
      enabled: z.boolean().default(false).describe("real time: accept authenticated teleop/AR clients (take over, hand back) and stream the robot's state"),
      commandAddress: z.string().default("tcp://127.0.0.1:5590").describe("teleop: CURVE-authenticated command socket (ROUTER)"),
      stateAddress: z.string().default("tcp://127.0.0.1:5591").describe("teleop: CURVE-authenticated state and event stream (PUB)"),
      readOnlyStateAddress: z.string().default("").describe("teleop: unauthenticated read-only state stream (empty: none)"),
      serverKeyFile: z.string().default("keys/server.key_secret").describe("teleop: the server's secret certificate"),
      allowedClients: z.string().default("keys/clients").describe("teleop: folder of allowed client .key files, one certificate, or a list file"),
      stateRateHz: z.number().min(30).max(100).default(50).describe("teleop: state stream rate"),
      watchdogMs: z.number().int().min(10).max(10_000).default(250).describe("teleop: hold when the operator sends no motion for this long"),
      takeoverTimeoutMs: z.number().int().min(0).max(3_600_000).default(30_000).describe("teleop: hand back to the policy after this long without a message from the operator (0: never)"),
      poseScale: z.number().positive().max(10).default(1).describe("teleop: hand motion to tool motion scale (TactAR mapping)"),
      operatorFrameRpyRad: z.tuple([z.number(), z.number(), z.number()]).default([0, 0, 0]).describe("teleop: operator frame relative to the robot base (roll, pitch, yaw)"),
    }),
    backend: section({
      kind: z.enum(["mujoco", "gz"]).default("mujoco").describe("where commands go: the embedded MuJoCo arm, or a Gazebo arm over gz-transport"),
    }),
    gz: section({
      world: z.string().regex(/^[A-Za-z_][A-Za-z0-9_-]*$/, "expected a Gazebo world name").default("vla_wipe").describe("gz: <world name> of the running simulation"),
      model: z.string().default("").describe("gz: <model name> of the arm (empty: the arm description's name)"),
      typeFlavour: z.enum(["gz", "ignition"]).default("gz").describe("gz: message type names: gz (Garden, Harmonic and later) or ignition (Fortress)"),
      commandMode: z.enum(["joint-position", "actuators"]).default("joint-position").describe("gz: one Double per joint, or one Actuators message (Harmonic and later)"),
      partition: z.string().default("").describe("gz: transport partition (empty: GZ_PARTITION, then IGN_PARTITION, then hostname:username)"),
      ip: z.string().default("").describe("gz: address to advertise on (empty: GZ_IP, then IGN_IP, then the first external IPv4)"),
      connectTimeoutMs: z.number().int().min(100).max(600_000).default(15_000).describe("gz: fail when the simulator has not answered by then"),
      contactHoldMs: z.number().min(1).max(1000).default(50).describe("gz: taxels read zero this long after the last contact message"),
      wrenchConvention: z.enum(["parent-on-child", "child-on-parent"]).default("parent-on-child").describe("gz: what the wrist force/torque sensor measures"),
    }),
  })
  .strict();

export type RuntimeConfig = z.infer<typeof configSchema>;
export type RuntimeConfigInput = z.input<typeof configSchema>;
