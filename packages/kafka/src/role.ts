/**
 * What every role's transport holds: a share of the process's Kafka client,
 * the topic names, a produce queue, and the shape of the topics it creates.
 */
import { BusClosedError, ConsumerSet, type Consumer, type StartableConsumer, type TransportContext } from '@lightbus/core';
import { KafkaClient, type TopicSpec } from './adapter/client';
import type { PartitionReader, PartitionReaderSettings } from './adapter/partition-reader';
import { deadLetterOf, type IncomingRecord, type OutgoingRecord } from './codec';
import { TopicNames } from './names';
import type { ConnectionOptions, ProducerOptions, TopicOptions } from './options';
import { ProduceQueue } from './produce-queue';

export type RoleOptions = ConnectionOptions & TopicOptions & ProducerOptions;

export class RoleBase {
  readonly client: KafkaClient;
  readonly names: TopicNames;
  private readonly queue: ProduceQueue;
  private closing: Promise<void> | undefined;

  constructor(
    readonly options: RoleOptions,
    readonly context: TransportContext,
  ) {
    const { brokers, client_id, ssl, sasl, connection_timeout_ms, request_timeout_ms, retry } = options;
    this.client = KafkaClient.acquire(
      {
        connection: { brokers, ssl, connection_timeout_ms, request_timeout_ms, retry, ...(client_id ? { client_id } : {}), ...(sasl ? { sasl } : {}) },
        idempotent: options.idempotent,
      },
      context,
    );
    this.names = new TopicNames(options.topic_prefix);
    this.queue = new ProduceQueue((records) => this.client.send(records, options.compression), {
      lingerMs: options.linger_ms,
      batchSize: options.batch_size,
      batchBytes: options.batch_bytes,
    });
  }

  get logger(): TransportContext['logger'] {
    return this.context.logger;
  }

  get isClosed(): boolean {
    return this.closing !== undefined;
  }

  /** Throw BusClosedError once close() has begun: nothing new starts on a closing transport. */
  assertOpen(what: string): void {
    if (this.isClosed) throw this.closedError(what);
  }

  private closedError(what: string, cause?: unknown): BusClosedError {
    return new BusClosedError(`The Kafka transport is closed (or closing): cannot ${what}. Create a new bus.`, cause === undefined ? undefined : { cause });
  }

  /** Run `work`; a failure once close() has begun (a connection it closed, ...) is reported as BusClosedError. */
  async unlessClosed<T>(what: string, work: () => Promise<T>): Promise<T> {
    this.assertOpen(what);
    try {
      const result = await work();
      this.assertOpen(what);
      return result;
    } catch (error) {
      if (this.isClosed && !(error instanceof BusClosedError)) throw this.closedError(what, error);
      throw error;
    }
  }

  /** The shape of a topic this role creates: the options' partitions, replication and configs over `defaults`. */
  topicSpec(topic: string, defaults: Readonly<Record<string, string>> = {}, forced: Readonly<Record<string, string>> = {}): TopicSpec {
    return {
      topic,
      partitions: this.options.partitions,
      replicationFactor: this.options.replication_factor,
      config: { ...defaults, ...this.options.topic_config, ...forced },
    };
  }

  ensureTopics(topics: readonly string[], defaults?: Readonly<Record<string, string>>, forced?: Readonly<Record<string, string>>): Promise<void> {
    // The hot path (every send and call): topics checked before need no specs and no lookups.
    if (this.client.topicsExist(topics)) return Promise.resolve();
    return this.client.ensureTopics(
      topics.map((topic) => this.topicSpec(topic, defaults, forced)),
      this.options.create_topics,
    );
  }

  /**
   * Start a consumer as one of `running` (stopped by close()). If it fails to
   * start, or the role closes while it starts, it is stopped and this rejects:
   * nothing is left running. A failure caused by the close is a BusClosedError.
   */
  startConsumer(running: ConsumerSet, consumer: StartableConsumer, what: string, signal?: AbortSignal): Promise<Consumer> {
    return this.unlessClosed(what, () => running.start(consumer, signal));
  }

  /** Produce one record through the batching queue; resolves once the brokers have it. */
  produce(topic: string, record: OutgoingRecord, deadline?: number): Promise<void> {
    return this.queue.push(topic, record, deadline);
  }

  /**
   * Put a record on a dead-letter topic with the reason, where it came from
   * and for which group; `what` names it in the log ('Event', 'Call').
   */
  async setAside(topic: string, record: IncomingRecord, reason: string, group: string, id: string | undefined, what: string): Promise<void> {
    await this.ensureTopics([topic]);
    await this.produce(topic, deadLetterOf(record, reason, group));
    this.logger.warn(`${what} set aside on the dead-letter topic`, {
      id: id ?? '(unknown)',
      group,
      reason,
      from: `${record.topic}:${record.partition}:${record.offset}`,
      deadLetterTopic: topic,
    });
  }

  /**
   * Start a partition reader. If its owner stopped while it started (close()
   * ran meanwhile, so it did not see this reader), stop it again and call
   * `assertOpen`, which throws the owner's BusClosedError. `stopped` defaults
   * to "this role is closed".
   */
  async startReader(settings: PartitionReaderSettings, assertOpen: () => void, stopped: () => boolean = () => this.isClosed): Promise<PartitionReader> {
    const reader = await this.client.startPartitionReader(settings);
    if (stopped()) {
      await this.client.stopPartitionReader(reader);
      assertOpen();
    }
    return reader;
  }

  /**
   * Close: from now on isClosed is true (so work starting meanwhile gives up),
   * then `stopWork` (the role's consumers and readers), then send what is
   * queued and give the client back. Idempotent.
   */
  close(stopWork: () => Promise<void> = async () => undefined): Promise<void> {
    this.closing ??= (async () => {
      await stopWork();
      await this.queue.drain();
      await this.client.release();
    })();
    return this.closing;
  }
}

/** The error a consumer's start() rejects with when stop() was called before it finished. */
export function stoppedWhileStarting(what: string): BusClosedError {
  return new BusClosedError(`Stopped while starting ${what}: the transport is closing, or the consumer was stopped.`);
}
