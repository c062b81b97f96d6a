// The ROS 2 interfaces the node uses: the standard ones (field lists as ROS 2 Humble/Jazzy define them) and
// vla_runtime's own from msg/ and srv/. The registry is what the CDR codec, the rclnodejs type declarations and
// the Cyclone DDS comparison are generated from, so they cannot disagree about a field.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseMessage, parseService, type MessageDefinition, type ServiceDefinition } from "./msgParser.js";

/** Standard interfaces, in the order their dependencies need. Field order is the wire order. */
export const STANDARD_MESSAGES: Readonly<Record<string, string>> = {
  "builtin_interfaces/msg/Time": "int32 sec\nuint32 nanosec\n",
  "builtin_interfaces/msg/Duration": "int32 sec\nuint32 nanosec\n",
  "std_msgs/msg/Header": "builtin_interfaces/Time stamp\nstring frame_id\n",
  "std_msgs/msg/String": "string data\n",
  "std_msgs/msg/Bool": "bool data\n",
  "std_msgs/msg/MultiArrayDimension": "string label\nuint32 size\nuint32 stride\n",
  "std_msgs/msg/MultiArrayLayout": "MultiArrayDimension[] dim\nuint32 data_offset\n",
  "std_msgs/msg/Float64MultiArray": "MultiArrayLayout layout\nfloat64[] data\n",
  "sensor_msgs/msg/JointState": "std_msgs/Header header\nstring[] name\nfloat64[] position\nfloat64[] velocity\nfloat64[] effort\n",
  "sensor_msgs/msg/Image": "std_msgs/Header header\nuint32 height\nuint32 width\nstring encoding\nuint8 is_bigendian\nuint32 step\nuint8[] data\n",
  "sensor_msgs/msg/CompressedImage": "std_msgs/Header header\nstring format\nuint8[] data\n",
  "geometry_msgs/msg/Vector3": "float64 x\nfloat64 y\nfloat64 z\n",
  "geometry_msgs/msg/Wrench": "Vector3 force\nVector3 torque\n",
  "geometry_msgs/msg/WrenchStamped": "std_msgs/Header header\nWrench wrench\n",
  "trajectory_msgs/msg/JointTrajectoryPoint":
    "float64[] positions\nfloat64[] velocities\nfloat64[] accelerations\nfloat64[] effort\nbuiltin_interfaces/Duration time_from_start\n",
  "trajectory_msgs/msg/JointTrajectory": "std_msgs/Header header\nstring[] joint_names\nJointTrajectoryPoint[] points\n",
  "diagnostic_msgs/msg/KeyValue": "string key\nstring value\n",
  "diagnostic_msgs/msg/DiagnosticStatus":
    "byte OK=0\nbyte WARN=1\nbyte ERROR=2\nbyte STALE=3\nbyte level\nstring name\nstring message\nstring hardware_id\nKeyValue[] values\n",
  "diagnostic_msgs/msg/DiagnosticArray": "std_msgs/Header header\nDiagnosticStatus[] status\n",
  // What rclnodejs's own declarations refer to (parameters, lifecycle, time, actions).
  "rcl_interfaces/msg/FloatingPointRange": "float64 from_value\nfloat64 to_value\nfloat64 step\n",
  "rcl_interfaces/msg/IntegerRange": "int64 from_value\nint64 to_value\nuint64 step\n",
  "rcl_interfaces/msg/ParameterValue":
    "uint8 type\nbool bool_value\nint64 integer_value\nfloat64 double_value\nstring string_value\nbyte[] byte_array_value\n" +
    "bool[] bool_array_value\nint64[] integer_array_value\nfloat64[] double_array_value\nstring[] string_array_value\n",
  "rcl_interfaces/msg/Parameter": "string name\nParameterValue value\n",
  "rcl_interfaces/msg/ParameterDescriptor":
    "string name\nuint8 type\nstring description\nstring additional_constraints\nbool read_only false\nbool dynamic_typing false\n" +
    "FloatingPointRange[<=1] floating_point_range\nIntegerRange[<=1] integer_range\n",
  "rcl_interfaces/msg/SetParametersResult": "bool successful\nstring reason\n",
  "lifecycle_msgs/msg/Transition":
    "uint8 TRANSITION_CREATE=0\nuint8 TRANSITION_CONFIGURE=1\nuint8 TRANSITION_CLEANUP=2\nuint8 TRANSITION_ACTIVATE=3\nuint8 TRANSITION_DEACTIVATE=4\n" +
    "uint8 TRANSITION_UNCONFIGURED_SHUTDOWN=5\nuint8 TRANSITION_INACTIVE_SHUTDOWN=6\nuint8 TRANSITION_ACTIVE_SHUTDOWN=7\nuint8 TRANSITION_DESTROY=8\n" +
    "uint8 TRANSITION_CALLBACK_SUCCESS=97\nuint8 TRANSITION_CALLBACK_FAILURE=98\nuint8 TRANSITION_CALLBACK_ERROR=99\nuint8 id\nstring label\n",
  "unique_identifier_msgs/msg/UUID": "uint8[16] uuid\n",
};

