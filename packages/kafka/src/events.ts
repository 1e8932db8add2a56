/**
 * The event role: events are produced (acks from all in-sync replicas, the
 * idempotent producer where allowed) to a topic per API or per event, keyed by
 * the configured partition key. Each listener is a consumer group; offsets are
 * committed only for events whose handler succeeded, so a crashed or stopped
 * consumer's events go to another member of its group.
 *
 * A group that reads a partition for the first time commits its starting
 * offset at once (from `since`: the end at the moment consume() was called,
 * the beginning, a time or a position). From then on the group only ever
 * resumes from committed offsets, so an event is never skipped because a
 * member died before handling it.
 */
import {
  InvalidParametersError,
  backoffDelay,
  settleEvent,
  type Settlement,
  errorText,
  retry,
  withTimeout,
  type ConsumeSpec,
  type Consumer,
  type ConsumerLag,
  type EventRef,
  type EventMessage,
  type EventMessageHandler,
  type EventTransport,
  type HistoryQuery,
  type StartPosition,
  type TransportCapabilities,
  type TransportContext,
  type ConnectionHealth,
  type DeadLetterStore,
} from '@lightbus/core/transport';
import type { ConsumedBatch, GroupConsumer, PartitionOffset, TopicPartitions } from './adapter/client';
import { isRebalanceError, rootMessage } from './adapter/errors';
import { decodeEvent, encodeEvent, eventKey, eventTypeOf, replayGroupOf, type IncomingRecord } from './codec';
import { KafkaDeadLetters } from './dead-letters';
import { readHistory } from './history';
import { heartbeatIntervalMs, type KafkaEventOptions, type PartitionKeyOption } from './options';
import { RoleBase, stoppedWhileStarting } from './role';

/** What a given partition-key choice keeps in order. */
export function orderingOf(key: PartitionKeyOption): TransportCapabilities['ordering'] {
  if (key === 'api') return 'per-stream';
  if (key === 'id') return 'none';
  return 'per-key';
}

export function kafkaCapabilities(key: PartitionKeyOption): TransportCapabilities {
  return Object.freeze({
    crossProcess: true,
    durable: true,
    consumerGroups: true,
    replay: true,
    history: true,
    ordering: orderingOf(key),
  });
}

/** `since: {position}` for Kafka: `topic:partition:offset` (an event's nativeId) or `partition:offset`, comma-separated. */
export interface ParsedPosition {
  readonly topic: string | undefined;
  readonly partition: number;
  readonly offset: bigint;
}

export function parsePosition(text: string): ParsedPosition[] {
  const parts = text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  const out: ParsedPosition[] = [];
  for (const part of parts) {
    const match = /^(?:([A-Za-z0-9._-]+):)?(\d+):(\d+)$/.exec(part);
    if (!match) {
      throw new InvalidParametersError(
        `since position '${text}' is not a Kafka position: give an event's nativeId '<topic>:<partition>:<offset>', ` +
          `or '<partition>:<offset>' (several separated by commas).`,
      );
    }
    out.push({ topic: match[1], partition: Number(match[2]), offset: BigInt(match[3]!) });
  }
  if (out.length === 0) throw new InvalidParametersError(`since position '${text}' is empty.`);
  return out;
}

function maxBig(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}

function minBig(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}

/**
 * Failed deliveries per record (group, topic, partition, offset), for
 * delivery_limit: Kafka keeps no count, so the transport does, for every
 * consumer it runs (a consumer restarted or a partition taken back in this
 * process goes on counting). Forgotten once the record is settled; the oldest
 * are dropped beyond `MAX_COUNTED` (records another process took over).
 */
export class DeliveryCounts {
  private static readonly MAX_COUNTED = 10_000;
  private readonly counts = new Map<string, number>();

  private static key(group: string, record: IncomingRecord): string {
    return `${group}\u0000${record.topic}:${record.partition}:${record.offset}`;
  }

