// The vla_runtime ROS 2 node: a lifecycle node (rclnodejs) around the runtime.
//
//   unconfigured --configure--> inactive --activate--> active --deactivate--> (braking) --> inactive --cleanup--> unconfigured
//
// - construction: every setting is declared as a ROS parameter (descriptors from the config schema);
// - configure: parameters are read and validated, the arm description and the policy are loaded, every topic,
//   service and timer is created. Nothing is commanded yet;
// - activate: only with joint states for every joint, the policy ready and no latched emergency stop. The runtime
//   (fast loop in its worker, slow executor, shared-memory bridge to this node) starts; the fast loop's first
//   command holds the measured position, and only then does the policy move the arm;
// - deactivate: the policy is switched off at once; the safety stage brakes the arm to rest and the node keeps
//   streaming that brake (at most ros2.brake_timeout_ms), then stops commanding: the controller holds the last safe
//   command. The lifecycle state is already "inactive" during the brake (transitions are synchronous in rclnodejs);
//   PolicyStatus reports "braking" until it ends;
// - cleanup: everything created at configure is destroyed; shutdown: deactivate + cleanup.
//
// rclnodejs runs every callback on the JS main thread. The fast loop is not one of them: it runs in its worker
// and meets this thread only through shared memory (the bridge pumps it every millisecond).
import { join } from "node:path";
import type { RuntimeConfig } from "../../config/schema.js";
import { commandDim, loadArmDescription, type ArmDescription } from "../../kinematics/description.js";
import { monotonicNowNs } from "../../runtime/clock.js";
import { Runtime, type RuntimeOptions, fastOptionsFromConfig } from "../../runtime/runtime.js";
import type { SlowExecutorOptions } from "../../runtime/slowExecutor.js";
import type { ActionChunk } from "../../runtime/types.js";
import { CommandOutput } from "./commandOutputs.js";
import { configFromParameters, rosParameterSpecs, type NodeConfig, type RosParameterSpec } from "./parameters.js";
import {
  QosProfiles,
  TransitionResult,
  type CallbackReturnCode,
  type RclApi,
  type RosLifecycleNode,
  type RosParameter,
  type RosPublisher,
  type RosSubscription,
  type RosTimer,
  type SetParametersResult,
} from "./rcl.js";
import { RosArmBackend } from "./rosArmBackend.js";
import { SensorInputs, type SensorInputKind } from "./sensorInputs.js";
import { actionChunkMessage, diagnosticsMessage, policyStatusMessage, type ClockPair } from "./statusMessages.js";

/** What the node needs from a policy: the SlowExecutor options it cannot derive from the config, and how to release it. */
export type PolicySetup = Pick<SlowExecutorOptions, "policy" | "decoder" | "convert" | "policyDim" | "stepPeriodNs"> & {
  /** Called at cleanup and shutdown (e.g. a remote client's connection). */
  close?: () => void | Promise<void>;
};

/** Builds the slow policy for a configuration (may load models: asynchronous). */
export type PolicyFactory = (config: RuntimeConfig, arm: ArmDescription) => PolicySetup | Promise<PolicySetup>;

export type NodeState = "unconfigured" | "inactive" | "activating" | "active" | "braking" | "finalized";

export interface VlaRuntimeNodeOptions {
  rcl: RclApi;
  /** Folder with sim/ (the bundled arm description) and models/. */
  packageRoot: string;
  policyFactory: PolicyFactory;
  nodeName?: string;
  namespace?: string;
  /** The fast worker's script (tests pass a bundled one). */
  workerUrl?: URL;
  /** Fast-loop options the config does not carry (e.g. the worker's warm-up, its thread priority). */
  fastExtras?: Partial<Pick<RuntimeOptions["fast"], "threadNice" | "waiter">>;
  /** Monotonic clock (ns). */
  nowNs?: () => number;
}

