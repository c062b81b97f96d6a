// Deterministic replay: the recorded inputs of a run (sensor samples, chunks and latents as they appeared in shared
// memory, control flags) go back through a fast loop built from the recorded configuration (same scheduler, reactive
// step and safety stage), ticked at the recorded tick times. Every command is compared bit for bit with the recorded
// one; the first difference says which tick, which field, which joint. Optionally the slow path is checked too: the
// policy's recorded tokens are decoded and converted again and compared with the recorded chunks.
import { commandDim } from "../kinematics/description.js";
import { buildFastLoop, createBuiltinRegistry, FastPartsRegistry, type FastLoopConfig, type PartConfig } from "../runtime/fastLoop.js";
import { SharedRuntimeState, type CommandRecord } from "../runtime/sharedState.js";
import type { ActionConverter, ChunkDecoder, Observation } from "../runtime/slowExecutor.js";
import type { ArmBackend, ReactiveStep, SensorSnapshot } from "../runtime/types.js";
import { loadRecording, type RecordedCommand, type RecordedSensorSample, type Recording } from "./recordingReader.js";

export interface ReplayTick {
  index: number;
  timeNs: number;
  recorded: RecordedCommand;
  replayed: CommandRecord;
  /** What the reactive step added to the scheduler's target this tick (per command entry). */
  reactiveOffset: Float64Array;
}

export interface SlowPathCheck {
  decoder: ChunkDecoder;
  /** Default: identity (the policy speaks absolute commands). */
  convert?: ActionConverter;
  policyDim?: number;
}

export interface ReplayOptions {
  /** Registry with the reactive kinds the run used (default: the built-in ones plus the recorded plugins). */
  registry?: FastPartsRegistry;
  /** Change the recorded fast-loop config (a what-if run: differences are then expected). */
  fastLoopOverride?: Partial<Omit<FastLoopConfig, "arm" | "backend">>;
  /** Keep going after the first difference to count them all (default true). */
  compareAll?: boolean;
  onTick?: (tick: ReplayTick) => void;
  onProgress?: (done: number, total: number) => void;
  /** Decode the recorded policy tokens again and compare with the recorded chunks. */
  slowPath?: SlowPathCheck;
}

export interface CommandDifference {
  tick: number;
  timeNs: number;
  /** Seconds since the first recorded command. */
  atS: number;
  field: "command" | "target" | "sampleState" | "safetyReasons" | "chunkSequence" | "missing";
  /** Entry of the command vector, and its name. */
  index: number | null;
  name: string | null;
  recorded: number | string;
  replayed: number | string;
}

export interface ReplayResult {
  identical: boolean;
  ticksReplayed: number;
  differingTicks: number;
  firstDifference: CommandDifference | null;
  maxAbsDifference: number;
  chunksFed: number;
  latentsFed: number;
  controlChangesFed: number;
  /** Reasons the replay may not be exact (dropped messages, a cut file, ticks the recorder missed, teleop). */
  warnings: string[];
  slowPath: { chunksChecked: number; identical: boolean; firstDifference: string | null; failuresReproduced: number } | null;
}

/** The backend of a replay: hands the fast loop the recorded sample for each tick. */
class RecordedSensorsBackend implements ArmBackend {
  readonly name = "replay";
  current: RecordedSensorSample | null = null;
  constructor(readonly dim: number) {}

  readSensors(into: SensorSnapshot): boolean {
    const s = this.current;
    if (!s) return false;
    into.timeNs = s.timeNs;
    into.positions.set(s.positions);
    into.velocities.set(s.velocities);
    into.wrench.set(s.wrench);
    into.tactile.set(s.tactile);
    return true;
  }

  sendCommand(): void {}
  close(): void {}
}

/** Wraps the configured reactive step to see its correction; changes nothing. */
class ReactiveOffsetTap implements ReactiveStep {
  readonly name: string;
  readonly offset: Float64Array;
  private readonly before: Float64Array;

  constructor(private readonly inner: ReactiveStep, dim: number) {
    this.name = inner.name;
    this.offset = new Float64Array(dim);
    this.before = new Float64Array(dim);
  }

  step(nowNs: number, target: Float64Array, sensors: SensorSnapshot): void {
    this.before.set(target);
    this.inner.step(nowNs, target, sensors);
    for (let i = 0; i < target.length; i++) this.offset[i] = target[i] - this.before[i];
  }

  onNewChunk(): void {
    this.inner.onNewChunk();
  }
}

const REPLAY_BACKEND_KIND = "vla-runtime-replay";

