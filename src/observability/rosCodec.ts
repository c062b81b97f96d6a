// CDR encoding and decoding of ROS 2 messages through the ecosystem's serializer (@foxglove/rosmsg2-serialization),
// with the definitions from rosSchemas.ts parsed by @foxglove/rosmsg. One codec per type, built once and reused.
import { parse } from "@foxglove/rosmsg";
import { MessageReader, MessageWriter } from "@foxglove/rosmsg2-serialization";
import { fullTypeName, ros2msgSchema } from "./rosSchemas.js";

export class RosCodec {
  readonly type: string;
  /** The "ros2msg" schema text (what goes into the MCAP Schema record and the Foxglove channel advertisement). */
  readonly schema: string;
  private readonly writer: MessageWriter;
  private readonly reader: MessageReader;

  constructor(type: string, schemaText?: string) {
    this.type = fullTypeName(type);
    this.schema = schemaText ?? ros2msgSchema(this.type);
    const definitions = parse(this.schema, { ros2: true });
    this.writer = new MessageWriter(definitions);
    this.reader = new MessageReader(definitions);
  }

  /** CDR bytes (with the 4-byte encapsulation header) of `message`. */
  encode(message: object): Uint8Array {
    return this.writer.writeMessage(message);
  }

  /** Decode CDR bytes; throws a one-line error naming the type when the bytes do not fit it. */
  decode<T>(bytes: Uint8Array): T {
    try {
      return this.reader.readMessage<T>(bytes);
    } catch (error) {
      throw new Error(`ros codec: ${bytes.byteLength} bytes do not decode as ${this.type}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}

const codecs = new Map<string, RosCodec>();

/** The shared codec of a type defined in rosSchemas.ts. */
export function codecFor(type: string): RosCodec {
  const name = fullTypeName(type);
  let codec = codecs.get(name);
  if (!codec) {
    codec = new RosCodec(name);
    codecs.set(name, codec);
  }
  return codec;
}
