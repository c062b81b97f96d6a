// ROS 2 message definitions (.msg text) of every type a recording holds, and the "ros2msg" schema text rosbag2 and
// Foxglove expect in an MCAP Schema record: the type's own definition, then each dependency once, each introduced by
// a line of 80 '=' and "MSG: <package>/<Type>".
//
// Standard types are written from their published field lists (common_interfaces, rcl_interfaces). The vla_runtime
// types are this package's own; docs/observability.md carries the same text for msg/*.msg.

/** Field lists by full type name ("<package>/msg/<Type>"). */
const DEFINITIONS: Record<string, string> = {
  "builtin_interfaces/msg/Time": ["int32 sec", "uint32 nanosec"].join("\n"),
  "builtin_interfaces/msg/Duration": ["int32 sec", "uint32 nanosec"].join("\n"),
  "std_msgs/msg/Header": ["builtin_interfaces/Time stamp", "string frame_id"].join("\n"),
  "std_msgs/msg/String": "string data",
  "sensor_msgs/msg/JointState": ["std_msgs/Header header", "string[] name", "float64[] position", "float64[] velocity", "float64[] effort"].join("\n"),
  "sensor_msgs/msg/Image": ["std_msgs/Header header", "uint32 height", "uint32 width", "string encoding", "uint8 is_bigendian", "uint32 step", "uint8[] data"].join("\n"),
  "geometry_msgs/msg/Vector3": ["float64 x", "float64 y", "float64 z"].join("\n"),
  "geometry_msgs/msg/Quaternion": ["float64 x 0", "float64 y 0", "float64 z 0", "float64 w 1"].join("\n"),
  "geometry_msgs/msg/Wrench": ["geometry_msgs/Vector3 force", "geometry_msgs/Vector3 torque"].join("\n"),
  "geometry_msgs/msg/WrenchStamped": ["std_msgs/Header header", "geometry_msgs/Wrench wrench"].join("\n"),
  "geometry_msgs/msg/Transform": ["geometry_msgs/Vector3 translation", "geometry_msgs/Quaternion rotation"].join("\n"),
  "geometry_msgs/msg/TransformStamped": ["std_msgs/Header header", "string child_frame_id", "geometry_msgs/Transform transform"].join("\n"),
  "tf2_msgs/msg/TFMessage": "geometry_msgs/TransformStamped[] transforms",

  // --- vla_runtime's own interfaces -----------------------------------------------------------------------------
  // The node's published interfaces (msg/TactileArray.msg, msg/ActionChunk.msg, msg/PolicyStatus.msg): same fields,
  // same order; test/observability/msgFiles.test.ts keeps them in step with those files.
  "vla_runtime/msg/TactileArray": [
    "uint8 LAYOUT_TAXEL_GRID=0",
    "uint8 LAYOUT_MARKER_FIELD=1",
    "std_msgs/Header header",
    "uint8 layout",
    "uint32 rows",
    "uint32 cols",
    "float32 pitch_m",
    "float32[] forces",
    "float32[] displacements_m",
  ].join("\n"),
  "vla_runtime/msg/ActionChunk": [
    "std_msgs/Header header",
    "builtin_interfaces/Time observation_stamp",
    "uint64 chunk_sequence",
    "uint32 steps",
    "uint32 dim",
    "builtin_interfaces/Duration step_period",
    "string[] names",
    "float64[] actions",
    "string policy",
    "float64 inference_ms",
  ].join("\n"),
  "vla_runtime/msg/PolicyStatus": [
    "std_msgs/Header header",
    "string state",
    "bool policy_enabled",
    "bool emergency_stop_latched",
    "string policy",
    "float64 control_rate_hz",
    "float64 policy_rate_hz",
    "float64 command_rate_hz",
    "float64 last_inference_ms",
    "float64 period_error_p99_us",
    "float64 sensor_to_command_p99_us",
    "uint64 ticks",
    "uint64 overruns",
    "uint64 chunks_published",
    "uint64 chunks_accepted",
    "uint64 chunks_rejected",
    "uint64 policy_failures",
    "uint64 decode_failures",
    "uint64 sensor_messages_rejected",
    "string[] safety_reasons",
    "uint64[] safety_counts",
    "string last_error",
  ].join("\n"),

  // Recording-only interfaces (what replay needs beyond the node's topics).
  "vla_runtime/msg/TactileForces": [
    "# The taxel forces exactly as the runtime used them (float64, N), for samples TactileArray's float32 cannot hold",
    "# exactly (a simulator's); stamp = the TactileArray's.",
    "std_msgs/Header header",
    "float64[] forces",
  ].join("\n"),
  "vla_runtime/msg/JointCommand": [
    "# One command of the fast loop, as it left the safety stage.",
    "uint8 SAMPLE_OK=0",
    "uint8 SAMPLE_EMPTY=1",
    "uint8 SAMPLE_EXHAUSTED=2",
    "# stamp: when the command was sent.",
    "std_msgs/Header header",
    "# Index of the fast-loop tick that produced it (1 = first).",
    "uint64 tick",
    "# Runtime monotonic clock (ns) of the tick and of the sensor sample it used, exact (header stamps are wall time).",
    "float64 time_ns",
    "float64 sensor_time_ns",
    "# What the chunk scheduler gave: SAMPLE_OK, SAMPLE_EMPTY (hold) or SAMPLE_EXHAUSTED (policy late).",
    "uint8 sample_state",
    "# Bit set of the safety stage's interventions this tick (see SafetyEvent).",
    "uint32 safety_reasons",
    "# Sequence of the chunk being played (0: none).",
    "uint32 chunk_sequence",
    "# Joint positions (rad) and gripper width (m) sent to the arm.",
    "float64[] position",
    "# What the scheduler and the reactive step proposed, before the safety stage.",
    "float64[] target",
  ].join("\n"),
  "vla_runtime/msg/ActionLatent": [
    "# A latent action chunk of the slow policy, consumed by a latent-driven reactive step.",
    "std_msgs/Header header",
    "uint32 sequence",
    "float64 observation_time_ns",
    "float64 arrival_time_ns",
    "float32[] latent",
  ].join("\n"),
  "vla_runtime/msg/PolicyCall": [
    "# One call of the slow policy as the runtime saw it.",
    "# stamp: when the call returned.",
    "std_msgs/Header header",
    "uint32 call",
    "builtin_interfaces/Time observation_stamp",
    "float64 observation_time_ns",
    "# Wall-clock time the call took (ms); in a lockstep simulation the simulated clock does not move meanwhile.",
    "float64 inference_wall_ms",
    "# tokens, actions, latent, or error.",
    "string output_kind",
    "int32[] tokens",
    "string error",
  ].join("\n"),
  "vla_runtime/msg/SafetyEvent": [
    "# The set of safety interventions changed at this tick.",
    "std_msgs/Header header",
    "uint64 tick",
    "# Bit set: NonFinite 1, PositionLimit 2, VelocityLimit 4, AccelerationLimit 8, MaxStep 16, Workspace 32,",
    "# StaleSensors 64, PolicyLate 128, EmergencyStop 256, ForceLimit 512.",
    "uint32 reasons",
    "uint32 previous_reasons",
    "string[] reason_names",
  ].join("\n"),
  "vla_runtime/msg/TeleopEvent": [
    "# A teleoperation intervention: takeover, handback, emergency stop, watchdog timeout...",
    "std_msgs/Header header",
    "string kind",
    "string client",
    "string detail",
  ].join("\n"),
  "vla_runtime/msg/ControlState": [
    "# The runtime's control flags changed (applied by the fast loop from the tick at time_ns on).",
    "std_msgs/Header header",
    "float64 time_ns",
    "uint32 emergency_stop_requests",
    "uint32 emergency_stop_resets",
    "bool policy_enabled",
  ].join("\n"),
};

