// `npm run bench -- policy`: remote policy round trips over loopback (openpi protocol and vla-policy over ZeroMQ).
import type { Row } from "./lib/harness.js";
import { runRemotePolicyBench } from "./policy/remote.js";

export async function runPolicyBench(): Promise<{ rows: Row[]; json: object }> {
  const remote = await runRemotePolicyBench();
  return { rows: remote.rows, json: { remote: remote.json } };
}
