// Tests run TypeScript sources, but a worker_thread loads JavaScript: bundle a source module into a private
// cache folder, as the build would ship it. Packages stay imports resolved from node_modules (the MuJoCo build
// finds its .wasm next to its own file).
import { mkdirSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build } from "rolldown";

/** Bundle `src/<relativeSource>` to an ES module and return its URL. */
export async function bundleSourceModule(relativeSource: string, name: string): Promise<URL> {
  const dir = fileURLToPath(new URL(`../../node_modules/.cache/vla-runtime-tests/${name}-${process.pid}/`, import.meta.url));
  mkdirSync(dir, { recursive: true });
  await build({
    input: fileURLToPath(new URL(`../../src/${relativeSource}`, import.meta.url)),
    platform: "node",
    logLevel: "silent",
    external: (id) => !id.startsWith(".") && !id.startsWith("/") && !id.startsWith("\0"),
    output: { dir, format: "esm", entryFileNames: `${name}.mjs` },
  });
  return pathToFileURL(`${dir}${name}.mjs`);
}
