// A stand-in for rclnodejs and the ROS 2 graph around one node, for machines without ROS 2. It implements exactly
// the calls the adapter makes (RclApi / RosLifecycleNode, which the compiler checks against rclnodejs's own
// declarations) and records what a real graph would see:
// - topics and services with their fully resolved names, interface types and QoS policies;
// - parameter declarations with their descriptors, using rclnodejs's own Parameter / ParameterDescriptor / Range
//   classes (its pure-JS lib/parameter.js) and the declare / set semantics of rclnodejs's Node;
// - lifecycle transitions with the ROS 2 state machine (callback SUCCESS -> goal state, FAILURE -> back);
// - every published message as ROS 2 CDR bytes (the encoder the Cyclone DDS test checks byte for byte), so a
//   message that would not serialize fails here as it would in rclnodejs.
// Messages injected by a test go through the same bytes and arrive as rclnodejs delivers them (typed arrays for
// numeric sequences, bigint for 64-bit integers).
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { decodeCdr, encodeCdr } from "../../../src/transports/ros2/cdr.js";
import { loadInterfaces, type InterfaceRegistry } from "../../../src/transports/ros2/interfaces.js";
import type {
  MessageOf,
  MessageTypeName,
  RclApi,
  RosEntityOptions,
  RosLifecycleNode,
  RosLogger,
  RosParameter,
  RosParameterDescriptor,
  RosPublisher,
  RosServiceResponse,
  RosSubscription,
  RosTime,
  RosTimer,
  ServiceRequestOf,
  ServiceTypeName,
  SetParametersResult,
  TransitionCallback,
} from "../../../src/transports/ros2/rcl.js";

/** The repository root (msg/ and srv/ live there), found from here whether this runs from test/ or a build folder. */
function repositoryRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "package.json")) || !existsSync(join(dir, "msg"))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error("stand-in: cannot find the repository root (package.json and msg/) above this file");
    dir = parent;
  }
  return dir;
}

const root = repositoryRoot();

/** QoS policies behind the profile names rclnodejs accepts (rmw's qos_profile_* definitions). */
export interface QosPolicies {
  reliability: "reliable" | "best_effort";
  durability: "volatile" | "transient_local";
  history: "keep_last";
  depth: number;
}

const PROFILES: Record<string, QosPolicies> = {
  qos_profile_default: { reliability: "reliable", durability: "volatile", history: "keep_last", depth: 10 },
  qos_profile_sensor_data: { reliability: "best_effort", durability: "volatile", history: "keep_last", depth: 5 },
  qos_profile_services_default: { reliability: "reliable", durability: "volatile", history: "keep_last", depth: 10 },
};

export interface RecordedMessage {
  bytes: Uint8Array;
  decoded: Record<string, unknown>;
  /** Stand-in clock time of the publish (ms since the graph started). */
  atMs: number;
}

export interface TopicEndpoint {
  kind: "publisher" | "subscription";
  topic: string;
  type: string;
  qos: QosPolicies;
  destroyed: boolean;
}

interface SubscriptionRecord extends TopicEndpoint {
  kind: "subscription";
  callback: (message: never) => void;
}

export interface PublisherRecord extends TopicEndpoint {
  kind: "publisher";
  messages: RecordedMessage[];
  count: number;
}

interface ServiceRecord {
  name: string;
  type: string;
  destroyed: boolean;
  callback: (request: never, response: { send(r: unknown): void }) => void;
}

export interface TransitionRecord {
  transition: "configure" | "activate" | "deactivate" | "cleanup" | "shutdown";
  from: LifecycleStateName;
  to: LifecycleStateName;
  result: "SUCCESS" | "FAILURE" | "ERROR";
}

export type LifecycleStateName = "unconfigured" | "inactive" | "active" | "finalized";

/** One ROS graph (one process's view): the node's entities and what went over them. */
export class StandInGraph {
  readonly registry: InterfaceRegistry = loadInterfaces(root);
  readonly endpoints: (PublisherRecord | SubscriptionRecord)[] = [];
  readonly services: ServiceRecord[] = [];
  readonly logs: { level: string; message: string }[] = [];
  readonly nodes: StandInLifecycleNode[] = [];
  readonly startedMs = performance.now();
  /** Keep at most this many messages per publisher (the count goes on). */
  keepMessages = 2000;
  private readonly listeners: { topic: string; callback: (decoded: Record<string, unknown>) => void }[] = [];