  /** Count a failed delivery of `record`; returns the deliveries so far, this one included. */
  failed(group: string, record: IncomingRecord): number {
    const key = DeliveryCounts.key(group, record);
    const count = (this.counts.get(key) ?? 0) + 1;
    this.counts.delete(key);
    this.counts.set(key, count);
    if (this.counts.size > DeliveryCounts.MAX_COUNTED) this.counts.delete(this.counts.keys().next().value!);
    return count;
  }

  settled(group: string, record: IncomingRecord): void {
    this.counts.delete(DeliveryCounts.key(group, record));
  }
}

export class KafkaEventTransport implements EventTransport {
  readonly capabilities: TransportCapabilities;
  readonly base: RoleBase;
  /** Failed deliveries per record, for delivery_limit. */
  readonly deliveries = new DeliveryCounts();
  /** History queries and dead-letter reads in progress: stopped on close. */
  private readonly historyReads = new Set<{ stop(): Promise<void> }>();
  private readonly source: string;
  /** What the listeners set aside on the dead-letter topic (dead-letters.ts). */
  readonly deadLetters: DeadLetterStore;

  constructor(
    readonly options: KafkaEventOptions,
    readonly context: TransportContext,
  ) {
    this.base = new RoleBase(options, context);
    this.capabilities = kafkaCapabilities(options.partition_key);
    this.source = `lightbus://${encodeURIComponent(context.serviceName)}`;
    this.deadLetters = new KafkaDeadLetters(this, this.historyReads);
  }

  topicOf(apiName: string, eventName: string): string {
    return this.base.names.event(apiName, eventName, this.options.topic_use);
  }

  get deadLetterTopic(): string {
    return this.options.dead_letter_topic ?? this.base.names.deadLetter();
  }

  async sendEvent(message: EventMessage, options: { timeoutSeconds: number }): Promise<void> {
    const topic = this.topicOf(message.apiName, message.eventName);
    const deadline = Date.now() + options.timeoutSeconds * 1000;
    const send = async (): Promise<void> => {
      await this.base.ensureTopics([topic]);
      const key = eventKey(this.options.partition_key, message);
      await this.base.produce(topic, encodeEvent(message, key, this.source), deadline);
    };
    await this.base.beforeDeadline(send(), deadline, `firing ${message.apiName}.${message.eventName} to ${topic}`);
  }

  async consume(spec: ConsumeSpec, handler: EventMessageHandler): Promise<Consumer> {
    if (spec.since?.kind === 'position') parsePosition(spec.since.position);
    return this.base.startConsumer(new EventConsumer(this, spec, handler), 'start a listener', spec.signal);
  }

  history(query: HistoryQuery): AsyncIterable<EventMessage> {
    return readHistory(this, query, this.historyReads);
  }

  /**
   * How far a listener's group is behind, per topic: the end offset minus the group's committed
   * offset, summed over the partitions where the group has committed one. Offsets are committed
   * once handled, so this counts the events delivered to a member and not yet handled too;
   * Kafka cannot tell those apart (no `pending`).
   */
  async lag(events: readonly EventRef[], group: string): Promise<readonly ConsumerLag[]> {
    const topics = [...new Set(events.map((e) => this.topicOf(e.apiName, e.eventName)))];
    const committed = await this.base.client.committedOffsets(this.base.names.listenerGroup(group), topics);
    const out: ConsumerLag[] = [];
    for (const topic of topics) {
      const offsets = committed.get(topic);
      if (!offsets || offsets.size === 0) continue; // the group has not started on this topic yet
      let lag = 0n;
      for (const { partition, high } of await this.base.client.watermarks(topic)) {
        const at = offsets.get(partition);
        if (at !== undefined) lag += maxBig(0n, BigInt(high) - BigInt(at));
      }
      out.push({ destination: topic, lag: Number(lag) });
    }
    return out;
  }

  /** The brokers, and whether they answer now (for `bus.health()`). */
  connections(): ConnectionHealth[] {
    return this.base.connections();
  }

  /** Stops the listeners (those still starting too) and history reads in progress, then closes the connections. */
  close(): Promise<void> {
    return this.base.close(async () => {
      await Promise.all([...this.historyReads].map((c) => c.stop()));
    });
  }
}

