/**
 * The adapter between the transports and kafkajs: the only module (with
 * assigners.ts and errors.ts) that imports kafkajs. It owns one kafkajs client
 * per connection config and process, shared by the roles that use the same
 * connection options (one producer, one admin client), and gives the
 * transports narrow operations: produce a batch, make sure topics exist, read
 * watermarks, committed offsets and offsets by time, and run a group consumer.
 */
import { readFileSync } from 'node:fs';
import type { ConnectionOptions as TlsOptions } from 'node:tls';
import {
  CompressionTypes,
  Kafka,
  Partitioners,
  logLevel as KafkaLogLevel,
  type Admin,
  type Consumer as KafkaConsumer,
  type KafkaConfig,
  type LogEntry,
  type Message,
  type Producer,
  type SASLOptions,
} from 'kafkajs';
import {
  BusClosedError,
  ConfigError,
  LightbusError,
  type BrokerConnectionError,
  backoffDelay,
  errorText,
  retry,
  stableStringify,
  type ConnectionHealth,
  type Logger,
  type TransportContext,
} from '@lightbus/core/transport';
import { subscribedRoundRobin } from './assigners';
import {
  isAuthorizationFailure,
  isConnectionFailure,
  isUnsupportedApi,
  kafkaErrorType,
  rootMessage,
  toLightbusError,
  unreachableError,
} from './errors';
import { toIncomingRecord, type IncomingRecord, type OutgoingRecord } from '../codec';
import { PartitionReader, type PartitionReaderSettings, type ReaderConnection } from './partition-reader';
import { heartbeatIntervalMs, type ConnectionOptions, type ConsumerOptions } from '../options';

export interface TopicSpec {
  readonly topic: string;
  readonly partitions: number;
  readonly replicationFactor: number;
  readonly config: Readonly<Record<string, string>>;
}

export interface PartitionMarks {
  readonly partition: number;
  /** First offset still in the log. */
  readonly low: string;
  /** The offset the next record will get (the end). */
  readonly high: string;
}

export interface TopicPartitions {
  readonly topic: string;
  readonly partitions: readonly number[];
}

export interface PartitionOffset {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
}

/** Where a partition starts for a time: exact (the broker looked it up) or a scan from `offset`. */
export interface TimeOffset {
  readonly partition: number;
  readonly offset: string;
  /** False when the broker cannot look offsets up by time: read from `offset` and skip older records. */
  readonly exact: boolean;
}

/**
 * The kafkajs client config for the connection options (exported for tests).
 * `onConnectionProblem` hears each failed connection attempt (kafkajs logs them, then retries).
 */
export function buildKafkaConfig(
  connection: ConnectionOptions,
  context: Pick<TransportContext, 'serviceName' | 'logger'>,
  onConnectionProblem?: (problem: Error) => void,
): KafkaConfig {
  const config: KafkaConfig = {
    brokers: [...connection.brokers],
    clientId: connection.client_id ?? `lightbus-${context.serviceName}`,
    ssl: buildSsl(connection.ssl),
    connectionTimeout: connection.connection_timeout_ms,
    requestTimeout: connection.request_timeout_ms,
    retry: {
      retries: connection.retry.retries,
      initialRetryTime: connection.retry.initial_retry_time_ms,
      maxRetryTime: connection.retry.max_retry_time_ms,
    },
    logLevel: KafkaLogLevel.WARN,
    logCreator: logCreator(context.logger, onConnectionProblem),
  };
  const sasl = buildSasl(connection.sasl);
  if (sasl) config.sasl = sasl;
  return config;
}

function buildSsl(ssl: ConnectionOptions['ssl']): TlsOptions | boolean {
  if (typeof ssl === 'boolean') return ssl;
  const read = (file: string, what: string): string => {
    try {
      return readFileSync(file, 'utf8');
    } catch (error) {
      throw new ConfigError('kafka transport options', [
        { path: `ssl.${what}`, message: `cannot read '${file}': ${(error as Error).message}` },
      ]);
    }
  };
  const tls: TlsOptions = {};
  if (ssl.ca !== undefined) tls.ca = ssl.ca;
  if (ssl.ca_file !== undefined) tls.ca = read(ssl.ca_file, 'ca_file');
  if (ssl.cert !== undefined) tls.cert = ssl.cert;
  if (ssl.cert_file !== undefined) tls.cert = read(ssl.cert_file, 'cert_file');
  if (ssl.key !== undefined) tls.key = ssl.key;
  if (ssl.key_file !== undefined) tls.key = read(ssl.key_file, 'key_file');
  if (ssl.passphrase !== undefined) tls.passphrase = ssl.passphrase;
  if (ssl.servername !== undefined) tls.servername = ssl.servername;
  if (ssl.reject_unauthorized !== undefined) tls.rejectUnauthorized = ssl.reject_unauthorized;
  return tls;
}

