/**
 * The amqp event transport's dead-letter store: the dead-letter queue
 * `<prefix>.dead-letter` (a classic queue) read back.
 *
 * A queue is not random-access, so every operation is one scan from its head:
 * on a channel of its own, messages are taken with basic.get and not
 * acknowledged; those the operation does not remove go back, in their places,
 * when the channel closes. Replay publishes the original message to the queue
 * it was taken from (the default exchange, routed by that queue's name: only
 * that consumer group gets it), waits for the broker's confirm, then
 * acknowledges the dead letter; discard acknowledges it. `{ all }` acts in the
 * same single scan.
 *
 * The cost and the limits, by design:
 * - a page, get() or replay() by id costs one basic.get per dead letter ahead
 *   of it (deep pages cost more); a scan looks at no more than MAX_SCAN
 *   messages (those beyond are not listed; deal with the first ones).
 * - while one scan holds messages, another reader (another process's UI or
 *   CLI) does not see them: its list may be short and an action by id may
 *   find nothing (it resolves 0; try again). Scans of one store run one at a
 *   time.
 * - ids: `<key>@<dead-letter queue>`, the key stamped (`lightbus-dead-letter-id`)
 *   when the transport set the message aside, or for messages RabbitMQ
 *   dead-lettered itself (x-delivery-limit, message_ttl, max_length) a hash of
 *   the message and its x-death record: stable while the dead letter exists.
 */
import { createHash } from 'node:crypto';
import {
  deadLetterPageSize,
  errorText,
  matchesDeadLetter,
  type DeadLetter,
  type DeadLetterFilter,
  type DeadLetterList,
  type DeadLetterPage,
  type DeadLetterSelection,
  type DeadLetterStore,
  type Logger,
} from '@lightbus/core/transport';
import { closeChannel, type ConfirmChannel, type Fetched } from './adapter';
import { decodeEvent, numberHeader } from './codec';
import { republishOptions } from './dead-letter';
import { DeadLetterTargetMissingError } from './errors';
import type { Link } from './link';
import { publishConfirmed } from './publisher';
import { HEADER, parseRoutingKey, type Names } from './topology';

/** The most messages one operation looks at. */
export const MAX_SCAN = 10_000;

/** Headers that describe the dead-lettering, removed from a replayed message (it starts afresh). */
const DEATH_HEADERS = [
  HEADER.deadLetterReason,
  HEADER.deadLetterQueue,
  HEADER.deadLetterTime,
  HEADER.deadLetterId,
  HEADER.redeliveries,
  'x-death',
  'x-first-death-reason',
  'x-first-death-queue',
  'x-first-death-exchange',
  'x-last-death-reason',
  'x-last-death-queue',
  'x-last-death-exchange',
];

/** What the store needs of its event transport. */
export interface AmqpDeadLetterSource {
  /** The link whose channels read the queue (the consumer link). */
  readonly link: Link;
  readonly names: Names;
  readonly logger: Logger;
}

/** A dead letter taken from the queue and held (unacknowledged) on the scanning channel. */
interface Held {
  readonly letter: DeadLetter;
  readonly message: Fetched;
}

/** What a scan's visitor says: go on to the next message, or stop here. */
type Next = 'next' | 'stop';

export class AmqpDeadLetters implements DeadLetterStore {
  /** Scans of this store, one at a time. */
  private turn: Promise<unknown> = Promise.resolve();

  constructor(private readonly source: AmqpDeadLetterSource) {}

  private get queue(): string {
    return this.source.names.deadLetter;
  }

  async list(filter?: DeadLetterFilter, page?: DeadLetterPage): Promise<DeadLetterList> {
    const limit = deadLetterPageSize(page);
    const after = page?.cursor === undefined ? undefined : parseCursor(page.cursor);
    let entries: DeadLetter[] = [];
    // Used when the cursor's dead letter is gone (replayed or discarded meanwhile): those set aside after it.
    const later: DeadLetter[] = [];
    let passed = after === undefined;
    let more = false;
    await this.scan((held) => {
      const { letter } = held;
      if (!passed) {
        if (letter.id === after!.id) passed = true;
        else if (later.length <= limit && letter.time.getTime() > after!.time && matchesDeadLetter(filter, letter))
          later.push(letter);
        return 'next';
      }
      if (!matchesDeadLetter(filter, letter)) return 'next';
      // One more than the page: the page is full and a next one exists.
      if (entries.length === limit) {
        more = true;
        return 'stop';
      }
      entries.push(letter);
      return 'next';
    });
    if (!passed) {
      more = later.length > limit;
      entries = later.slice(0, limit);
    }
    return more ? { entries, next: cursorOf(entries[entries.length - 1]!) } : { entries };
  }

