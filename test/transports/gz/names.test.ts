// Names on the gz network: partitions, fully qualified topics, type names per Gazebo line, host address.
import { hostname, userInfo } from "node:os";
import { describe, expect, it } from "vitest";
import {
  fullyQualifiedTopic,
  invalidNameReason,
  messageTypeName,
  resolveHostInterfaces,
  resolvePartition,
  splitFullyQualifiedTopic,
} from "../../../src/transports/gz/names.js";

describe("gz names", () => {
  it("qualifies topics the way the library puts them on the wire", () => {
    expect(fullyQualifiedTopic("probe2", "/t")).toBe("@/probe2@/t"); // as captured from ignition-transport 11
    expect(fullyQualifiedTopic("/a/b/", "x/y/")).toBe("@/a/b@/x/y");
    expect(fullyQualifiedTopic("", "/t")).toBe("@@/t");
    expect(fullyQualifiedTopic("host:user", "/model/arm/joint/j/0/cmd_pos")).toBe("@/host:user@/model/arm/joint/j/0/cmd_pos");
    expect(splitFullyQualifiedTopic("@/host:user@/a/b")).toEqual({ partition: "host:user", topic: "/a/b" });
    expect(splitFullyQualifiedTopic("/a/b")).toBeNull();
  });

  it("refuses the names the library refuses", () => {
    for (const bad of ["/", "a b", "a~b", "a//b", "a@b", "a:=b"]) expect(invalidNameReason(bad)).not.toBeNull();
    expect(invalidNameReason("host:user")).toBeNull();
    expect(() => fullyQualifiedTopic("p", "")).toThrow(/non-empty topic/);
    expect(() => fullyQualifiedTopic("p", "/a b")).toThrow(/invalid topic: "\/a b" contains " "/);
    expect(() => resolvePartition(undefined, { GZ_PARTITION: "x@y" })).toThrow(/gz partition: "x@y" contains "@"/);
  });

  it("takes the partition from the option, GZ_PARTITION, IGN_PARTITION, else host:user", () => {
    expect(resolvePartition("opt", { GZ_PARTITION: "gz", IGN_PARTITION: "ign" })).toBe("opt");
    expect(resolvePartition(undefined, { GZ_PARTITION: "gz", IGN_PARTITION: "ign" })).toBe("gz");
    expect(resolvePartition(undefined, { IGN_PARTITION: "ign" })).toBe("ign");
    expect(resolvePartition(undefined, {})).toBe(`${hostname()}:${userInfo().username}`);
  });

  it("pins the host address to GZ_IP / IGN_IP and checks it", () => {
    expect(resolveHostInterfaces(undefined, { GZ_IP: "127.0.0.1", IGN_IP: "10.0.0.1" })).toEqual({ hostAddress: "127.0.0.1", interfaces: ["127.0.0.1"] });
    expect(resolveHostInterfaces(undefined, { IGN_IP: "10.0.0.1" }).hostAddress).toBe("10.0.0.1");
    expect(() => resolveHostInterfaces(undefined, { GZ_IP: "localhost" })).toThrow(/expected an IPv4 address .* got "localhost"/);
    const auto = resolveHostInterfaces(undefined, {});
    expect(auto.interfaces).toContain(auto.hostAddress);
  });

  it("names message types per Gazebo line", () => {
    expect(messageTypeName("gz", "Double")).toBe("gz.msgs.Double");
    expect(messageTypeName("ignition", "Model")).toBe("ignition.msgs.Model");
  });
});