const SEPARATOR = "=".repeat(80);


/** "pkg/msg/Type" or "pkg/Type" -> "pkg/msg/Type". */
export function fullTypeName(type: string): string {
  const parts = type.split("/");
  if (parts.length === 3) return type;
  if (parts.length === 2) return `${parts[0]}/msg/${parts[1]}`;
  throw new Error(`ros schema: expected a type name like "pkg/msg/Type", got "${type}"`);
}

/** The .msg text of one type (without its dependencies). */
export function messageDefinition(type: string): string {
  const text = DEFINITIONS[fullTypeName(type)];
  if (text === undefined) throw new Error(`ros schema: no definition for "${type}" (known: ${Object.keys(DEFINITIONS).join(", ")})`);
  return text;
}

/** Every type this module defines. */
export function knownTypes(): string[] {
  return Object.keys(DEFINITIONS);
}

/** Complex field types a definition refers to, as full type names (builtin primitives and constants skipped). */
function dependencies(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.replace(/#.*/, "").trim();
    if (line === "") continue;
    const type = line.split(/\s+/)[0].replace(/\[.*\]$/, "");
    if (type.includes("/")) out.push(fullTypeName(type));
  }
  return out;
}

/** The "ros2msg" schema text of a type: its definition, then every dependency (depth first, each once). */
export function ros2msgSchema(type: string): string {
  const root = fullTypeName(type);
  const parts = [messageDefinition(root)];
  const seen = new Set<string>([root]);
  const visit = (t: string) => {
    for (const dep of dependencies(messageDefinition(t))) {
      if (seen.has(dep)) continue;
      seen.add(dep);
      const [pkg, , name] = dep.split("/");
      parts.push(`${SEPARATOR}\nMSG: ${pkg}/${name}\n${messageDefinition(dep)}`);
      visit(dep);
    }
  };
  visit(root);
  return parts.join("\n") + "\n";
}
