/**
 * The Kafka event transport's dead-letter store: the records its listeners put
 * on the dead-letter topic (role.ts setAside), read back page by page. A dead
 * letter's id is `<dead-letter topic>:<partition>:<offset>`, its record's place.
 *
 * Kafka deletes no single record. A replayed or discarded dead letter stays on
 * the topic, and a marker on the compacted companion topic
 * `<dead-letter topic>.settled` (key: the id) says it is settled; list() and
 * get() skip what is marked. A store reads the markers from the start of their
 * topic once, then only those added since; list() tombstones the markers of
 * records the dead-letter topic no longer holds (retention), so compaction
 * keeps that topic as small as the dead letters still there.
 *
 * list() reads each partition of the dead-letter topic from the page's cursor
 * (from `since` by the broker's time index, or from the start), in chunks, and
 * merges the partitions oldest first. It reads what the page needs (the
 * entries, and the settled, filtered-out and call records between them) and at
 * most MAX_SCAN records: a page that reaches that bound is short and has `next`.
 *
 * replay() produces the original record again to the partition it was taken
 * from, with `lightbus-replay-group` naming the group it was set aside from:
 * every other group's consumer skips it (events.ts), then marks the dead letter
 * replayed. At least once: if the marker cannot be written, the dead letter is
 * still listed, and replaying it again delivers it again.
 */
import {
  Semaphore,
  deadLetterPageSize,
  errorText,
  forEachSelected,
  matchesDeadLetter,
  type DeadLetter,
  type DeadLetterFilter,
  type DeadLetterList,
  type DeadLetterPage,
  type DeadLetterSelection,
  type DeadLetterStore,
} from '@lightbus/core/transport';
import type { PartitionMarks } from './adapter/client';
import {
  CONTENT_TYPE,
  H,
  decodeEvent,
  deadLetterOrigin,
  eventTypeOf,
  header,
  originalOf,
  replayOf,
  type IncomingRecord,
} from './codec';
import { RangeReader, type RangeSource } from './range-reader';

/** Most records one list() reads. */
export const MAX_SCAN = 10_000;

/** What the store needs of its event transport (events.ts passes itself; no import back). */
export interface KafkaDeadLetterSource extends RangeSource {
  readonly deadLetterTopic: string;
}

interface Stored {
  readonly letter: DeadLetter;
  readonly record: IncomingRecord;
  /** The consumer group's id on Kafka (with topic_prefix), as the dead-letter record names it. */
  readonly groupId: string | undefined;
}

/** One partition of the dead-letter topic as list() walks it. */
interface Scan {
  readonly partition: number;
  /** The first offset not yet taken (the cursor). */
  pos: bigint;
  /** Everything below this has been fetched. */
  readTo: bigint;
  /** The end when the page started. */
  readonly end: bigint;
  buffer: readonly IncomingRecord[];
  index: number;
}

export class KafkaDeadLetters implements DeadLetterStore {
  private readonly markers = new SettledMarkers();
  private readonly known = new Set<string>();
  private readonly stored = new WeakMap<DeadLetter, Stored>();
  /** Ids being replayed or discarded in this process: a second request for one finds nothing. */
  private readonly acting = new Set<string>();

  /** `reads` holds the reads in progress: the transport's close() stops them. */
  constructor(
    private readonly source: KafkaDeadLetterSource,
    private readonly reads: Set<{ stop(): Promise<void> }>,
  ) {}

  private get topic(): string {
    return this.source.deadLetterTopic;
  }

  private get markerTopic(): string {
    return this.source.base.names.settledMarkers(this.topic);
  }

  async list(filter?: DeadLetterFilter, page?: DeadLetterPage): Promise<DeadLetterList> {
    const limit = deadLetterPageSize(page);
    const cursor = parseCursor(page?.cursor);
    return this.reading(async (reader) => {
      if (!(await this.exists(this.topic))) return { entries: [] };
      const marks = await this.source.base.client.watermarks(this.topic);
      await this.refreshMarkers(reader);
      await this.forgetGone(marks);
      const scans = await this.scans(marks, cursor, filter?.since);
      const chunk = BigInt(Math.min(500, Math.max(50, limit + 1)));
      const entries: DeadLetter[] = [];
      for (let scanned = 0; ; scanned++) {
        await this.fill(reader, scans, chunk);
        const scan = oldest(scans);
        if (!scan) return { entries };
        if (scanned >= MAX_SCAN) return { entries, next: cursorOf(scans) };
        const letter = this.letterOf(scan.buffer[scan.index]!);
        if (letter && matchesDeadLetter(filter, letter)) {
          // One more than the page: the page is full and a next one exists (starting at this record).
          if (entries.length === limit) return { entries, next: cursorOf(scans) };
          entries.push(letter);
        }
        take(scan);
      }
    });
  }

