/**
 * Past events, newest first (`lightbus inspect`, `bus.client.history()`).
 * Kafka reads forwards only, so history reads windows from the end of each
 * partition backwards: the last N records, then the N*2 before them, ... until
 * it has `limit` matching events newer than anything left unread, reaches the
 * start of the partition, or has read `history_max_scan` records of it.
 *
 * Partitions are read directly (no consumer group), and nothing is committed.
 */
import {
  BusClosedError,
  LightbusError,
  deferred,
  withTimeout,
  type Deferred,
  type EventMessage,
  type HistoryQuery,
} from '@lightbus/core/transport';
import type { PartitionReader } from './adapter/partition-reader';
import { decodeEvent, type IncomingRecord } from './codec';
import type { KafkaEventOptions } from './options';
import type { RoleBase } from './role';

/** What a history read needs of its event transport (events.ts passes itself; no import back, so no cycle). */
export interface HistorySource {
  readonly options: KafkaEventOptions;
  readonly base: RoleBase;
  topicOf(apiName: string, eventName: string): string;
}

interface Range {
  readonly topic: string;
  readonly partition: number;
  readonly from: bigint;
  readonly to: bigint;
}

interface PartitionState {
  readonly topic: string;
  readonly partition: number;
  readonly lower: bigint;
  readonly upper: bigint;
  /** Everything from here to `upper` has been read. */
  from: bigint;
  scanned: number;
  /** Timestamp (ms) of the oldest record read so far. */
  oldest: number;
}

async function historyTopics(transport: HistorySource, query: HistoryQuery): Promise<string[]> {
  const single = transport.options.topic_use === 'per_api' || query.eventName;
  const topic = single ? transport.topicOf(query.apiName, query.eventName ?? '') : undefined;
  const all = await transport.base.client.listTopics();
  if (topic !== undefined) return all.includes(topic) ? [topic] : [];
  return all.filter((t) => transport.base.names.isPerEventTopicOf(t, query.apiName)).sort();
}

/**
 * `reads` holds the queries reading now: the transport's close() stops them
 * (their readers disconnect and the query fails with BusClosedError).
 */
export async function* readHistory(
  transport: HistorySource,
  query: HistoryQuery,
  reads: Set<{ stop(): Promise<void> }>,
): AsyncGenerator<EventMessage> {
  transport.base.assertOpen('read event history');
  const limit = query.limit ?? Number.POSITIVE_INFINITY;
  if (limit <= 0) return;
  const { client } = transport.base;
  const topics = await historyTopics(transport, query);
  if (topics.length === 0) return;
  const startMs = query.start?.getTime();
  const stopMs = query.stop?.getTime();

  const parts: PartitionState[] = [];
  for (const topic of topics) {
    const marks = await client.watermarks(topic);
    const lowerByTime = startMs === undefined ? undefined : await client.offsetsForTime(topic, startMs, marks);
    const upperByTime = stopMs === undefined ? undefined : await client.offsetsForTime(topic, stopMs + 1, marks);
    for (const mark of marks) {
      const lowerHint = lowerByTime?.find((x) => x.partition === mark.partition);
      const upperHint = upperByTime?.find((x) => x.partition === mark.partition);
      const lower = lowerHint?.exact ? BigInt(lowerHint.offset) : BigInt(mark.low);
      const upper = upperHint?.exact ? BigInt(upperHint.offset) : BigInt(mark.high);
      if (upper > lower)
        parts.push({
          topic,
          partition: mark.partition,
          lower,
          upper,
          from: upper,
          scanned: 0,
          oldest: Number.POSITIVE_INFINITY,
        });
    }
  }
  if (parts.length === 0) return;

  const maxScan = transport.options.history_max_scan;
  const matches: Array<{ message: EventMessage; order: bigint }> = [];
  const reader = new RangeReader(transport);
  reads.add(reader);
  try {
    let window = BigInt(Math.min(maxScan, Math.max(100, Number.isFinite(limit) ? limit * 2 : 1000)));
    for (;;) {
      const kth =
        matches.length >= limit ? ([...matches].sort(newestFirst)[limit - 1]!.message.time?.getTime() ?? 0) : undefined;
      const ranges: Range[] = [];
      for (const part of parts) {
        if (part.from <= part.lower || part.scanned >= maxScan) continue;
        if (kth !== undefined && part.oldest < kth) continue; // what is left here is older than the limit-th newest match
        const size = window < BigInt(maxScan - part.scanned) ? window : BigInt(maxScan - part.scanned);
        const from = part.from - size > part.lower ? part.from - size : part.lower;
        ranges.push({ topic: part.topic, partition: part.partition, from, to: part.from });
      }
      if (ranges.length === 0) break;
      const read = await reader.read(ranges);
      for (const range of ranges) {
        const part = parts.find((p) => p.topic === range.topic && p.partition === range.partition)!;
        part.from = range.from;
        const records = read.get(`${range.topic}:${range.partition}`) ?? [];
        part.scanned += Number(range.to - range.from);
        for (const record of records) {
          const time = Number(record.timestamp);
          if (time < part.oldest) part.oldest = time;
          const message = matching(record, query, startMs, stopMs);
          if (message) matches.push({ message, order: BigInt(record.offset) });
        }
      }
      window *= 2n;
    }
  } finally {
    reads.delete(reader);
    await reader.stop();
  }
  matches.sort(newestFirst);
  let count = 0;
  for (const { message } of matches) {
    if (count++ >= limit) return;
    yield message;
  }
}