/** Entities created at configure and destroyed at cleanup. */
interface Configured {
  config: NodeConfig;
  arm: ArmDescription;
  names: string[];
  inputs: SensorInputs;
  subscriptions: RosSubscription[];
  services: ReturnType<RosLifecycleNode["createService"]>[];
  timers: RosTimer[];
  armPublisher: RosPublisher<"trajectory_msgs/msg/JointTrajectory"> | RosPublisher<"std_msgs/msg/Float64MultiArray">;
  gripperPublisher: RosPublisher<"std_msgs/msg/Float64MultiArray"> | null;
  chunkPublisher: RosPublisher<"vla_runtime/msg/ActionChunk">;
  statusPublisher: RosPublisher<"vla_runtime/msg/PolicyStatus">;
  diagnosticsPublisher: RosPublisher<"diagnostic_msgs/msg/DiagnosticArray">;
  policy: PolicySetup | null;
  policyError: string | null;
}

/** Entities of one activation. */
interface Active {
  runtime: Runtime | null;
  starting: Promise<Runtime | null>;
  output: CommandOutput;
  backend: RosArmBackend;
  chunk: ActionChunk;
  seenChunkVersion: number;
  brakeStartNs: number;
  restPublishes: number;
}

/** Counters and rates the node reports. */
interface Counters {
  commandsPublished: number;
  chunksPublishedToRos: number;
  lastStatusNs: number;
  lastTicks: number;
  lastChunks: number;
  lastCommands: number;
}

const LOG_EVERY_REJECT = 100;

/** The reply of every service here (std_srvs Trigger / SetBool and SetInstruction share it). */
interface ServiceReply {
  success: boolean;
  message: string;
}

const TYPE_NAMES: Record<number, string> = { 1: "a bool", 2: "an integer", 3: "a double", 4: "a string", 8: "a list of doubles", 9: "a list of strings" };

export class VlaRuntimeNode {
  readonly node: RosLifecycleNode;
  readonly parameterSpecs: RosParameterSpec[];
  private readonly rcl: RclApi;
  private readonly nowNs: () => number;
  private stateValue: NodeState = "unconfigured";
  private configured: Configured | null = null;
  private active: Active | null = null;
  private instruction: string;
  private policyWanted = true;
  private estopLatched = false;
  private estopInputPressed = false;
  private lastError: string | null = null;
  private readonly counters: Counters = { commandsPublished: 0, chunksPublishedToRos: 0, lastStatusNs: 0, lastTicks: 0, lastChunks: 0, lastCommands: 0 };
  private autoActivateTimer: RosTimer | null = null;
  private stopping: Promise<void> = Promise.resolve();

  constructor(private readonly options: VlaRuntimeNodeOptions) {
    this.rcl = options.rcl;
    this.nowNs = options.nowNs ?? monotonicNowNs;
    this.node = new options.rcl.lifecycle.LifecycleNode(options.nodeName ?? "vla_runtime", options.namespace ?? "");
    this.parameterSpecs = rosParameterSpecs();
    for (const spec of this.parameterSpecs) this.declare(spec);
    this.instruction = String(this.parameterValue("episode.instruction") ?? "");
    this.node.addOnSetParametersCallback((parameters) => this.onSetParameters(parameters));
    this.node.registerOnConfigure(() => this.onConfigure());
    this.node.registerOnActivate(() => this.onActivate());
    this.node.registerOnDeactivate(() => this.onDeactivate());
    this.node.registerOnCleanup(() => this.onCleanup());
    this.node.registerOnShutdown(() => this.onShutdown());
  }

  get state(): NodeState {
    return this.stateValue;
  }

  /** The running runtime (null unless active). */
  get runtime(): Runtime | null {
    return this.active?.runtime ?? null;
  }

  get currentInstruction(): string {
    return this.instruction;
  }

  get emergencyStopLatched(): boolean {
    return this.estopLatched;
  }

  get commandsPublished(): number {
    return this.counters.commandsPublished;
  }

  /** Resolves when a deactivation's brake and runtime stop have finished. */
  whenSettled(): Promise<void> {
    return this.stopping;
  }

  /** ros2.auto_activate: configure now, then activate as soon as joint states and the policy are there. */
  startAutoActivation(retryPeriodMs = 200): void {
    if (this.stateValue === "unconfigured") this.node.configure();
    if (this.stateValue !== "inactive") return;
    let lastReport = 0;
    this.autoActivateTimer = this.node.createTimer(BigInt(Math.round(retryPeriodMs * 1e6)), () => {
      if (this.stateValue !== "inactive") return this.stopAutoActivation();
      const waiting = this.activationBlocker();
      if (waiting === null) {
        this.node.activate();
        const after: NodeState = this.state; // activate() ran the transition callbacks
        if (after === "active" || after === "activating") this.stopAutoActivation();
        return;
      }
      const now = this.nowNs();
      if (now - lastReport > 5e9) {
        lastReport = now;
        this.log("info", `auto-activation waiting: ${waiting}`);
      }
    });
  }

