// The Gazebo arm backend: drives an arm simulated by gz-sim over gz-transport, with no ROS in between.
//
//   commands  -> one Double per joint on /model/<model>/joint/<joint>/0/cmd_pos (JointPositionController), the
//                gripper width as half the width on each finger joint; or one Actuators message with every
//                position (controllers configured with <use_actuator_msg>)
//   positions <- gz.msgs.Model on /world/<world>/model/<model>/joint_state (JointStatePublisher)
//   wrench    <- gz.msgs.Wrench from the ForceTorque sensor at the wrist
//   tactile   <- gz.msgs.Contacts from the Contact sensor on the pad's taxel collisions
//
// It lives on the main thread (its sockets need the event loop); the runtime moves its samples and commands
// through the shared-memory bridge. Every command it sends has already passed the safety stage. Incoming
// messages are decoded into preallocated state; readSensors and sendCommand allocate nothing of their own
// (the socket library creates one promise per send).
import type { ArmDescription } from "../../kinematics/description.js";
import type { GazeboWorldLayout } from "../../sim/sdf.js";
import { monotonicNowNs } from "../../runtime/clock.js";
import type { ArmBackend, SensorSnapshot } from "../../runtime/types.js";
import { ActuatorsPositionEncoder, ContactsDecoder, DoubleEncoder, JointStateDecoder, WrenchDecoder } from "./messages.js";
import { messageTypeName, type GzTypeFlavour } from "./names.js";
import { GzNode, type GzNodeOptions, type GzPublisher, type GzSubscription } from "./node.js";
import { RateLimitedReporter } from "./reporter.js";

export type GzCommandMode = "joint-position" | "actuators";

/**
 * How the wrench sensor's reading relates to the runtime's convention (the wrench the environment applies to
 * the tool, in the tool frame). The generated world's sensor measures what the arm (parent) applies to the
 * gripper (child); with the tool's own weight not acting (gravity-compensated links, as in the embedded
 * simulator) the environment's wrench is its negative.
 */
export type GzWrenchConvention = "parent-on-child" | "child-on-parent" | "environment-on-tool";

export interface GzArmTopics {
  /** Per command target: the arm joints, then the two finger joints. */
  jointCommands: string[];
  /** Actuators topic (commandMode "actuators"). */
  actuators: string;
  jointState: string;
  wrench: string;
  contacts: string;
}

export interface GzArmBackendOptions {
  arm: ArmDescription;
  /** Model name in the world (default: the arm's name). */
  modelName?: string;
  /** World name (default "vla_wipe", the generated world). */
  worldName?: string;
  /** "gz" for Garden / Harmonic and later, "ignition" for Fortress. Default "gz". */
  typeFlavour?: GzTypeFlavour;
  commandMode?: GzCommandMode;
  fingerJointNames?: [string, string];
  /** Collision names of the taxels, in tactile order (default taxel_0 .. taxel_{n-1}). */
  taxelCollisionNames?: string[];
  /** Tactile values per snapshot (the runtime's layout); extra entries stay 0. Default: number of taxel names. */
  tactileCount?: number;
  /** Override single topics (defaults follow the gz-sim systems' default names). */
  topics?: Partial<GzArmTopics>;
  wrenchConvention?: GzWrenchConvention;
  /** Contacts are published only while touching: after this long without one, the taxels read 0 (ms). Default 50. */
  contactHoldMs?: number;
  /** Penetration stiffness for contacts that carry no force (N/m). Default 20000. */
  contactStiffnessNPerM?: number;
  /** A node to share (not closed by the backend); otherwise one is created from nodeOptions. */
  node?: GzNode;
  nodeOptions?: GzNodeOptions;
  nowNs?: () => number;
  onError?: (message: string) => void;
}

export interface GzArmBackendStats {
  jointStates: number;
  wrenches: number;
  contacts: number;
  malformedJointStates: number;
  malformedWrenches: number;
  malformedContacts: number;
  /** Joint states that lacked one of the joints the backend needs. */
  incompleteJointStates: number;
  commandsSent: number;
  /** Commands sent while the simulator had not registered yet (nothing went out). */
  commandsWithoutSubscriber: number;
  nonFiniteCommands: number;
  /** Contacts on collisions that are not taxels (e.g. the fingers). */
  unmatchedContacts: number;
}

