// Child process of the crash test: records synthetic samples and commands until it is killed. After every forced
// flush it prints how many messages are on disk by then, so the parent knows what a reader must recover.
import { loadArmDescription } from "../../src/kinematics/description.js";
import { McapSink } from "../../src/observability/mcapSink.js";
import { commandAt, sampleAt, syntheticRecorder } from "./synthetic.js";

// argv: output file, arm description (the bundle runs from a cache folder, so paths come from the parent).
const path = process.argv[2];
const arm = loadArmDescription(process.argv[3]);
const sink = await McapSink.create({ path, flushIntervalMs: 0, chunkBytes: 1024 * 1024 });
const recorder = syntheticRecorder([sink], arm);
let k = 0;
setInterval(() => {
  for (let i = 0; i < 5; i++) {
    k++;
    recorder.sensors(sampleAt(k));
    recorder.command(commandAt(k));
  }
}, 1);
setInterval(async () => {
  sink.writer.flush();
  const commands = k;
  await sink.drained();
  process.stdout.write(JSON.stringify({ commands }) + "\n");
}, 60);
