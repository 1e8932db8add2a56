/**
 * Reading offset ranges of a topic's partitions directly (no consumer group,
 * nothing committed): what history and the dead-letter store read. One
 * partition reader per topic, started on first use, paused between rounds;
 * stop() ends a round in progress with BusClosedError.
 */
import { BusClosedError, LightbusError, deferred, withTimeout, type Deferred } from '@lightbus/core/transport';
import type { PartitionReader } from './adapter/partition-reader';
import type { IncomingRecord } from './codec';
import type { KafkaEventOptions } from './options';
import type { RoleBase } from './role';

/** What a range read needs of its transport (no import of events.ts, so no cycle). */
export interface RangeSource {
  readonly options: Pick<KafkaEventOptions, 'max_wait_ms' | 'max_bytes_per_partition' | 'request_timeout_ms'>;
  readonly base: RoleBase;
}

/** Offsets `from` (included) to `to` (excluded) of one partition. */
export interface Range {
  readonly topic: string;
  readonly partition: number;
  readonly from: bigint;
  readonly to: bigint;
}

interface Reading {
  readonly range: Range;
  readonly records: IncomingRecord[];
  done: boolean;
}

/** Reads offset ranges of partitions, one partition reader per topic, paused between rounds. */
export class RangeReader {
  private readonly readers = new Map<string, PartitionReader>();
  private readings = new Map<string, Reading>();
  private round: Deferred<void> | undefined;
  private stopPromise: Promise<void> | undefined;

  /** `what` names the reading in errors and logs ('event history', 'the dead-letter topic'). */
  constructor(
    private readonly transport: RangeSource,
    private readonly what = 'event history',
  ) {}

  private checkOpen(): void {
    if (this.stopPromise) throw new BusClosedError(`The Kafka event transport closed while reading ${this.what}.`);
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
          description: `reader of ${topic} (${this.what})`,
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
          `Reading ${this.what} took longer than ${limit} ms; is Kafka at ${base.client.brokers} healthy?`,
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
      this.round?.reject(new BusClosedError(`The Kafka event transport closed while reading ${this.what}.`));
      await Promise.all(
        [...this.readers.values()].map((reader) => this.transport.base.client.stopPartitionReader(reader)),
      );
    })();
    return this.stopPromise;
  }
}