  async get(id: string): Promise<DeadLetter | undefined> {
    const place = parseId(id);
    if (!place || place.topic !== this.topic) return undefined;
    return this.reading(async (reader) => {
      if (!(await this.exists(this.topic))) return undefined;
      const mark = (await this.source.base.client.watermarks(this.topic)).find((m) => m.partition === place.partition);
      if (!mark || place.offset < BigInt(mark.low) || place.offset >= BigInt(mark.high)) return undefined;
      await this.refreshMarkers(reader);
      const { partition, offset } = place;
      const read = await reader.read([{ topic: this.topic, partition, from: offset, to: offset + 1n }]);
      const record = read.get(`${this.topic}:${partition}`)?.[0];
      return record?.offset === String(offset) ? this.letterOf(record) : undefined;
    });
  }

  replay(which: DeadLetterSelection): Promise<number> {
    return forEachSelected(this, which, (letter) =>
      this.settle(letter, 'replayed', async ({ record, groupId }) => {
        const { base } = this.source;
        const original = originalOf(record);
        await base.ensureTopics([original.topic]);
        const marks = await base.client.watermarks(original.topic);
        const replay = replayOf(record, groupId);
        // The partition it was taken from (where the group reads its key), while the topic has it.
        const there = marks.some((m) => m.partition === original.partition);
        await base.produce(original.topic, there ? { ...replay, partition: original.partition } : replay);
        if (groupId === undefined) {
          base.logger.warn(
            `Dead letter ${letter.id} names no consumer group: replayed to ${original.topic} for every group that reads it`,
          );
        }
      }),
    );
  }

  discard(which: DeadLetterSelection): Promise<number> {
    return forEachSelected(this, which, (letter) => this.settle(letter, 'discarded', async () => undefined));
  }

  /** Do `act` (the replay), then mark the dead letter settled; false when it is not this store's or settled already. */
  private async settle(
    letter: DeadLetter,
    action: 'replayed' | 'discarded',
    act: (stored: Stored) => Promise<void>,
  ): Promise<boolean> {
    const stored = this.stored.get(letter);
    if (!stored || this.markers.has(letter.id, stored.record.timestamp) || this.acting.has(letter.id)) return false;
    this.acting.add(letter.id);
    try {
      await act(stored);
      const { base } = this.source;
      await base.ensureTopics([this.markerTopic], {}, { 'cleanup.policy': 'compact' });
      const marker = { action, at: new Date().toISOString(), record_timestamp: stored.record.timestamp };
      await base.produce(this.markerTopic, {
        key: letter.id,
        value: JSON.stringify(marker),
        headers: { [H.contentType]: CONTENT_TYPE },
      });
      this.markers.add(letter.id, stored.record.timestamp);
      base.logger.info(`Dead letter ${action}`, {
        id: letter.id,
        group: letter.group ?? '(none)',
        source: letter.source,
      });
      return true;
    } finally {
      this.acting.delete(letter.id);
    }
  }

  /** Run `work` with a range reader of its own, stopped after it (and by the transport's close()). */
  private async reading<T>(work: (reader: RangeReader) => Promise<T>): Promise<T> {
    this.source.base.assertOpen('read dead letters');
    const reader = new RangeReader(this.source, 'dead letters');
    this.reads.add(reader);
    try {
      return await work(reader);
    } finally {
      this.reads.delete(reader);
      await reader.stop();
    }
  }

  private async exists(topic: string): Promise<boolean> {
    const { client } = this.source.base;
    if (this.known.has(topic) || client.topicsExist([topic])) return true;
    if (!(await client.listTopics()).includes(topic)) return false;
    this.known.add(topic);
    return true;
  }