function buildSasl(sasl: ConnectionOptions['sasl']): SASLOptions | undefined {
  if (!sasl) return undefined;
  if (sasl.mechanism === 'aws') {
    return {
      mechanism: 'aws',
      authorizationIdentity: sasl.authorization_identity,
      accessKeyId: sasl.access_key_id,
      secretAccessKey: sasl.secret_access_key,
      ...(sasl.session_token !== undefined ? { sessionToken: sasl.session_token } : {}),
    };
  }
  return { mechanism: sasl.mechanism, username: sasl.username, password: sasl.password };
}

/** kafkajs logs go to the Lightbus logger one level quieter: kafkajs errors are mostly retried. */
function logCreator(logger: Logger, onConnectionProblem?: (problem: Error) => void) {
  return () =>
    ({ namespace, level, log }: LogEntry): void => {
      const { message, timestamp: _timestamp, logger: _name, ...fields } = log;
      if (onConnectionProblem && namespace === 'Connection' && /^Connection (error|timeout)/.test(message))
        onConnectionProblem(new Error(message));
      const text = `kafkajs ${namespace}: ${message}`;
      // Retries are finite on purpose (a send must fail rather than hang while the broker is away).
      if (message.startsWith('Limiting retries for the idempotent producer')) logger.debug(text, fields);
      else if (level === KafkaLogLevel.ERROR) logger.warn(text, fields);
      else if (level === KafkaLogLevel.WARN) logger.info(text, fields);
      else logger.debug(text, fields);
    };
}

export interface KafkaClientSettings {
  readonly connection: ConnectionOptions;
  readonly idempotent: boolean;
}

/**
 * One kafkajs client (and its producer and admin connections) per connection
 * settings per bus process; the transports of one bus share it and release it
 * on close.
 */
export class KafkaClient {
  private static readonly pool = new Map<string, KafkaClient>();

  static acquire(settings: KafkaClientSettings, context: TransportContext): KafkaClient {
    // Sorted keys: equal settings give equal pool keys whatever their order in the config.
    const key = stableStringify({ settings, service: context.serviceName, process: context.processName });
    let client = KafkaClient.pool.get(key);
    if (!client || client.closed) {
      client = new KafkaClient(key, settings, context);
      KafkaClient.pool.set(key, client);
    }
    client.refs += 1;
    return client;
  }

  readonly kafka: Kafka;
  /** The broker list, for error messages (brokers carry no password). */
  readonly brokers: string;
  readonly logger: Logger;
  private refs = 0;
  private closed = false;
  private producerPromise: Promise<Producer> | undefined;
  private adminPromise: Promise<Admin> | undefined;
  private readonly topicsReady = new Map<string, Promise<void>>();
  /** Topics known to exist (their topicsReady promise resolved): ensureTopics returns at once for them. */
  private readonly topicsSettled = new Set<string>();
  private createTopicsUnsupported = false;
  private timeLookup: 'unknown' | 'exact' | 'scan' = 'unknown';
  private readonly consumers = new Set<GroupConsumer | PartitionReader>();
  private readonly readerConnection: ReaderConnection;
  /** When a broker last answered a producer or admin request, and the last failed connection attempt. */
  private lastAnswerAt = 0;
  private lastProblem: { readonly error: Error; readonly at: number } | undefined;
  /** Told of every failed connection attempt (failFast() waiting on a first contact). */
  private readonly problemListeners = new Set<() => void>();

  private constructor(
    private readonly key: string,
    private readonly settings: KafkaClientSettings,
    readonly context: TransportContext,
  ) {
    const { connection } = settings;
    this.logger = context.logger;
    this.brokers = connection.brokers.join(',');
    const config = buildKafkaConfig(connection, context, (error) => this.troubled(error));
    this.kafka = new Kafka(config);
    this.readerConnection = config;
  }

