// Bounding a wait by a deadline and the caller's AbortSignal, whichever comes first.
import { abortReason, RemotePolicyError } from "./errors.js";

/**
 * Resolve with `work`, or reject with `onTimeout()` once `remainingMs` has passed, or with an "aborted" error as soon
 * as `signal` aborts. A `work` that settles later is ignored (its rejection is swallowed).
 */
export function raceDeadline<T>(work: Promise<T>, remainingMs: number, signal: AbortSignal | undefined, onTimeout: () => RemotePolicyError): Promise<T> {
  work.catch(() => undefined);
  if (signal?.aborted) return Promise.reject(abortedError(signal));
  if (remainingMs <= 0) return Promise.reject(onTimeout());
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => finish(() => reject(onTimeout())), remainingMs);
    const onAbort = () => finish(() => reject(abortedError(signal!)));
    signal?.addEventListener("abort", onAbort, { once: true });
    let settled = false;
    function finish(action: () => void): void {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      action();
    }
    work.then(
      (value) => finish(() => resolve(value)),
      (err: unknown) => finish(() => reject(err)),
    );
  });
}

export function abortedError(signal: AbortSignal): RemotePolicyError {
  return new RemotePolicyError("aborted", `call aborted: ${abortReason(signal)}`);
}