function sameNumber(a: number, b: number): boolean {
  return a === b || (a !== a && b !== b);
}

/** Replay a recording (a path or one already loaded) and compare the commands. */
export async function replay(file: string | Recording, options: ReplayOptions = {}): Promise<ReplayResult> {
  const rec = typeof file === "string" ? await loadRecording(file) : file;
  const recorded = rec.info.fastLoop;
  if (!recorded) throw new Error(`replay: ${rec.path} has no fast-loop configuration (it was recorded without one); nothing to rebuild the loop from`);
  const arm = rec.info.arm;
  const dim = commandDim(arm);
  const taxels = rec.info.tactile.rows * rec.info.tactile.cols;
  const warnings = collectWarnings(rec);
  const maxSteps = Math.max(256, ...rec.chunks.map((c) => c.steps));
  const latentSize = Math.max(0, ...rec.latents.map((l) => l.latent.length));
  const state = SharedRuntimeState.create({ dim, tactileCount: taxels, maxChunkSteps: maxSteps, latentSize });

  const source = options.registry ?? (await registryWithPlugins(recorded.plugins));
  const backend = new RecordedSensorsBackend(dim);
  let tap: ReactiveOffsetTap | null = null;
  const parts = new FastPartsRegistry();
  parts.registerBackend(REPLAY_BACKEND_KIND, () => ({ backend, publishSensors: true }));
  for (const kind of source.reactiveKinds()) {
    parts.registerReactive(kind, async (config, context) => (tap = new ReactiveOffsetTap(await source.buildReactive(config, context), dim)));
  }
  const config: FastLoopConfig = { ...recorded, ...options.fastLoopOverride, arm, backend: { kind: REPLAY_BACKEND_KIND } as PartConfig };
  const built = await buildFastLoop(config, state, parts);
  const offsets = (tap as ReactiveOffsetTap | null)?.offset ?? new Float64Array(dim);

  // Inputs in the order the loop met them: a chunk goes in before the first tick that played it or, if none did,
  // before the first tick after the recorder saw it in the slot.
  const firstPlayed = new Map<number, number>();
  for (const c of rec.commands) if (c.chunkSequence !== 0 && !firstPlayed.has(c.chunkSequence)) firstPlayed.set(c.chunkSequence, c.timeNs);
  type Feed = { timeNs: number; order: number; apply: () => void; kind: "chunk" | "latent" | "control" };
  const feeds: Feed[] = [];
  let order = 0;
  for (const c of rec.chunks) {
    const timeNs = Math.min(c.seenAtNs, firstPlayed.get(c.sequence) ?? Infinity);
    feeds.push({
      timeNs,
      order: order++,
      kind: "chunk",
      apply: () => state.writeChunk({ actions: c.actions, steps: c.steps, dim: c.dim, stepPeriodNs: c.stepPeriodNs, observationTimeNs: c.observationTimeNs, arrivalTimeNs: c.arrivalTimeNs, sequence: c.sequence }),
    });
  }
  for (const l of rec.latents) {
    feeds.push({ timeNs: l.seenAtNs, order: order++, kind: "latent", apply: () => state.writeLatent(l.latent, l.sequence, l.observationTimeNs, l.arrivalTimeNs) });
  }
  let requests = 0;
  let resets = 0;
  for (const c of rec.controls) {
    feeds.push({
      timeNs: c.timeNs,
      order: order++,
      kind: "control",
      apply: () => {
        for (; resets < c.emergencyStopResets; resets++) state.requestEmergencyStopReset();
        for (; requests < c.emergencyStopRequests; requests++) state.requestEmergencyStop();
        state.setPolicyEnabled(c.policyEnabled);
      },
    });
  }
  feeds.sort((a, b) => a.timeNs - b.timeNs || a.order - b.order);

  const byTime = new Map(rec.sensors.map((s) => [s.timeNs, s]));
  const replayed = state.createCommandRecord();
  const names = rec.info.jointNames;
  const t0 = rec.commands[0]?.timeNs ?? 0;
  const result: ReplayResult = {
    identical: true,
    ticksReplayed: 0,
    differingTicks: 0,
    firstDifference: null,
    maxAbsDifference: 0,
    chunksFed: 0,
    latentsFed: 0,
    controlChangesFed: 0,
    warnings,
    slowPath: null,
  };
  let missingSamples = 0;
  let nextFeed = 0;
  const compareAll = options.compareAll ?? true;
  const total = rec.commands.length;
  try {
    for (let i = 0; i < total; i++) {
      const c = rec.commands[i];
      while (nextFeed < feeds.length && feeds[nextFeed].timeNs <= c.timeNs) {
        const feed = feeds[nextFeed++];
        feed.apply();
        if (feed.kind === "chunk") result.chunksFed++;
        else if (feed.kind === "latent") result.latentsFed++;
        else result.controlChangesFed++;
      }
      const sample = byTime.get(c.sensorTimeNs) ?? newestAtOrBefore(rec.sensors, c.timeNs);
      if (sample?.timeNs !== c.sensorTimeNs) missingSamples++;
      backend.current = sample;
      built.loop.tick(c.timeNs);
      result.ticksReplayed++;
      const version = state.readCommand(replayed);
      const difference = version === 0 ? missingDifference(c, t0) : compare(c, replayed, t0, names, result);
      if (difference) {
        result.identical = false;
        result.differingTicks++;
        result.firstDifference ??= difference;
      }
      options.onTick?.({ index: i, timeNs: c.timeNs, recorded: c, replayed, reactiveOffset: offsets });
      if (i % 2000 === 0) options.onProgress?.(i, total);
      if (difference && !compareAll) break;
    }
    options.onProgress?.(total, total);
  } finally {
    await built.close();
  }
  if (missingSamples > 0) warnings.push(`${missingSamples} ticks used a sensor sample that is not in the recording (the nearest older one was replayed)`);
  if (options.slowPath) result.slowPath = checkSlowPath(rec, options.slowPath);
  return result;
}