  /** Give the client back; the last user disconnects it. */
  async release(): Promise<void> {
    this.refs -= 1;
    if (this.refs > 0 || this.closed) return;
    this.closed = true;
    if (KafkaClient.pool.get(this.key) === this) KafkaClient.pool.delete(this.key);
    await Promise.all([...this.consumers].map((c) => c.stop()));
    const producer = this.producerPromise?.catch(() => undefined);
    const admin = this.adminPromise?.catch(() => undefined);
    await Promise.all([
      producer
        ?.then((p) => p?.disconnect())
        .catch((error: unknown) => this.logger.debug('Kafka producer disconnect failed', { error: errorText(error) })),
      admin
        ?.then((a) => a?.disconnect())
        .catch((error: unknown) => this.logger.debug('Kafka admin disconnect failed', { error: errorText(error) })),
    ]);
  }

  /**
   * When connecting has failed since a broker last answered (or none ever did): the error that
   * names the brokers, for a caller about to give up waiting (kafkajs would go on retrying
   * past the caller's deadline, and the caller would only see its own timeout).
   */
  unreachable(action: string): BrokerConnectionError | undefined {
    const problem = this.lastProblem;
    if (!problem || problem.at < this.lastAnswerAt) return undefined;
    return unreachableError(this.brokers, action, problem.error);
  }

  /**
   * `work` (a caller's call, fire, reply reader or schema load), rejected at once with the
   * BrokerConnectionError naming the brokers when connecting fails while no broker has ever
   * answered this client: a first contact that fails is reported when it fails, not after
   * kafkajs's retries or the caller's own timeout. After a broker has answered, a failure may be
   * a restart that ends soon, and `work` keeps waiting (bounded by its deadline).
   */
  failFast<T>(work: Promise<T>, action: string): Promise<T> {
    const firstContactFailed = (): BrokerConnectionError | undefined =>
      this.lastAnswerAt === 0 && this.lastProblem
        ? unreachableError(this.brokers, action, this.lastProblem.error)
        : undefined;
    work.catch(() => undefined); // when the early error wins, a later failure of work is not unhandled
    const now = firstContactFailed();
    if (now) return Promise.reject(now);
    let listener = (): void => undefined;
    const early = new Promise<never>((_, reject) => {
      listener = () => {
        const error = firstContactFailed();
        if (error) reject(error);
      };
      this.problemListeners.add(listener);
    });
    return Promise.race([work, early]).finally(() => this.problemListeners.delete(listener));
  }

  /** A broker answered a request (of the producer, the admin client or a consumer). */
  answered(): void {
    this.lastAnswerAt = Date.now();
  }

  /** A failed request or connection (a consumer that lost its broker): unreachable until a broker answers again. */
  troubled(error: Error): void {
    this.lastProblem = { error, at: Date.now() };
    for (const listener of this.problemListeners) listener();
  }

  /**
   * Whether the brokers answer (for `bus.health()`): down from a failed connection or a consumer
   * crash on one until a request of the producer, the admin client or a consumer is answered again.
   */
  health(): ConnectionHealth {
    const problem = this.lastProblem;
    const down = problem !== undefined && problem.at >= this.lastAnswerAt;
    return {
      transport: 'kafka',
      broker: this.brokers,
      connected: !down,
      ...(down ? { detail: rootMessage(problem.error) } : {}),
    };
  }

  /** Nothing connects once the client is released: a late start would leave a connection open. */
  private assertOpen(what: string): void {
    if (this.closed) throw new BusClosedError(`The Kafka client for ${this.brokers} is closed: cannot ${what}.`);
  }

  // ---- producing ------------------------------------------------------------------------------

  private producer(): Promise<Producer> {
    this.assertOpen('produce');
    this.producerPromise ??= this.connectProducer().catch((error: unknown) => {
      this.producerPromise = undefined;
      throw toLightbusError(error, this.brokers, 'connecting the producer');
    });
    return this.producerPromise;
  }