  // ---------------------------------------------------------------------------------------------------------
  // Parameters

  private declare(spec: RosParameterSpec): void {
    const { Parameter, ParameterDescriptor, FloatingPointRange, IntegerRange } = this.rcl;
    let range: InstanceType<typeof FloatingPointRange> | InstanceType<typeof IntegerRange> | undefined;
    if (spec.range?.kind === "floating") range = new FloatingPointRange(spec.range.from, spec.range.to, 0);
    else if (spec.range?.kind === "integer") range = new IntegerRange(spec.range.from, spec.range.to, 1n);
    const descriptor = new ParameterDescriptor(spec.rosName, spec.type, spec.description, spec.change === "read-only", range);
    descriptor.additionalConstraints = spec.additionalConstraints;
    try {
      this.node.declareParameter(new Parameter(spec.rosName, spec.type, spec.defaultValue), descriptor);
    } catch (error) {
      // An override (parameter file, launch file, --ros-args) did not fit the descriptor.
      throw new Error(`ros2: parameter ${spec.rosName}: the value given was rejected (${oneLine(error)}); expected ${TYPE_NAMES[spec.type]}, ${spec.additionalConstraints}`);
    }
  }

  private parameterValue(path: string): unknown {
    const spec = this.parameterSpecs.find((s) => s.path === path);
    return spec ? this.node.getParameter(spec.rosName).value : undefined;
  }

  private parameterValues(overrides: RosParameter[] = []): Map<string, unknown> {
    const values = new Map<string, unknown>();
    for (const spec of this.parameterSpecs) values.set(spec.rosName, this.node.getParameter(spec.rosName).value);
    for (const p of overrides) values.set(p.name, p.value);
    return values;
  }

  private onSetParameters(parameters: RosParameter[]): SetParametersResult {
    const byName = new Map(this.parameterSpecs.map((s) => [s.rosName, s]));
    for (const p of parameters) {
      const spec = byName.get(p.name);
      if (!spec) continue; // not ours (e.g. use_sim_time)
      if (spec.change === "configure" && this.stateValue !== "unconfigured") {
        return { successful: false, reason: `${p.name} is applied at configure: change it while the node is unconfigured (now ${this.stateValue})` };
      }
    }
    try {
      configFromParameters(this.parameterSpecs, this.parameterValues(parameters));
    } catch (error) {
      return { successful: false, reason: (error as Error).message };
    }
    for (const p of parameters) {
      if (byName.get(p.name)?.path === "episode.instruction") this.setInstruction(String(p.value));
    }
    return { successful: true, reason: "" };
  }

  // ---------------------------------------------------------------------------------------------------------
  // Lifecycle transitions (synchronous, as rclnodejs calls them)

  private onConfigure(): CallbackReturnCode {
    try {
      this.configured = this.configure();
      this.stateValue = "inactive";
      this.log("info", `configured: ${this.configured.names.length} command entries, output ${this.configured.config.ros2.output}`);
      return TransitionResult.SUCCESS;
    } catch (error) {
      this.fail(`configure: ${(error as Error).message}`);
      return TransitionResult.FAILURE;
    }
  }