/** One listener's group consumer. */
class EventConsumer {
  private readonly wanted: Set<string>;
  private readonly topics: string[];
  private readonly groupId: string;
  /** High watermarks when consume() was called: where "from now on" starts. */
  private readonly snapshot = new Map<string, Map<number, string>>();
  private group: GroupConsumer | undefined;
  private generation = 0;
  private establishing: Promise<void> = Promise.resolve();
  private stopping = false;
  private starting: Promise<void> | undefined;
  private stopPromise: Promise<void> | undefined;
  /** Partitions replaying by time on a broker without a time index: skip records older than this. */
  private readonly scanFrom = new Map<string, number>();
  private readonly failures = new Map<string, number>();
  private readonly retryTimers = new Set<NodeJS.Timeout>();

  constructor(
    private readonly transport: KafkaEventTransport,
    private readonly spec: ConsumeSpec,
    private readonly handler: EventMessageHandler,
  ) {
    this.wanted = new Set(spec.events.map((e) => `${e.apiName}.${e.eventName}`));
    this.topics = [...new Set(spec.events.map((e) => transport.topicOf(e.apiName, e.eventName)))];
    this.groupId = transport.base.names.listenerGroup(spec.group);
  }

  private get base(): RoleBase {
    return this.transport.base;
  }

  start(): Promise<void> {
    this.starting ??= this.connect();
    return this.starting;
  }

  /** Gives up (rejecting) at the first step after stop() was called: no group is created or left running. */
  private async connect(): Promise<void> {
    const { base } = this;
    const check = (): void => {
      if (this.stopping) throw stoppedWhileStarting(`listener group ${this.groupId}`);
    };
    await base.ensureTopics(this.topics);
    check();
    if (this.spec.since === undefined) {
      for (const topic of this.topics) {
        const marks = await base.client.watermarks(topic);
        check();
        this.snapshot.set(topic, new Map(marks.map((m) => [m.partition, m.high])));
      }
    }
    const { options } = this.transport;
    this.group = base.client.createGroupConsumer({
      groupId: this.groupId,
      topics: this.topics,
      fromBeginning: true,
      autoCommit: true,
      timing: options,
      partitionsConsumedConcurrently: options.partitions_consumed_concurrently,
      description: `listener group ${this.groupId} (${[...this.wanted].join(', ')})`,
      onAssigned: (assignment) => this.onAssigned(assignment),
      handle: (batch) => this.handleBatch(batch),
    });
    await this.group.start();
    check();
  }

  private onAssigned(assignment: readonly TopicPartitions[]): void {
    const generation = ++this.generation;
    // Nothing is fetched until each partition's start is known (and committed, for new partitions).
    this.group!.pause(assignment);
    this.establishing = this.establish(assignment, generation);
  }

  /**
   * Where each assigned partition starts (committed for partitions the group never read), then
   * resume them. Tried again after any failure (kafkajs errors of a rebalance included) while
   * this assignment is the current one: a newer one establishes itself, and this gives up quietly.
   * Stopping, it gives up after the third failure with a warning. Never rejects (stop() awaits it).
   */
  private async establish(assignment: readonly TopicPartitions[], generation: number): Promise<void> {
    const group = this.group!;
    const current = (): boolean => generation === this.generation;
    let attempts = 0;
    try {
      await retry(
        async () => {
          attempts += 1;
          if (!current()) return;
          const committed = await this.base.client.committedOffsets(
            this.groupId,
            assignment.map((a) => a.topic),
          );
          const starts: PartitionOffset[] = [];
          for (const { topic, partitions } of assignment) {
            const fresh = partitions.filter((p) => !committed.get(topic)?.has(p));
            if (fresh.length > 0) starts.push(...(await this.startOffsets(topic, fresh)));
          }
          if (starts.length > 0) {
            await group.untilFetching();
            if (!current()) return;
            // Committed: the group now exists at these offsets, whatever happens to this member.
            // kafkajs reads a paused partition from the offset committed in its generation, so
            // no seek: a seek that a rebalance leaves pending in kafkajs is applied whenever the
            // partition comes back to this member, even much later, and rewinds the group to it.
            await group.commit(starts);
            this.base.logger.info(`Consumer group ${this.groupId} starts reading new partitions`, {
              at: describeOffsets(starts),
              since: describeSince(this.spec.since),
            });
          }
          if (current()) group.resume(assignment);
        },
        {
          what: `Consumer group ${this.groupId}: finding where to start`,
          backoff: { initialMs: 200, maxMs: 10_000 },
          // Not isRetriable: kafkajs marks some errors of a rebalance as not retriable, and they pass.
          retriable: () => current() && !(this.stopping && attempts >= 3),
          onRetry: (error, _attempt, wait) => {
            if (!isRebalanceError(error))
              this.base.logger.warn(
                `Consumer group ${this.groupId}: finding where to start failed; retrying in ${wait} ms`,
                { error: rootMessage(error) },
              );
          },
        },
      );
    } catch (error) {
      if (!current()) return;
      this.base.logger.warn(
        `Consumer group ${this.groupId}: could not record where new partitions start before stopping`,
        { error: rootMessage(error) },
      );
    }
  }

