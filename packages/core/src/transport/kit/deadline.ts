/**
 * Deadlines: one number, milliseconds since the epoch, set once by the caller
 * and carried by the call itself (`RpcMessage.deadline`). Transports read it;
 * they never recompute it from a timeout.
 */

/** Milliseconds since the epoch after which the work is useless: its caller has given up. */
export type Deadline = number;

/** The deadline `seconds` from now. */
export function deadlineIn(seconds: number, now = Date.now()): Deadline {
  return now + seconds * 1000;
}

/** Milliseconds left until `deadline` (0 once it passed). */
export function msUntil(deadline: Deadline, now = Date.now()): number {
  return Math.max(0, deadline - now);
}

/** Whether `deadline` has passed; a missing deadline never passes. */
export function isPast(deadline: Deadline | undefined, now = Date.now()): boolean {
  return deadline !== undefined && now > deadline;
}

/** A call's time when nothing says otherwise: the default `rpc_timeout`, in seconds. */
export const DEFAULT_CALL_SECONDS = 5;

/**
 * The deadline of work done for a received call (sending its result, checking
 * its expiry): the call's own deadline, or `fallbackSeconds` (default: the
 * default rpc_timeout) from now for a call that carries none (a Python caller
 * on Redis sends no deadline).
 */
export function deadlineOf(
  call: { readonly deadline?: Deadline },
  fallbackSeconds = DEFAULT_CALL_SECONDS,
  now = Date.now(),
): Deadline {
  return call.deadline ?? deadlineIn(fallbackSeconds, now);
}
