/**
 * Reading partitions without a consumer group (what the Java client calls
 * assign()). kafkajs only offers group consumers, and a group's first join
 * waits the broker's initial rebalance delay (3 s by default, and on the
 * librdkafka mock): too slow for a process's reply reader (its first call
 * would wait for it), for loading schemas, and for reading history.
 *
 * This reader sends Fetch requests itself through kafkajs's own cluster,
 * broker and batch classes (kafkajs/src/...). Those are internals: kafkajs
 * 2.2.4 is its final release (the project is no longer maintained), and the
 * package pins that exact version, so they cannot move under us. The
 * integration tests exercise every path used here.
 */
import { backoffDelay, type Logger } from '@lightbus/core/transport';
import type { KafkaConfig, logCreator as KafkaLogCreator } from 'kafkajs';
import { toIncomingRecord, type HeaderValue, type IncomingRecord } from '../codec';
import { isConnectionFailure, kafkaErrorType, rootMessage } from './errors';

interface InternalMessage {
  offset: string;
  timestamp: string;
  key: Buffer | null;
  value: Buffer | null;
  headers?: Record<string, HeaderValue>;
}

interface InternalPartitionData {
  partition: number;
  highWatermark: string;
}

interface InternalBroker {
  fetch(request: {
    replicaId: number;
    isolationLevel: number;
    maxWaitTime: number;
    minBytes: number;
    maxBytes: number;
    topics: Array<{ topic: string; partitions: Array<{ partition: number; fetchOffset: string; maxBytes: number }> }>;
  }): Promise<{ responses: Array<{ topicName: string; partitions: InternalPartitionData[] }> }>;
}

interface InternalCluster {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  refreshMetadata(): Promise<void>;
  addMultipleTargetTopics(topics: string[]): Promise<void>;
  findTopicPartitionMetadata(topic: string): Array<{ partitionId: number; leader: number }>;
  findLeaderForPartitions(topic: string, partitions: number[]): Record<string, number[]>;
  findBroker(query: { nodeId: string }): Promise<InternalBroker>;
  fetchTopicsOffset(
    topics: Array<{ topic: string; partitions: Array<{ partition: number }>; fromBeginning: boolean }>,
  ): Promise<Array<{ topic: string; partitions: Array<{ partition: number; offset: string }> }>>;
}

type ClusterConstructor = new (options: Record<string, unknown>) => InternalCluster;
type BatchConstructor = new (
  topic: string,
  fetchedOffset: string,
  partitionData: InternalPartitionData,
) => { messages: InternalMessage[] };

/* eslint-disable @typescript-eslint/no-require-imports -- kafkajs's internals have no typed entry; the adapter owns this use */
const Cluster = require('kafkajs/src/cluster') as ClusterConstructor;
const Batch = require('kafkajs/src/consumer/batch') as BatchConstructor;
const { createLogger } = require('kafkajs/src/loggers') as {
  createLogger(options: { level?: number; logCreator?: KafkaLogCreator }): unknown;
};
const defaultSocketFactory = require('kafkajs/src/network/socketFactory') as () => unknown;
/* eslint-enable @typescript-eslint/no-require-imports */

const READ_COMMITTED = 1;

/** What the reader needs to connect: the same settings as the kafkajs client (its config, passed as is). */
export type ReaderConnection = Readonly<
  Pick<
    KafkaConfig,
    | 'brokers'
    | 'clientId'
    | 'ssl'
    | 'sasl'
    | 'connectionTimeout'
    | 'requestTimeout'
    | 'retry'
    | 'logLevel'
    | 'logCreator'
  >
>;

export interface PartitionReaderSettings {
  readonly topic: string;
  /** Partition -> first offset to read. */
  readonly start: ReadonlyMap<number, string>;
  readonly maxWaitMs: number;
  readonly maxBytesPerPartition: number;
  /** Called with each partition's new records, in order. */
  readonly onRecords: (
    records: readonly IncomingRecord[],
    partition: number,
    highWatermark: string,
  ) => void | Promise<void>;
  /** Where to go when an offset is no longer in the log (retention): the earliest (default) or the latest offset. */
  readonly resetTo?: 'earliest' | 'latest';
  readonly description: string;
}

export class PartitionReader {
  private readonly cluster: InternalCluster;
  private readonly positions: Map<number, string>;
  private stopping = false;
  private starting: Promise<void> | undefined;
  private stopPromise: Promise<void> | undefined;
  private loop: Promise<void> | undefined;
  private failures = 0;
  /** Wake-ups of the sleeps in progress (at most one: the loop sleeps one at a time); each removes itself when done. */
  private readonly idle = new Set<() => void>();
  private paused = new Set<number>();

  constructor(
    connection: ReaderConnection,
    private readonly settings: PartitionReaderSettings,
    private readonly logger: Logger,
  ) {
    this.positions = new Map(settings.start);
    this.cluster = new Cluster({
      logger: createLogger({ level: connection.logLevel, logCreator: connection.logCreator }),
      socketFactory: defaultSocketFactory(),
      brokers: connection.brokers,
      ssl: connection.ssl,
      sasl: connection.sasl,
      clientId: connection.clientId,
      connectionTimeout: connection.connectionTimeout,
      requestTimeout: connection.requestTimeout,
      enforceRequestTimeout: true,
      metadataMaxAge: 300_000,
      retry: connection.retry,
      allowAutoTopicCreation: false,
      isolationLevel: READ_COMMITTED,
    });
  }

