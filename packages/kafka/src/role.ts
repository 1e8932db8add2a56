/**
 * What every role's transport holds: a share of the process's Kafka client,
 * the topic names, a produce queue, and the shape of the topics it creates.
 */
import { BusClosedError, RoleLifecycle, type ConnectionHealth, type TransportContext } from '@lightbus/core/transport';
import { KafkaClient, type TopicSpec } from './adapter/client';
import type { PartitionReader, PartitionReaderSettings } from './adapter/partition-reader';
import { deadLetterOf, type IncomingRecord, type OutgoingRecord } from './codec';
import { TopicNames } from './names';
import type { ConnectionOptions, ProducerOptions, TopicOptions } from './options';
import { ProduceQueue } from './produce-queue';

export type RoleOptions = ConnectionOptions & TopicOptions & ProducerOptions;

/** A role's lifecycle (closed flag, consumers, one close) plus its share of the client. */
export class RoleBase extends RoleLifecycle {
  readonly client: KafkaClient;
  readonly names: TopicNames;
  private readonly queue: ProduceQueue;

  constructor(
    readonly options: RoleOptions,
    readonly context: TransportContext,
  ) {
    super(
      (what, cause) =>
        new BusClosedError(
          `The Kafka transport is closed (or closing): cannot ${what}. Create a new bus.`,
          cause === undefined ? undefined : { cause },
        ),
    );
    const { brokers, client_id, ssl, sasl, connection_timeout_ms, request_timeout_ms, retry } = options;
    this.client = KafkaClient.acquire(
      {
        connection: {
          brokers,
          ssl,
          connection_timeout_ms,
          request_timeout_ms,
          retry,
          ...(client_id ? { client_id } : {}),
          ...(sasl ? { sasl } : {}),
        },
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

  /** The brokers this role's client talks to, and whether they answer now (for `bus.health()`). */
  connections(): ConnectionHealth[] {
    return this.isClosed ? [] : [this.client.health()];
  }

  get logger(): TransportContext['logger'] {
    return this.context.logger;
  }

  /** The shape of a topic this role creates: the options' partitions, replication and configs over `defaults`. */
  topicSpec(
    topic: string,
    defaults: Readonly<Record<string, string>> = {},
    forced: Readonly<Record<string, string>> = {},
  ): TopicSpec {
    return {
      topic,
      partitions: this.options.partitions,
      replicationFactor: this.options.replication_factor,
      config: { ...defaults, ...this.options.topic_config, ...forced },
    };
  }

  ensureTopics(
    topics: readonly string[],
    defaults?: Readonly<Record<string, string>>,
    forced?: Readonly<Record<string, string>>,
  ): Promise<void> {
    // The hot path (every send and call): topics checked before need no specs and no lookups.
    if (this.client.topicsExist(topics)) return Promise.resolve();
    return this.client.ensureTopics(
      topics.map((topic) => this.topicSpec(topic, defaults, forced)),
      this.options.create_topics,
    );
  }

  /**
   * `work` (a send) against the caller's deadline: just before it, if connecting to the brokers
   * has failed since they last answered, reject with the BrokerConnectionError that names them
   * (what the caller needs to read) instead of leaving the caller only its own timeout; at once
   * when the brokers have never answered (KafkaClient.failFast).
   */
  async beforeDeadline<T>(work: Promise<T>, deadline: number, action: string): Promise<T> {
    work.catch(() => undefined); // when the early error wins, a later failure of work is not unhandled
    const left = deadline - Date.now();
    const margin = Math.min(250, Math.max(10, left / 10));
    let timer: NodeJS.Timeout | undefined;
    const early = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => {
          const error = this.client.unreachable(action);
          if (error) reject(error);
        },
        Math.max(0, left - margin),
      );
    });
    try {
      return await Promise.race([this.client.failFast(work, action), early]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Produce one record through the batching queue; resolves once the brokers have it. */
  produce(topic: string, record: OutgoingRecord, deadline?: number): Promise<void> {
    return this.queue.push(topic, record, deadline);
  }

  /**
   * Put a record on a dead-letter topic with the reason, where it came from
   * and for which group; `what` names it in the log ('Event', 'Call').
   */
  async setAside(
    topic: string,
    record: IncomingRecord,
    reason: string,
    group: string,
    id: string | undefined,
    what: string,
  ): Promise<void> {
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
  async startReader(
    settings: PartitionReaderSettings,
    assertOpen: () => void,
    stopped: () => boolean = () => this.isClosed,
  ): Promise<PartitionReader> {
    const reader = await this.client.startPartitionReader(settings);
    if (stopped()) {
      await this.client.stopPartitionReader(reader);
      assertOpen();
    }
    return reader;
  }

  /**
   * Close: from now on isClosed is true (so work starting meanwhile gives up),
   * then the role's consumers stop, then `stopWork` (its readers), then what is
   * queued is sent and the client given back. Idempotent.
   */
  override close(stopWork: () => Promise<void> = async () => undefined): Promise<void> {
    return super.close(async () => {
      await stopWork();
      await this.queue.drain();
      await this.client.release();
    });
  }
}

/** The error a consumer's start() rejects with when stop() was called before it finished. */
export function stoppedWhileStarting(what: string): BusClosedError {
  return new BusClosedError(`Stopped while starting ${what}: the transport is closing, or the consumer was stopped.`);
}
