/**
 * Past events, newest first (`lightbus inspect`, `bus.client.history()`).
 * Kafka reads forwards only, so history reads windows from the end of each
 * partition backwards: the last N records, then the N*2 before them, ... until
 * it has `limit` matching events newer than anything left unread, reaches the
 * start of the partition, or has read `history_max_scan` records of it.
 *
 * Partitions are read directly (no consumer group), and nothing is committed.
 */
import type { EventMessage, HistoryQuery } from '@lightbus/core/transport';
import { decodeEvent, replayGroupOf, type IncomingRecord } from './codec';
import type { KafkaEventOptions } from './options';
import { RangeReader, type Range } from './range-reader';
import type { RoleBase } from './role';

/** What a history read needs of its event transport (events.ts passes itself; no import back, so no cycle). */
export interface HistorySource {
  readonly options: KafkaEventOptions;
  readonly base: RoleBase;
  topicOf(apiName: string, eventName: string): string;
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
  if (replayGroupOf(record) !== undefined) return undefined; // a dead letter replayed for one group: fired once, listed once
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