export function defaultGzArmTopics(modelName: string, worldName: string, jointNames: readonly string[], fingers: readonly [string, string]): GzArmTopics {
  const model = `/model/${modelName}`;
  return {
    jointCommands: [...jointNames, ...fingers].map((j) => `${model}/joint/${j}/0/cmd_pos`),
    actuators: `${model}/actuators`,
    jointState: `/world/${worldName}/model/${modelName}/joint_state`,
    wrench: `/world/${worldName}/model/${modelName}/wrist_ft`,
    contacts: `/world/${worldName}/model/${modelName}/pad_contact`,
  };
}

/** The runtime configuration's `gz` section (CLI flags, config file, ROS parameters). Empty strings mean "default". */
export interface GzBackendSettings {
  world: string;
  /** Empty: the arm description's name. */
  model: string;
  typeFlavour: GzTypeFlavour;
  commandMode: GzCommandMode;
  /** Empty: GZ_PARTITION, IGN_PARTITION, else <hostname>:<username>. */
  partition: string;
  /** Empty: GZ_IP, IGN_IP, else the first external IPv4 address. */
  ip: string;
  connectTimeoutMs: number;
  contactHoldMs: number;
  wrenchConvention: GzWrenchConvention;
}

/**
 * Create the backend for `vla-runtime run --backend gz` and wait until the simulator answers (every joint
 * reported, every controller registered). Rejects with a one-line reason, and closes what it opened, when it
 * does not within connectTimeoutMs.
 */
export async function connectGzArm(
  arm: ArmDescription,
  settings: GzBackendSettings,
  options: { tactileCount: number; onError?: (message: string) => void; env?: Readonly<Record<string, string | undefined>> },
): Promise<GzArmBackend> {
  const backend = await GzArmBackend.create({
    arm,
    worldName: settings.world,
    modelName: settings.model || undefined,
    typeFlavour: settings.typeFlavour,
    commandMode: settings.commandMode,
    tactileCount: options.tactileCount,
    contactHoldMs: settings.contactHoldMs,
    wrenchConvention: settings.wrenchConvention,
    nodeOptions: { partition: settings.partition || undefined, ip: settings.ip || undefined, env: options.env },
    onError: options.onError,
  });
  try {
    await backend.waitUntilReady(settings.connectTimeoutMs);
    return backend;
  } catch (err) {
    await backend.close();
    throw err;
  }
}

/** Backend options that match a world generated by buildGazeboWorld (names, topics, taxels, flavour). */
export function gzArmOptionsFromWorld(layout: GazeboWorldLayout): Omit<GzArmBackendOptions, "arm"> {
  return {
    modelName: layout.modelName,
    worldName: layout.worldName,
    typeFlavour: layout.flavour,
    commandMode: layout.commandMode,
    fingerJointNames: layout.fingerJointNames,
    taxelCollisionNames: layout.taxelCollisionNames,
    tactileCount: layout.taxelCollisionNames.length,
    topics: layout.topics,
    wrenchConvention: layout.wrenchConvention,
  };
}