  constructor(
    /** Parameter overrides as a parameter file or --ros-args -p would give them (by ROS name). */
    readonly parameterOverrides: Record<string, unknown> = {},
  ) {}

  publishers(topic?: string): PublisherRecord[] {
    return this.endpoints.filter((e): e is PublisherRecord => e.kind === "publisher" && !e.destroyed && (topic === undefined || e.topic === topic));
  }

  subscriptions(topic?: string): TopicEndpoint[] {
    return this.endpoints.filter((e) => e.kind === "subscription" && !e.destroyed && (topic === undefined || e.topic === topic));
  }

  /** Every publisher that ever existed on `topic`, destroyed ones included (their history stays). */
  private allPublishers(topic: string): PublisherRecord[] {
    return this.endpoints.filter((e): e is PublisherRecord => e.kind === "publisher" && e.topic === topic);
  }

  /** Messages published on `topic` (decoded from their CDR bytes), including by publishers destroyed since. */
  messages(topic: string): RecordedMessage[] {
    return this.allPublishers(topic).flatMap((p) => p.messages);
  }

  /** Be told of every message the node publishes on `topic` (what another node subscribing would get). */
  listen(topic: string, callback: (decoded: Record<string, unknown>) => void): void {
    this.listeners.push({ topic, callback });
  }

  /** Called by the stand-in publishers. */
  delivered(topic: string, decoded: Record<string, unknown>): void {
    for (const l of this.listeners) if (l.topic === topic) l.callback(decoded);
  }

  publishCount(topic: string): number {
    return this.allPublishers(topic).reduce((n, p) => n + p.count, 0);
  }

  /**
   * Deliver `message` to the node's subscriptions on `topic`, as a publisher with `publisherQos` would: it is
   * serialized to CDR and parsed back, so the node receives what rclnodejs would hand it. Returns the number of
   * subscriptions reached (a best-effort publisher does not reach a reliable subscription).
   */
  inject<T extends MessageTypeName>(topic: string, type: T, message: MessageOf<T>, publisherQos: QosPolicies = PROFILES.qos_profile_default): number {
    const subs = this.endpoints.filter((e): e is SubscriptionRecord => e.kind === "subscription" && !e.destroyed && e.topic === topic);
    let reached = 0;
    for (const sub of subs) {
      if (sub.type !== type) throw new Error(`stand-in: ${topic} is subscribed as ${sub.type}, a ${type} publisher would not match`);
      if (sub.qos.reliability === "reliable" && publisherQos.reliability === "best_effort") continue;
      const bytes = encodeCdr(this.registry, type, message);
      sub.callback(decodeCdr(this.registry, type, bytes) as never);
      reached++;
    }
    return reached;
  }

  /** Call a service the node offers, with CDR round trips for request and response. */
  async call<T extends ServiceTypeName>(name: string, type: T, request: ServiceRequestOf<T>): Promise<Record<string, unknown>> {
    const service = this.services.find((s) => s.name === name && !s.destroyed);
    if (!service) throw new Error(`stand-in: no service ${name} (have ${this.services.filter((s) => !s.destroyed).map((s) => s.name).join(", ") || "none"})`);
    if (service.type !== type) throw new Error(`stand-in: ${name} is a ${service.type}, not a ${type}`);
    const requestBytes = encodeCdr(this.registry, `${type}_Request`, request);
    return new Promise((resolve, reject) => {
      const response = {
        send: (reply: unknown) => {
          try {
            resolve(decodeCdr(this.registry, `${type}_Response`, encodeCdr(this.registry, `${type}_Response`, reply)));
          } catch (error) {
            reject(error);
          }
        },
      };
      service.callback(decodeCdr(this.registry, `${type}_Request`, requestBytes) as never, response);
    });
  }

  elapsedMs(): number {
    return performance.now() - this.startedMs;
  }
}

