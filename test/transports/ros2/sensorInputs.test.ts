// Incoming messages -> the runtime's sensor sample and camera frames.
import { encode as encodeJpeg } from "jpeg-js";
import { PNG } from "pngjs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { loadArmDescription } from "../../../src/kinematics/description.js";
import type { SensorSnapshot } from "../../../src/runtime/types.js";
import { decodeCompressedImage, imageFrameFromRaw } from "../../../src/transports/ros2/images.js";
import { SensorInputs } from "../../../src/transports/ros2/sensorInputs.js";

const arm = loadArmDescription(fileURLToPath(new URL("../../../sim/arm/description.json", import.meta.url)));
const header = { stamp: { sec: 0, nanosec: 0 }, frame_id: "" };
const snapshot = (): SensorSnapshot => ({ timeNs: 0, positions: new Float64Array(7), velocities: new Float64Array(7), wrench: new Float64Array(6), tactile: new Float64Array(4) });

describe("SensorInputs", () => {
  it("maps joints by name in any order, merges partial messages, and dates the sample by its oldest joint", () => {
    let now = 1000;
    const inputs = new SensorInputs({ arm, tactileCount: 4, nowNs: () => now });
    const out = snapshot();
    expect(inputs.readInto(out)).toBe(false);
    // A driver listing joints in its own order, plus one we do not drive.
    inputs.onJointState({ header, name: ["wrist_3", "camera_pan", "shoulder_pan", "shoulder_lift", "elbow", "wrist_1", "wrist_2"], position: [6, 99, 1, 2, 3, 4, 5], velocity: [0.6, 9, 0.1, 0.2, 0.3, 0.4, 0.5], effort: [] });
    expect(inputs.complete).toBe(false);
    expect(inputs.missingJoints()).toEqual(["gripper"]);
    now = 2000;
    inputs.onJointState({ header, name: ["gripper"], position: [0.05], velocity: [], effort: [] });
    expect(inputs.readInto(out)).toBe(true);
    expect(Array.from(out.positions)).toEqual([1, 2, 3, 4, 5, 6, 0.05]);
    expect(Array.from(out.velocities)).toEqual([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0]);
    expect(out.timeNs).toBe(1000);
    // Only the gripper keeps reporting: the arm's sample does not get younger.
    now = 9000;
    inputs.onJointState({ header, name: ["gripper"], position: [0.04], velocity: [], effort: [] });
    inputs.readInto(out);
    expect(out.timeNs).toBe(1000);
    now = 9500;
    inputs.onJointState({ header, name: ["shoulder_pan", "shoulder_lift", "elbow", "wrist_1", "wrist_2", "wrist_3"], position: [0, 0, 0, 0, 0, 0], velocity: [], effort: [] });
    inputs.readInto(out);
    expect(out.timeNs).toBe(9000);
  });

  it("keeps the last good values when a message is rejected, and counts it", () => {
    const rejects: string[] = [];
    const inputs = new SensorInputs({ arm, tactileCount: 4, nowNs: () => 1, onReject: (_k, m) => rejects.push(m) });
    const names = ["shoulder_pan", "shoulder_lift", "elbow", "wrist_1", "wrist_2", "wrist_3", "gripper"];
    inputs.onJointState({ header, name: names, position: [1, 1, 1, 1, 1, 1, 0.02], velocity: [], effort: [] });
    expect(inputs.onJointState({ header, name: names, position: [2, 2, 2, NaN, 2, 2, 0.02], velocity: [], effort: [] })).toBe(false);
    expect(inputs.onJointState({ header, name: names, position: [2, 2, 2, 2, 2, 2, 0.02], velocity: [1], effort: [] })).toBe(false);
    const out = snapshot();
    inputs.readInto(out);
    expect(Array.from(out.positions)).toEqual([1, 1, 1, 1, 1, 1, 0.02]);
    expect(inputs.onTactile({ header, layout: 1, rows: 1, cols: 2, pitch_m: 0.001, forces: [], displacements_m: [0.1, 0.2, 0.3, 0.4] })).toBe(true);
    expect(inputs.onTactile({ header, layout: 0, rows: 2, cols: 2, pitch_m: 0.001, forces: [1, 2, 3], displacements_m: [] })).toBe(false);
    expect(inputs.onWrench({ header, wrench: { force: { x: 1, y: 2, z: 3 }, torque: { x: 4, y: 5, z: 6 } } })).toBe(true);
    inputs.readInto(out);
    expect(Array.from(out.tactile, (v) => Math.fround(v))).toEqual([0.1, 0.2, 0.3, 0.4].map(Math.fround));
    expect(Array.from(out.wrench)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(inputs.rejected).toEqual({ jointState: 2, wrench: 0, tactile: 1, image: 0 });
    expect(rejects).toEqual([
      "joint_states: expected finite position and velocity for wrist_1, got NaN and 0",
      "joint_states: expected no velocities or one per name, got 1 for 7 names",
      "tactile: expected 4 forces for 2x2, got 3",
    ]);
  });
});

describe("camera frames", () => {
  const pixels = [
    [255, 0, 0],
    [0, 255, 0],
    [0, 0, 255],
    [10, 20, 30],
  ];

  it("repacks raw encodings to RGB, honouring the row stride", () => {
    // 2x2 bgr8 with 2 bytes of row padding.
    const data = new Uint8Array(16);
    pixels.forEach(([r, g, b], i) => data.set([b, g, r], Math.floor(i / 2) * 8 + (i % 2) * 3));
    const frame = imageFrameFromRaw({ header, height: 2, width: 2, encoding: "bgr8", is_bigendian: 0, step: 8, data }, 5);
    expect(frame).toMatchObject({ width: 2, height: 2, channels: 3, timeNs: 5 });
    expect(Array.from(frame.data)).toEqual(pixels.flat());
    const mono = imageFrameFromRaw({ header, height: 1, width: 3, encoding: "mono8", is_bigendian: 0, step: 3, data: Uint8Array.of(1, 2, 3) }, 0);
    expect(mono.channels).toBe(1);
    expect(() => imageFrameFromRaw({ header, height: 1, width: 1, encoding: "16UC1", is_bigendian: 0, step: 2, data: new Uint8Array(2) }, 0)).toThrow(/expected encoding rgb8, bgr8.*got "16UC1"/);
  });

  it("decodes JPEG and PNG by their bytes, and names what it got otherwise", () => {
    const rgba = new Uint8Array(pixels.flatMap(([r, g, b]) => [r, g, b, 255]));
    const jpeg = encodeJpeg({ width: 2, height: 2, data: rgba }, 100).data;
    const fromJpeg = decodeCompressedImage({ header, format: "rgb8; jpeg compressed bgr8", data: new Uint8Array(jpeg) }, 1);
    expect(fromJpeg).toMatchObject({ width: 2, height: 2, channels: 3 });
    // JPEG is lossy: each channel within a few counts.
    Array.from(fromJpeg.data).forEach((v, i) => expect(Math.abs(v - pixels.flat()[i])).toBeLessThan(40));
    const png = new PNG({ width: 2, height: 2 });
    png.data.set(rgba);
    const fromPng = decodeCompressedImage({ header, format: "png", data: new Uint8Array(PNG.sync.write(png)) }, 1);
    expect(Array.from(fromPng.data)).toEqual(pixels.flat());
    expect(() => decodeCompressedImage({ header, format: "jpeg", data: Uint8Array.of(1, 2, 3, 4, 5) }, 0)).toThrow('compressed image: expected JPEG or PNG data, got format "jpeg" starting with 01 02 03 04');
    expect(() => decodeCompressedImage({ header, format: "jpeg", data: Uint8Array.of(0xff, 0xd8, 0xff, 0, 1, 2) }, 0)).toThrow(/^compressed image: cannot decode the JPEG/);
  });

  it("hands the policy the newest frame, decoded once", () => {
    const inputs = new SensorInputs({ arm, tactileCount: 0, nowNs: () => 7 });
    expect(inputs.latestImage()).toBeUndefined();
    inputs.onImage({ header, height: 1, width: 1, encoding: "rgb8", is_bigendian: 0, step: 3, data: Uint8Array.of(1, 2, 3) });
    const a = inputs.latestImage();
    expect(a).toBe(inputs.latestImage());
    expect(Array.from(a!.data)).toEqual([1, 2, 3]);
    inputs.onCompressedImage({ header, format: "png", data: Uint8Array.of(9, 9, 9, 9) });
    expect(inputs.latestImage()).toBeUndefined();
    expect(inputs.rejected.image).toBe(1);
  });
});