  async get(id: string): Promise<DeadLetter | undefined> {
    if (!this.owns(id)) return undefined;
    let found: DeadLetter | undefined;
    await this.scan((held) => {
      if (held.letter.id !== id) return 'next';
      found = held.letter;
      return 'stop';
    });
    return found;
  }

  replay(which: DeadLetterSelection): Promise<number> {
    const targets = new Map<string, boolean>();
    return this.remove(which, async (held, channel) => {
      const target = held.letter.source;
      let exists = targets.get(target);
      if (exists === undefined) {
        exists = target !== '' && (await this.source.link.queueExists(target));
        targets.set(target, exists);
      }
      if (!exists) {
        const problem =
          `Dead letter ${held.letter.id} cannot be replayed: ` +
          (target === ''
            ? 'it does not say which queue it was taken from (it was not set aside by Lightbus or RabbitMQ)'
            : `the queue it was taken from, ${target}, no longer exists (its listener was removed?)`) +
          '. It is kept: start the listener again to replay it, or discard it.';
        if ('id' in which) throw new DeadLetterTargetMissingError(problem);
        this.source.logger.warn(problem, { id: held.letter.id, queue: target });
        return false;
      }
      await publishConfirmed(channel, '', target, held.message.content, replayOptions(held.message), () => undefined);
      return true;
    });
  }

  discard(which: DeadLetterSelection): Promise<number> {
    return this.remove(which, () => Promise.resolve(true));
  }

  /** Acknowledge (remove) the selected dead letters that `before` agrees to, in one scan; resolves with how many. */
  private async remove(
    which: DeadLetterSelection,
    before: (held: Held, channel: ConfirmChannel) => Promise<boolean>,
  ): Promise<number> {
    if ('id' in which && !this.owns(which.id)) return 0;
    let count = 0;
    await this.scan(async (held, channel) => {
      const selected = 'id' in which ? held.letter.id === which.id : matchesDeadLetter(which.all, held.letter);
      if (!selected) return 'next';
      if (await before(held, channel)) {
        channel.ack(held.message);
        count += 1;
      }
      return 'id' in which ? 'stop' : 'next';
    });
    return count;
  }

  /** Whether an id is one of this store's (ids of another store, or another prefix, are not looked for). */
  private owns(id: string): boolean {
    return id.endsWith(`@${this.queue}`);
  }

  /**
   * Take the queue's messages from its head, one at a time, and show each to
   * `visit` until it says stop, the queue is empty, or every message that was
   * ready when the scan started was seen (never more than MAX_SCAN). Whatever
   * was not acknowledged goes back when the channel closes. A queue that does
   * not exist is empty (nothing is declared).
   */
  private scan(visit: (held: Held, channel: ConfirmChannel) => Next | Promise<Next>): Promise<void> {
    const run = this.turn.then(async () => {
      const { link, names, logger } = this.source;
      const present = await link.inspectQueue(this.queue);
      if (!present || present.messages === 0) return;
      if (present.messages > MAX_SCAN) {
        logger.warn(
          `The dead-letter queue ${this.queue} holds ${present.messages} messages; only the first ${MAX_SCAN} are read. ` +
            'Replay or discard those first (or move the rest with RabbitMQ tools, e.g. a shovel).',
        );
      }
      const channel = await link.confirmChannel();
      try {
        for (let seen = 0; seen < Math.min(present.messages, MAX_SCAN); seen++) {
          const message = await channel.get(this.queue, { noAck: false });
          if (message === false) return;
          if ((await visit({ letter: readLetter(message, names), message }, channel)) === 'stop') return;
        }
      } finally {
        // Every message taken and not acknowledged goes back to its place in the queue.
        await closeChannel(channel).catch((error: unknown) =>
          logger.debug('Closing the dead-letter reading channel failed', { error: errorText(error) }),
        );
      }
    });
    this.turn = run.catch(() => undefined);
    return run;
  }
}