function newestFirst(a: { message: EventMessage; order: bigint }, b: { message: EventMessage; order: bigint }): number {
  const ta = a.message.time?.getTime() ?? 0;
  const tb = b.message.time?.getTime() ?? 0;
  if (ta !== tb) return tb - ta;
  return a.order === b.order ? 0 : a.order < b.order ? 1 : -1;
}

function matching(
  record: IncomingRecord,
  query: HistoryQuery,
  startMs: number | undefined,
  stopMs: number | undefined,
): EventMessage | undefined {
  const decoded = decodeEvent(record);
  if (!decoded.ok) return undefined;
  const message = decoded.value;
  if (message.apiName !== query.apiName) return undefined;
  if (query.eventName !== undefined && message.eventName !== query.eventName) return undefined;
  const time = message.time?.getTime();
  if (time !== undefined && ((startMs !== undefined && time < startMs) || (stopMs !== undefined && time > stopMs)))
    return undefined;
  return message;
}

interface Reading {
  readonly range: Range;
  readonly records: IncomingRecord[];
  done: boolean;
}

/** Reads offset ranges of partitions, one partition reader per topic, paused between rounds. */
class RangeReader {
  private readonly readers = new Map<string, PartitionReader>();
  private readings = new Map<string, Reading>();
  private round: Deferred<void> | undefined;
  private stopPromise: Promise<void> | undefined;

  constructor(private readonly transport: HistorySource) {}

  private checkOpen(): void {
    if (this.stopPromise) throw new BusClosedError('The Kafka event transport closed while reading event history.');
  }

  private async reader(topic: string): Promise<PartitionReader> {
    let reader = this.readers.get(topic);
    if (!reader) {
      const { options, base } = this.transport;
      this.checkOpen();
      reader = await base.startReader(
        {
          topic,
          start: new Map(),
          maxWaitMs: Math.min(options.max_wait_ms, 100),
          maxBytesPerPartition: options.max_bytes_per_partition,
          resetTo: 'earliest',
          description: `history reader of ${topic}`,
          onRecords: (records, partition) => this.collect(topic, partition, records),
        },
        // Stopped while this started: stop() did not see this reader.
        () => this.checkOpen(),
        () => this.stopPromise !== undefined,
      );
      this.readers.set(topic, reader);
    }
    return reader;
  }

  async read(ranges: readonly Range[]): Promise<Map<string, IncomingRecord[]>> {
    const { base, options } = this.transport;
    this.checkOpen();
    this.round = deferred<void>();
    this.round.promise.catch(() => undefined); // raced below; stop() may reject it before that
    this.readings = new Map(
      ranges.map((range) => [
        `${range.topic}:${range.partition}`,
        { range, records: [], done: range.from >= range.to },
      ]),
    );
    for (const reading of this.readings.values()) {
      if (!reading.done)
        (await this.reader(reading.range.topic)).seek(reading.range.partition, String(reading.range.from));
    }
    this.check();
    const limit = Math.max(30_000, options.request_timeout_ms);
    await withTimeout(
      this.round.promise,
      limit,
      () =>
        new LightbusError(
          `Reading event history took longer than ${limit} ms; is Kafka at ${base.client.brokers} healthy?`,
        ),
    );
    return new Map([...this.readings].map(([key, reading]) => [key, reading.records]));
  }

  private collect(topic: string, partition: number, records: readonly IncomingRecord[]): void {
    const reading = this.readings.get(`${topic}:${partition}`);
    if (!reading || reading.done) {
      this.readers.get(topic)?.pause(partition);
      return;
    }
    for (const record of records) {
      const offset = BigInt(record.offset);
      if (offset < reading.range.from) continue;
      if (offset >= reading.range.to) {
        reading.done = true;
        break;
      }
      reading.records.push(record);
      if (offset + 1n >= reading.range.to) {
        reading.done = true;
        break;
      }
    }
    if (reading.done) this.readers.get(topic)?.pause(partition);
    this.check();
  }

  private check(): void {
    if ([...this.readings.values()].every((r) => r.done)) this.round?.resolve();
  }

  /** Stop reading: a round in progress fails with BusClosedError; every reader disconnects. Idempotent. */
  stop(): Promise<void> {
    this.stopPromise ??= (async () => {
      this.round?.reject(new BusClosedError('The Kafka event transport closed while reading event history.'));
      await Promise.all(
        [...this.readers.values()].map((reader) => this.transport.base.client.stopPartitionReader(reader)),
      );
    })();
    return this.stopPromise;
  }
}