export class GzArmBackend implements ArmBackend {
  readonly name = "gz";
  readonly dim: number;
  readonly topics: GzArmTopics;
  readonly typeFlavour: GzTypeFlavour;
  private readonly jointCount: number;
  private readonly jointState: JointStateDecoder;
  private readonly wrenchDecoder = new WrenchDecoder();
  private readonly contactsDecoder: ContactsDecoder;
  private readonly seen: Uint8Array;
  private seenAll = false;
  private lastJointStateNs = 0;
  private lastContactsNs = -Infinity;
  private haveWrench = false;
  private readonly wrenchSign: number;
  private readonly contactHoldNs: number;
  private readonly tactileCount: number;
  private readonly commandPublishers: GzPublisher[] = [];
  private readonly doubleEncoders: DoubleEncoder[] = [];
  private actuatorsPublisher: GzPublisher | null = null;
  private readonly actuators: ActuatorsPositionEncoder;
  private readonly subscriptions: GzSubscription[] = [];
  private readonly reporter: RateLimitedReporter;
  private readonly now: () => number;
  private closed = false;
  private readonly counters: GzArmBackendStats = {
    jointStates: 0,
    wrenches: 0,
    contacts: 0,
    malformedJointStates: 0,
    malformedWrenches: 0,
    malformedContacts: 0,
    incompleteJointStates: 0,
    commandsSent: 0,
    commandsWithoutSubscriber: 0,
    nonFiniteCommands: 0,
    unmatchedContacts: 0,
  };

  private constructor(
    private readonly node: GzNode,
    private readonly ownsNode: boolean,
    options: GzArmBackendOptions,
  ) {
    const arm = options.arm;
    if (!arm || !Array.isArray(arm.joints) || arm.joints.length === 0) {
      throw new Error(`gz arm: expected an arm description with joints, got ${arm ? typeof arm.joints : String(arm)}`);
    }
    this.jointCount = arm.joints.length;
    this.dim = this.jointCount + 1;
    const modelName = options.modelName ?? arm.name;
    const worldName = options.worldName ?? "vla_wipe";
    const fingers = options.fingerJointNames ?? ["finger_left", "finger_right"];
    const jointNames = arm.joints.map((j) => j.name);
    this.topics = { ...defaultGzArmTopics(modelName, worldName, jointNames, fingers), ...options.topics };
    if (this.topics.jointCommands.length !== this.jointCount + 2) {
      throw new Error(`gz arm: expected ${this.jointCount + 2} joint command topics (joints + two fingers), got ${this.topics.jointCommands.length}`);
    }
    const flavour = options.typeFlavour ?? "gz";
    if (flavour !== "gz" && flavour !== "ignition") throw new Error(`gz arm: typeFlavour must be "gz" or "ignition", got ${String(flavour)}`);
    this.typeFlavour = flavour;
    const convention = options.wrenchConvention ?? "parent-on-child";
    if (convention !== "parent-on-child" && convention !== "child-on-parent" && convention !== "environment-on-tool") {
      throw new Error(`gz arm: wrenchConvention must be "parent-on-child", "child-on-parent" or "environment-on-tool", got ${String(convention)}`);
    }
    const commandMode = options.commandMode ?? "joint-position";
    if (commandMode !== "joint-position" && commandMode !== "actuators") throw new Error(`gz arm: commandMode must be "joint-position" or "actuators", got ${String(commandMode)}`);
    this.wrenchSign = convention === "parent-on-child" ? -1 : 1;
    const taxels = options.taxelCollisionNames ?? Array.from({ length: options.tactileCount ?? 16 }, (_, i) => `taxel_${i}`);
    this.tactileCount = options.tactileCount ?? taxels.length;
    this.contactHoldNs = (options.contactHoldMs ?? 50) * 1e6;
    if (!(this.contactHoldNs > 0)) throw new Error(`gz arm: contactHoldMs must be > 0, got ${options.contactHoldMs}`);
    this.now = options.nowNs ?? monotonicNowNs;
    this.reporter = new RateLimitedReporter(options.onError);

    this.jointState = new JointStateDecoder([...jointNames, ...fingers]);
    this.seen = new Uint8Array(this.jointCount + 2);
    this.contactsDecoder = new ContactsDecoder(taxels, options.contactStiffnessNPerM ?? 20_000);
    this.actuators = new ActuatorsPositionEncoder(this.jointCount + 2);

    const doubleType = messageTypeName(flavour, "Double");
    if (commandMode === "actuators") {
      this.actuatorsPublisher = node.advertise(this.topics.actuators, messageTypeName(flavour, "Actuators"));
    } else {
      for (const topic of this.topics.jointCommands) {
        this.commandPublishers.push(node.advertise(topic, doubleType));
        this.doubleEncoders.push(new DoubleEncoder());
      }
    }
    this.subscriptions.push(node.subscribe(this.topics.jointState, messageTypeName(flavour, "Model"), (p) => this.onJointState(p)));
    this.subscriptions.push(node.subscribe(this.topics.wrench, messageTypeName(flavour, "Wrench"), (p) => this.onWrench(p)));
    this.subscriptions.push(node.subscribe(this.topics.contacts, messageTypeName(flavour, "Contacts"), (p) => this.onContacts(p)));
  }

