// The live view speaks the Foxglove WebSocket protocol: a real FoxgloveClient (the protocol package's own client over
// the `ws` socket) sees the channels advertised with ROS 2 schemas, decodes the CDR it receives, gets the URDF as a
// latched topic and as the /robot_description parameter, and high-rate topics arrive thinned to the configured rate.
import wsProtocol from "@foxglove/ws-protocol";
import type { Channel, MessageData, ParameterValues } from "@foxglove/ws-protocol";
import { parse } from "@foxglove/rosmsg";
import { MessageReader } from "@foxglove/rosmsg2-serialization";
import { WebSocket } from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LiveView } from "../../src/observability/liveView.js";
import type { Recorder } from "../../src/observability/recorder.js";
import { bundledArm, sampleAt, syntheticRecorder } from "./synthetic.js";

const { FoxgloveClient } = wsProtocol;

async function until(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe("the live view", () => {
  let view: LiveView;
  let recorder: Recorder;
  let client: InstanceType<typeof FoxgloveClient>;
  const channels = new Map<string, Channel>();
  const received = new Map<number, MessageData[]>();
  const subscriptions = new Map<number, Channel>();
  let parameters: ParameterValues | null = null;

  beforeAll(async () => {
    view = await LiveView.start({ port: 0, maxRateHz: 50, arm: bundledArm() });
    recorder = syntheticRecorder([view.sink()]);
    client = new FoxgloveClient({ ws: new WebSocket(view.address, [FoxgloveClient.SUPPORTED_SUBPROTOCOL]) });
    client.on("advertise", (list) => list.forEach((c) => channels.set(c.topic, c)));
    client.on("message", (m) => received.set(m.subscriptionId, [...(received.get(m.subscriptionId) ?? []), m]));
    client.on("parameterValues", (p) => (parameters = p));
    await until(() => channels.has("/joint_states") && channels.has("/robot_description"), "the channel advertisements");
  });

  afterAll(async () => {
    client?.close();
    await view?.close();
  });

  it("advertises every channel with its ROS 2 schema and CDR encoding", () => {
    const js = channels.get("/joint_states")!;
    expect(js.encoding).toBe("cdr");
    expect(js.schemaEncoding).toBe("ros2msg");
    expect(js.schemaName).toBe("sensor_msgs/msg/JointState");
    expect(js.schema.split("\n")[0]).toBe("std_msgs/Header header");
    expect(channels.get("/tf")?.schemaName).toBe("tf2_msgs/msg/TFMessage");
    expect(channels.get("/tactile")?.schemaName).toBe("vla_runtime/msg/TactileArray");
  });

  it("streams decodable joint states thinned to the rate limit, the URDF latched, and /tf", async () => {
    recorder.robotDescription(0); // before anyone subscribed: kept and sent on subscription
    for (const topic of ["/joint_states", "/robot_description", "/tf"]) subscriptions.set(client.subscribe(channels.get(topic)!.id), channels.get(topic)!);
    await until(() => view.subscribedTopics().length === 3, "the subscriptions");
    for (let k = 1; k <= 250; k++) recorder.sensors(sampleAt(k)); // 0.5 s of samples at 500 Hz
    const idOf = (topic: string) => [...subscriptions].find(([, c]) => c.topic === topic)![0];
    await until(() => (received.get(idOf("/joint_states"))?.length ?? 0) >= 25 && (received.get(idOf("/robot_description"))?.length ?? 0) >= 1, "the messages");
    const decode = (topic: string, m: MessageData) => new MessageReader(parse(channels.get(topic)!.schema, { ros2: true })).readMessage<Record<string, unknown>>(m.data);

    const states = received.get(idOf("/joint_states"))!;
    // 0.5 s at 50 Hz: 25 messages (one every 10 samples), not 250.
    expect(states.length).toBe(25);
    const first = decode("/joint_states", states[0]);
    expect([...(first.position as Float64Array)]).toEqual([...sampleAt(1).positions]);
    const last = decode("/joint_states", states[states.length - 1]);
    expect([...(last.position as Float64Array)]).toEqual([...sampleAt(241).positions]);

    const urdf = decode("/robot_description", received.get(idOf("/robot_description"))![0]).data as string;
    expect(urdf).toContain("<robot name=\"vla_arm6\">");
    const tf = decode("/tf", received.get(idOf("/tf"))![0]) as { transforms: { child_frame_id: string }[] };
    expect(tf.transforms.map((t) => t.child_frame_id)).toContain("shoulder_pan_link");
  });

  it("answers the /robot_description parameter", async () => {
    client.getParameters(["/robot_description"], "q1");
    await until(() => parameters !== null, "the parameter values");
    expect(parameters!.id).toBe("q1");
    expect(parameters!.parameters[0].name).toBe("/robot_description");
    expect(String(parameters!.parameters[0].value)).toContain("<joint name=\"elbow\" type=\"revolute\">");
  });

  it("refuses a port that is taken with a one-line reason", async () => {
    const port = Number(new URL(view.address).port);
    await expect(LiveView.start({ port })).rejects.toThrow(/live view: cannot listen on 127\.0\.0\.1:\d+/);
  });
});
