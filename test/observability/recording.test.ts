// The MCAP recording: read back with the MCAP library's indexed reader and decoded message by message with the ROS 2
// CDR reader of @foxglove/rosmsg2-serialization (schemas parsed from the file itself); bounded buffering with counted
// drops; bad input counted, never thrown; a process killed mid-recording leaves a file readable up to its last flush.
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { crc32 } from "@foxglove/crc";
import { McapIndexedReader, type McapTypes } from "@mcap/core";
import { parse } from "@foxglove/rosmsg";
import { MessageReader } from "@foxglove/rosmsg2-serialization";
import { build } from "rolldown";
import { beforeAll, describe, expect, it } from "vitest";
import { McapSink } from "../../src/observability/mcapSink.js";
import { loadRecording, readMcap } from "../../src/observability/recordingReader.js";
import { ros2msgSchema } from "../../src/observability/rosSchemas.js";
import { runRecordedLockstep, type LockstepRunResult } from "./lockstepRun.js";
import { ARM_DESCRIPTION_PATH, bundledArm, commandAt, sampleAt, syntheticRecorder } from "./synthetic.js";

const dir = mkdtempSync(join(tmpdir(), "vla-record-"));

/** The MCAP library's random-access interface over bytes in memory. */
function readable(bytes: Uint8Array): McapTypes.IReadable {
  return {
    size: async () => BigInt(bytes.byteLength),
    read: async (offset, size) => bytes.subarray(Number(offset), Number(offset + size)),
  };
}

