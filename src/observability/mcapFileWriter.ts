// An MCAP file written in chunks that are closed on a timer as well as by size, so a crash or a kill loses at most
// the last flush interval: everything before it is complete records on disk that a streaming reader recovers.
//
// The records are built by the MCAP library's own record and chunk builders (@mcap/core); this class only decides
// when a chunk ends, keeps the file offsets for the summary, and queues the bytes for an asynchronous append. The
// queue is bounded: when the disk falls behind, new messages are dropped and counted instead of growing memory or
// blocking the caller.
import { open, type FileHandle } from "node:fs/promises";
import { crc32, crc32Final, crc32Init, crc32Update } from "@foxglove/crc";
import { McapChunkBuilder, McapRecordBuilder, Opcode, type McapTypes } from "@mcap/core";

export interface McapFileWriterOptions {
  path: string;
  /** Close a chunk once it holds this many bytes (default 256 KiB). */
  chunkBytes?: number;
  /** Close the open chunk at least this often, so a crash loses at most this much (ms; default 500; 0: size only). */
  flushIntervalMs?: number;
  /** Bytes that may wait for the disk (closed chunks + the open chunk) before messages are dropped (default 32 MiB). */
  maxBufferedBytes?: number;
  /** MCAP header profile (default "ros2": the messages are ROS 2 CDR with ros2msg schemas). */
  profile?: string;
  library?: string;
}

export interface McapWriterStats {
  messagesWritten: number;
  messagesDropped: number;
  chunksWritten: number;
  /** Bytes handed to the file so far (the file's size once the queue is empty). */
  bytesWritten: number;
  bytesQueued: number;
  /** The last write error (the writer stops writing after one), or null. */
  writeError: string | null;
}

const DEFAULT_CHUNK_BYTES = 256 * 1024;
const DEFAULT_FLUSH_MS = 500;
const DEFAULT_MAX_BUFFERED = 32 * 1024 * 1024;

export class McapFileWriter {
  private readonly records = new McapRecordBuilder();
  private readonly chunk = new McapChunkBuilder({ useMessageIndex: true });
  private readonly schemas = new Map<number, McapTypes.Schema>();
  private readonly channels = new Map<number, McapTypes.Channel>();
  /** Schema / channel ids already written into the data section (a crash-recovered file needs them before their messages). */
  private readonly schemasInData = new Set<number>();
  private readonly channelsInData = new Set<number>();
  private readonly chunkIndexes: McapTypes.ChunkIndex[] = [];
  private readonly metadataIndexes: McapTypes.MetadataIndex[] = [];
  private readonly channelMessageCounts = new Map<number, bigint>();
  private readonly sequences = new Map<number, number>();
  private readonly chunkBytes: number;
  private readonly maxBuffered: number;
  private readonly timer: NodeJS.Timeout | null;

  private nextSchemaId = 1;
  private nextChannelId = 0;
  /** File offset of the next byte handed to the queue. */
  private position = 0n;
  private dataCrc = crc32Init();
  private messageStart = 0n;
  private messageEnd = 0n;
  private messageCount = 0n;

  private queue: Uint8Array[] = [];
  private queuedBytes = 0;
  private draining: Promise<void> | null = null;
  private closed = false;
  private readonly s: McapWriterStats = { messagesWritten: 0, messagesDropped: 0, chunksWritten: 0, bytesWritten: 0, bytesQueued: 0, writeError: null };

  private constructor(
    private readonly file: FileHandle,
    readonly path: string,
    options: McapFileWriterOptions,
  ) {
    this.chunkBytes = options.chunkBytes ?? DEFAULT_CHUNK_BYTES;
    this.maxBuffered = options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED;
    const flushMs = options.flushIntervalMs ?? DEFAULT_FLUSH_MS;
    this.timer = flushMs > 0 ? setInterval(() => this.flush(), flushMs) : null;
    this.timer?.unref();
    this.records.writeMagic();
    this.records.writeHeader({ profile: options.profile ?? "ros2", library: options.library ?? "vla-runtime" });
    this.emitRecords(true);
  }

