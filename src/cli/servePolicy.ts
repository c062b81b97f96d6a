// `vla-runtime serve-policy`: the scripted wipe expert served as a remote policy over the vla-policy ZeroMQ
// protocol, answering with FAST tokens, so another runtime (or a test) can drive an arm through a policy server.
import { join } from "node:path";
import { loadArmDescription } from "../kinematics/description.js";
import { ZmqPolicyServer } from "../policy/remote/index.js";
import { BUNDLED_POLICY, loadBundledExpertModel, ScriptedExpertPolicy } from "../sim/expertPolicy.js";
import { publicSpec, sampleWipeTask } from "../sim/task.js";

export async function startExpertPolicyServer(packageRoot: string, endpoint: string, seed: number, perturbations: boolean): Promise<ZmqPolicyServer> {
  const arm = loadArmDescription(join(packageRoot, "sim", "arm", "description.json"));
  const task = sampleWipeTask(seed, { perturbations });
  const policy = new ScriptedExpertPolicy(arm, publicSpec(task), loadBundledExpertModel(packageRoot), seed);
  const server = new ZmqPolicyServer({ endpoint, policy, stepPeriodS: BUNDLED_POLICY.stepPeriodS, tokenizer: "fast" });
  await server.start();
  return server;
}