/** Resolve a topic or service name as rcl does: "~/x" under the node, "x" under its namespace. */
export function resolveName(name: string, nodeName: string, namespace: string): string {
  const ns = namespace === "" || namespace === "/" ? "" : namespace.startsWith("/") ? namespace : `/${namespace}`;
  if (name.startsWith("~/")) return `${ns}/${nodeName}/${name.slice(2)}`;
  if (name.startsWith("/")) return name;
  return `${ns}/${name}`;
}

interface DeclaredParameter {
  parameter: RosParameter;
  descriptor: RosParameterDescriptor;
}

interface TimerRecord extends RosTimer {
  periodNs: bigint;
  callback: () => void;
  cancelled: boolean;
  fire(): void;
}

const ROS_STATE_IDS: Record<LifecycleStateName, number> = { unconfigured: 1, inactive: 2, active: 3, finalized: 4 };

export class StandInLifecycleNode implements RosLifecycleNode {
  readonly graph: StandInGraph;
  readonly parameters = new Map<string, DeclaredParameter>();
  readonly transitions: TransitionRecord[] = [];
  readonly timers: TimerRecord[] = [];
  private readonly callbacks = new Map<TransitionRecord["transition"], TransitionCallback>();
  private readonly setCallbacks: ((parameters: RosParameter[]) => SetParametersResult)[] = [];
  private lifecycleState: LifecycleStateName = "unconfigured";
  private destroyed = false;

  constructor(
    private readonly nodeName: string,
    private readonly ns: string,
    graph: StandInGraph,
    private readonly api: StandInRcl,
  ) {
    this.graph = graph;
    graph.nodes.push(this);
  }

  get lifecycle(): LifecycleStateName {
    return this.lifecycleState;
  }

  name(): string {
    return this.nodeName;
  }

  namespace(): string {
    return this.ns === "" ? "/" : this.ns;
  }

  getLogger(): RosLogger {
    const record = (level: string) => (message: string) => {
      this.graph.logs.push({ level, message });
      return true;
    };
    return { debug: record("debug"), info: record("info"), warn: record("warn"), error: record("error") };
  }

  now(): RosTime {
    const nanoseconds = BigInt(Date.now()) * 1_000_000n;
    return {
      nanoseconds,
      toMsg: () => ({ sec: Number(nanoseconds / 1_000_000_000n), nanosec: Number(nanoseconds % 1_000_000_000n) }),
    } as RosTime;
  }

  // ---- lifecycle (ROS 2 managed-node state machine) ----

  registerOnConfigure(cb: TransitionCallback): void {
    this.callbacks.set("configure", cb);
  }
  registerOnActivate(cb: TransitionCallback): void {
    this.callbacks.set("activate", cb);
  }
  registerOnDeactivate(cb: TransitionCallback): void {
    this.callbacks.set("deactivate", cb);
  }
  registerOnCleanup(cb: TransitionCallback): void {
    this.callbacks.set("cleanup", cb);
  }
  registerOnShutdown(cb: TransitionCallback): void {
    this.callbacks.set("shutdown", cb);
  }

  configure(): unknown {
    return this.transition("configure", ["unconfigured"], "inactive");
  }
  activate(): unknown {
    return this.transition("activate", ["inactive"], "active");
  }
  deactivate(): unknown {
    return this.transition("deactivate", ["active"], "inactive");
  }
  cleanup(): unknown {
    return this.transition("cleanup", ["inactive"], "unconfigured");
  }
  shutdown(): unknown {
    return this.transition("shutdown", ["unconfigured", "inactive", "active"], "finalized");
  }

  private transition(name: TransitionRecord["transition"], from: LifecycleStateName[], goal: LifecycleStateName): { id: number; label: string } {
    const start = this.lifecycleState;
    // rclnodejs throws when the transition is not available from the current state.
    if (!from.includes(start)) throw new Error(`No transition available from state ${start} for ${name}`);
    const cb = this.callbacks.get(name);
    let code = 97;
    if (cb) {
      try {
        code = cb(this.stateObject(start) as never);
      } catch {
        code = 99;
      }
    }
    const result = code === 97 ? "SUCCESS" : code === 98 ? "FAILURE" : "ERROR";
    // FAILURE: back to the start state; ERROR: error processing, which (without an on_error callback) ends unconfigured.
    const to = result === "SUCCESS" ? goal : result === "FAILURE" ? start : "unconfigured";
    this.lifecycleState = to;
    this.transitions.push({ transition: name, from: start, to, result });
    return { id: ROS_STATE_IDS[to], label: to };
  }