  private configure(): Configured {
    const config = configFromParameters(this.parameterSpecs, this.parameterValues());
    const r = config.ros2;
    const armPath = r.armDescription || join(this.options.packageRoot, "sim", "arm", "description.json");
    const arm = loadArmDescription(armPath);
    const names = [...arm.joints.map((j) => j.name), arm.gripper.name];
    const node = this.node;
    // What was created so far is destroyed again if a later step throws (configure then fails cleanly).
    const undo: (() => void)[] = [];
    const track = <E>(entity: E, destroy: (e: E) => void): E => (undo.push(() => destroy(entity)), entity);
    const sub = (s: RosSubscription) => track(s, (e) => node.destroySubscription(e));
    try {
      const inputs = new SensorInputs({ arm, tactileCount: r.tactileCount, nowNs: this.nowNs, onReject: (kind, message) => this.onSensorReject(kind, message) });
      const sensorQos = { qos: QosProfiles.sensorData };
      const reliable = { qos: QosProfiles.default };
      const subscriptions: RosSubscription[] = [
        sub(node.createSubscription("sensor_msgs/msg/JointState", r.jointStatesTopic, sensorQos, (m) => inputs.onJointState(m))),
        sub(node.createSubscription("sensor_msgs/msg/Image", r.imageTopic, sensorQos, (m) => inputs.onImage(m))),
        sub(node.createSubscription("sensor_msgs/msg/CompressedImage", `${r.imageTopic}/compressed`, sensorQos, (m) => inputs.onCompressedImage(m))),
        sub(node.createSubscription("geometry_msgs/msg/WrenchStamped", r.wrenchTopic, sensorQos, (m) => inputs.onWrench(m))),
        sub(node.createSubscription("vla_runtime/msg/TactileArray", r.tactileTopic, sensorQos, (m) => inputs.onTactile(m))),
        sub(node.createSubscription("std_msgs/msg/String", r.instructionTopic, reliable, (m) => this.setInstruction(m.data))),
        sub(node.createSubscription("std_msgs/msg/Bool", r.estopTopic, reliable, (m) => this.onEstopInput(m.data))),
      ];
      const armPublisher =
        r.output === "trajectory"
          ? track(node.createPublisher("trajectory_msgs/msg/JointTrajectory", r.trajectoryTopic, reliable), (p) => node.destroyPublisher(p))
          : track(node.createPublisher("std_msgs/msg/Float64MultiArray", r.forwardTopic, reliable), (p) => node.destroyPublisher(p));
      const gripperPublisher = r.gripperTopic ? track(node.createPublisher("std_msgs/msg/Float64MultiArray", r.gripperTopic, reliable), (p) => node.destroyPublisher(p)) : null;
      const service = <S extends ReturnType<RosLifecycleNode["createService"]>>(s: S) => track(s, (e) => node.destroyService(e));
      const services = [
        service(node.createService("std_srvs/srv/Trigger", "~/reset_estop", { qos: QosProfiles.servicesDefault }, (_req, res) => res.send(this.resetEstop()))),
        service(node.createService("std_srvs/srv/SetBool", "~/set_policy_enabled", { qos: QosProfiles.servicesDefault }, (req, res) => res.send(this.setPolicyEnabled(req.data)))),
        service(
          node.createService("vla_runtime/srv/SetInstruction", "~/set_instruction", { qos: QosProfiles.servicesDefault }, (req, res) => res.send(this.setInstruction(req.instruction))),
        ),
      ];
      const configured: Configured = {
        config,
        arm,
        names,
        inputs,
        subscriptions,
        services,
        timers: [],
        armPublisher,
        gripperPublisher,
        chunkPublisher: track(node.createPublisher("vla_runtime/msg/ActionChunk", "~/action_chunk", reliable), (p) => node.destroyPublisher(p)),
        statusPublisher: track(node.createPublisher("vla_runtime/msg/PolicyStatus", "~/status", reliable), (p) => node.destroyPublisher(p)),
        diagnosticsPublisher: track(node.createPublisher("diagnostic_msgs/msg/DiagnosticArray", "/diagnostics", reliable), (p) => node.destroyPublisher(p)),
        policy: null,
        policyError: null,
      };
      const outputRateHz = r.output === "trajectory" ? r.trajectoryRateHz : r.forwardRateHz;
      const timer = (t: RosTimer) => track(t, (e) => e.cancel());
      configured.timers.push(
        timer(node.createTimer(periodNs(outputRateHz), () => this.publishCommand())),
        timer(node.createTimer(periodNs(r.chunkPollHz), () => this.publishNewChunk())),
        timer(node.createTimer(periodNs(r.statusRateHz), () => this.publishStatus())),
      );
      this.counters.lastStatusNs = this.nowNs();
      // The policy may load models: asynchronous; activation waits for it.
      Promise.resolve()
        .then(() => this.options.policyFactory(config.runtime, arm))
        .then(
          (setup) => {
            if (this.configured === configured) configured.policy = setup;
            else void Promise.resolve(setup.close?.()).catch(() => {}); // cleaned up while it loaded
          },
          (error: unknown) => {
            if (this.configured !== configured) return;
            configured.policyError = `policy: ${oneLine(error)}`;
            this.fail(configured.policyError);
          },
        );
      return configured;
    } catch (error) {
      for (const u of undo.reverse()) {
        try {
          u();
        } catch {
          // already gone
        }
      }
      throw error;
    }
  }