describe("an MCAP recording of a lockstep episode", () => {
  const path = join(dir, "episode.mcap");
  let run: LockstepRunResult;
  let bytes: Uint8Array;
  let reader: McapIndexedReader;

  beforeAll(async () => {
    run = await runRecordedLockstep({ path, config: { episode: { durationS: 1.5, seed: 2 } } });
    bytes = readFileSync(path);
    reader = await McapIndexedReader.Initialize({ readable: readable(bytes) });
  });

  it("is a complete, indexed MCAP file with the ros2 profile, CDR channels and ros2msg schemas", () => {
    expect(reader.header.profile).toBe("ros2");
    const channels = [...reader.channelsById.values()];
    expect(channels.map((c) => c.topic)).toEqual(expect.arrayContaining(["/joint_states", "/wrench", "/tactile", "/command", "/policy/chunk", "/policy/call", "/policy/status", "/instruction", "/robot_description", "/tf", "/runtime/control"]));
    for (const c of channels) {
      expect(c.messageEncoding).toBe("cdr");
      expect(reader.schemasById.get(c.schemaId)?.encoding).toBe("ros2msg");
    }
    const names = [...reader.schemasById.values()].map((s) => s.name);
    expect(names).toEqual(expect.arrayContaining(["sensor_msgs/msg/JointState", "geometry_msgs/msg/WrenchStamped", "vla_runtime/msg/TactileArray", "vla_runtime/msg/ActionChunk", "tf2_msgs/msg/TFMessage"]));
    // Data section CRC (the summary CRC is checked by Initialize).
    expect(crc32(bytes.subarray(0, Number(reader.dataEndOffset)))).toBe(reader.dataSectionCrc);
    expect(reader.statistics!.chunkCount).toBeGreaterThan(0);
  });

  it("decodes every message with the ROS 2 CDR reader, and the values make sense", async () => {
    const readers = new Map<number, MessageReader>();
    const counts = new Map<string, number>();
    const arm = bundledArm();
    const jointNames = [...arm.joints.map((j) => j.name), arm.gripper.name];
    let lastCommandTick = 0n;
    const latenciesNs: bigint[] = [];
    let total = 0;
    for await (const message of reader.readMessages({ validateCrcs: true })) {
      const channel = reader.channelsById.get(message.channelId)!;
      let r = readers.get(channel.id);
      if (!r) {
        const schema = reader.schemasById.get(channel.schemaId)!;
        r = new MessageReader(parse(new TextDecoder().decode(schema.data), { ros2: true }));
        readers.set(channel.id, r);
      }
      const m = r.readMessage<Record<string, unknown>>(message.data);
      expect(r.lastReadHadTrailingBytes()).toBe(false);
      total++;
      counts.set(channel.topic, (counts.get(channel.topic) ?? 0) + 1);
      switch (channel.topic) {
        case "/joint_states": {
          expect(m.name).toEqual(jointNames);
          expect((m.position as Float64Array).length).toBe(7);
          expect([...(m.position as Float64Array)].every(Number.isFinite)).toBe(true);
          break;
        }
        case "/tactile":
          expect(m.forces).toBeInstanceOf(Float32Array);
          expect((m.forces as Float32Array).length).toBe((m.rows as number) * (m.cols as number));
          expect(m.layout).toBe(0);
          break;
        case "/wrench":
          expect((m.header as { frame_id: string }).frame_id).toBe("tool");
          break;
        case "/command": {
          expect((m.tick as bigint) > lastCommandTick).toBe(true);
          lastCommandTick = m.tick as bigint;
          expect((m.position as Float64Array).length).toBe(7);
          break;
        }
        case "/policy/chunk": {
          expect((m.actions as Float64Array).length).toBe((m.steps as number) * (m.dim as number));
          expect(m.names).toEqual(jointNames);
          expect(m.step_period).toEqual({ sec: 0, nanosec: 100_000_000 });
          const stamp = (t: { sec: number; nanosec: number }) => BigInt(t.sec) * 1_000_000_000n + BigInt(t.nanosec);
          latenciesNs.push(stamp((m.header as { stamp: { sec: number; nanosec: number } }).stamp) - stamp(m.observation_stamp as { sec: number; nanosec: number }));
          break;
        }
        case "/policy/status":
          expect(m.safety_reasons as string[]).toContain("EmergencyStop");
          expect((m.safety_counts as BigUint64Array).length).toBe((m.safety_reasons as string[]).length);
          break;
        case "/robot_description":
          expect(m.data as string).toContain(`<robot name="${arm.name}">`);
          break;
      }
    }
    expect(BigInt(total)).toBe(reader.statistics!.messageCount);
    // Arrival (header stamp) is 150 ms of simulated inference after the observation; the last answer is let out
    // early when the run ends.
    expect(new Set(latenciesNs.slice(0, -1))).toEqual(new Set([150_000_000n]));
    expect(counts.get("/command")).toBe(run.ticks);
    expect(counts.get("/policy/chunk")).toBe(run.chunksPublished);
    expect(counts.get("/robot_description")).toBe(1);
  });

  it("carries the run's description and clock as metadata", async () => {
    const metadata = [];
    for await (const m of reader.readMetadata({ name: "vla_runtime.recording" })) metadata.push(m);
    expect(metadata).toHaveLength(1);
    const info = JSON.parse(metadata[0].metadata.get("info")!);
    expect(info.mode).toBe("lockstep");
    expect(info.fastLoop.rateHz).toBe(500);
    expect(BigInt(metadata[0].metadata.get("wall_offset_ns")!)).toBeGreaterThan(0n);
  });
});

