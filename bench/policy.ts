// `npm run bench -- policy`: the bundled tiny VLA and RDP decoder on ONNX Runtime / in TypeScript, and remote
// policy round trips over loopback (openpi protocol and vla-policy over ZeroMQ).
import type { Row } from "./lib/harness.js";
import { runLocalPolicyBench } from "./policy/local.js";
import { runRemotePolicyBench } from "./policy/remote.js";

export async function runPolicyBench(): Promise<{ rows: Row[]; json: object }> {
  const local = await runLocalPolicyBench();
  const remote = await runRemotePolicyBench();
  return { rows: [...local.rows, ...remote.rows], json: { local: local.json, remote: remote.json } };
}