  /** Where partitions the group never read start, from `since`. */
  private async startOffsets(topic: string, partitions: readonly number[]): Promise<PartitionOffset[]> {
    const since: StartPosition | undefined = this.spec.since;
    const marks = await this.base.client.watermarks(topic);
    const mark = (p: number) => marks.find((m) => m.partition === p) ?? { partition: p, low: '0', high: '0' };
    const clamp = (p: number, offset: bigint): string => {
      const { low, high } = mark(p);
      return String(minBig(maxBig(offset, BigInt(low)), BigInt(high)));
    };
    if (since === undefined) {
      const snap = this.snapshot.get(topic);
      // A partition missing from the snapshot appeared after consume() was called: all of it is new.
      return partitions.map((p) => ({ topic, partition: p, offset: clamp(p, BigInt(snap?.get(p) ?? mark(p).low)) }));
    }
    if (since.kind === 'beginning') return partitions.map((p) => ({ topic, partition: p, offset: mark(p).low }));
    if (since.kind === 'position') {
      const positions = parsePosition(since.position);
      return partitions.map((p) => {
        const given = positions.find((x) => x.partition === p && (x.topic === undefined || x.topic === topic));
        return { topic, partition: p, offset: given ? clamp(p, given.offset) : mark(p).low };
      });
    }
    const time = since.time.getTime();
    const found = await this.base.client.offsetsForTime(
      topic,
      time,
      marks.filter((m) => partitions.includes(m.partition)),
    );
    return found.map((f) => {
      if (!f.exact) this.scanFrom.set(`${topic}:${f.partition}`, time);
      return { topic, partition: f.partition, offset: f.offset };
    });
  }

  private async handleBatch(batch: ConsumedBatch): Promise<void> {
    const key = `${batch.topic}:${batch.partition}`;
    for (const record of batch.records) {
      if (this.stopping || !batch.isActive()) return;
      const scanTime = this.scanFrom.get(key);
      if (scanTime !== undefined) {
        if (Number(record.timestamp) < scanTime) {
          batch.resolve(record.offset);
          continue;
        }
        this.scanFrom.delete(key);
      }
      const type = eventTypeOf(record);
      if (type && !this.wanted.has(`${type.apiName}.${type.eventName}`)) {
        batch.resolve(record.offset); // another event on a shared topic: not ours
        continue;
      }
      const replayFor = replayGroupOf(record);
      if (replayFor !== undefined && replayFor !== this.groupId) {
        batch.resolve(record.offset); // a dead letter replayed for another group (dead-letters.ts)
        continue;
      }
      const decoded = decodeEvent(record);
      const id = decoded.ok ? decoded.value.id : decoded.id;
      const deliveries = this.transport.deliveries;
      let settled: Settlement;
      try {
        settled = await settleEvent(
          decoded,
          (message) => this.runHandler(message, batch),
          {
            deliveryLimit: this.transport.options.delivery_limit,
            deliveries: () => deliveries.failed(this.groupId, record),
            onDeadLetter: this.spec.onDeadLetter,
          },
          {
            ack: () => undefined,
            deadLetter: (reason) =>
              this.base.setAside(this.transport.deadLetterTopic, record, reason, this.groupId, id, 'Event'),
          },
        );
      } catch (error) {
        // Setting it aside failed: leave it for a retry.
        this.redeliverLater(batch, record, id, error);
        return;
      }
      if (settled.kind === 'redeliver') {
        this.redeliverLater(batch, record, id, settled.error);
        return;
      }
      deliveries.settled(this.groupId, record);
      this.failures.delete(key);
      batch.resolve(record.offset);
      if (settled.kind === 'ack') await batch.heartbeat(); // throws when the group rebalances: kafkajs commits what is resolved and rejoins
    }
  }