  private async connectProducer(): Promise<Producer> {
    const options = { createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: true };
    if (this.settings.idempotent) {
      const producer = this.kafka.producer({ ...options, idempotent: true, maxInFlightRequests: 1 });
      producer.on(producer.events.REQUEST, () => this.answered());
      try {
        await producer.connect();
        return producer;
      } catch (error) {
        await producer.disconnect().catch(() => undefined);
        if (isConnectionFailure(error)) throw error;
        this.logger.warn(
          `Kafka at ${this.brokers} does not allow the idempotent producer (${kafkaErrorType(error) ?? rootMessage(error)}); ` +
            'producing without it: a retried send may be written twice. Grant IdempotentWrite on the cluster, or set idempotent: false to silence this.',
        );
      }
    }
    const producer = this.kafka.producer(options);
    producer.on(producer.events.REQUEST, () => this.answered());
    await producer.connect();
    return producer;
  }

  /** Produce records (acks from all in-sync replicas); resolves once the brokers have them. */
  async send(
    records: ReadonlyArray<{ readonly topic: string; readonly record: OutgoingRecord }>,
    compression: 'none' | 'gzip',
  ): Promise<void> {
    const producer = await this.producer();
    const byTopic = new Map<string, Message[]>();
    for (const { topic, record } of records) {
      const message: Message = { key: record.key, value: record.value, headers: { ...record.headers } };
      if (record.partition !== undefined) message.partition = record.partition;
      let list = byTopic.get(topic);
      if (!list) byTopic.set(topic, (list = []));
      list.push(message);
    }
    try {
      await producer.sendBatch({
        acks: -1,
        compression: compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None,
        topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
      });
    } catch (error) {
      const type = kafkaErrorType(error);
      if (type === 'MESSAGE_TOO_LARGE' || type === 'RECORD_LIST_TOO_LARGE') {
        // A record over message.max.bytes travels alone when batch_bytes is below that (as by default): only its sender fails.
        throw new LightbusError(
          `Kafka at ${this.brokers} refused a record while producing to ${[...byTopic.keys()].join(', ')}: ${type}: ` +
            'a message is bigger than the broker accepts (message.max.bytes); lower batch_bytes or send smaller messages',
          { cause: error, retriable: false },
        );
      }
      throw toLightbusError(error, this.brokers, `producing to ${[...byTopic.keys()].join(', ')}`);
    }
  }

  // ---- admin ----------------------------------------------------------------------------------

  private admin(): Promise<Admin> {
    this.assertOpen('send admin requests');
    this.adminPromise ??= (async () => {
      const admin = this.kafka.admin();
      admin.on(admin.events.REQUEST, () => this.answered());
      await admin.connect();
      return admin;
    })().catch((error: unknown) => {
      this.adminPromise = undefined;
      throw toLightbusError(error, this.brokers, 'connecting the admin client');
    });
    return this.adminPromise;
  }

  /**
   * Make sure topics exist: create them through the admin API where allowed;
   * where the broker lacks or refuses CreateTopics, fall back to auto-creation
   * (a metadata request) and say so once. Each topic is checked once per client.
   */
  ensureTopics(specs: readonly TopicSpec[], createTopics: boolean): Promise<void> {
    const pending = specs.filter((spec) => !this.topicsReady.has(spec.topic));
    if (pending.length > 0) {
      const work = this.createTopics(pending, createTopics);
      work.then(
        () => pending.forEach((spec) => this.topicsSettled.add(spec.topic)),
        () => undefined, // handled below
      );
      for (const spec of pending) {
        this.topicsReady.set(
          spec.topic,
          work.catch((error: unknown) => {
            this.topicsReady.delete(spec.topic);
            throw error;
          }),
        );
      }
    }
    return Promise.all(specs.map((spec) => this.topicsReady.get(spec.topic))).then(() => undefined);
  }

  /** True when every topic is known to exist: the caller need not build specs nor call ensureTopics. */
  topicsExist(topics: readonly string[]): boolean {
    return topics.every((topic) => this.topicsSettled.has(topic));
  }