  /** Create the backend (and its node unless one is given); resolves once the sockets are up. */
  static async create(options: GzArmBackendOptions): Promise<GzArmBackend> {
    const node = options.node ?? (await GzNode.create({ onError: options.onError, ...options.nodeOptions }));
    try {
      return new GzArmBackend(node, !options.node, options);
    } catch (err) {
      if (!options.node) await node.close();
      throw err;
    }
  }

  get gzNode(): GzNode {
    return this.node;
  }

  /** True once the simulator's controllers registered for every command topic. */
  commandsConnected(): boolean {
    if (this.actuatorsPublisher) return this.actuatorsPublisher.hasConnections();
    return this.commandPublishers.every((p) => p.hasConnections());
  }

  /** True once every joint (and finger) has been reported at least once. */
  hasState(): boolean {
    return this.seenAll;
  }

  stats(): GzArmBackendStats {
    return { ...this.counters };
  }

  /**
   * Resolve once the simulator has reported every joint and its controllers have registered for the
   * commands; reject after `timeoutMs` with a one-line error that says what is missing and where to look.
   */
  async waitUntilReady(timeoutMs = 10_000): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (!(this.seenAll && this.commandsConnected())) {
      if (this.closed) throw new Error("gz arm: closed while waiting for the simulator");
      if (performance.now() > deadline) {
        const missing: string[] = [];
        if (!this.seenAll) missing.push(this.counters.jointStates === 0 ? `no joint state on ${this.topics.jointState}` : `joint states on ${this.topics.jointState} lack some joints`);
        const unregistered = this.actuatorsPublisher
          ? this.actuatorsPublisher.hasConnections() ? [] : [this.topics.actuators]
          : this.commandPublishers.filter((p) => !p.hasConnections()).map((p) => p.topic);
        if (unregistered.length > 0) missing.push(`no controller subscribed to ${unregistered.length === 1 ? unregistered[0] : `${unregistered.length} command topics (${unregistered[0]}, ...)`}`);
        throw new Error(
          `gz arm: ${missing.join("; ")} within ${timeoutMs} ms (is gz sim running the world, in partition "${this.node.partition}", with ${this.actuatorsPublisher ? "Actuators" : "Double"} commands and the ${this.typeFlavour === "gz" ? "gz.msgs (Garden or later)" : "ignition.msgs (Fortress)"} type names; GZ_IP if it runs on another host?)`,
        );
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  readSensors(into: SensorSnapshot): boolean {
    if (!this.seenAll) return false;
    const n = this.jointCount;
    const p = this.jointState.positions;
    const v = this.jointState.velocities;
    for (let i = 0; i < n; i++) {
      into.positions[i] = p[i];
      into.velocities[i] = v[i];
    }
    into.positions[n] = p[n] + p[n + 1];
    into.velocities[n] = v[n] + v[n + 1];
    const w = this.wrenchDecoder.wrench;
    const s = this.haveWrench ? this.wrenchSign : 0;
    for (let i = 0; i < 6 && i < into.wrench.length; i++) into.wrench[i] = s * w[i] + 0; // + 0: no negative zero
    const fresh = this.now() - this.lastContactsNs <= this.contactHoldNs;
    const forces = this.contactsDecoder.forcesN;
    const m = into.tactile.length < this.tactileCount ? into.tactile.length : this.tactileCount;
    for (let i = 0; i < into.tactile.length; i++) into.tactile[i] = fresh && i < m && i < forces.length ? forces[i] : 0;
    into.timeNs = this.lastJointStateNs;
    return true;
  }

  sendCommand(command: Float64Array, _timeNs: number): void {
    if (this.closed) return;
    const n = this.jointCount;
    if (command.length < this.dim) {
      this.counters.nonFiniteCommands++;
      this.reporter.report("shortCommand", `gz arm: expected a command of ${this.dim} values, got ${command.length}; nothing sent`);
      return;
    }
    const half = command[n] * 0.5;
    if (this.actuatorsPublisher) {
      for (let i = 0; i <= n; i++) {
        if (!Number.isFinite(command[i])) {
          this.counters.nonFiniteCommands++;
          this.reporter.report("nonFinite", `gz arm: command[${i}] is ${command[i]}, expected a finite number; the whole command was withheld`);
          return;
        }
      }
      for (let i = 0; i < n; i++) this.actuators.set(i, command[i]);
      this.actuators.set(n, half);
      this.actuators.set(n + 1, half);
      if (this.actuatorsPublisher.publish(this.actuators.message)) this.counters.commandsSent++;
      else this.counters.commandsWithoutSubscriber++;
      return;
    }
    let sent = 0;
    for (let i = 0; i < n + 2; i++) {
      const value = i < n ? command[i] : half;
      if (!Number.isFinite(value)) {
        // A non-finite target for one joint leaves that joint's controller on its last target.
        this.counters.nonFiniteCommands++;
        this.reporter.report("nonFinite", `gz arm: command for ${i < n ? `joint ${i}` : "the gripper"} is ${value}, expected a finite number; that joint keeps its last target`);
        continue;
      }
      if (this.commandPublishers[i].publish(this.doubleEncoders[i].encode(value))) sent++;
    }
    if (sent > 0) this.counters.commandsSent++;
    else this.counters.commandsWithoutSubscriber++;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const s of this.subscriptions) s.unsubscribe();
    for (const p of this.commandPublishers) p.unadvertise();
    this.actuatorsPublisher?.unadvertise();
    if (this.ownsNode) await this.node.close();
  }

  private onJointState(payload: Uint8Array): void {
    this.counters.jointStates++;
    let found: number;
    try {
      found = this.jointState.decode(payload);
    } catch (err) {
      this.counters.malformedJointStates++;
      this.reporter.report("jointState", `gz arm: dropped a joint state on ${this.topics.jointState}: ${(err as Error).message}`);
      return;
    }
    const present = this.jointState.present;
    if (found < present.length) {
      this.counters.incompleteJointStates++;
      // Name the missing joints only when the line will be printed: no allocation per message otherwise.
      const missing = this.reporter.wouldPrint("incomplete") ? this.jointState.jointNames.filter((_, i) => present[i] === 0).join(", ") : "";
      this.reporter.report("incomplete", `gz arm: joint state on ${this.topics.jointState} lacks ${missing} (expected every arm and finger joint)`);
    }
    if (found === 0) return;
    if (!this.seenAll) {
      let all = true;
      for (let i = 0; i < present.length; i++) {
        this.seen[i] |= present[i];
        if (this.seen[i] === 0) all = false;
      }
      this.seenAll = all;
    }
    this.lastJointStateNs = this.now();
  }

  private onWrench(payload: Uint8Array): void {
    this.counters.wrenches++;
    try {
      this.wrenchDecoder.decode(payload);
      this.haveWrench = true;
    } catch (err) {
      this.counters.malformedWrenches++;
      this.reporter.report("wrench", `gz arm: dropped a wrench on ${this.topics.wrench}: ${(err as Error).message}`);
    }
  }

  private onContacts(payload: Uint8Array): void {
    this.counters.contacts++;
    try {
      this.contactsDecoder.decode(payload);
      this.lastContactsNs = this.now();
      this.counters.unmatchedContacts += this.contactsDecoder.unmatched;
    } catch (err) {
      this.counters.malformedContacts++;
      this.reporter.report("contacts", `gz arm: dropped contacts on ${this.topics.contacts}: ${(err as Error).message}`);
    }
  }
}
