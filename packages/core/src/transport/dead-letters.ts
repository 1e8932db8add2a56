/**
 * Dead letters: the events a transport set aside (undecodable, rejected as
 * poison, or failed on every delivery `delivery_limit` allows), read back and
 * dealt with by an operator. An event transport that keeps them where it can
 * read them again offers `deadLetters` (a DeadLetterStore); `bus.client.deadLetters`
 * and `lightbus deadletters` use it.
 *
 * Rules every store keeps:
 * - `list()` reads one page, never the whole store; `next` continues it.
 * - `replay()` puts the original message back where it came from, for the
 *   consumer group it was set aside from only (other groups never see it
 *   again), then removes the dead letter; `discard()` removes it.
 * - ids are the store's own, stable while the dead letter exists.
 */
import type { EventMessage } from '../message';

/** Which dead letters: every field given must match. */
export interface DeadLetterFilter {
  readonly apiName?: string;
  readonly eventName?: string;
  /** The consumer group (`<service>-<listener>`) it was set aside from. */
  readonly group?: string;
  /** Set aside at or after this time. */
  readonly since?: Date;
}

export interface DeadLetterPage {
  /** At most this many entries (default 50). */
  readonly limit?: number;
  /** The `next` of the previous page. */
  readonly cursor?: string;
}

/** One event set aside, as a store reads it back. */
export interface DeadLetter {
  /** The store's id of this dead letter: get(), replay() and discard() take it. */
  readonly id: string;
  /** Why it was set aside. */
  readonly reason: string;
  /** When it was set aside. */
  readonly time: Date;
  /** The consumer group it was set aside from, when it came from one. */
  readonly group?: string;
  /** The stream, queue or topic it was taken from. */
  readonly source: string;
  readonly apiName?: string;
  readonly eventName?: string;
  /** The original message, when it can be decoded (undecodable ones have `payload` only). */
  readonly message?: EventMessage;
  /** The original message as it travelled, as text (shown for undecodable ones). */
  readonly payload: string;
}

export interface DeadLetterList {
  readonly entries: readonly DeadLetter[];
  /** Give it as `cursor` for the next page; absent on the last page. */
  readonly next?: string;
}

/** One dead letter by id, or all those matching a filter (`{ all: {} }`: every one). */
export type DeadLetterSelection = { readonly id: string } | { readonly all: DeadLetterFilter };

/** An event transport's dead-letter store (`EventTransport.deadLetters`). */
export interface DeadLetterStore {
  /** One page of dead letters, oldest first. */
  list(filter?: DeadLetterFilter, page?: DeadLetterPage): Promise<DeadLetterList>;
  /** One dead letter, or undefined when this store has none with that id. */
  get(id: string): Promise<DeadLetter | undefined>;
  /** Put back to the group it came from, then remove; resolves with how many were replayed. */
  replay(which: DeadLetterSelection): Promise<number>;
  /** Remove; resolves with how many were removed. */
  discard(which: DeadLetterSelection): Promise<number>;
}

/** Page size when none is given. */
export const DEFAULT_DEAD_LETTER_PAGE = 50;

/** The page size asked for, checked (a positive integer). */
export function deadLetterPageSize(page: DeadLetterPage | undefined): number {
  const limit = page?.limit ?? DEFAULT_DEAD_LETTER_PAGE;
  if (!Number.isInteger(limit) || limit < 1) {
    throw new RangeError(`A dead-letter page size must be a positive integer (got ${String(limit)}).`);
  }
  return limit;
}

/** Whether a dead letter matches a filter. */
export function matchesDeadLetter(filter: DeadLetterFilter | undefined, letter: DeadLetter): boolean {
  if (!filter) return true;
  if (filter.apiName !== undefined && letter.apiName !== filter.apiName) return false;
  if (filter.eventName !== undefined && letter.eventName !== filter.eventName) return false;
  if (filter.group !== undefined && letter.group !== filter.group) return false;
  if (filter.since !== undefined && letter.time.getTime() < filter.since.getTime()) return false;
  return true;
}

/**
 * replay() or discard() of a selection, for a store that acts on one id at a
 * time: `{ id }` acts on that one; `{ all }` walks the store page by page and
 * acts on each match. Resolves with how many were acted on.
 */
export async function forEachSelected(
  store: Pick<DeadLetterStore, 'list' | 'get'>,
  which: DeadLetterSelection,
  act: (letter: DeadLetter) => Promise<boolean>,
): Promise<number> {
  if ('id' in which) {
    const letter = await store.get(which.id);
    return letter && (await act(letter)) ? 1 : 0;
  }
  let count = 0;
  let cursor: string | undefined;
  do {
    const page = await store.list(which.all, { limit: 100, ...(cursor !== undefined ? { cursor } : {}) });
    for (const letter of page.entries) if (await act(letter)) count += 1;
    cursor = page.next;
  } while (cursor !== undefined);
  return count;
}
