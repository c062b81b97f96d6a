// The recorder's file sink: ROS 2 CDR messages with ros2msg schemas in an MCAP file (what rosbag2 writes by
// default), the run's description as a metadata record, and the drop counts as a second one when it closes.
import { McapFileWriter, type McapFileWriterOptions, type McapWriterStats } from "./mcapFileWriter.js";
import type { RecordingInfo, RecordingSink } from "./recorder.js";
import { RECORDING_METADATA_NAME, type ChannelKey } from "./topics.js";

/** Metadata record written at close: what the file holds and what it lost. */
export const RECORDING_STATS_METADATA_NAME = "vla_runtime.recording_stats";

interface PendingChannel {
  topic: string;
  type: string;
  schema: string;
  id: number | null;
}

export class McapSink implements RecordingSink {
  readonly name = "mcap";
  private readonly channels = new Map<ChannelKey, PendingChannel>();
  private readonly dropped = new Map<ChannelKey, number>();
  private readonly encoder = new TextEncoder();
  private closing: Promise<void> | null = null;

  private constructor(readonly writer: McapFileWriter) {}

  static async create(options: McapFileWriterOptions): Promise<McapSink> {
    return new McapSink(await McapFileWriter.open(options));
  }

  get path(): string {
    return this.writer.path;
  }

  stats(): McapWriterStats & { droppedByTopic: Record<string, number> } {
    const droppedByTopic: Record<string, number> = {};
    for (const [key, n] of this.dropped) droppedByTopic[this.channels.get(key)?.topic ?? key] = n;
    return { ...this.writer.stats(), droppedByTopic };
  }

  backlogBytes(): number {
    return this.writer.stats().bytesQueued;
  }

  drained(): Promise<void> {
    return this.writer.drained();
  }

  describe(info: RecordingInfo, wallOffsetNs: bigint): void {
    this.writer.addMetadata(RECORDING_METADATA_NAME, new Map([["info", JSON.stringify(info)], ["wall_offset_ns", wallOffsetNs.toString()]]));
  }

  addChannel(key: ChannelKey, topic: string, type: string, schema: string): void {
    this.channels.set(key, { topic, type, schema, id: null });
  }

  write(key: ChannelKey, logTimeNs: bigint, data: Uint8Array): boolean {
    const channel = this.channels.get(key);
    if (!channel) throw new Error(`mcap sink: channel "${key}" was never announced`);
    // Channels are registered on first use, so the file lists only topics that carry messages.
    if (channel.id === null) {
      const schemaId = this.writer.registerSchema({ name: channel.type, encoding: "ros2msg", data: this.encoder.encode(channel.schema) });
      channel.id = this.writer.registerChannel({ schemaId, topic: channel.topic, messageEncoding: "cdr", metadata: new Map() });
    }
    const ok = this.writer.addMessage(channel.id, logTimeNs, data);
    if (!ok) this.dropped.set(key, (this.dropped.get(key) ?? 0) + 1);
    return ok;
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      const s = this.stats();
      this.writer.addMetadata(
        RECORDING_STATS_METADATA_NAME,
        new Map([
          ["messages_written", String(s.messagesWritten)],
          ["messages_dropped", String(s.messagesDropped)],
          ["dropped_by_topic", JSON.stringify(s.droppedByTopic)],
        ]),
      );
      await this.writer.close();
    })();
    return this.closing;
  }
}

