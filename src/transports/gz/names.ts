// Names on a gz-transport network: partitions, fully qualified topics, message type names per Gazebo line,
// and the host address. Rules follow gz-transport's TopicUtils / NodeOptions / NetUtils (transport 11-15).
import { hostname, networkInterfaces, userInfo } from "node:os";

/**
 * Type-name flavour of the target: Fortress and older (transport <= 11, msgs <= 8) name types
 * `ignition.msgs.X`; Garden, Harmonic and later name them `gz.msgs.X`. The payload bytes are identical; the
 * names must match exactly or the peers never connect.
 */
export type GzTypeFlavour = "gz" | "ignition";

export function messageTypeName(flavour: GzTypeFlavour, message: string): string {
  return `${flavour === "gz" ? "gz" : "ignition"}.msgs.${message}`;
}

/** Why a topic, namespace or partition is invalid (null when it is valid). Same rules as TopicUtils::IsValidNamespace. */
export function invalidNameReason(name: string): string | null {
  if (name === "/") return `"/" alone is not a valid name`;
  for (const bad of ["~", " ", "//", "@", ":="]) {
    if (name.includes(bad)) return `"${name}" contains "${bad}"`;
  }
  return null;
}

/**
 * `@<partition>@<topic>` as the transport sends it on the wire: the partition gets a leading "/" and loses a
 * trailing one; a relative topic is placed under the root namespace; a trailing "/" of the topic is dropped.
 */
export function fullyQualifiedTopic(partition: string, topic: string): string {
  const p = invalidNameReason(partition);
  if (p) throw new Error(`gz topic: invalid partition: ${p}`);
  if (topic.length === 0) throw new Error("gz topic: expected a non-empty topic name, got an empty string");
  const t = invalidNameReason(topic);
  if (t) throw new Error(`gz topic: invalid topic: ${t}`);
  let part = partition;
  if (part.length > 0 && !part.startsWith("/")) part = "/" + part;
  if (part.endsWith("/")) part = part.slice(0, -1);
  let name = topic.endsWith("/") ? topic.slice(0, -1) : topic;
  if (!name.startsWith("/")) name = "/" + name;
  return `@${part}@${name}`;
}

/** Split a fully qualified topic into partition (without its leading "/") and topic; null when it is not one. */
export function splitFullyQualifiedTopic(fq: string): { partition: string; topic: string } | null {
  if (!fq.startsWith("@")) return null;
  const second = fq.indexOf("@", 1);
  if (second < 0) return null;
  const part = fq.slice(1, second);
  return { partition: part.startsWith("/") ? part.slice(1) : part, topic: fq.slice(second + 1) };
}

export type Env = Readonly<Record<string, string | undefined>>;

/** Partition: explicit > GZ_PARTITION > IGN_PARTITION > "<hostname>:<username>" (the library's default). */
export function resolvePartition(explicit: string | undefined, env: Env = process.env): string {
  const fromEnv = env.GZ_PARTITION || env.IGN_PARTITION;
  const partition = explicit ?? fromEnv ?? `${hostname()}:${safeUsername()}`;
  const reason = invalidNameReason(partition);
  if (reason) throw new Error(`gz partition: ${reason}`);
  return partition;
}

function safeUsername(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? "unknown";
  }
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;

export function isIpv4(s: string): boolean {
  return IPV4.test(s);
}

/**
 * The address our sockets bind to and the interfaces discovery uses. An explicit address, or GZ_IP / IGN_IP,
 * pins both to one interface (what a loopback-only setup needs: GZ_IP=127.0.0.1); otherwise the first
 * external IPv4 address is the host address and every external IPv4 interface carries discovery, falling back
 * to loopback on a machine without a network.
 */
export function resolveHostInterfaces(explicit: string | undefined, env: Env = process.env): { hostAddress: string; interfaces: string[] } {
  const pinned = explicit ?? (env.GZ_IP || env.IGN_IP || undefined);
  if (pinned !== undefined) {
    if (!isIpv4(pinned)) throw new Error(`gz ip: expected an IPv4 address (from the option, GZ_IP or IGN_IP), got "${pinned}"`);
    return { hostAddress: pinned, interfaces: [pinned] };
  }
  const external: string[] = [];
  for (const list of Object.values(networkInterfaces())) {
    for (const entry of list ?? []) {
      if (entry.family === "IPv4" && !entry.internal) external.push(entry.address);
    }
  }
  if (external.length === 0) return { hostAddress: "127.0.0.1", interfaces: ["127.0.0.1"] };
  return { hostAddress: external[0], interfaces: external };
}
