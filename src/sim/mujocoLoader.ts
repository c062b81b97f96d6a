// Loads MuJoCo's official WebAssembly build once per thread. Every worker_thread has its own JS realm, so the
// module-level promise below is naturally per thread; a worker that constructs the simulator pays the ~0.2 s
// instantiation once and shares the module between all the models it loads.
import loadMujocoWasm from "mujoco";
import type { MainModule, MjModel } from "mujoco";

export type MujocoModule = MainModule;

let modulePromise: Promise<MujocoModule> | null = null;
let sceneCounter = 0;

/** The thread's MuJoCo module (instantiated on first use). */
export function loadMujoco(): Promise<MujocoModule> {
  if (modulePromise === null) {
    modulePromise = loadMujocoWasm().catch((error: unknown) => {
      modulePromise = null; // allow a retry after a transient failure (e.g. the .wasm file was unreadable)
      throw new Error(`mujoco: could not instantiate the WebAssembly module: ${errorText(error)}`);
    });
  }
  return modulePromise;
}

/** Best-effort one-line text of whatever the wasm side threw. */
export function errorText(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.replace(/\s+/g, " ").trim();
}

/**
 * Compile an MJCF string: it is written to the module's in-memory file system (MuJoCo's loader reads files),
 * compiled, and the file removed again. Errors carry MuJoCo's own message, collapsed to one line.
 */
export function compileMjcf(mujoco: MujocoModule, xml: string, label = "scene"): MjModel {
  const dir = "/vla_runtime_scenes";
  try {
    mujoco.FS.mkdir(dir);
  } catch {
    // already there
  }
  const path = `${dir}/${label.replace(/[^A-Za-z0-9_.-]/g, "_")}_${sceneCounter++}.xml`;
  mujoco.FS.writeFile(path, xml);
  try {
    return mujoco.MjModel.mj_loadXML(path);
  } catch (error) {
    throw new Error(`mujoco: the generated MJCF for ${label} did not compile: ${errorText(error)}`);
  } finally {
    try {
      mujoco.FS.unlink(path);
    } catch {
      // nothing to clean up
    }
  }
}