  private async createTopics(specs: readonly TopicSpec[], createTopics: boolean): Promise<void> {
    const admin = await this.admin();
    const names = specs.map((s) => s.topic);
    if (createTopics && !this.createTopicsUnsupported) {
      try {
        await admin.createTopics({
          waitForLeaders: true,
          topics: specs.map((spec) => ({
            topic: spec.topic,
            numPartitions: spec.partitions,
            replicationFactor: spec.replicationFactor,
            configEntries: Object.entries(spec.config).map(([name, value]) => ({ name, value })),
          })),
        });
      } catch (error) {
        if (isUnsupportedApi(error)) {
          this.createTopicsUnsupported = true;
          this.logger.info(
            `Kafka at ${this.brokers} does not support CreateTopics (a mock or a restricted proxy): relying on broker auto-creation ` +
              `(auto.create.topics.enable) for ${names.join(', ')}; such topics get the broker's default partitions and configs.`,
          );
        } else if (isConnectionFailure(error)) {
          throw toLightbusError(error, this.brokers, `creating topics ${names.join(', ')}`);
        } else {
          this.logger.warn(
            `Kafka at ${this.brokers} refused to create topics ${names.join(', ')} (${kafkaErrorType(error) ?? rootMessage(error)}): ` +
              'relying on topics created by your administrator or by broker auto-creation. Set create_topics: false to skip this attempt.',
          );
        }
      }
    }
    await this.waitForTopics(admin, names);
  }

  /**
   * Metadata for the topics (which auto-creates them where the broker allows), until every
   * partition has a leader that serves it: a KRaft broker lists a new partition's leader in
   * its metadata a moment before the leader answers requests for it (NOT_LEADER_OR_FOLLOWER),
   * so readiness is a ListOffsets that succeeds on every partition.
   */
  private async waitForTopics(admin: Admin, topics: readonly string[]): Promise<void> {
    const notReady = new Error('not every partition has a leader yet');
    // A broker that cannot be reached or refuses us is reported at once; anything else may pass.
    const hopeless = (error: unknown): boolean => isConnectionFailure(error) || isAuthorizationFailure(error);
    await retry(
      async () => {
        const { topics: found } = await admin.fetchTopicMetadata({ topics: [...topics] });
        const ready = topics.every((name) => {
          const topic = found.find((t) => t.name === name);
          return topic !== undefined && topic.partitions.length > 0 && topic.partitions.every((p) => p.leader >= 0);
        });
        if (!ready) throw notReady;
        await Promise.all(topics.map((topic) => admin.fetchTopicOffsets(topic)));
      },
      {
        what: `Waiting for topics ${topics.join(', ')}`,
        deadline: Date.now() + Math.max(10_000, this.settings.connection.request_timeout_ms),
        backoff: { initialMs: 50, maxMs: 1000 },
        retriable: (error) => !hopeless(error),
        onRetry: () => undefined,
        giveUp: (error) =>
          toLightbusError(
            new Error(
              `topics ${topics.join(', ')} do not exist and could not be created (${error === notReady ? notReady.message : rootMessage(error)}). ` +
                'Create them (kafka-topics.sh --create), let this client create topics (CREATE ACL, create_topics: true), or enable auto.create.topics.enable',
              { cause: error },
            ),
            this.brokers,
            'making sure topics exist',
          ),
      },
    ).catch((error: unknown) => {
      if (hopeless(error))
        throw toLightbusError(
          error,
          this.brokers,
          isConnectionFailure(error)
            ? `reading metadata of ${topics.join(', ')}`
            : `describing topics ${topics.join(', ')}`,
        );
      throw error;
    });
  }

  /** Low and high watermarks of every partition of a topic. */
  async watermarks(topic: string): Promise<PartitionMarks[]> {
    const admin = await this.admin();
    try {
      const offsets = await admin.fetchTopicOffsets(topic);
      return offsets
        .map((o) => ({ partition: o.partition, low: o.low, high: o.high }))
        .sort((a, b) => a.partition - b.partition);
    } catch (error) {
      throw toLightbusError(error, this.brokers, `reading the offsets of ${topic}`);
    }
  }

  /** Committed offsets of a group: topic -> partition -> offset (absent where nothing is committed). */
  async committedOffsets(groupId: string, topics: readonly string[]): Promise<Map<string, Map<number, string>>> {
    const admin = await this.admin();
    try {
      const result = await admin.fetchOffsets({ groupId, topics: [...topics] });
      const out = new Map<string, Map<number, string>>();
      for (const { topic, partitions } of result) {
        const byPartition = new Map<number, string>();
        for (const { partition, offset } of partitions) if (Number(offset) >= 0) byPartition.set(partition, offset);
        out.set(topic, byPartition);
      }
      return out;
    } catch (error) {
      throw toLightbusError(error, this.brokers, `reading the committed offsets of group ${groupId}`);
    }
  }