describe("the recorder", () => {
  it("writes the schema text rosbag2 uses: the type, then each dependency under a MSG: line", () => {
    const text = ros2msgSchema("geometry_msgs/msg/WrenchStamped");
    expect(text.split("\n")[0]).toBe("std_msgs/Header header");
    expect(text).toContain(`${"=".repeat(80)}\nMSG: std_msgs/Header\n`);
    expect(text).toContain("MSG: builtin_interfaces/Time\nint32 sec\nuint32 nanosec");
    expect(text).toContain("MSG: geometry_msgs/Vector3");
    expect(text.match(/MSG: geometry_msgs\/Vector3/g)).toHaveLength(1);
  });

  it("round-trips known values exactly", async () => {
    const path = join(dir, "values.mcap");
    const sink = await McapSink.create({ path, flushIntervalMs: 0 });
    const recorder = syntheticRecorder([sink]);
    for (let k = 1; k <= 200; k++) {
      recorder.sensors(sampleAt(k));
      recorder.command(commandAt(k));
    }
    await recorder.close();
    const rec = await loadRecording(path);
    expect(rec.complete).toBe(true);
    expect(rec.commands).toHaveLength(200);
    expect(rec.sensors).toHaveLength(200);
    const s = rec.sensors[41];
    expect(s.timeNs).toBe(42 * 2e6);
    expect([...s.positions]).toEqual([...sampleAt(42).positions]);
    expect([...s.tactile]).toEqual([...sampleAt(42).tactile]);
    expect(s.wrench[2]).toBe(-0.42);
    const c = rec.commands[99];
    expect(c.tick).toBe(100);
    expect(c.safetyReasons).toBe(16);
    expect([...c.command]).toEqual([...commandAt(100).command]);
    // One safety event when MaxStep starts at tick 100, one when it clears at tick 110.
    expect(rec.safetyEvents.map((e) => [e.reasons, e.detail])).toEqual([
      [16, "MaxStep"],
      [0, ""],
    ]);
  });

  it("records camera frames as sensor_msgs/Image and teleop events with their client and reason", async () => {
    const path = join(dir, "image.mcap");
    const sink = await McapSink.create({ path, flushIntervalMs: 0 });
    const recorder = syntheticRecorder([sink]);
    const data = Uint8Array.from({ length: 4 * 3 * 3 }, (_, i) => i * 7);
    recorder.image({ width: 4, height: 3, channels: 3, data, timeNs: 5e6 });
    recorder.teleop({ timeNs: 6e6, kind: "takeover", client: "quest-3", detail: "operator grabbed the arm" });
    await recorder.close();
    const contents = await readMcap(path);
    const image = contents.messages.find((m) => m.topic === "/camera/image")!;
    expect(image.schemaName).toBe("sensor_msgs/msg/Image");
    const decoded = new MessageReader(parse(contents.schemas.get("sensor_msgs/msg/Image")!.text, { ros2: true })).readMessage<{ width: number; height: number; encoding: string; step: number; data: Uint8Array }>(image.data);
    expect([decoded.width, decoded.height, decoded.encoding, decoded.step]).toEqual([4, 3, "rgb8", 12]);
    expect([...decoded.data]).toEqual([...data]);
    const rec = await loadRecording(path);
    expect(rec.teleopEvents).toEqual([{ timeNs: 6e6, kind: "takeover", detail: "quest-3: operator grabbed the arm" }]);
  });

  it("counts bad input with a one-line reason and keeps going", async () => {
    const path = join(dir, "bad.mcap");
    const sink = await McapSink.create({ path, flushIntervalMs: 0 });
    const recorder = syntheticRecorder([sink]);
    const bad = sampleAt(1);
    bad.positions = new Float64Array(3);
    expect(() => recorder.sensors(bad)).not.toThrow();
    recorder.image({ width: 4, height: 4, channels: 3, data: new Uint8Array(10), timeNs: 0 });
    recorder.teleop({ timeNs: Number.NaN, kind: "takeover" });
    recorder.sensors(sampleAt(2));
    const stats = await recorder.close();
    expect(stats.rejected).toBe(3);
    expect(stats.lastError).toMatch(/expected .* got /);
    expect(stats.lastError).not.toContain("\n");
    expect(stats.messages.jointStates).toBe(1);
  });

  it("closes the open chunk on its timer, so a quiet recorder's messages still reach the disk", async () => {
    const path = join(dir, "timer.mcap");
    const sink = await McapSink.create({ path, flushIntervalMs: 20 });
    const recorder = syntheticRecorder([sink]);
    for (let k = 1; k <= 5; k++) recorder.command(commandAt(k));
    await new Promise((resolve) => setTimeout(resolve, 120));
    await sink.drained();
    const before = await readMcap(path); // the writer is still open: no footer yet
    expect(before.complete).toBe(false);
    expect(before.messages.filter((m) => m.topic === "/command")).toHaveLength(5);
    await recorder.close();
    expect((await readMcap(path)).complete).toBe(true);
  });

  it("says which file it could not create", async () => {
    const path = join(dir, "no-such-folder", "x.mcap");
    await expect(McapSink.create({ path })).rejects.toThrow(/^mcap writer: cannot create .*no-such-folder\/x\.mcap: ENOENT/);
  });

  it("drops and counts messages when the disk falls behind, and the file stays valid", async () => {
    const path = join(dir, "drops.mcap");
    // No event-loop turn while writing: nothing can reach the disk, so the 64 KiB bound is hit.
    const sink = await McapSink.create({ path, flushIntervalMs: 0, chunkBytes: 4096, maxBufferedBytes: 64 * 1024 });
    const recorder = syntheticRecorder([sink]);
    for (let k = 1; k <= 2000; k++) recorder.command(commandAt(k));
    const stats = await recorder.close();
    expect(stats.dropped.command).toBeGreaterThan(0);
    const rec = await loadRecording(path);
    expect(rec.complete).toBe(true);
    expect(rec.commands.length).toBe(2000 - stats.dropped.command);
    expect(rec.droppedMessages).toBe(stats.dropped.command);
  });
});

