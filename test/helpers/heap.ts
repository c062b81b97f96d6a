// Heap measurements for the "no allocation per tick" tests: a forced full collection, and the steady heap growth
// per tick of a loop.
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

export const collectGarbage = (() => {
  setFlagsFromString("--expose-gc");
  return runInNewContext("gc") as () => void;
})();

/** Live heap after a full collection. */
export function retainedHeapBytes(): number {
  collectGarbage();
  collectGarbage();
  return process.memoryUsage().heapUsed;
}

/**
 * Bytes allocated per tick: the smallest heap growth per tick over a few windows that each start after a full GC.
 * With `discardCollected`, a window whose heap shrank (a collection ran inside it) is not counted.
 */
export function steadyBytesPerTick(
  run: (ticks: number) => void,
  options: { windows?: number; ticksPerWindow?: number; discardCollected?: boolean } = {},
): number {
  const windows = options.windows ?? 10;
  const ticks = options.ticksPerWindow ?? 1000;
  const discard = options.discardCollected ?? true;
  let best = Infinity;
  for (let w = 0; w < windows; w++) {
    collectGarbage();
    const h0 = process.memoryUsage().heapUsed;
    run(ticks);
    const h1 = process.memoryUsage().heapUsed;
    if (!discard || h1 >= h0) best = Math.min(best, (h1 - h0) / ticks);
  }
  return best;
}