  /** Why activation cannot happen now (null: it can). */
  private activationBlocker(): string | null {
    const c = this.configured;
    if (!c) return "the node is not configured";
    if (this.estopLatched) return "the emergency stop is latched: reset it with ~/reset_estop";
    if (c.policyError) return c.policyError;
    if (!c.policy) return "the policy is still loading";
    if (!c.inputs.complete) return `no joint state yet for ${c.inputs.missingJoints().join(", ")} on ${c.config.ros2.jointStatesTopic}`;
    return null;
  }

  private onActivate(): CallbackReturnCode {
    if (this.stateValue === "braking") {
      this.fail("activate: still braking from the last deactivation; try again when it has finished");
      return TransitionResult.FAILURE;
    }
    const blocker = this.activationBlocker();
    if (blocker !== null) {
      this.fail(`activate: ${blocker}`);
      return TransitionResult.FAILURE;
    }
    const c = this.configured!;
    const r = c.config.ros2;
    const output = new CommandOutput({
      mode: r.output,
      names: c.names,
      gripperSeparate: r.gripperTopic !== "",
      lookaheadNs: r.trajectoryLookaheadMs * 1e6,
      withVelocities: r.trajectoryVelocities,
    });
    const backend = new RosArmBackend(c.inputs, output);
    const dim = commandDim(c.arm);
    const active: Active = {
      runtime: null,
      starting: Promise.resolve(null),
      output,
      backend,
      chunk: { actions: new Float64Array(256 * dim), steps: 0, dim, stepPeriodNs: 0, observationTimeNs: 0, arrivalTimeNs: 0, sequence: 0 },
      seenChunkVersion: 0,
      brakeStartNs: 0,
      restPublishes: 0,
    };
    this.active = active;
    this.stateValue = "activating";
    active.starting = Runtime.start(this.runtimeOptions(c, backend)).then(
      async (runtime) => {
        if (this.active !== active || this.stateValue !== "activating") {
          await runtime.stop(); // deactivated (or shut down) while it started
          return null;
        }
        runtime.setPolicyEnabled(this.policyWanted);
        if (this.estopLatched) runtime.emergencyStop();
        active.runtime = runtime;
        active.seenChunkVersion = runtime.state.chunkVersion();
        this.stateValue = "active";
        this.log("info", `active: fast loop at ${c.config.runtime.control.rateHz} Hz, policy "${c.policy!.policy.name}" ${this.policyWanted ? "enabled" : "disabled"}`);
        return runtime;
      },
      (error: unknown) => {
        this.fail(`activate: the runtime did not start: ${oneLine(error)}`);
        if (this.active === active && this.stateValue === "activating") {
          this.active = null;
          this.stateValue = "inactive";
          try {
            this.node.deactivate(); // back to the lifecycle state that matches: nothing runs
          } catch (transitionError) {
            this.recordError(`deactivate after the failed start: ${oneLine(transitionError)}`);
          }
        }
        return null;
      },
    );
    return TransitionResult.SUCCESS;
  }

  private runtimeOptions(c: Configured, backend: RosArmBackend): RuntimeOptions {
    const rc = c.config.runtime;
    const policy = c.policy!;
    return {
      arm: c.arm,
      fast: { ...fastOptionsFromConfig(rc), ...this.options.fastExtras },
      backend: { kind: "main-thread", backend },
      tactileCount: c.config.ros2.tactileCount,
      slow: {
        ...policy,
        inputs: () => ({ image: c.inputs.latestImage(), instruction: this.instruction }),
        rateHz: rc.policy.rateHz,
        timeoutMs: rc.policy.timeoutMs,
        onError: (message) => this.recordError(message),
      },
      workerUrl: this.options.workerUrl,
      onError: (message) => this.recordError(message),
    };
  }

  private onDeactivate(): CallbackReturnCode {
    const active = this.active;
    if (!active) {
      this.stateValue = "inactive";
      return TransitionResult.SUCCESS;
    }
    this.stateValue = "braking";
    active.brakeStartNs = this.nowNs();
    active.restPublishes = 0;
    active.runtime?.setPolicyEnabled(false);
    this.log("info", "deactivating: policy off, braking to rest");
    return TransitionResult.SUCCESS;
  }