describe("a recording process killed mid-run", () => {
  it("leaves a file that reads back up to its last flush", async () => {
    const out = fileURLToPath(new URL(`../../node_modules/.cache/vla-runtime-tests/crash-${process.pid}/`, import.meta.url));
    mkdirSync(out, { recursive: true });
    await build({
      input: fileURLToPath(new URL("./crashChild.ts", import.meta.url)),
      platform: "node",
      logLevel: "silent",
      external: (id) => !id.startsWith(".") && !id.startsWith("/") && !id.startsWith("\0"),
      output: { dir: out, format: "esm", entryFileNames: "crashChild.mjs" },
    });
    const path = join(dir, "killed.mcap");
    const child = spawn(process.execPath, [join(out, "crashChild.mjs"), path, ARM_DESCRIPTION_PATH], { stdio: ["ignore", "pipe", "inherit"] });
    const flushedCommands = await new Promise<number>((resolve, reject) => {
      let flushes = 0;
      let buffered = "";
      const timeout = setTimeout(() => reject(new Error("the recording child reported no flush within 20 s")), 20_000);
      child.stdout.on("data", (data: Buffer) => {
        buffered += data.toString();
        const lines = buffered.split("\n");
        buffered = lines.pop()!;
        for (const line of lines) {
          const { commands } = JSON.parse(line) as { commands: number };
          if (++flushes === 4) {
            child.kill("SIGKILL");
            clearTimeout(timeout);
            resolve(commands);
          }
        }
      });
      child.on("exit", (code, signal) => {
        if (signal !== "SIGKILL") reject(new Error(`the recording child exited early (${code})`));
      });
    });
    await new Promise((resolve) => child.once("exit", resolve));
    expect(flushedCommands).toBeGreaterThan(0);
    const contents = await readMcap(path);
    expect(contents.complete).toBe(false);
    expect(contents.error).toBeNull();
    const rec = await loadRecording(path);
    expect(rec.undecodable).toBe(0);
    expect(rec.commands.length).toBeGreaterThanOrEqual(flushedCommands);
    // Every tick from 1 on, none missing: what was flushed is whole.
    rec.commands.forEach((c, i) => expect(c.tick).toBe(i + 1));
    expect([...rec.commands[flushedCommands - 1].command]).toEqual([...commandAt(flushedCommands).command]);
  });
});