  /** Connect and start reading (in the background); when stop() is called meanwhile, it returns without reading. */
  start(): Promise<void> {
    this.starting ??= (async () => {
      await this.cluster.connect();
      if (this.stopping) return;
      await this.cluster.addMultipleTargetTopics([this.settings.topic]);
      if (this.stopping) return;
      this.loop = this.run();
    })();
    return this.starting;
  }

  /** Sleeps in progress that stop() or seek() would cut short (for tests: never more than one). */
  get pendingWakeups(): number {
    return this.idle.size;
  }

  /** Read a partition from another offset from the next fetch on (and start reading it if it was not). */
  seek(partition: number, offset: string): void {
    this.positions.set(partition, offset);
    this.paused.delete(partition);
    this.wake();
  }

  private wake(): void {
    for (const wake of [...this.idle]) wake();
  }

  /** Stop fetching a partition until it is sought again. */
  pause(partition: number): void {
    this.paused.add(partition);
  }

  private active(): number[] {
    return [...this.positions.keys()].filter((p) => !this.paused.has(p));
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      const partitions = this.active();
      if (partitions.length === 0) {
        await this.sleep(this.settings.maxWaitMs);
        continue;
      }
      try {
        await this.fetchOnce(partitions);
        if (this.failures > 0) this.logger.info(`Kafka ${this.settings.description} reads again`);
        this.failures = 0;
      } catch (error) {
        if (this.stopping) return;
        await this.recover(error);
      }
    }
  }

  private async fetchOnce(partitions: number[]): Promise<void> {
    const { topic, maxWaitMs, maxBytesPerPartition } = this.settings;
    const byLeader = this.cluster.findLeaderForPartitions(topic, partitions);
    const led = Object.values(byLeader).reduce((count, list) => count + list.length, 0);
    if (led < partitions.length) {
      // Metadata without these partitions (a topic just created, a leader moving): refresh and try again.
      throw new Error(`no leader known for some partitions of ${topic}`);
    }
    await Promise.all(
      Object.entries(byLeader).map(async ([nodeId, leaderPartitions]) => {
        const broker = await this.cluster.findBroker({ nodeId });
        const requested = new Map(leaderPartitions.map((p) => [p, this.positions.get(p)!]));
        const { responses } = await broker.fetch({
          replicaId: -1,
          isolationLevel: READ_COMMITTED,
          maxWaitTime: maxWaitMs,
          minBytes: 1,
          maxBytes: maxBytesPerPartition * leaderPartitions.length,
          topics: [
            {
              topic,
              partitions: leaderPartitions.map((p) => ({
                partition: p,
                fetchOffset: requested.get(p)!,
                maxBytes: maxBytesPerPartition,
              })),
            },
          ],
        });
        for (const { topicName, partitions: datas } of responses) {
          for (const data of datas) {
            const fetched = requested.get(data.partition);
            // Sought elsewhere, paused or stopped meanwhile: this answer is stale.
            if (
              fetched === undefined ||
              this.positions.get(data.partition) !== fetched ||
              this.paused.has(data.partition) ||
              this.stopping
            )
              continue;
            const messages = new Batch(topicName, fetched, data).messages;
            if (messages.length === 0) continue;
            const records = messages.map((m) => toIncomingRecord(topicName, data.partition, m));
            this.positions.set(data.partition, String(BigInt(messages[messages.length - 1]!.offset) + 1n));
            await this.settings.onRecords(records, data.partition, data.highWatermark);
          }
        }
      }),
    );
  }

  private async recover(error: unknown): Promise<void> {
    const type = kafkaErrorType(error);
    const { topic } = this.settings;
    if (this.stopping) return;
    if ((error as { name?: string }).name === 'KafkaJSOffsetOutOfRange') {
      const partition = (error as { partition?: number }).partition;
      const partitions = partition === undefined ? this.active() : [partition];
      const fromBeginning = (this.settings.resetTo ?? 'earliest') === 'earliest';
      const [offsets] = await this.cluster
        .fetchTopicsOffset([{ topic, partitions: partitions.map((p) => ({ partition: p })), fromBeginning }])
        .catch(() => [undefined]);
      for (const { partition: p, offset } of offsets?.partitions ?? []) {
        this.logger.warn(
          `Kafka ${this.settings.description}: offset ${this.positions.get(p)} of ${topic}[${p}] is gone; reading from ${offset}`,
        );
        this.positions.set(p, offset);
      }
      return;
    }
    this.failures += 1;
    const wait = backoffDelay(Math.min(this.failures, 6), { initialMs: 100, maxMs: 5000 });
    if (this.failures === 1 || this.failures % 20 === 0) {
      this.logger.warn(`Kafka ${this.settings.description} cannot fetch (${type ?? rootMessage(error)}); retrying`, {
        connection: isConnectionFailure(error) ? 'lost' : undefined,
      });
    }
    await this.sleep(wait);
    if (!this.stopping) await this.cluster.refreshMetadata().catch(() => undefined);
  }

  /** Wait, or less when the reader stops or a partition is sought. */
  private sleep(ms: number): Promise<void> {
    if (this.stopping) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.idle.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.idle.add(done);
    });
  }

  /**
   * Stop reading and disconnect; waits for a start in progress, and for the
   * loop. Disconnects again after the loop ended, in case a metadata refresh
   * in flight reconnected a broker meanwhile. Idempotent.
   */
  stop(): Promise<void> {
    this.stopPromise ??= (async () => {
      this.stopping = true;
      this.wake();
      await this.starting?.catch(() => undefined);
      await this.cluster.disconnect().catch(() => undefined);
      await this.loop;
      await this.cluster.disconnect().catch(() => undefined);
    })();
    return this.stopPromise;
  }
}