/** A message of the dead-letter queue as a DeadLetter. */
export function readLetter(message: Fetched, names: Names): DeadLetter {
  const headers = message.properties.headers ?? {};
  const death = firstDeath(headers);
  const source = textHeader(headers, HEADER.deadLetterQueue) ?? textHeader(headers, 'x-first-death-queue') ?? '';
  const key = textHeader(headers, HEADER.deadLetterId) ?? hashKey(message);
  const time =
    numberHeader(message, HEADER.deadLetterTime) ??
    death?.time ??
    (typeof message.properties.timestamp === 'number' ? message.properties.timestamp * 1000 : 0);
  const decoded = decodeEvent(message);
  const route = message.fields.routingKey.startsWith(`${names.prefix}.`)
    ? undefined // routed by a queue's name (a counted or replayed copy): it names no event
    : parseRoutingKey(message.fields.routingKey);
  const apiName = decoded.ok ? decoded.value.apiName : route?.apiName;
  const eventName = decoded.ok ? decoded.value.eventName : route?.eventName;
  const group = names.groupOf(source);
  return {
    id: `${key}@${names.deadLetter}`,
    reason: textHeader(headers, HEADER.deadLetterReason) ?? brokerReason(death, headers),
    time: new Date(time),
    ...(group !== undefined ? { group } : {}),
    source,
    ...(apiName !== undefined ? { apiName } : {}),
    ...(eventName !== undefined ? { eventName } : {}),
    ...(decoded.ok ? { message: decoded.value } : {}),
    payload: message.content.toString('utf8'),
  };
}

interface Death {
  readonly reason?: string;
  readonly queue?: string;
  readonly time?: number;
  readonly count?: number;
}

/** The x-death record of the first time RabbitMQ dead-lettered the message (the last in the list). */
function firstDeath(headers: Record<string, unknown>): Death | undefined {
  const deaths = headers['x-death'];
  if (!Array.isArray(deaths) || deaths.length === 0) return undefined;
  const first = deaths[deaths.length - 1] as Record<string, unknown>;
  const rawTime = first.time as { value?: unknown } | number | undefined;
  const seconds = typeof rawTime === 'number' ? rawTime : rawTime?.value;
  return {
    ...(typeof first.reason === 'string' ? { reason: first.reason } : {}),
    ...(typeof first.queue === 'string' ? { queue: first.queue } : {}),
    ...(typeof seconds === 'number' ? { time: seconds * 1000 } : {}),
    ...(typeof first.count === 'number' ? { count: first.count } : {}),
  };
}

/** Why RabbitMQ dead-lettered a message, in words (x-death reason). */
function brokerReason(death: Death | undefined, headers: Record<string, unknown>): string {
  const reason = death?.reason ?? textHeader(headers, 'x-first-death-reason');
  const queue = death?.queue ?? textHeader(headers, 'x-first-death-queue') ?? 'its queue';
  switch (reason) {
    case 'delivery_limit':
      return `delivery limit reached: RabbitMQ dead-lettered it after ${queue} delivered it more times than its x-delivery-limit (delivery_limit) allows, without an acknowledgement`;
    case 'expired':
      return `expired: it waited in ${queue} longer than its message_ttl`;
    case 'maxlen':
      return `dropped by ${queue}: the queue was at its max_length`;
    case 'rejected':
      return `rejected by a consumer of ${queue} without being requeued (it could not be set aside with a reason)`;
    case undefined:
      return 'unknown: the message carries no dead-letter reason';
    default:
      return `dead-lettered by RabbitMQ from ${queue}: ${reason}`;
  }
}

function textHeader(headers: Record<string, unknown>, name: string): string | undefined {
  const value = headers[name];
  if (typeof value === 'string') return value;
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  return undefined;
}

/** A key for a message nobody stamped: a hash of what it carries (stable: nothing changes it while it waits). */
function hashKey(message: Fetched): string {
  const hash = createHash('sha256');
  hash.update(message.content);
  hash.update(
    JSON.stringify([message.properties.messageId, message.properties.headers ?? {}], (_key, value: unknown) =>
      typeof value === 'bigint' ? String(value) : value,
    ),
  );
  return `h${hash.digest('base64url').slice(0, 26)}`;
}

/** The original message's properties for its replay, without what the dead-lettering added. */
function replayOptions(message: Fetched): ReturnType<typeof republishOptions> {
  const options = republishOptions(message, {});
  const headers = { ...(options.headers as Record<string, unknown>) };
  for (const name of DEATH_HEADERS) delete headers[name];
  return { ...options, headers };
}

/** `<time>:<id>` of the last dead letter of a page. */
function cursorOf(letter: DeadLetter): string {
  return `${letter.time.getTime()}:${letter.id}`;
}

function parseCursor(cursor: string): { time: number; id: string } {
  const colon = cursor.indexOf(':');
  const time = Number(cursor.slice(0, colon));
  if (colon <= 0 || !Number.isFinite(time) || colon === cursor.length - 1) {
    throw new RangeError(`Not a dead-letter cursor: ${JSON.stringify(cursor)} (give the 'next' of a page).`);
  }
  return { time, id: cursor.slice(colon + 1) };
}