export const STANDARD_SERVICES: Readonly<Record<string, string>> = {
  "std_srvs/srv/Trigger": "---\nbool success\nstring message\n",
  "std_srvs/srv/SetBool": "bool data\n---\nbool success\nstring message\n",
};

/** Every message the node publishes or subscribes to, by the role it plays (the CDR comparison covers each). */
export const NODE_MESSAGE_TYPES = [
  "sensor_msgs/msg/JointState",
  "sensor_msgs/msg/Image",
  "sensor_msgs/msg/CompressedImage",
  "geometry_msgs/msg/WrenchStamped",
  "vla_runtime/msg/TactileArray",
  "std_msgs/msg/String",
  "std_msgs/msg/Bool",
  "trajectory_msgs/msg/JointTrajectory",
  "std_msgs/msg/Float64MultiArray",
  "vla_runtime/msg/ActionChunk",
  "vla_runtime/msg/PolicyStatus",
  "diagnostic_msgs/msg/DiagnosticArray",
] as const;
export type NodeMessageType = (typeof NODE_MESSAGE_TYPES)[number];

export const NODE_SERVICE_TYPES = ["std_srvs/srv/Trigger", "std_srvs/srv/SetBool", "vla_runtime/srv/SetInstruction"] as const;

export const PACKAGE_NAME = "vla_runtime";

export class InterfaceRegistry {
  readonly messages = new Map<string, MessageDefinition>();
  readonly services = new Map<string, ServiceDefinition>();

  addMessage(definition: MessageDefinition): void {
    this.messages.set(definition.name, definition);
  }

  addService(definition: ServiceDefinition): void {
    this.services.set(definition.name, definition);
    this.addMessage(definition.request);
    this.addMessage(definition.response);
  }

  message(name: string): MessageDefinition {
    const found = this.messages.get(name);
    if (!found) throw new Error(`ros2 interfaces: expected a known message type, got "${name}"`);
    return found;
  }

  service(name: string): ServiceDefinition {
    const found = this.services.get(name);
    if (!found) throw new Error(`ros2 interfaces: expected a known service type, got "${name}"`);
    return found;
  }

  /** Every message type `name` needs (itself included), dependencies first. */
  closure(name: string): MessageDefinition[] {
    const out: MessageDefinition[] = [];
    const seen = new Set<string>();
    const visit = (n: string) => {
      if (seen.has(n)) return;
      seen.add(n);
      const def = this.message(n);
      for (const f of def.fields) if (f.type.kind === "message") visit(f.type.name);
      out.push(def);
    };
    visit(name);
    return out;
  }

  /** Throws a one-line error naming the first field whose type is not defined. */
  checkComplete(): void {
    for (const def of this.messages.values()) {
      for (const f of def.fields) {
        if (f.type.kind === "message" && !this.messages.has(f.type.name)) {
          throw new Error(`ros2 interfaces: ${def.name}.${f.name} refers to ${f.type.name}, which is not defined`);
        }
      }
    }
  }
}

/** The standard interfaces plus the package's own msg/ and srv/ files under `packageRoot`. */
export function loadInterfaces(packageRoot: string): InterfaceRegistry {
  const registry = new InterfaceRegistry();
  for (const [name, text] of Object.entries(STANDARD_MESSAGES)) registry.addMessage(parseMessage(name, text));
  for (const [name, text] of Object.entries(STANDARD_SERVICES)) registry.addService(parseService(name, text));
  for (const file of listFiles(join(packageRoot, "msg"), ".msg")) {
    registry.addMessage(parseMessage(`${PACKAGE_NAME}/msg/${file.slice(0, -4)}`, readFileSync(join(packageRoot, "msg", file), "utf8")));
  }
  for (const file of listFiles(join(packageRoot, "srv"), ".srv")) {
    registry.addService(parseService(`${PACKAGE_NAME}/srv/${file.slice(0, -4)}`, readFileSync(join(packageRoot, "srv", file), "utf8")));
  }
  registry.checkComplete();
  return registry;
}

function listFiles(dir: string, extension: string): string[] {
  try {
    return readdirSync(dir)
      .filter((f) => f.endsWith(extension))
      .sort();
  } catch {
    return [];
  }
}
