// Policy inference time on a simulated clock, for lockstep episodes.
import type { SlowPolicy } from "../runtime/slowExecutor.js";

/**
 * Inference time on the simulated clock: a policy's answer is held back until the simulation reaches the
 * observation time plus the latency, so chunks arrive as late in lockstep as they would on a real machine. A
 * policy that really computes or talks to a server is waited for (in wall time) when its simulated deadline comes,
 * so the simulated clock never runs ahead of a real answer.
 */
export class SimulatedLatency {
  private readonly pending: { dueNs: number; answer: Promise<unknown>; open: () => void }[] = [];

  constructor(
    private readonly latencyNs: number,
    private readonly waitLimitMs: number,
  ) {}

  wrap(policy: SlowPolicy): SlowPolicy {
    return {
      name: policy.name,
      infer: (observation, signal) => {
        let open = () => {};
        const gate = new Promise<void>((resolve) => (open = resolve));
        const answer = policy.infer(observation, signal);
        this.pending.push({ dueNs: observation.timeNs + this.latencyNs, answer, open });
        return answer.then((output) => gate.then(() => output));
      },
    };
  }

  /** Answers due by `nowNs` go through (waiting for any that is still being computed); true when one did. */
  async release(nowNs: number): Promise<boolean> {
    let released = false;
    for (let i = 0; i < this.pending.length; ) {
      const entry = this.pending[i];
      if (entry.dueNs > nowNs) {
        i++;
        continue;
      }
      let timer: NodeJS.Timeout | undefined;
      const limit = new Promise<void>((resolve) => (timer = setTimeout(resolve, this.waitLimitMs)));
      await Promise.race([entry.answer.then(() => undefined, () => undefined), limit]);
      clearTimeout(timer);
      entry.open();
      this.pending.splice(i, 1);
      released = true;
    }
    return released;
  }

  hasDue(nowNs: number): boolean {
    for (const entry of this.pending) if (entry.dueNs <= nowNs) return true;
    return false;
  }
}