  /**
   * The first offset at or after `time` in each partition. Brokers that cannot
   * look offsets up by time (the librdkafka mock answers the end for any time)
   * are detected once: then every partition starts at its low watermark with
   * `exact: false`, and the caller skips older records while reading.
   */
  async offsetsForTime(topic: string, time: number, marks: readonly PartitionMarks[]): Promise<TimeOffset[]> {
    const admin = await this.admin();
    try {
      if (this.timeLookup === 'unknown') {
        const nonEmpty = marks.filter((m) => BigInt(m.high) > BigInt(m.low));
        if (nonEmpty.length > 0) {
          // A broker with a time index answers the first record for time 0; one without answers the end.
          const probe = await admin.fetchTopicOffsetsByTimestamp(topic, 0);
          const broken = nonEmpty.some((m) => probe.find((p) => p.partition === m.partition)?.offset === m.high);
          this.timeLookup = broken ? 'scan' : 'exact';
          if (broken) {
            this.logger.info(
              `Kafka at ${this.brokers} cannot look offsets up by time; replays by time read from the start of each partition and skip older events.`,
            );
          }
        }
      }
      if (this.timeLookup === 'scan')
        return marks.map((m) => ({ partition: m.partition, offset: m.low, exact: false }));
      const found = await admin.fetchTopicOffsetsByTimestamp(topic, time);
      return marks.map((m) => {
        const offset = found.find((f) => f.partition === m.partition)?.offset;
        return {
          partition: m.partition,
          offset: offset !== undefined && Number(offset) >= 0 ? offset : m.high,
          exact: true,
        };
      });
    } catch (error) {
      throw toLightbusError(error, this.brokers, `looking up offsets by time in ${topic}`);
    }
  }

  /** Every topic name on the cluster (for history under per_event). */
  async listTopics(): Promise<string[]> {
    const admin = await this.admin();
    try {
      return await admin.listTopics();
    } catch (error) {
      throw toLightbusError(error, this.brokers, 'listing topics');
    }
  }

  // ---- consuming ------------------------------------------------------------------------------

  /** Start reading partitions without a group (see partition-reader.ts); stopped on release at the latest. */
  async startPartitionReader(settings: PartitionReaderSettings): Promise<PartitionReader> {
    this.assertOpen(`start the ${settings.description}`);
    const reader = new PartitionReader(this.readerConnection, settings, this.logger);
    this.consumers.add(reader);
    try {
      await reader.start();
    } catch (error) {
      await reader.stop();
      this.consumers.delete(reader);
      throw toLightbusError(error, this.brokers, `starting the ${settings.description}`);
    }
    return reader;
  }

  /** Stop a partition reader and forget it. */
  async stopPartitionReader(reader: PartitionReader): Promise<void> {
    await reader.stop();
    this.consumers.delete(reader);
  }

  createGroupConsumer(settings: GroupConsumerSettings): GroupConsumer {
    this.assertOpen(`start ${settings.description}`);
    const consumer = new GroupConsumer(this, settings);
    this.consumers.add(consumer);
    consumer.onStopped(() => this.consumers.delete(consumer));
    return consumer;
  }
}

// ---- group consumer ---------------------------------------------------------------------------

/** One fetched batch of one partition, as a group consumer hands it to its handler. */
export interface ConsumedBatch {
  readonly topic: string;
  readonly partition: number;
  readonly highWatermark: string;
  readonly records: readonly IncomingRecord[];
  /** Mark a record handled: its offset + 1 is committed at the end of the batch (or by commit()). */
  resolve(offset: string): void;
  /** Commit what is resolved now. */
  commit(): Promise<void>;
  /** Tell the group this member is alive; throws when the group rebalances (let it propagate). */
  heartbeat(): Promise<void>;
  /** Stop fetching this partition; returns the function that resumes it. */
  pause(): () => void;
  /** False once the consumer stops or the partition was sought elsewhere: stop handling this batch. */
  isActive(): boolean;
}

