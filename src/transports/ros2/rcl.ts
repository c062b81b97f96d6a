// The part of rclnodejs the node uses, as narrow interfaces derived from rclnodejs's own declarations. The
// conformance functions at the bottom make the compiler prove that the real module and the real LifecycleNode
// satisfy them, so the test stand-in (which implements exactly these) cannot drift from the library.
//
// rclnodejs is imported for types only; the module itself is loaded with a dynamic import, and only when a
// ROS 2 installation is sourced (its native part links against it).
import type * as rcl from "rclnodejs";

export type MessageTypeName = rcl.MessageTypeClassName;
export type ServiceTypeName = rcl.ServiceTypeClassName;
export type MessageOf<T extends MessageTypeName> = rcl.MessageType<T>;
export type ServiceRequestOf<T extends ServiceTypeName> = rcl.ServiceRequestMessage<T>;
export type ServiceResponseOf<T extends ServiceTypeName> = rcl.ServiceResponseMessage<T>;

/** Publisher options as the node passes them: a QoS profile name. */
export type RosEntityOptions = rcl.Options<rcl.QoS.ProfileRef>;

export interface RosPublisher<T extends MessageTypeName> {
  readonly topic: string;
  publish(message: rcl.MessageType<T>): void;
}

export type RosSubscription = Pick<rcl.Subscription, "topic">;

export interface RosServiceResponse<T extends ServiceTypeName> {
  send(response: rcl.ServiceResponseMessage<T>): void;
}

export type RosTimer = Pick<rcl.Timer, "cancel">;
export type RosTime = Pick<rcl.Time, "nanoseconds" | "toMsg">;
export type RosLogger = Pick<rcl.Logging, "debug" | "info" | "warn" | "error">;
export type RosParameter = rcl.Parameter;
export type RosParameterDescriptor = rcl.ParameterDescriptor;
export type SetParametersResult = rcl.rcl_interfaces.msg.SetParametersResult;
export type TransitionCallback = rcl.lifecycle.TransitionCallback;
export type CallbackReturnCode = rcl.lifecycle.CallbackReturnCode;

/** The lifecycle node calls the adapter makes. */
export interface RosLifecycleNode {
  name(): string;
  namespace(): string;
  getLogger(): RosLogger;
  now(): RosTime;
  registerOnConfigure(cb: TransitionCallback): void;
  registerOnActivate(cb: TransitionCallback): void;
  registerOnDeactivate(cb: TransitionCallback): void;
  registerOnCleanup(cb: TransitionCallback): void;
  registerOnShutdown(cb: TransitionCallback): void;
  configure(): unknown;
  activate(): unknown;
  deactivate(): unknown;
  shutdown(): unknown;
  createPublisher<T extends MessageTypeName>(typeClass: T, topic: string, options?: RosEntityOptions): RosPublisher<T>;
  destroyPublisher<T extends MessageTypeName>(publisher: RosPublisher<T>): void;
  createSubscription<T extends MessageTypeName>(typeClass: T, topic: string, options: RosEntityOptions, callback: rcl.SubscriptionCallback<T>): RosSubscription;
  destroySubscription(subscription: RosSubscription): void;
  createService<T extends ServiceTypeName>(
    typeClass: T,
    serviceName: string,
    options: RosEntityOptions,
    callback: (request: rcl.ServiceRequestMessage<T>, response: RosServiceResponse<T>) => void,
  ): rcl.ServiceType<T>;
  destroyService(service: rcl.Service): void;
  createTimer(period: bigint, callback: () => void): RosTimer;
  declareParameter(parameter: RosParameter, descriptor?: RosParameterDescriptor): RosParameter;
  getParameter(name: string): RosParameter;
  addOnSetParametersCallback(callback: (parameters: RosParameter[]) => SetParametersResult): void;
  spin(timeout?: number): void;
  destroy(): void;
}

/** The module-level calls. */
export interface RclApi {
  init(context?: undefined, argv?: string[]): Promise<void>;
  shutdown(): void;
  isShutdown(): boolean;
  lifecycle: { LifecycleNode: new (nodeName: string, namespace?: string) => RosLifecycleNode };
  Parameter: typeof rcl.Parameter;
  ParameterDescriptor: typeof rcl.ParameterDescriptor;
  FloatingPointRange: typeof rcl.FloatingPointRange;
  IntegerRange: typeof rcl.IntegerRange;
}

// rclnodejs declares these as const enums, which do not exist at run time: the values are pinned here and the
// compiler checks each against the declared member.
export const ParameterTypes = {
  BOOL: 1 satisfies rcl.ParameterType.PARAMETER_BOOL,
  INTEGER: 2 satisfies rcl.ParameterType.PARAMETER_INTEGER,
  DOUBLE: 3 satisfies rcl.ParameterType.PARAMETER_DOUBLE,
  STRING: 4 satisfies rcl.ParameterType.PARAMETER_STRING,
  DOUBLE_ARRAY: 8 satisfies rcl.ParameterType.PARAMETER_DOUBLE_ARRAY,
  STRING_ARRAY: 9 satisfies rcl.ParameterType.PARAMETER_STRING_ARRAY,
} as const;

export const TransitionResult = {
  SUCCESS: 97 satisfies rcl.lifecycle.CallbackReturnCode.SUCCESS,
  FAILURE: 98 satisfies rcl.lifecycle.CallbackReturnCode.FAILURE,
  ERROR: 99 satisfies rcl.lifecycle.CallbackReturnCode.ERROR,
} as const satisfies Record<string, CallbackReturnCode>;

/** QoS profiles by the names rclnodejs accepts in `options.qos`. */
export const QosProfiles = {
  sensorData: "qos_profile_sensor_data" satisfies typeof rcl.QoS.profileSensorData,
  default: "qos_profile_default" satisfies typeof rcl.QoS.profileDefault,
  servicesDefault: "qos_profile_services_default" satisfies typeof rcl.QoS.profileServicesDefault,
} as const;

/**
 * Load rclnodejs. Fails with one line when no ROS 2 installation is sourced or the module cannot load (its
 * native part needs the sourced libraries: a prebuilt one for Humble/Jammy and Jazzy/Noble, else a build).
 */
export async function loadRclnodejs(env: NodeJS.ProcessEnv = process.env): Promise<RclApi> {
  if (!env.AMENT_PREFIX_PATH || !env.ROS_DISTRO) {
    throw new Error("ros2: no ROS 2 environment (AMENT_PREFIX_PATH / ROS_DISTRO unset): source /opt/ros/<distro>/setup.bash and the workspace's install/setup.bash first");
  }
  let loaded: typeof rcl;
  try {
    const module = await import("rclnodejs");
    loaded = ((module as { default?: typeof rcl }).default ?? module) as typeof rcl;
  } catch (error) {
    const text = error instanceof Error ? error.message : String(error);
    throw new Error(`ros2: cannot load rclnodejs for ROS ${env.ROS_DISTRO}: ${text.split("\n")[0]} (install it with npm install; it is an optional dependency)`);
  }
  return asRclApi(loaded);
}

// ---- compile-time conformance: the real library satisfies the narrow interfaces -------------------------------

export function asRclApi(module: typeof rcl): RclApi {
  return module;
}

export function asRosLifecycleNode(node: rcl.lifecycle.LifecycleNode): RosLifecycleNode {
  return node;
}