function compare(c: RecordedCommand, r: CommandRecord, t0: number, names: string[], result: ReplayResult): CommandDifference | null {
  let first: CommandDifference | null = null;
  const at = (field: CommandDifference["field"], index: number | null, recorded: number | string, replayed: number | string): CommandDifference => ({
    tick: c.tick,
    timeNs: c.timeNs,
    atS: (c.timeNs - t0) / 1e9,
    field,
    index,
    name: index === null ? null : (names[index] ?? null),
    recorded,
    replayed,
  });
  for (const field of ["command", "target"] as const) {
    const a = c[field];
    const b = r[field];
    for (let i = 0; i < a.length; i++) {
      if (sameNumber(a[i], b[i])) continue;
      const d = Math.abs(a[i] - b[i]);
      if (d > result.maxAbsDifference || d !== d) result.maxAbsDifference = d !== d ? Infinity : d;
      first ??= at(field, i, a[i], b[i]);
    }
  }
  if (c.sampleState !== r.sampleState) first ??= at("sampleState", null, c.sampleState, r.sampleState);
  if (c.safetyReasons !== r.safetyReasons) first ??= at("safetyReasons", null, c.safetyReasons, r.safetyReasons);
  if (c.chunkSequence !== r.chunkSequence) first ??= at("chunkSequence", null, c.chunkSequence, r.chunkSequence);
  return first;
}

function missingDifference(c: RecordedCommand, t0: number): CommandDifference {
  return { tick: c.tick, timeNs: c.timeNs, atS: (c.timeNs - t0) / 1e9, field: "missing", index: null, name: null, recorded: "a command", replayed: "none (the loop sent nothing)" };
}