  /** Read the markers added since the last time (all of them the first time). */
  private async refreshMarkers(reader: RangeReader): Promise<void> {
    const topic = this.markerTopic;
    await this.markers.refreshing.acquire();
    try {
      if (!(await this.exists(topic))) return;
      const marks = await this.source.base.client.watermarks(topic);
      const ranges = marks
        .map((m) => {
          const low = BigInt(m.low);
          const from = this.markers.readTo.get(m.partition) ?? low;
          return { topic, partition: m.partition, from: from > low ? from : low, to: BigInt(m.high) };
        })
        .filter((r) => r.from < r.to);
      if (ranges.length === 0) return;
      const read = await reader.read(ranges);
      for (const range of ranges) {
        for (const record of read.get(`${topic}:${range.partition}`) ?? []) this.markers.apply(record);
        this.markers.readTo.set(range.partition, range.to);
      }
    } finally {
      this.markers.refreshing.release();
    }
  }

  /** Tombstone the markers of records gone from the dead-letter topic; a failure is only logged (list() goes on). */
  private async forgetGone(marks: readonly PartitionMarks[]): Promise<void> {
    const gone = this.markers.gone(this.topic, marks);
    if (gone.length === 0) return;
    const { base } = this.source;
    try {
      await Promise.all(gone.map((id) => base.produce(this.markerTopic, { key: id, value: null, headers: {} })));
      for (const id of gone) this.markers.delete(id);
    } catch (error) {
      base.logger.debug('Could not remove the markers of dead letters gone by retention', {
        topic: this.markerTopic,
        error: errorText(error),
      });
    }
  }

  /** Where each partition's walk starts: the cursor's offset, else `since` by the time index, else the start. */
  private async scans(
    marks: readonly PartitionMarks[],
    cursor: ReadonlyMap<number, bigint> | undefined,
    since: Date | undefined,
  ): Promise<Scan[]> {
    const byTime =
      since === undefined
        ? undefined
        : await this.source.base.client.offsetsForTime(this.topic, since.getTime(), marks);
    return marks.map((m) => {
      const low = BigInt(m.low);
      const end = BigInt(m.high);
      const timed = byTime?.find((t) => t.partition === m.partition);
      let start = cursor?.get(m.partition) ?? (timed?.exact ? BigInt(timed.offset) : low);
      if (start < low) start = low;
      if (start > end) start = end;
      return { partition: m.partition, pos: start, readTo: start, end, buffer: [], index: 0 };
    });
  }

  /** Fetch the next chunk of every partition whose fetched records are all taken, until each has one or is done. */
  private async fill(reader: RangeReader, scans: readonly Scan[], chunk: bigint): Promise<void> {
    for (;;) {
      const empty = scans.filter((s) => s.index >= s.buffer.length && s.readTo < s.end);
      if (empty.length === 0) return;
      const ranges = empty.map((s) => ({
        topic: this.topic,
        partition: s.partition,
        from: s.readTo,
        to: s.readTo + chunk < s.end ? s.readTo + chunk : s.end,
      }));
      const read = await reader.read(ranges);
      ranges.forEach((range, i) => {
        const scan = empty[i]!;
        scan.buffer = read.get(`${this.topic}:${range.partition}`) ?? [];
        scan.index = 0;
        scan.readTo = range.to;
        if (scan.buffer.length === 0) scan.pos = scan.readTo;
      });
    }
  }

  /** The dead letter a record of the topic holds; undefined for a call's, a settled one, or one of unknown origin. */
  private letterOf(record: IncomingRecord): DeadLetter | undefined {
    const { names } = this.source.base;
    const origin = deadLetterOrigin(record);
    if (!origin || names.isRequestTopic(origin.topic)) return undefined;
    const id = `${record.topic}:${record.partition}:${record.offset}`;
    if (this.markers.has(id, record.timestamp)) return undefined;
    const original = originalOf(record);
    const decoded = decodeEvent(original);
    const type = eventTypeOf(original);
    const groupId = origin.group;
    const group = groupId?.startsWith(names.prefix) ? groupId.slice(names.prefix.length) : groupId;
    const letter: DeadLetter = {
      id,
      reason: header(record, H.dlReason) ?? '',
      time: new Date(setAsideAt(record)),
      ...(group ? { group } : {}),
      source: origin.topic,
      ...(type ? { apiName: type.apiName, eventName: type.eventName } : {}),
      ...(decoded.ok ? { message: decoded.value } : {}),
      payload: payloadOf(original),
    };
    this.stored.set(letter, { letter, record, groupId });
    return letter;
  }
}

/** The markers of settled dead letters a store has read: id -> the timestamp of the record it settles. */
class SettledMarkers {
  private readonly settled = new Map<string, string>();
  /** Partition of the marker topic -> the offset read up to. */
  readonly readTo = new Map<number, bigint>();
  readonly refreshing = new Semaphore(1);

