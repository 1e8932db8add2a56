/**
 * The Redis event transport's dead-letter store: the `<stream>:dead_letters`
 * streams its consumers write (event.ts setAside), read back page by page with
 * XRANGE. A dead letter's id is `<dead-letter stream entry id>@<stream>`.
 *
 * Replay makes the original stream entry pending again for the group it was
 * set aside from, and only for it (XCLAIM ... FORCE, idle long enough to be
 * reclaimed at once): the group's next reclaim pass (reclaim_interval, or a
 * Python consumer's own reclaim) delivers it; other groups never see it again.
 * An entry trimmed from its stream meanwhile (max_stream_length) is added back
 * to the stream instead (every group then gets it), with a warning.
 */
import {
  deadLetterPageSize,
  forEachSelected,
  matchesDeadLetter,
  type DeadLetter,
  type DeadLetterFilter,
  type DeadLetterList,
  type DeadLetterPage,
  type DeadLetterSelection,
  type DeadLetterStore,
  type Logger,
} from '@lightbus/core/transport';
import { isReplyError, type Command, type RedisConnection, type Reply } from './connection';
import { STARTUP_WAIT_MS } from './common';
import { parseEntries } from './replies';
import { deadLetterKey, decodeEventFields, nextStreamId, type FieldList, type KeyNames, type StreamUse } from './wire';

const SUFFIX = deadLetterKey('');
/** How long ago a replayed entry counts as delivered: past any acknowledgement_timeout, so it is reclaimed at once. */
const REPLAY_IDLE_MS = 30 * 24 * 3600 * 1000;
const READ_BATCH = 200;

/** What the store needs of its event transport. */
export interface RedisDeadLetterSource {
  commands(): RedisConnection;
  readonly streamUse: StreamUse;
  /** The key layout (where an API's streams are, for SCAN). */
  readonly keys: KeyNames;
  streamOf(apiName: string, eventName: string): string;
  addCommand(stream: string, fields: readonly string[]): Command;
  readonly logger: Logger;
}

interface StoredLetter {
  readonly letter: DeadLetter;
  readonly deadLetterStream: string;
  readonly entryId: string;
  readonly stream: string;
  readonly originalId: string;
  readonly consumer: string;
  readonly fields: FieldList;
}

export class RedisDeadLetters implements DeadLetterStore {
  constructor(private readonly source: RedisDeadLetterSource) {}

  async list(filter?: DeadLetterFilter, page?: DeadLetterPage): Promise<DeadLetterList> {
    const limit = deadLetterPageSize(page);
    const [afterId, fromStream] = parseCursor(page?.cursor);
    const streams = (await this.deadLetterStreams(filter)).filter((s) => fromStream === undefined || s >= fromStream);
    const entries: StoredLetter[] = [];
    const sinceId = filter?.since ? `${Math.max(0, filter.since.getTime())}-0` : '-';
    for (const stream of streams) {
      let start = stream === fromStream && afterId !== undefined ? nextStreamId(afterId) : sinceId;
      for (;;) {
        const batch = await this.read(stream, start, READ_BATCH);
        for (const record of batch) {
          if (!matchesDeadLetter(filter, record.letter)) continue;
          // One more than the page: the page is full and a next one exists.
          if (entries.length === limit) return { entries: entries.map((r) => r.letter), next: cursorOf(entries) };
          entries.push(record);
        }
        if (batch.length < READ_BATCH) break;
        start = nextStreamId(batch[batch.length - 1]!.entryId);
      }
    }
    return { entries: entries.map((r) => r.letter) };
  }

  async get(id: string): Promise<DeadLetter | undefined> {
    return (await this.record(id))?.letter;
  }

  replay(which: DeadLetterSelection): Promise<number> {
    return forEachSelected(this, which, async (letter) => {
      const record = await this.record(letter.id);
      if (!record) return false;
      const connection = await this.commands();
      const still = await connection.send(['XRANGE', record.stream, record.originalId, record.originalId]);
      const group = record.letter.group;
      if (group !== undefined && parseEntries(record.stream, still).length > 0) {
        await this.ensureGroup(record.stream, group);
        const [, deleted] = await connection.transaction([
          [
            'XCLAIM',
            record.stream,
            group,
            record.consumer,
            0,
            record.originalId,
            'IDLE',
            REPLAY_IDLE_MS,
            'RETRYCOUNT',
            0,
            'FORCE',
            'JUSTID',
          ],
          ['XDEL', record.deadLetterStream, record.entryId],
        ]);
        return Number(deleted) > 0;
      }
      this.source.logger.warn(
        `Dead letter ${letter.id}: its entry ${record.originalId} is no longer in ${record.stream} (trimmed: ` +
          'max_stream_length); it is added to the stream again, so every group listening to it gets it',
      );
      const [, deleted] = await connection.transaction([
        this.source.addCommand(record.stream, record.fields.flat()),
        ['XDEL', record.deadLetterStream, record.entryId],
      ]);
      return Number(deleted) > 0;
    });
  }