  private stateObject(state: LifecycleStateName): { id: number; label: string } {
    return { id: ROS_STATE_IDS[state], label: state };
  }

  // ---- topics ----

  createPublisher<T extends MessageTypeName>(typeClass: T, topic: string, options?: RosEntityOptions): RosPublisher<T> {
    const record: PublisherRecord = {
      kind: "publisher",
      topic: resolveName(topic, this.nodeName, this.ns),
      type: typeClass,
      qos: qosOf(options),
      destroyed: false,
      messages: [],
      count: 0,
    };
    this.graph.endpoints.push(record);
    const graph = this.graph;
    return {
      topic: record.topic,
      publish(message: MessageOf<T>) {
        if (record.destroyed) throw new Error(`stand-in: publish on destroyed publisher ${record.topic}`);
        const bytes = encodeCdr(graph.registry, typeClass, message);
        const decoded = decodeCdr(graph.registry, typeClass, bytes);
        record.count++;
        if (record.messages.length < graph.keepMessages) record.messages.push({ bytes, decoded, atMs: graph.elapsedMs() });
        graph.delivered(record.topic, decoded);
      },
      [RECORD]: record,
    } as RosPublisher<T>;
  }

  destroyPublisher<T extends MessageTypeName>(publisher: RosPublisher<T>): void {
    const record = (publisher as unknown as { [RECORD]?: PublisherRecord })[RECORD];
    if (!record) throw new Error("stand-in: destroyPublisher got something that is not one of this node's publishers");
    record.destroyed = true;
  }

  createSubscription<T extends MessageTypeName>(typeClass: T, topic: string, options: RosEntityOptions, callback: (message: MessageOf<T>) => void): RosSubscription {
    const record: SubscriptionRecord = {
      kind: "subscription",
      topic: resolveName(topic, this.nodeName, this.ns),
      type: typeClass,
      qos: qosOf(options),
      destroyed: false,
      callback: callback as (message: never) => void,
    };
    this.graph.endpoints.push(record);
    return { topic: record.topic, [RECORD]: record } as RosSubscription;
  }

  destroySubscription(subscription: RosSubscription): void {
    const record = (subscription as unknown as { [RECORD]?: SubscriptionRecord })[RECORD];
    if (!record) throw new Error("stand-in: destroySubscription got something that is not one of this node's subscriptions");
    record.destroyed = true;
  }

  createService<T extends ServiceTypeName>(
    typeClass: T,
    serviceName: string,
    _options: RosEntityOptions,
    callback: (request: ServiceRequestOf<T>, response: RosServiceResponse<T>) => void,
  ): never {
    const record: ServiceRecord = { name: resolveName(serviceName, this.nodeName, this.ns), type: typeClass, destroyed: false, callback: callback as ServiceRecord["callback"] };
    this.graph.services.push(record);
    return { [RECORD]: record } as never;
  }

  destroyService(service: unknown): void {
    const record = (service as { [RECORD]?: ServiceRecord })[RECORD];
    if (!record) throw new Error("stand-in: destroyService got something that is not one of this node's services");
    record.destroyed = true;
  }

  createTimer(period: bigint, callback: () => void): RosTimer {
    if (typeof period !== "bigint") throw new TypeError(`stand-in: createTimer expects the period as a bigint (ns), got ${typeof period}`);
    const ms = Number(period) / 1e6;
    const handle = this.api.realTimers ? setInterval(() => timer.fire(), Math.max(1, ms)) : null;
    const timer: TimerRecord = {
      periodNs: period,
      callback,
      cancelled: false,
      cancel: () => {
        timer.cancelled = true;
        if (handle) clearInterval(handle);
      },
      fire: () => {
        if (!timer.cancelled && !this.destroyed) callback();
      },
    };
    this.timers.push(timer);
    return timer;
  }

  /** Fire every live timer once (deterministic tests). */
  fireTimers(): void {
    for (const t of [...this.timers]) t.fire();
  }

  // ---- parameters (rclnodejs Node semantics: overrides win at declaration, descriptors validate, callbacks veto) ----

