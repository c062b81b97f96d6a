// Benchmark entry: `npm run bench -- <name> [...]`; prints tables and writes bench/results/<name>.json.
import { writeResults } from "./lib/harness.js";
import { runGzBench } from "./gz.js";
import { runPolicyBench } from "./policy.js";
import { runRecordingBench } from "./recording.js";
import { runRos2Bench } from "./ros2.js";
import { runRuntimeBench } from "./runtime.js";
import { runTeleopBench } from "./teleop.js";
import { runTokenizerBench } from "./tokenizers.js";

type Bench = () => Promise<{ json: object }>;

const durationFlag = process.argv.find((a) => a.startsWith("--duration="));
const durationS = durationFlag ? Number(durationFlag.slice("--duration=".length)) : undefined;
if (durationS !== undefined && !(durationS > 0)) throw new Error(`bench: --duration expects seconds > 0, got "${durationFlag}"`);

const benches: Record<string, Bench> = {
  tokenizers: runTokenizerBench,
  runtime: () => runRuntimeBench({ durationS }),
  policy: runPolicyBench,
  recording: () => runRecordingBench({ durationS }),
  teleop: runTeleopBench,
  ros2: () => runRos2Bench({ durationS }),
  gz: () => runGzBench({ durationS }),
};

async function main(): Promise<void> {
  const names = process.argv.slice(2).filter((a) => !a.startsWith("--"));
  const selected = names.length > 0 ? names : Object.keys(benches);
  for (const name of selected) {
    const bench = benches[name];
    if (!bench) {
      console.error(`unknown benchmark "${name}": expected one of ${Object.keys(benches).join(", ")}`);
      process.exitCode = 2;
      return;
    }
    const { json } = await bench();
    console.log(`\nwrote ${writeResults(name, json)}`);
  }
}

await main();