  discard(which: DeadLetterSelection): Promise<number> {
    return forEachSelected(this, which, async (letter) => {
      const parsed = parseId(letter.id);
      if (!parsed) return false;
      const deleted = await (await this.commands()).send(['XDEL', deadLetterKey(parsed.stream), parsed.entryId]);
      return Number(deleted) > 0;
    });
  }

  private async ensureGroup(stream: string, group: string): Promise<void> {
    try {
      await (await this.commands()).send(['XGROUP', 'CREATE', stream, group, '$', 'MKSTREAM']);
    } catch (error) {
      if (!(isReplyError(error) && error.message.startsWith('BUSYGROUP'))) throw error;
    }
  }

  /**
   * The commands connection once it is ready: a store read by a process that just started
   * (`lightbus deadletters`) waits for it as history does, rather than failing with "not ready".
   */
  private async commands(): Promise<RedisConnection> {
    const connection = this.source.commands();
    await connection.ready(Date.now() + STARTUP_WAIT_MS, undefined, 'Reading the dead letters');
    return connection;
  }

  private async record(id: string): Promise<StoredLetter | undefined> {
    const parsed = parseId(id);
    if (!parsed) return undefined;
    const [record] = await this.read(deadLetterKey(parsed.stream), parsed.entryId, 1);
    return record?.entryId === parsed.entryId ? record : undefined;
  }

  private async read(deadLetterStream: string, start: string, count: number): Promise<StoredLetter[]> {
    let reply: Reply;
    try {
      reply = await (await this.commands()).send(['XRANGE', deadLetterStream, start, '+', 'COUNT', count]);
    } catch (error) {
      if (isReplyError(error)) return []; // not a stream (or an invalid id): nothing set aside there
      throw error;
    }
    const stream = deadLetterStream.slice(0, -SUFFIX.length);
    return parseEntries(deadLetterStream, reply).map((entry) => toRecord(stream, entry.id, entry.fields ?? []));
  }

  /** The dead-letter streams a filter may find entries in, sorted. */
  private async deadLetterStreams(filter: DeadLetterFilter | undefined): Promise<string[]> {
    if (filter?.apiName !== undefined && (this.source.streamUse === 'per_api' || filter.eventName !== undefined)) {
      return [deadLetterKey(this.source.streamOf(filter.apiName, filter.eventName ?? ''))];
    }
    const pattern =
      filter?.apiName !== undefined ? this.source.keys.apiStreams(filter.apiName, SUFFIX) : `*:stream${SUFFIX}`;
    // On a cluster, every master is scanned.
    return (await this.commands()).scan(pattern, 'stream');
  }
}

function toRecord(stream: string, entryId: string, flat: FieldList): StoredLetter {
  const record = new Map(flat.map(([name, value]) => [name, value]));
  let fields: FieldList = [];
  try {
    const parsed = JSON.parse(record.get('fields') ?? '[]') as unknown;
    if (Array.isArray(parsed)) fields = parsed as FieldList;
  } catch {
    // An unreadable record: shown with its reason, without a message.
  }
  const source = record.get('stream') ?? stream;
  const originalId = record.get('entry_id') ?? '';
  const byName = new Map(fields.map(([name, value]) => [name, value]));
  let message;
  try {
    message = decodeEventFields(fields, originalId);
  } catch {
    message = undefined;
  }
  const group = record.get('group');
  const apiName = byName.get('api_name');
  const eventName = byName.get('event_name');
  const letter: DeadLetter = {
    id: `${entryId}@${source}`,
    reason: record.get('reason') ?? '',
    time: new Date(Number(entryId.split('-')[0])),
    ...(group ? { group } : {}),
    source,
    ...(apiName !== undefined ? { apiName } : {}),
    ...(eventName !== undefined ? { eventName } : {}),
    ...(message ? { message } : {}),
    payload: JSON.stringify(Object.fromEntries(fields)),
  };
  return {
    letter,
    deadLetterStream: deadLetterKey(source),
    entryId,
    stream: source,
    originalId,
    consumer: record.get('consumer') ?? 'lightbus-replay',
    fields,
  };
}

/** `<entry id>@<stream>` (stream ids never hold '@'). */
function parseId(id: string): { entryId: string; stream: string } | undefined {
  const at = id.indexOf('@');
  if (at <= 0 || !/^\d+-\d+$/.test(id.slice(0, at))) return undefined;
  return { entryId: id.slice(0, at), stream: id.slice(at + 1) };
}

/** The cursor after a page: its last dead letter's id. */
function cursorOf(entries: readonly StoredLetter[]): string {
  const last = entries[entries.length - 1]!;
  return `${last.entryId}@${last.deadLetterStream}`;
}

function parseCursor(cursor: string | undefined): [string | undefined, string | undefined] {
  if (cursor === undefined) return [undefined, undefined];
  const at = cursor.indexOf('@');
  if (at <= 0) throw new RangeError(`Not a dead-letter cursor: ${JSON.stringify(cursor)} (give the 'next' of a page).`);
  return [cursor.slice(0, at), cursor.slice(at + 1)];
}