  declareParameter(parameter: RosParameter, descriptor?: RosParameterDescriptor): RosParameter {
    if (this.parameters.has(parameter.name)) throw new Error(`Parameter(${parameter.name}) already declared.`);
    const d = descriptor ?? this.api.ParameterDescriptor.fromParameter(parameter);
    d.validate();
    let value = parameter;
    if (parameter.name in this.graph.parameterOverrides) {
      value = new this.api.Parameter(parameter.name, overrideType(this.graph.parameterOverrides[parameter.name]), this.graph.parameterOverrides[parameter.name]);
    }
    try {
      d.validateParameter(value);
    } catch (error) {
      throw new Error(`Parameter ${parameter.name} rejected: ${(error as Error).message}`);
    }
    this.parameters.set(parameter.name, { parameter: value, descriptor: d });
    return value;
  }

  getParameter(name: string): RosParameter {
    const found = this.parameters.get(name);
    if (!found) throw new Error(`stand-in: parameter ${name} is not declared`);
    return found.parameter;
  }

  addOnSetParametersCallback(callback: (parameters: RosParameter[]) => SetParametersResult): void {
    this.setCallbacks.push(callback);
  }

  /** What `ros2 param set` does: validate against the descriptor, honour read-only, let callbacks veto. */
  setParameter(name: string, value: unknown): SetParametersResult {
    const declared = this.parameters.get(name);
    if (!declared) return { successful: false, reason: `Parameter ${name} has not been declared` };
    let parameter: RosParameter;
    try {
      parameter = new this.api.Parameter(name, overrideType(value), value);
      if (declared.descriptor.readOnly) return { successful: false, reason: `Parameter ${name} is readonly` };
      declared.descriptor.validateParameter(parameter);
    } catch (error) {
      return { successful: false, reason: (error as Error).message };
    }
    for (const cb of this.setCallbacks) {
      const result = cb([parameter]);
      if (!result.successful) return result;
    }
    declared.parameter = parameter;
    return { successful: true, reason: "" };
  }

  spin(): void {}

  destroy(): void {
    this.destroyed = true;
    for (const t of this.timers) t.cancel();
  }
}

const RECORD = Symbol("stand-in record");

function qosOf(options: RosEntityOptions | undefined): QosPolicies {
  const profile = options?.qos ?? "qos_profile_default";
  const policies = PROFILES[profile];
  if (!policies) throw new Error(`stand-in: unknown QoS profile ${profile}`);
  return policies;
}

/** The parameter type a YAML / command-line value gets (rcl types 500 as an integer, 500.0 as a double). */
function overrideType(value: unknown): 1 | 2 | 3 | 4 | 8 | 9 {
  if (typeof value === "boolean") return 1;
  if (typeof value === "bigint") return 2;
  if (typeof value === "number") return 3;
  if (typeof value === "string") return 4;
  if (Array.isArray(value) && value.every((v) => typeof v === "number")) return 8;
  return 9;
}

/** The rclnodejs module as the adapter uses it. Parameter classes are rclnodejs's own (pure JS, no native part). */
export interface StandInRcl extends RclApi {
  realTimers: boolean;
}

export async function createStandIn(graph: StandInGraph, options: { realTimers?: boolean } = {}): Promise<StandInRcl> {
  const specifier = "rclnodejs/lib/parameter.js";
  const real = (await import(specifier)) as Pick<RclApi, "Parameter" | "ParameterDescriptor" | "FloatingPointRange" | "IntegerRange">;
  let shutdown = false;
  const api: StandInRcl = {
    realTimers: options.realTimers ?? true,
    init: async () => {},
    shutdown: () => {
      shutdown = true;
      for (const n of graph.nodes) n.destroy();
    },
    isShutdown: () => shutdown,
    lifecycle: {
      LifecycleNode: class extends StandInLifecycleNode {
        constructor(nodeName: string, namespace?: string) {
          super(nodeName, namespace ?? "", graph, api);
        }
      },
    },
    Parameter: real.Parameter,
    ParameterDescriptor: real.ParameterDescriptor,
    FloatingPointRange: real.FloatingPointRange,
    IntegerRange: real.IntegerRange,
  };
  return api;
}

export const QOS = PROFILES;