  /** Create (truncate) the file and write the magic and header. */
  static async open(options: McapFileWriterOptions): Promise<McapFileWriter> {
    const check = (ok: boolean, what: string, got: unknown) => {
      if (!ok) throw new Error(`mcap writer: expected ${what}, got ${String(got)}`);
    };
    check(typeof options?.path === "string" && options.path.length > 0, "a file path", options?.path);
    check(options.chunkBytes === undefined || (Number.isInteger(options.chunkBytes) && options.chunkBytes >= 1024), "chunkBytes to be an integer >= 1024", options.chunkBytes);
    check(options.flushIntervalMs === undefined || (options.flushIntervalMs >= 0 && Number.isFinite(options.flushIntervalMs)), "flushIntervalMs >= 0", options.flushIntervalMs);
    check(options.maxBufferedBytes === undefined || options.maxBufferedBytes >= 64 * 1024, "maxBufferedBytes >= 65536", options.maxBufferedBytes);
    let file: FileHandle;
    try {
      file = await open(options.path, "w");
    } catch (error) {
      throw new Error(`mcap writer: cannot create ${options.path}: ${error instanceof Error ? error.message : String(error)}`);
    }
    return new McapFileWriter(file, options.path, options);
  }

  stats(): McapWriterStats {
    return { ...this.s, bytesQueued: this.queuedBytes };
  }

  registerSchema(schema: Omit<McapTypes.Schema, "id">): number {
    const id = this.nextSchemaId++;
    this.schemas.set(id, { ...schema, id });
    return id;
  }

  registerChannel(channel: Omit<McapTypes.Channel, "id">): number {
    if (channel.schemaId !== 0 && !this.schemas.has(channel.schemaId)) {
      throw new Error(`mcap writer: channel "${channel.topic}" refers to unknown schema id ${channel.schemaId}`);
    }
    const id = this.nextChannelId++;
    this.channels.set(id, { ...channel, id });
    return id;
  }

  /** A metadata record in the data section (between chunks; the open chunk is closed first). */
  addMetadata(name: string, metadata: Map<string, string>): void {
    if (this.closed) return;
    this.flush();
    const offset = this.position;
    const length = this.records.writeMetadata({ name, metadata });
    this.metadataIndexes.push({ offset, length, name });
    this.emitRecords(true);
  }

  /**
   * Add one message to the open chunk. Returns false (and counts it) when it was dropped: the disk is behind by more
   * than maxBufferedBytes, a write failed, or the writer is closed.
   */
  addMessage(channelId: number, logTimeNs: bigint, data: Uint8Array, publishTimeNs: bigint = logTimeNs): boolean {
    const channel = this.channels.get(channelId);
    if (!channel) throw new Error(`mcap writer: expected a registered channel id, got ${channelId}`);
    if (this.closed || this.s.writeError !== null || this.queuedBytes + this.chunk.byteLength + data.byteLength > this.maxBuffered) {
      this.s.messagesDropped++;
      return false;
    }
    if (!this.channelsInData.has(channelId)) {
      if (channel.schemaId !== 0 && !this.schemasInData.has(channel.schemaId)) {
        this.chunk.addSchema(this.schemas.get(channel.schemaId)!);
        this.schemasInData.add(channel.schemaId);
      }
      this.chunk.addChannel(channel);
      this.channelsInData.add(channelId);
    }
    const sequence = (this.sequences.get(channelId) ?? 0) + 1;
    this.sequences.set(channelId, sequence);
    this.chunk.addMessage({ channelId, sequence, logTime: logTimeNs, publishTime: publishTimeNs, data });
    if (this.messageCount === 0n || logTimeNs < this.messageStart) this.messageStart = logTimeNs;
    if (this.messageCount === 0n || logTimeNs > this.messageEnd) this.messageEnd = logTimeNs;
    this.messageCount++;
    this.channelMessageCounts.set(channelId, (this.channelMessageCounts.get(channelId) ?? 0n) + 1n);
    this.s.messagesWritten++;
    if (this.chunk.byteLength >= this.chunkBytes) this.flush();
    return true;
  }

  /** Close the open chunk (if it holds a message) and queue it with its message indexes for the disk. */
  flush(): void {
    if (this.chunk.numMessages === 0) return;
    const records = this.chunk.buffer;
    const chunkStartOffset = this.position;
    const chunkLength = this.records.writeChunk({
      messageStartTime: this.chunk.messageStartTime,
      messageEndTime: this.chunk.messageEndTime,
      uncompressedSize: BigInt(records.byteLength),
      uncompressedCrc: crc32(records),
      compression: "",
      records,
    });
    const messageIndexOffsets = new Map<number, bigint>();
    let messageIndexLength = 0n;
    for (const index of this.chunk.indices) {
      messageIndexOffsets.set(index.channelId, chunkStartOffset + chunkLength + messageIndexLength);
      messageIndexLength += this.records.writeMessageIndex(index);
    }
    this.chunkIndexes.push({
      messageStartTime: this.chunk.messageStartTime,
      messageEndTime: this.chunk.messageEndTime,
      chunkStartOffset,
      chunkLength,
      messageIndexOffsets,
      messageIndexLength,
      compression: "",
      compressedSize: BigInt(records.byteLength),
      uncompressedSize: BigInt(records.byteLength),
    });
    this.chunk.reset();
    this.s.chunksWritten++;
    this.emitRecords(true);
  }