  /** Called by the command timer while braking: at rest (or out of time) -> final message, stop the runtime. */
  private finishBrakeIfDone(active: Active): void {
    const c = this.configured!;
    const elapsedMs = (this.nowNs() - active.brakeStartNs) / 1e6;
    const atRest = active.output.hasCommand ? active.output.speed() < 1e-4 : true;
    active.restPublishes = atRest ? active.restPublishes + 1 : 0;
    const timedOut = elapsedMs > c.config.ros2.brakeTimeoutMs;
    if (active.restPublishes < 3 && !timedOut) return;
    if (timedOut && !atRest) this.fail(`deactivate: the arm was not at rest after ${c.config.ros2.brakeTimeoutMs} ms of braking; stopped commanding`);
    if (active.output.build(true)) this.publishArm(active.output);
    this.active = null;
    this.stateValue = "inactive";
    this.stopping = this.stopping.then(async () => {
      const runtime = await active.starting;
      await runtime?.stop();
      this.log("info", `inactive: the arm holds the last safe command (${timedOut ? "brake timed out" : "at rest"})`);
    });
  }

  private onCleanup(): CallbackReturnCode {
    if (this.stateValue === "braking") {
      this.fail("cleanup: still braking from the last deactivation; try again when it has finished");
      return TransitionResult.FAILURE;
    }
    this.destroyConfigured();
    this.stateValue = "unconfigured";
    return TransitionResult.SUCCESS;
  }

  private onShutdown(): CallbackReturnCode {
    this.stopAutoActivation();
    const active = this.active;
    this.active = null;
    if (active) {
      active.runtime?.setPolicyEnabled(false);
      // No time to brake through the node any more: the fast loop stops and the controller holds its last command.
      this.stopping = this.stopping.then(async () => {
        const runtime = await active.starting;
        await runtime?.stop();
      });
    }
    this.destroyConfigured();
    this.stateValue = "finalized";
    return TransitionResult.SUCCESS;
  }

  private destroyConfigured(): void {
    const c = this.configured;
    if (!c) return;
    this.configured = null;
    const policy = c.policy;
    if (policy?.close) {
      // After the runtime has stopped (it may still be calling the policy while it brakes).
      this.stopping = this.stopping.then(async () => {
        try {
          await policy.close!();
        } catch (error) {
          this.recordError(`policy close: ${oneLine(error)}`);
        }
      });
    }
    for (const t of c.timers) t.cancel();
    for (const s of c.subscriptions) this.node.destroySubscription(s);
    for (const s of c.services) this.node.destroyService(s);
    this.node.destroyPublisher(c.armPublisher);
    if (c.gripperPublisher) this.node.destroyPublisher(c.gripperPublisher);
    this.node.destroyPublisher(c.chunkPublisher);
    this.node.destroyPublisher(c.statusPublisher);
    this.node.destroyPublisher(c.diagnosticsPublisher);
  }

  private stopAutoActivation(): void {
    this.autoActivateTimer?.cancel();
    this.autoActivateTimer = null;
  }

  // ---------------------------------------------------------------------------------------------------------
  // Timers

  private publishCommand(): void {
    const active = this.active;
    if (!active || (this.stateValue !== "active" && this.stateValue !== "braking")) return;
    if (active.output.build()) this.publishArm(active.output);
    if (this.stateValue === "braking") this.finishBrakeIfDone(active);
  }

  private publishArm(output: CommandOutput): void {
    const c = this.configured;
    if (!c) return;
    (c.armPublisher as RosPublisher<"trajectory_msgs/msg/JointTrajectory" | "std_msgs/msg/Float64MultiArray">).publish(output.armMessage());
    c.gripperPublisher?.publish(output.gripper);
    this.counters.commandsPublished++;
  }

  private publishNewChunk(): void {
    const active = this.active;
    const c = this.configured;
    const runtime = active?.runtime;
    if (!active || !c || !runtime) return;
    const version = runtime.state.chunkVersion();
    if (version === active.seenChunkVersion || (version & 1) === 1) return;
    const read = runtime.state.readChunk(active.chunk);
    if (read === 0) return;
    active.seenChunkVersion = read;
    const stats = runtime.slow.stats();
    c.chunkPublisher.publish(actionChunkMessage(active.chunk, c.names, c.policy?.policy.name ?? "", stats.lastInferenceMs, this.clocks()));
    this.counters.chunksPublishedToRos++;
  }