function newestAtOrBefore(samples: RecordedSensorSample[], timeNs: number): RecordedSensorSample | null {
  let lo = 0;
  let hi = samples.length - 1;
  let found: RecordedSensorSample | null = null;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (samples[mid].timeNs <= timeNs) {
      found = samples[mid];
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}

function collectWarnings(rec: Recording): string[] {
  const w: string[] = [];
  if (!rec.complete) w.push(`the file was cut short (no footer: the run crashed or was killed); replaying what was flushed`);
  if (rec.readError) w.push(rec.readError);
  if (rec.droppedMessages) w.push(`the recorder dropped ${rec.droppedMessages} messages (the disk fell behind)`);
  if (rec.undecodable > 0) w.push(`${rec.undecodable} messages did not decode and were skipped (first: ${rec.firstDecodeError})`);
  let gaps = 0;
  for (let i = 1; i < rec.commands.length; i++) gaps += Math.max(0, rec.commands[i].tick - rec.commands[i - 1].tick - 1);
  if (gaps > 0) w.push(`${gaps} fast-loop ticks are missing from the recording (a real-time recorder polls slower than the loop); those ticks are not replayed`);
  if (rec.teleopEvents.length > 0) w.push(`the run has ${rec.teleopEvents.length} teleop events; teleop targets are not replayed, so commands during a takeover can differ`);
  if (rec.info.mode === "realtime") w.push(`a real-time recording: chunk and sample timing relative to ticks is reconstructed, exactness is only promised for lockstep runs`);
  return w;
}

async function registryWithPlugins(plugins: string[] | undefined): Promise<FastPartsRegistry> {
  const registry = createBuiltinRegistry();
  for (const url of plugins ?? []) {
    const plugin = (await import(url)) as { registerFastParts?: (r: FastPartsRegistry) => void };
    if (typeof plugin.registerFastParts !== "function") throw new Error(`replay: plugin ${url} does not export registerFastParts(registry)`);
    plugin.registerFastParts(registry);
  }
  return registry;
}

/** Decode and convert every recorded token answer again; compare with the chunk published from the same observation. */
function checkSlowPath(rec: Recording, check: SlowPathCheck): NonNullable<ReplayResult["slowPath"]> {
  const dim = rec.info.jointNames.length;
  const policyDim = check.policyDim ?? dim;
  const convert: ActionConverter = check.convert ?? ((actions) => actions);
  const chunkByObservation = new Map(rec.chunks.map((c) => [c.observationTimeNs, c]));
  const out = { chunksChecked: 0, identical: true, firstDifference: null as string | null, failuresReproduced: 0 };
  const differ = (message: string) => {
    out.identical = false;
    out.firstDifference ??= message;
  };
  for (const call of rec.policyCalls) {
    if (call.outputKind !== "tokens") continue;
    const chunk = chunkByObservation.get(call.observationTimeNs) ?? null;
    const sample = rec.sensors.find((s) => s.timeNs === call.observationTimeNs);
    let decoded: Float64Array | Error;
    try {
      decoded = check.decoder(call.tokens);
    } catch (error) {
      decoded = error instanceof Error ? error : new Error(String(error));
    }
    let commands: Float64Array | Error = decoded;
    if (!(decoded instanceof Error)) {
      if (!sample) {
        differ(`policy call ${call.call}: the observation's sensor sample is not in the recording`);
        continue;
      }
      const obs: Observation = { timeNs: sample.timeNs, positions: sample.positions, velocities: sample.velocities, wrench: sample.wrench, tactile: sample.tactile, instruction: "" };
      try {
        commands = convert(decoded, decoded.length / policyDim, policyDim, obs);
      } catch (error) {
        commands = error instanceof Error ? error : new Error(String(error));
      }
    }
    if (commands instanceof Error) {
      if (chunk) differ(`policy call ${call.call}: decoding again failed (${commands.message}) but the run published chunk ${chunk.sequence}`);
      else out.failuresReproduced++;
      continue;
    }
    if (!chunk) {
      differ(`policy call ${call.call}: decoding again gave a chunk but the run published none for that observation`);
      continue;
    }
    out.chunksChecked++;
    if (commands.length !== chunk.actions.length) {
      differ(`chunk ${chunk.sequence}: ${commands.length} values decoded again vs ${chunk.actions.length} recorded`);
      continue;
    }
    for (let i = 0; i < commands.length; i++) {
      if (!sameNumber(commands[i], chunk.actions[i])) {
        differ(`chunk ${chunk.sequence}: step ${Math.floor(i / dim)} entry ${i % dim} decoded again as ${commands[i]}, recorded ${chunk.actions[i]}`);
        break;
      }
    }
  }
  return out;
}

/** One line for people. */
export function formatReplayResult(r: ReplayResult): string {
  const lines: string[] = [];
  if (r.identical) {
    lines.push(`replay: IDENTICAL: ${r.ticksReplayed} commands reproduced bit for bit (${r.chunksFed} chunks, ${r.controlChangesFed} control changes fed)`);
  } else {
    const d = r.firstDifference!;
    const what = d.index === null ? d.field : `${d.field}[${d.index}] (${d.name})`;
    lines.push(
      `replay: DIFFERENT: ${r.differingTicks} of ${r.ticksReplayed} commands differ; first at tick ${d.tick} (t = ${d.atS.toFixed(3)} s): ${what} recorded ${String(d.recorded)}, replayed ${String(d.replayed)}; largest difference ${r.maxAbsDifference.toExponential(3)}`,
    );
  }
  if (r.slowPath) {
    const s = r.slowPath;
    lines.push(
      s.identical
        ? `slow path: ${s.chunksChecked} chunks decoded again from the recorded tokens, all identical (${s.failuresReproduced} recorded decode failures fail again)`
        : `slow path: DIFFERENT: ${s.firstDifference}`,
    );
  }
  for (const w of r.warnings) lines.push(`warning: ${w}`);
  return lines.join("\n");
}
