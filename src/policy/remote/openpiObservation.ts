// Our Observation as the dict an openpi policy server expects. The keys differ per robot/config on the server side,
// so they are configuration; presets cover the LIBERO and DROID examples that ship with openpi.
import type { ImageFrame, Observation } from "../../runtime/slowExecutor.js";
import type { MsgpackValue, MsgpackWriter } from "./msgpackWriter.js";
import { writeFloat32Ndarray, writeFloat64Ndarray, writeUint8Ndarray } from "./ndarray.js";

export interface OpenpiKeys {
  /** Key of the state vector (joint positions + gripper, or the joints only when `gripper` is set). */
  state: string;
  /** When set, the last position (the gripper) goes to this key as a 1-element array instead of into `state` (DROID). */
  gripper?: string;
  /** Key of the main camera image, uint8 [H, W, C]. Left out of the request when unset. */
  image?: string;
  /** Key of the wrist camera image. Filled from the `wristImage` input, or with zeros of the main image's size. */
  wristImage?: string;
  /** Key of the task text. */
  prompt: string;
}

/** Key sets of the openpi examples (LIBERO: examples/libero; DROID: examples/droid). */
export const OPENPI_KEY_PRESETS = Object.freeze({
  libero: Object.freeze({ state: "observation/state", image: "observation/image", wristImage: "observation/wrist_image", prompt: "prompt" }),
  droid: Object.freeze({
    state: "observation/joint_position",
    gripper: "observation/gripper_position",
    image: "observation/exterior_image_1_left",
    wristImage: "observation/wrist_image_left",
    prompt: "prompt",
  }),
} satisfies Record<string, OpenpiKeys>);

export type OpenpiKeyPreset = keyof typeof OPENPI_KEY_PRESETS;

export interface OpenpiObservationOptions {
  keys: OpenpiKeys;
  /** numpy dtype of the state arrays: float64 ("<f8", lossless) or float32 ("<f4", what the models compute in). */
  stateDtype: "float32" | "float64";
  /** The wrist camera's newest frame, when there is one. */
  wristImage?: ImageFrame;
  /** Constant fields sent with every request (after the mapped ones). */
  extra?: Readonly<Record<string, MsgpackValue>>;
}

/** Check a frame's header against its bytes; null when consistent. */
export function imageFrameError(image: ImageFrame, what: string): string | null {
  const { width, height, channels } = image;
  const sizesOk = [width, height, channels].every((v) => Number.isSafeInteger(v) && v > 0);
  if (!sizesOk || channels > 4) return `${what}: expected positive width, height and 1..4 channels, got ${width}x${height}x${channels}`;
  if (!(image.data instanceof Uint8Array)) return `${what}: expected the pixels as a Uint8Array, got ${typeof image.data}`;
  if (image.data.byteLength !== width * height * channels) {
    return `${what}: expected ${width}x${height}x${channels} = ${width * height * channels} bytes, got ${image.data.byteLength}`;
  }
  return null;
}

/** Write the request map for one observation. Returns null, or what is wrong with the observation (nothing is sent). */
export function writeOpenpiObservation(writer: MsgpackWriter, obs: Observation, options: OpenpiObservationOptions): string | null {
  const { keys } = options;
  const positions = obs.positions;
  if (!(positions instanceof Float64Array) || positions.length === 0) return "observation: expected positions as a non-empty Float64Array";
  for (let i = 0; i < positions.length; i++) if (!Number.isFinite(positions[i])) return `observation: positions[${i}] is ${positions[i]}`;
  if (keys.gripper !== undefined && positions.length < 2) return `observation: a separate gripper key needs at least 2 positions, got ${positions.length}`;
  if (obs.image !== undefined) {
    const error = imageFrameError(obs.image, "observation image");
    if (error !== null) return error;
  }
  if (options.wristImage !== undefined) {
    const error = imageFrameError(options.wristImage, "wrist image");
    if (error !== null) return error;
  }
  if (typeof obs.instruction !== "string") return `observation: expected the instruction as a string, got ${typeof obs.instruction}`;
  const image = keys.image !== undefined ? obs.image : undefined;
  // Without a wrist camera, openpi's own convention for a missing camera is a black frame of the same size.
  const wrist = keys.wristImage !== undefined ? (options.wristImage ?? (image ? blackFrame(image) : undefined)) : undefined;
  const extra = Object.entries(options.extra ?? {}).filter(([key]) => ![keys.state, keys.gripper, keys.image, keys.wristImage, keys.prompt].includes(key));

  const count = 2 + (keys.gripper !== undefined ? 1 : 0) + (image ? 1 : 0) + (wrist ? 1 : 0) + extra.length;
  writer.mapHeader(count);
  const writeState = options.stateDtype === "float32" ? writeFloat32Ndarray : writeFloat64Ndarray;
  if (keys.gripper !== undefined) {
    const joints = positions.subarray(0, positions.length - 1);
    writeState(writer.string(keys.state), joints, [joints.length]);
    writeState(writer.string(keys.gripper), positions.subarray(positions.length - 1), [1]);
  } else {
    writeState(writer.string(keys.state), positions, [positions.length]);
  }
  if (image) writeUint8Ndarray(writer.string(keys.image!), image.data, [image.height, image.width, image.channels]);
  if (wrist) writeUint8Ndarray(writer.string(keys.wristImage!), wrist.data, [wrist.height, wrist.width, wrist.channels]);
  writer.string(keys.prompt).string(obs.instruction);
  for (const [key, value] of extra) writer.string(key).value(value);
  return null;
}

const blackFrames = new Map<number, Uint8Array>();

function blackFrame(like: ImageFrame): ImageFrame {
  const size = like.width * like.height * like.channels;
  let data = blackFrames.get(size);
  if (!data) {
    data = new Uint8Array(size);
    blackFrames.clear(); // one size at a time is the normal case
    blackFrames.set(size, data);
  }
  return { width: like.width, height: like.height, channels: like.channels, data, timeNs: like.timeNs };
}
