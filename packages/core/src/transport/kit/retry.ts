/**
 * One retry loop for every transport. An error says whether trying again may
 * help (`LightbusError.retriable`, read through its `cause` chain by
 * `isRetriable`); `retry()` tries again what is retriable, with core's backoff,
 * until it succeeds, an error is not retriable, the deadline or the attempt
 * limit is reached, or its signal aborts. Then it throws the last error (or
 * what `giveUp` makes of it).
 */
import { backoffDelay, delay, errorText, type BackoffOptions } from '../../util/async';
import type { Logger } from '../../log';
import { msUntil, type Deadline } from './deadline';

/**
 * Whether trying the same thing again may succeed: the first error along the
 * `cause` chain that says so (has a boolean `retriable`, as LightbusError does)
 * decides; an error chain that says nothing is not retriable.
 */
export function isRetriable(error: unknown): boolean {
  const seen = new Set<unknown>();
  for (let current = error; current !== null && typeof current === 'object' && !seen.has(current);) {
    seen.add(current);
    const stated = (current as { retriable?: unknown }).retriable;
    if (typeof stated === 'boolean') return stated;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

export interface RetryOptions {
  /** What is being tried, for the log ("Sending the result of a.b()"). */
  readonly what: string;
  /** Give up once this passes (ms since the epoch); waits never run past it. */
  readonly deadline?: Deadline;
  /** Give up after this many attempts (the first one included). Default: no limit (set a deadline or a signal). */
  readonly attempts?: number;
  /** The backoff between attempts (core's backoffDelay; default 100 ms doubling to 5 s). */
  readonly backoff?: BackoffOptions;
  /**
   * Aborting ends the current wait and gives up (with the last error; aborted
   * during the first wait of `delayFirst`: with the signal's reason). The first
   * attempt always runs; one in progress is not interrupted unless it reads the signal.
   */
  readonly signal?: AbortSignal;
  /** Whether an error may be tried again. Default: isRetriable. */
  readonly retriable?: (error: unknown) => boolean;
  /** The error to throw when giving up on a retriable error (deadline, attempts, signal). Default: the error itself. */
  readonly giveUp?: (error: unknown) => unknown;
  /** Wait the backoff before the first attempt too (reconnecting after a loss). */
  readonly delayFirst?: boolean;
  /** Called for each failure that will be tried again, before the wait (to log it at your level). */
  readonly onRetry?: (error: unknown, attempt: number, waitMs: number) => void;
  /** Retries are logged here at debug level (when no onRetry is given). */
  readonly logger?: Logger;
}

const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 100, maxMs: 5000 };

/** Milliseconds left before `deadline` (no deadline: no limit). */
function left(deadline: Deadline | undefined): number {
  return deadline === undefined ? Number.POSITIVE_INFINITY : msUntil(deadline);
}

/**
 * Run `attempt` until it succeeds or there is no point in trying again. It is
 * given the attempt number (0 first) and the signal. Errors that are not
 * retriable are thrown at once, as they are.
 */
export async function retry<T>(
  attempt: (attempt: number, signal?: AbortSignal) => Promise<T>,
  options: RetryOptions,
): Promise<T> {
  const retriable = options.retriable ?? isRetriable;
  const limit = options.attempts ?? Number.POSITIVE_INFINITY;
  const backoff = options.backoff ?? DEFAULT_BACKOFF;
  const offset = options.delayFirst ? 1 : 0;
  const giveUp = (error: unknown): unknown => (options.giveUp ? options.giveUp(error) : error);
  if (options.delayFirst) {
    await delay(Math.min(backoffDelay(0, backoff), left(options.deadline)), options.signal);
    options.signal?.throwIfAborted();
  }
  for (let n = 0; ; n++) {
    try {
      return await attempt(n, options.signal);
    } catch (error) {
      if (!retriable(error)) throw error;
      const wait = Math.min(backoffDelay(n + offset, backoff), left(options.deadline));
      if (n + 1 >= limit || (options.deadline !== undefined && wait <= 0) || options.signal?.aborted)
        throw giveUp(error);
      if (options.onRetry) options.onRetry(error, n + 1, wait);
      else
        options.logger?.debug(`${options.what} failed; trying again`, {
          attempt: n + 1,
          retryInMs: wait,
          error: errorText(error),
        });
      await delay(wait, options.signal);
      if (options.signal?.aborted) throw giveUp(error);
    }
  }
}