  private publishStatus(): void {
    const c = this.configured;
    if (!c) return;
    const runtime = this.active?.runtime ?? null;
    const status = runtime ? runtime.state.readStatus() : null;
    const slow = runtime ? runtime.slow.stats() : null;
    const now = this.nowNs();
    const dtS = Math.max(1e-9, (now - this.counters.lastStatusNs) / 1e9);
    const ticks = status?.ticks ?? 0;
    const chunks = slow?.chunksPublished ?? 0;
    const rate = (current: number, last: number) => (current >= last ? (current - last) / dtS : 0);
    const message = policyStatusMessage(
      status,
      slow,
      {
        state: this.stateValue,
        policyEnabled: this.policyWanted,
        emergencyStopLatched: this.estopLatched,
        policy: c.policy?.policy.name ?? "",
        controlRateHz: rate(ticks, this.counters.lastTicks),
        policyRateHz: rate(chunks, this.counters.lastChunks),
        commandRateHz: rate(this.counters.commandsPublished, this.counters.lastCommands),
        sensorMessagesRejected: c.inputs.totalRejected,
        lastError: this.lastError,
      },
      this.node.now().toMsg(),
    );
    this.counters.lastStatusNs = now;
    this.counters.lastTicks = ticks;
    this.counters.lastChunks = chunks;
    this.counters.lastCommands = this.counters.commandsPublished;
    c.statusPublisher.publish(message);
    c.diagnosticsPublisher.publish(diagnosticsMessage(message, this.node.name(), runtime?.fast.health ?? "stopped", c.inputs.missingJoints()));
  }

  private clocks(): ClockPair {
    return { rosNowNs: this.node.now().nanoseconds, monotonicNowNs: this.nowNs() };
  }

  // ---------------------------------------------------------------------------------------------------------
  // Commands from the graph

  private onEstopInput(pressed: boolean): void {
    this.estopInputPressed = pressed;
    if (!pressed) return; // releasing the button does not reset the latch: ~/reset_estop does
    if (!this.estopLatched) this.log("warn", "emergency stop: latched (reset with ~/reset_estop)");
    this.estopLatched = true;
    this.runtime?.emergencyStop();
  }

  private resetEstop(): ServiceReply {
    if (!this.estopLatched) return { success: true, message: "the emergency stop was not latched" };
    if (this.estopInputPressed) return { success: false, message: "the emergency stop input still reads true: release it first" };
    this.estopLatched = false;
    this.runtime?.resetEmergencyStop();
    this.log("info", "emergency stop: reset");
    return { success: true, message: "emergency stop reset" };
  }

  private setPolicyEnabled(enabled: boolean): ServiceReply {
    this.policyWanted = enabled;
    this.runtime?.setPolicyEnabled(enabled);
    return { success: true, message: enabled ? "policy enabled" : "policy disabled: the arm brakes and holds" };
  }

  private setInstruction(text: string): ServiceReply {
    if (typeof text !== "string" || text.trim() === "") return { success: false, message: "expected a non-empty instruction" };
    this.instruction = text;
    return { success: true, message: `instruction set (${text.length} characters)` };
  }

  // ---------------------------------------------------------------------------------------------------------

  private readonly rejectLog = new Map<SensorInputKind, number>();

  private onSensorReject(kind: SensorInputKind, message: string): void {
    const n = (this.rejectLog.get(kind) ?? 0) + 1;
    this.rejectLog.set(kind, n);
    this.lastError = message;
    if (n === 1 || n % LOG_EVERY_REJECT === 0) this.log("warn", `${message} (${n} rejected so far)`);
  }

  private recordError(message: string): void {
    this.lastError = message;
    this.log("error", message);
  }

  private fail(message: string): void {
    this.lastError = message;
    this.log("error", message);
  }

  private log(level: "info" | "warn" | "error", message: string): void {
    this.node.getLogger()[level](message);
  }
}

function periodNs(rateHz: number): bigint {
  return BigInt(Math.round(1e9 / rateHz));
}

function oneLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split("\n")[0].slice(0, 300);
}

