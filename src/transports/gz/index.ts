// gz-transport without ROS: discovery, the node, the message codecs the arm needs, and the Gazebo arm backend.
export { GzArmBackend, connectGzArm, defaultGzArmTopics, gzArmOptionsFromWorld } from "./armBackend.js";
export type { GzArmBackendOptions, GzArmBackendStats, GzArmTopics, GzBackendSettings, GzCommandMode, GzWrenchConvention } from "./armBackend.js";
export { Discovery, DEFAULT_MSG_DISCOVERY_PORT, DEFAULT_MULTICAST_GROUP, DEFAULT_SRV_DISCOVERY_PORT } from "./discovery.js";
export type { DiscoveryListener, DiscoveryOptions, DiscoveryStats } from "./discovery.js";
export { DISCOVERY_WIRE_VERSION, DiscoveryType, Scope, decodeDiscovery, encodeDiscovery } from "./discoveryMessage.js";
export type { DiscoveryMessage, PublisherInfo } from "./discoveryMessage.js";
export { ActuatorsPositionEncoder, ContactsDecoder, DoubleEncoder, JointStateDecoder, WrenchDecoder } from "./messages.js";
export { fullyQualifiedTopic, messageTypeName, resolveHostInterfaces, resolvePartition } from "./names.js";
export type { GzTypeFlavour } from "./names.js";
export { GzNode, GzPublisher, GzSubscription } from "./node.js";
export type { GzMessageHandler, GzNodeOptions, GzNodeStats } from "./node.js";
export { ProtoError, ProtoReader, ProtoWriter } from "./protobuf.js";