  /**
   * Whether the record at `id` is settled. The timestamp must match too: a dead-letter topic
   * deleted and created again reuses offsets, and the old markers must not hide new records.
   */
  has(id: string, timestamp: string): boolean {
    return this.settled.get(id) === timestamp;
  }

  add(id: string, timestamp: string): void {
    this.settled.set(id, timestamp);
  }

  delete(id: string): void {
    this.settled.delete(id);
  }

  /** A record of the marker topic: a marker, or a tombstone (no value) that removes one. */
  apply(record: IncomingRecord): void {
    const id = record.key?.toString('utf8');
    if (!id) return;
    if (record.value === null) {
      this.settled.delete(id);
      return;
    }
    try {
      const value = JSON.parse(record.value.toString('utf8')) as { record_timestamp?: unknown };
      if (typeof value.record_timestamp === 'string') this.settled.set(id, value.record_timestamp);
    } catch {
      // Not a marker: ignored.
    }
  }

  /** The marked ids of `topic` whose records the topic no longer holds (below a partition's start, or no partition). */
  gone(topic: string, marks: readonly PartitionMarks[]): string[] {
    const out: string[] = [];
    for (const id of this.settled.keys()) {
      const place = parseId(id);
      if (!place || place.topic !== topic) continue;
      const mark = marks.find((m) => m.partition === place.partition);
      if (!mark || place.offset < BigInt(mark.low)) out.push(id);
    }
    return out;
  }
}

/** When a dead letter was set aside (its lightbus-dead-letter-time, else its record's timestamp), in ms. */
function setAsideAt(record: IncomingRecord): number {
  const time = Date.parse(header(record, H.dlTime) ?? '');
  return Number.isFinite(time) ? time : Number(record.timestamp);
}

/**
 * The partition whose next record is the oldest: by the time it was set aside (what a dead letter's
 * `time` shows), then partition. (A record's timestamp is never before that time, so `since` can start
 * each partition at the offset the time index gives for it.)
 */
function oldest(scans: readonly Scan[]): Scan | undefined {
  let best: Scan | undefined;
  let bestTime = 0;
  for (const scan of scans) {
    const record = scan.buffer[scan.index];
    if (!record) continue;
    const time = setAsideAt(record);
    if (!best || time < bestTime || (time === bestTime && scan.partition < best.partition)) {
      best = scan;
      bestTime = time;
    }
  }
  return best;
}

function take(scan: Scan): void {
  const record = scan.buffer[scan.index]!;
  scan.pos = BigInt(record.offset) + 1n;
  scan.index += 1;
  if (scan.index >= scan.buffer.length) {
    scan.buffer = [];
    scan.index = 0;
    scan.pos = scan.readTo;
  }
}

/** The original record as it travelled: key, headers and value as text (shown for undecodable ones). */
function payloadOf(record: IncomingRecord): string {
  const headers: Record<string, string> = {};
  for (const name of Object.keys(record.headers ?? {})) headers[name] = header(record, name) ?? '';
  return JSON.stringify({
    key: record.key?.toString('utf8') ?? null,
    headers,
    value: record.value?.toString('utf8') ?? null,
  });
}

/** `<topic>:<partition>:<offset>` (topic names hold no ':'). */
function parseId(id: string): { topic: string; partition: number; offset: bigint } | undefined {
  const match = /^([A-Za-z0-9._-]+):(\d+):(\d+)$/.exec(id);
  if (!match) return undefined;
  return { topic: match[1]!, partition: Number(match[2]), offset: BigInt(match[3]!) };
}

/** `<partition>:<next offset>` per partition, comma-separated. */
function cursorOf(scans: readonly Scan[]): string {
  return scans.map((s) => `${s.partition}:${s.pos}`).join(',');
}

function parseCursor(cursor: string | undefined): Map<number, bigint> | undefined {
  if (cursor === undefined) return undefined;
  if (!/^\d+:\d+(,\d+:\d+)*$/.test(cursor)) {
    throw new RangeError(`Not a Kafka dead-letter cursor: ${JSON.stringify(cursor)} (give the 'next' of a page).`);
  }
  return new Map(
    cursor.split(',').map((part) => {
      const [partition, offset] = part.split(':');
      return [Number(partition), BigInt(offset!)];
    }),
  );
}