export interface GroupConsumerSettings {
  readonly groupId: string;
  readonly topics: readonly string[];
  /** Where a partition with no committed offset starts when nobody says otherwise. */
  readonly fromBeginning: boolean;
  /** Commit resolved offsets at the end of each batch, on rebalance and on stop. */
  readonly autoCommit: boolean;
  readonly timing: ConsumerOptions;
  readonly partitionsConsumedConcurrently: number;
  /** Called (synchronously) each time the group gives this member its partitions. */
  readonly onAssigned?: (assignment: readonly TopicPartitions[]) => void;
  readonly handle: (batch: ConsumedBatch) => Promise<void>;
  /** For logs. */
  readonly description: string;
}

/**
 * A kafkajs consumer with a lifecycle the transports can rely on: start()
 * resolves once the consumer is subscribed and joining (not joined: the
 * first join of a group takes seconds); stop() waits for the join to finish,
 * for the batch in hand, commits, and leaves the group. A consumer that
 * crashes on an error kafkajs does not retry is restarted with backoff.
 */
export class GroupConsumer {
  private readonly consumer: KafkaConsumer;
  private running: Promise<void> | undefined;
  private starting: Promise<void> | undefined;
  private stopping = false;
  private stopPromise: Promise<void> | undefined;
  private fetching = false;
  private readonly fetchWaiters: Array<() => void> = [];
  private readonly stoppedCallbacks: Array<() => void> = [];
  private restartAttempt = 0;
  private restartTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly client: KafkaClient,
    private readonly settings: GroupConsumerSettings,
  ) {
    const { timing } = settings;
    this.consumer = client.kafka.consumer({
      groupId: settings.groupId,
      sessionTimeout: timing.session_timeout_ms,
      heartbeatInterval: heartbeatIntervalMs(timing),
      rebalanceTimeout: Math.max(timing.rebalance_timeout_ms, timing.session_timeout_ms),
      maxWaitTimeInMs: timing.max_wait_ms,
      maxBytesPerPartition: timing.max_bytes_per_partition,
      allowAutoTopicCreation: true,
      partitionAssigners: [subscribedRoundRobin],
      retry: { restartOnFailure: async () => !this.stopping },
    });
    const { GROUP_JOIN, FETCH_START, CRASH, STOP, REQUEST, REQUEST_TIMEOUT } = this.consumer.events;
    // For health: a consumer fetches and heartbeats all the time, so its answers (or their absence) tell.
    this.consumer.on(REQUEST, () => client.answered());
    this.consumer.on(REQUEST_TIMEOUT, () =>
      client.troubled(new Error(`a request of ${settings.description} timed out`)),
    );
    this.consumer.on(GROUP_JOIN, (event) => {
      this.restartAttempt = 0;
      const assignment = Object.entries(event.payload.memberAssignment).map(([topic, partitions]) => ({
        topic,
        partitions,
      }));
      this.client.logger.debug(`Kafka consumer joined group ${settings.groupId}`, {
        consumer: settings.description,
        assignment: assignment.map((a) => `${a.topic}[${a.partitions.join(',')}]`).join(' '),
        ms: event.payload.duration,
      });
      settings.onAssigned?.(assignment);
    });
    this.consumer.on(FETCH_START, () => {
      if (this.fetching) return;
      this.fetching = true;
      this.fetchWaiters.splice(0).forEach((wake) => wake());
    });
    this.consumer.on(STOP, () => {
      this.fetching = false;
    });
    this.consumer.on(CRASH, (event) => {
      this.fetching = false;
      const { error, restart } = event.payload;
      if (this.stopping) return;
      if (isConnectionFailure(error)) client.troubled(error);
      if (restart) {
        this.client.logger.warn(`Kafka consumer ${settings.description} lost its connection; kafkajs reconnects it`, {
          group: settings.groupId,
          error: rootMessage(error),
        });
        return;
      }
      // kafkajs gives up on errors it deems not retriable: start again ourselves, with backoff.
      const wait = backoffDelay(this.restartAttempt++, { initialMs: 500, maxMs: 30_000 });
      this.client.logger.error(
        `Kafka consumer ${settings.description} stopped on an error; restarting it in ${wait} ms`,
        {
          group: settings.groupId,
          error: rootMessage(error),
        },
      );
      this.restartTimer = setTimeout(() => {
        this.restartTimer = undefined;
        if (!this.stopping) this.running = this.run();
      }, wait);
    });
  }

  onStopped(callback: () => void): void {
    this.stoppedCallbacks.push(callback);
  }

  /** Connect, subscribe and start running; when stop() is called meanwhile, it returns without running (stop() disconnects). */
  start(): Promise<void> {
    this.starting ??= (async () => {
      try {
        await this.consumer.connect();
        if (this.stopping) return;
        await this.consumer.subscribe({
          topics: [...this.settings.topics],
          fromBeginning: this.settings.fromBeginning,
        });
      } catch (error) {
        await this.consumer.disconnect().catch(() => undefined);
        this.stoppedCallbacks.splice(0).forEach((callback) => callback());
        throw toLightbusError(error, this.client.brokers, `starting ${this.settings.description}`);
      }
      if (!this.stopping) this.running = this.run();
    })();
    return this.starting;
  }

  private run(): Promise<void> {
    return this.consumer
      .run({
        // With autoCommit, kafkajs commits the resolved offsets when a batch's handler returns
        // (and before it rejoins on a rebalance, and on stop): after every batch, not on a timer.
        autoCommit: this.settings.autoCommit,
        autoCommitInterval: null,
        autoCommitThreshold: null,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: this.settings.partitionsConsumedConcurrently,
        eachBatch: async (payload) => {
          const { batch } = payload;
          const records = batch.messages.map((m) => toIncomingRecord(batch.topic, batch.partition, m));
          await this.settings.handle({
            topic: batch.topic,
            partition: batch.partition,
            highWatermark: batch.highWatermark,
            records,
            resolve: (offset) => payload.resolveOffset(offset),
            commit: async () => {
              const uncommitted = payload.uncommittedOffsets();
              if (uncommitted.topics.length > 0) await payload.commitOffsetsIfNecessary(uncommitted);
            },
            heartbeat: () => payload.heartbeat(),
            pause: () => payload.pause(),
            isActive: () => payload.isRunning() && !payload.isStale() && !this.stopping,
          });
        },
      })
      .catch((error: unknown) => {
        this.client.logger.error(`Kafka consumer ${this.settings.description} failed to run`, {
          error: rootMessage(error),
        });
      });
  }

  /** Resolves once kafkajs fetches (joined, running): commits made before that are silently dropped by kafkajs. */
  untilFetching(): Promise<void> {
    if (this.fetching) return Promise.resolve();
    return new Promise((resolve) => this.fetchWaiters.push(resolve));
  }

  /** Resolves once the join in progress (or the crash handling) has finished. */
  async untilJoinSettled(): Promise<void> {
    await this.running;
  }

  pause(partitions: readonly TopicPartitions[]): void {
    if (partitions.length > 0)
      this.consumer.pause(partitions.map((p) => ({ topic: p.topic, partitions: [...p.partitions] })));
  }

  resume(partitions: readonly TopicPartitions[]): void {
    if (partitions.length > 0)
      this.consumer.resume(partitions.map((p) => ({ topic: p.topic, partitions: [...p.partitions] })));
  }

  /** Commit offsets for this member (they must be assigned to it). */
  async commit(offsets: readonly PartitionOffset[]): Promise<void> {
    if (offsets.length === 0) return;
    await this.consumer.commitOffsets(
      offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: o.offset })),
    );
  }

  /** Stop: finish the batch in hand, commit resolved offsets, leave the group, disconnect. */
  stop(): Promise<void> {
    this.stopPromise ??= (async () => {
      this.stopping = true;
      if (this.restartTimer) clearTimeout(this.restartTimer);
      this.fetchWaiters.splice(0).forEach((wake) => wake());
      // A connect in progress finishes first (disconnecting in the middle of it could leave its socket open).
      await this.starting?.catch(() => undefined);
      // kafkajs's stop() does nothing while the first join is in progress: let the join finish first.
      await this.running;
      await this.consumer.disconnect().catch((error: unknown) => {
        this.client.logger.warn(`Kafka consumer ${this.settings.description} did not disconnect cleanly`, {
          error: rootMessage(error),
        });
      });
      this.stoppedCallbacks.splice(0).forEach((callback) => callback());
    })();
    return this.stopPromise;
  }
}
