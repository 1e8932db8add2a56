/**
 * The schema role: one compacted topic (`<prefix>schema`), one record per API
 * (key = API name) saying when it was stored and for how long it lives. A
 * process reads the topic from the beginning with a long-lived private reader
 * and keeps the newest record per API; load() waits until the reader has
 * caught up with the end of the topic as it was when load() was called, then
 * returns the schemas whose time is not up. Several records per key (no
 * compaction yet, or none at all on the mock) are fine: the last one wins.
 * The reader reads the partitions directly (no consumer group to join), so a
 * process's first load() costs a few fetches, not a group join.
 */
import {
  BusClosedError,
  LightbusError,
  type ApiSchema,
  type SchemaTransport,
  type TransportContext,
  type ConnectionHealth,
} from '@lightbus/core/transport';
import type { PartitionMarks } from './adapter/client';
import type { PartitionReader } from './adapter/partition-reader';
import { decodeSchema, encodeSchema, type IncomingRecord, type StoredSchema } from './codec';
import type { KafkaSchemaOptions } from './options';
import { RoleBase } from './role';

/** The schema topic keeps the last record per API. */
export const SCHEMA_TOPIC_CONFIG: Readonly<Record<string, string>> = { 'cleanup.policy': 'compact' };

export class KafkaSchemaTransport implements SchemaTransport {
  readonly base: RoleBase;
  private readonly table = new Map<string, StoredSchema>();
  /** Next offset to read, per partition. */
  private readonly positions = new Map<number, bigint>();
  private reader: Promise<PartitionReader> | undefined;
  /** load() calls waiting for the reader: each is told on new records, or failed on close. */
  private readonly waiters = new Map<() => void, (error: Error) => void>();

  constructor(
    readonly options: KafkaSchemaOptions,
    readonly context: TransportContext,
  ) {
    this.base = new RoleBase(options, context);
  }

  private get topic(): string {
    return this.base.names.schema();
  }

  private ensureTopic(): Promise<void> {
    return this.base.ensureTopics([this.topic], {}, SCHEMA_TOPIC_CONFIG);
  }

  async store(apiName: string, schema: ApiSchema, ttlSeconds: number): Promise<void> {
    await this.ensureTopic();
    await this.base.produce(this.topic, encodeSchema(apiName, schema, ttlSeconds));
  }

  load(): Promise<Record<string, ApiSchema>> {
    return this.base.unlessClosed('load schemas', () => this.base.client.failFast(this.read(), 'loading schemas'));
  }

  private async read(): Promise<Record<string, ApiSchema>> {
    await this.ensureTopic();
    const marks = await this.base.client.watermarks(this.topic);
    const behind = (): boolean =>
      marks.some((m) => BigInt(m.high) > BigInt(m.low) && (this.positions.get(m.partition) ?? -1n) < BigInt(m.high));
    if (behind()) {
      await this.startReader(marks);
      this.base.assertOpen('load schemas');
      await this.until(behind, marks.map((m) => `${m.partition}:${m.high}`).join(' '));
    }
    const now = Date.now();
    const live: Record<string, ApiSchema> = {};
    for (const [apiName, stored] of this.table) if (stored.expiresAt > now) live[apiName] = stored.schema;
    return live;
  }

  private until(behind: () => boolean, end: string): Promise<void> {
    const limit = this.options.load_timeout_ms;
    return new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (behind()) return;
        cleanup();
        resolve();
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(
          new LightbusError(
            `Could not read the schema topic ${this.topic} up to its end (${end}) within ${limit} ms; is Kafka at ${this.base.client.brokers} healthy? (load_timeout_ms)`,
          ),
        );
      }, limit);
      const cleanup = (): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.set(check, (error) => {
        cleanup();
        reject(error);
      });
      check();
    });
  }

  /** The schema reader: started once, from the low watermarks in `marks` (those load() has just read). */
  private startReader(marks: readonly PartitionMarks[]): Promise<PartitionReader> {
    this.reader ??= (async () => {
      const { base, options } = this;
      base.assertOpen('start the schema reader');
      return base.startReader(
        {
          topic: this.topic,
          start: new Map(marks.map((m) => [m.partition, m.low])),
          maxWaitMs: options.max_wait_ms,
          maxBytesPerPartition: options.max_bytes_per_partition,
          resetTo: 'earliest',
          description: `schema reader of ${this.topic}`,
          onRecords: (records, partition) => this.apply(records, partition),
        },
        () => base.assertOpen('start the schema reader'),
      );
    })().catch((error: unknown) => {
      this.reader = undefined;
      throw error;
    });
    return this.reader;
  }

  private apply(records: readonly IncomingRecord[], partition: number): void {
    for (const record of records) {
      this.positions.set(partition, BigInt(record.offset) + 1n);
      const apiName = record.key?.toString('utf8');
      if (record.value === null) {
        if (apiName) this.table.delete(apiName); // a tombstone: an administrator removed the schema
        continue;
      }
      const decoded = decodeSchema(record);
      if (decoded.ok) this.table.set(decoded.value.apiName, decoded.value);
      else
        this.base.logger.warn('Ignoring an unreadable record on the schema topic', {
          key: apiName,
          reason: decoded.reason,
          offset: record.offset,
        });
    }
    [...this.waiters.keys()].forEach((check) => check());
  }

  /** The brokers, and whether they answer now (for `bus.health()`). */
  connections(): ConnectionHealth[] {
    return this.base.connections();
  }

  /** Stops the schema reader (also one still starting); load() calls still waiting fail with BusClosedError. */
  close(): Promise<void> {
    return this.base.close(async () => {
      for (const fail of [...this.waiters.values()])
        fail(new BusClosedError('The Kafka schema transport closed while load() waited for the schema topic.'));
      const reader = await this.reader?.catch(() => undefined);
      if (reader) await this.base.client.stopPartitionReader(reader);
    });
  }
}