  /** The handler runs while the group expects heartbeats: keep sending them for long handlers. */
  private async runHandler(message: EventMessage, batch: ConsumedBatch): Promise<void> {
    const every = Math.max(100, heartbeatIntervalMs(this.transport.options));
    const timer = setInterval(() => {
      batch.heartbeat().catch(() => undefined); // a rebalance shows again at the heartbeat after the handler
    }, every);
    try {
      await this.handler(message);
    } finally {
      clearInterval(timer);
    }
  }

  /**
   * Not acknowledged: pause the partition and read it again from this record
   * after a backoff. Nothing after it is committed meanwhile; if this consumer
   * stops first, another member of the group reads it from the committed offset.
   */
  private redeliverLater(batch: ConsumedBatch, record: IncomingRecord, id: string | undefined, error: unknown): void {
    const key = `${record.topic}:${record.partition}`;
    const attempt = this.failures.get(key) ?? 0;
    this.failures.set(key, attempt + 1);
    const wait = backoffDelay(attempt, { initialMs: 500, maxMs: 30_000 });
    const resume = batch.pause();
    this.base.logger.info('Event not acknowledged; it will be delivered again', {
      id: id ?? '(unknown)',
      group: this.groupId,
      at: `${key}:${record.offset}`,
      retryInMs: wait,
      error: errorText(error),
    });
    const timer = setTimeout(() => {
      this.retryTimers.delete(timer);
      if (!this.stopping) resume();
    }, wait);
    this.retryTimers.add(timer);
  }

  stop(): Promise<void> {
    this.stopPromise ??= (async () => {
      this.stopping = true;
      for (const timer of this.retryTimers) clearTimeout(timer);
      this.retryTimers.clear();
      // A start in progress gives up at its next step; the group it may have created is stopped below.
      await this.starting?.catch(() => undefined);
      if (!this.group) return;
      // Record where new partitions start before leaving, so events fired while nobody listens wait for the group.
      await this.group.untilJoinSettled();
      const limit = Math.max(5000, this.transport.options.session_timeout_ms);
      // Waiting longer is not an error: stop anyway (a failure of establishing itself still propagates).
      const gaveUp = new Error('establishing took too long');
      await withTimeout(this.establishing, limit, () => gaveUp).catch((error: unknown) => {
        if (error !== gaveUp) throw error;
      });
      await this.group.stop();
    })();
    return this.stopPromise;
  }
}

/** `topic[partition:offset,...]`, one entry per topic. */
function describeOffsets(offsets: readonly PartitionOffset[]): string {
  const byTopic = new Map<string, string[]>();
  for (const { topic, partition, offset } of offsets)
    byTopic.set(topic, [...(byTopic.get(topic) ?? []), `${partition}:${offset}`]);
  return [...byTopic].map(([topic, parts]) => `${topic}[${parts.join(',')}]`).join(' ');
}

function describeSince(since: StartPosition | undefined): string {
  if (!since) return 'latest (events fired from the moment the listener started)';
  if (since.kind === 'time') return `time ${since.time.toISOString()}`;
  if (since.kind === 'position') return `position ${since.position}`;
  return 'beginning';
}
