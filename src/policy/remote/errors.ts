// Why a remote policy call failed, as a kind (counted) and a one-line message (logged by the slow executor).

export type RemoteFailureKind =
  | "refused" // no connection could be made (nothing listening, host unreachable)
  | "timeout" // connected, but no (complete) reply in time
  | "aborted" // the caller's signal aborted the call (slow executor timeout or shutdown)
  | "disconnected" // the server dropped the connection while a reply was due
  | "tooLarge" // a message over the size limit
  | "schema" // a reply that is not what the protocol says (or a request we refused to send)
  | "server" // the server answered with an error
  | "busy"; // a call was made while another was in flight

export const REMOTE_FAILURE_KINDS: readonly RemoteFailureKind[] = ["refused", "timeout", "aborted", "disconnected", "tooLarge", "schema", "server", "busy"];

export class RemotePolicyError extends Error {
  constructor(
    readonly kind: RemoteFailureKind,
    message: string,
  ) {
    super(message.split("\n")[0]);
    this.name = "RemotePolicyError";
  }
}

/** Counters every remote client keeps. */
export interface RemotePolicyStats {
  /** Calls to infer(). */
  requests: number;
  /** Valid replies turned into a policy output. */
  replies: number;
  failures: Record<RemoteFailureKind, number>;
  /** Connections (or sockets) made after the first. */
  reconnects: number;
  lastError: string | null;
  /** Request sent to reply decoded (ms); NaN before the first reply. */
  lastRoundTripMs: number;
}

export function emptyRemoteStats(): RemotePolicyStats {
  return {
    requests: 0,
    replies: 0,
    failures: Object.fromEntries(REMOTE_FAILURE_KINDS.map((k) => [k, 0])) as Record<RemoteFailureKind, number>,
    reconnects: 0,
    lastError: null,
    lastRoundTripMs: NaN,
  };
}

export function copyRemoteStats(stats: RemotePolicyStats): RemotePolicyStats {
  return { ...stats, failures: { ...stats.failures } };
}

/** The reason an AbortSignal carries, in one line. */
export function abortReason(signal: AbortSignal): string {
  const reason: unknown = signal.reason;
  if (reason instanceof Error && reason.message) return reason.message.split("\n")[0];
  if (typeof reason === "string" && reason) return reason.split("\n")[0];
  return "aborted by the caller";
}

export function oneLine(err: unknown): string {
  const text = err instanceof Error ? err.message || err.name : String(err);
  return text.split("\n")[0].slice(0, 300);
}
