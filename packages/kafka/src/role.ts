/**
 * What every role's transport holds: a share of the process's Kafka client,
 * the topic names, a produce queue, and the shape of the topics it creates.
 */
import type { TransportContext } from '@lightbus/core';
import { KafkaClient, type TopicSpec } from './adapter/client';
import type { OutgoingRecord } from './codec';
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
    return this.client.ensureTopics(
      topics.map((topic) => this.topicSpec(topic, defaults, forced)),
      this.options.create_topics,
    );
  }

  /** Produce one record through the batching queue; resolves once the brokers have it. */
  produce(topic: string, record: OutgoingRecord, deadline?: number): Promise<void> {
    return this.queue.push(topic, record, deadline);
  }

  /** Send what is queued, then give the client back. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.queue.drain();
      await this.client.release();
    })();
    return this.closing;
  }
}