  /** Resolves once every queued byte has reached the file (or a write failed). */
  async drained(): Promise<void> {
    while (this.draining) await this.draining;
  }

  /** Close the last chunk, write the summary (schemas, channels, statistics, indexes) and the footer, close the file. */
  async close(): Promise<McapWriterStats> {
    if (this.closed) {
      await this.drained();
      return this.stats();
    }
    if (this.timer) clearInterval(this.timer);
    this.flush();
    this.closed = true;
    this.records.writeDataEnd({ dataSectionCrc: crc32Final(this.dataCrc) });
    this.emitRecords(false);

    const summaryStart = this.position;
    const groups: McapTypes.SummaryOffset[] = [];
    const group = (opcode: number, write: () => void) => {
      const start = summaryStart + BigInt(this.records.length);
      write();
      const length = summaryStart + BigInt(this.records.length) - start;
      if (length > 0n) groups.push({ groupOpcode: opcode, groupStart: start, groupLength: length });
    };
    group(Opcode.SCHEMA, () => this.schemas.forEach((s) => this.records.writeSchema(s)));
    group(Opcode.CHANNEL, () => this.channels.forEach((c) => this.records.writeChannel(c)));
    group(Opcode.STATISTICS, () =>
      this.records.writeStatistics({
        messageCount: this.messageCount,
        schemaCount: this.schemas.size,
        channelCount: this.channels.size,
        attachmentCount: 0,
        metadataCount: this.metadataIndexes.length,
        chunkCount: this.chunkIndexes.length,
        messageStartTime: this.messageStart,
        messageEndTime: this.messageEnd,
        channelMessageCounts: this.channelMessageCounts,
      }),
    );
    group(Opcode.METADATA_INDEX, () => this.metadataIndexes.forEach((m) => this.records.writeMetadataIndex(m)));
    group(Opcode.CHUNK_INDEX, () => this.chunkIndexes.forEach((c) => this.records.writeChunkIndex(c)));
    const summaryOffsetStart = summaryStart + BigInt(this.records.length);
    for (const g of groups) this.records.writeSummaryOffset(g);
    // The summary CRC covers the summary section and the footer up to (not including) its own crc field.
    const footerPrefix = new DataView(new ArrayBuffer(1 + 8 + 8 + 8));
    footerPrefix.setUint8(0, Opcode.FOOTER);
    footerPrefix.setBigUint64(1, 20n, true);
    footerPrefix.setBigUint64(9, summaryStart, true);
    footerPrefix.setBigUint64(17, summaryOffsetStart, true);
    const summaryCrc = crc32Final(crc32Update(crc32Update(crc32Init(), this.records.buffer), footerPrefix));
    this.records.writeFooter({ summaryStart, summaryOffsetStart, summaryCrc });
    this.records.writeMagic();
    this.emitRecords(false);
    await this.drained();
    await this.file.close().catch(() => undefined);
    return this.stats();
  }

  /** Move the record builder's bytes to the disk queue (a copy: the builder reuses its buffer). */
  private emitRecords(dataSection: boolean): void {
    const bytes = this.records.buffer.slice();
    this.records.reset();
    if (bytes.byteLength === 0) return;
    if (dataSection) this.dataCrc = crc32Update(this.dataCrc, bytes);
    this.position += BigInt(bytes.byteLength);
    this.queue.push(bytes);
    this.queuedBytes += bytes.byteLength;
    this.draining ??= this.drain().finally(() => {
      this.draining = null;
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue;
      this.queue = [];
      try {
        const bytes = batch.length === 1 ? batch[0] : Buffer.concat(batch);
        let offset = 0;
        while (offset < bytes.byteLength) {
          const { bytesWritten } = await this.file.write(bytes, offset, bytes.byteLength - offset);
          offset += bytesWritten;
        }
        this.s.bytesWritten += bytes.byteLength;
      } catch (error) {
        this.s.writeError ??= `mcap writer: writing ${this.path} failed: ${error instanceof Error ? error.message : String(error)}`;
      }
      for (const b of batch) this.queuedBytes -= b.byteLength;
    }
  }
}
