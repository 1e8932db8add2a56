/**
 * Events on Redis streams, as Python Lightbus does it: `XADD <stream> MAXLEN ~
 * <n> * id .. api_name .. event_name .. version .. :<param> <json> ...`;
 * listeners read with consumer groups `<service>-<listener>`. See
 * docs/explanation/redis.md for the guarantees.
 *
 * One consumer = one connection and one sequential loop:
 * 1. create the groups (XGROUP CREATE ... MKSTREAM, at `since` or `$`),
 * 2. own pending entries first (XREADGROUP ... 0: delivered to this consumer
 *    name before a restart, never acknowledged),
 * 3. then new entries in batches (XREADGROUP COUNT <batch_size> BLOCK ... >),
 *    each handled in order and acknowledged (XACK) as soon as its handler
 *    finished (those finished in the same task in one write),
 * 4. every reclaim_interval, entries idle longer than acknowledgement_timeout
 *    in the group (their consumer died or failed) are claimed (XPENDING,
 *    XCLAIM) and handled here.
 * Entries that cannot be decoded, and entries the handler rejects
 * (MessageRejectedError), are copied to `<stream>:dead_letters` with the reason
 * and acknowledged in one transaction. Placeholders and, in a per_api stream,
 * events nobody here listens for are acknowledged and skipped.
 *
 * On a Redis Cluster (key_layout: cluster, `{<api>}.*:stream`), a listener of
 * several APIs runs one such consumer per slot, each with its own connection:
 * an XREADGROUP never names streams of two slots.
 */
import {
  InFlight,
  BusClosedError,
  InvalidParametersError,
  errorText,
  decoded,
  settleEvent,
  undecodable,
  type ReceivedEvent,
  type ConsumeSpec,
  type Consumer,
  type ConsumerGroupInfo,
  type ConsumerLag,
  type EventMessage,
  type EventRef,
  type EventMessageHandler,
  type EventTransport,
  type HistoryQuery,
  type SendEventOptions,
  type StartPosition,
  type TransportCapabilities,
  type TransportContext,
} from '@lightbus/core/transport';
import { BLOCK_MS, BlockingReader, FailureStreak } from './blocking';
import { RedisDeadLetters } from './dead-letters-store';
import { isReplyError, type Command, type RedisConnection } from './connection';
import { RedisRole, ReplicationError, STARTUP_WAIT_MS, commandFailure, startFailure } from './common';
import type { RedisEventOptions } from './options';
import { parseEntries, parseInfoList, parsePending, parseStreamsReply, type StreamEntry } from './replies';
import {
  UndecodableMessage,
  compareStreamIds,
  deadLetterKey,
  decodeEventFields,
  encodeEventFields,
  type FieldList,
  isPlaceholder,
  isStreamId,
  nextStreamId,
  previousStreamId,
} from './wire';

/** How far a consumer's reads grow past batch_size while they come back full (a backlog). */
const BATCH_GROWTH = 10;

export const redisCapabilities: TransportCapabilities = Object.freeze({
  crossProcess: true,
  durable: true,
  consumerGroups: true,
  replay: true,
  history: true,
  ordering: 'per-stream',
});

/** XREVRANGE page size for history (as Python's inspect). */
const HISTORY_PAGE = 100;

/** Where a new group starts, as an XGROUP CREATE id. */
export function groupStartId(since: StartPosition | undefined): string {
  if (!since) return '$';
  switch (since.kind) {
    case 'beginning':
      return '0';
    case 'time':
      return `${Math.max(0, since.time.getTime())}-0`;
    case 'position':
      if (!isStreamId(since.position)) {
        throw new InvalidParametersError(
          `since position ${JSON.stringify(since.position)} is not a Redis stream id; give one like '1700000000000-0' ` +
            `(an event's nativeId), or a Date.`,
        );
      }
      return since.position;
  }
}

export class RedisEventTransport extends RedisRole implements EventTransport {
  readonly capabilities = redisCapabilities;
  /** The `<stream>:dead_letters` streams, to list, replay and discard (dead-letters-store.ts). */
  readonly deadLetters: RedisDeadLetters;
  private readonly maxLength: number | null;

  constructor(
    readonly options: RedisEventOptions,
    context: TransportContext,
  ) {
    super(options, context, options.consumption_restart_delay * 1000);
    this.maxLength = options.max_stream_length ? options.max_stream_length : null;
    this.deadLetters = new RedisDeadLetters({
      commands: () => this.commands(),
      streamUse: options.stream_use,
      keys: this.keys,
      streamOf: (apiName, eventName) => this.streamOf(apiName, eventName),
      addCommand: (stream, fields) => this.addCommand(stream, fields),
      logger: context.logger,
    });
  }

  /** @internal The stream an event goes to. */
  streamOf(apiName: string, eventName: string): string {
    return this.keys.stream(apiName, eventName, this.options.stream_use);
  }

  /** @internal `XADD <stream> [MAXLEN ~ n] * <fields>`. */
  addCommand(stream: string, fields: readonly string[], maxLength = this.maxLength): Command {
    return ['XADD', stream, ...(maxLength ? ['MAXLEN', '~', maxLength] : []), '*', ...fields];
  }

  async sendEvent(message: EventMessage, options: SendEventOptions): Promise<void> {
    const fields = encodeEventFields(message); // an EncodingError reaches the caller before anything is sent
    const command = this.addCommand(this.streamOf(message.apiName, message.eventName), fields);
    const what = `Firing ${message.apiName}.${message.eventName}`;
    const replicas = this.options.wait_for_replicas;
    await this.withRetries(
      what,
      Date.now() + options.timeoutSeconds * 1000 - 50,
      async (connection) => {
        if (replicas === 0) return connection.send(command);
        // WAIT: until `replicas` replicas have everything this connection wrote, the event included.
        const timeoutMs = Math.max(1, Math.round(this.options.replica_timeout * 1000));
        // On a cluster, WAIT goes to the stream's master, on the connection that carried the XADD.
        const stream = String(command[1]);
        const [, confirmed] = await Promise.all([
          connection.send(command),
          connection.sendBeside(stream, ['WAIT', replicas, timeoutMs]),
        ]);
        if (Number(confirmed) < replicas) {
          throw new ReplicationError(
            `${what}: the event was written to the Redis master, but only ${String(confirmed)} of the ${replicas} ` +
              `replicas asked for (wait_for_replicas) confirmed it within ${this.options.replica_timeout} s ` +
              `(replica_timeout). It may still be delivered, but a failover now could lose it. Check the replicas ` +
              `(INFO replication on the master), or lower wait_for_replicas.`,
          );
        }
      },
      undefined,
      true, // a fire fails at once while Redis has never been reached
    );
  }

  async consume(spec: ConsumeSpec, handler: EventMessageHandler): Promise<Consumer> {
    const start = groupStartId(spec.since);
    this.assertOpen(`Listening (group ${spec.group})`);
    // One consumer (connection, loop) for all the streams; on a cluster one per slot.
    const consumers = this.slotGroups(spec.events, (e) => this.streamOf(e.apiName, e.eventName)).map(
      (events) =>
        new EventConsumer(
          this,
          this.context,
          { ...spec, events },
          handler,
          this.commands(),
          this.connect(`listener:${spec.group}`, { blockMs: BLOCK_MS }),
        ),
    );
    // Known from the start, so close() stops it while it is still starting.
    return this.consumers.start(
      {
        start: async () => {
          const started = await Promise.allSettled(
            consumers.map((consumer) =>
              consumer.start(start, (what, signal) => this.readyToStart(consumer.connection, what, signal)),
            ),
          );
          const failed = started.find((outcome) => outcome.status === 'rejected');
          if (failed) throw failed.reason;
        },
        stop: async () => {
          await Promise.all(consumers.map((consumer) => consumer.stop()));
        },
      },
      spec.signal,
    );
  }

  /** `XINFO GROUPS <stream>`: the group's lag (entries not yet delivered; Redis 7) and pending entries, per stream. */
  async lag(events: readonly EventRef[], group: string): Promise<readonly ConsumerLag[]> {
    const found = await this.groups(events);
    return found
      .filter((info) => info.group === group)
      .map(({ destination, lag, pending }) => ({
        destination,
        ...(lag !== undefined ? { lag } : {}),
        ...(pending !== undefined ? { pending } : {}),
      }));
  }

  /** `XINFO GROUPS <stream>` for each of the events' streams: every group, its lag, pending entries and consumers. */
  async groups(events: readonly EventRef[]): Promise<readonly ConsumerGroupInfo[]> {
    const streams = [...new Set(events.map((e) => this.streamOf(e.apiName, e.eventName)))];
    const connection = this.commands();
    const out: ConsumerGroupInfo[] = [];
    const count = (value: unknown): number | undefined => (typeof value === 'number' ? value : undefined);
    for (const stream of streams) {
      let groups: Array<Record<string, unknown>>;
      try {
        groups = parseInfoList(await connection.send(['XINFO', 'GROUPS', stream]));
      } catch (error) {
        if (isReplyError(error)) continue; // no such stream yet
        throw error;
      }
      for (const info of groups) {
        const lag = count(info.lag);
        const pending = count(info.pending);
        const consumers = count(info.consumers);
        out.push({
          group: String(info.name),
          destination: stream,
          ...(lag !== undefined ? { lag } : {}),
          ...(pending !== undefined ? { pending } : {}),
          ...(consumers !== undefined ? { consumers } : {}),
        });
      }
    }
    return out;
  }

  async *history(query: HistoryQuery): AsyncIterable<EventMessage> {
    const connection = this.commands();
    const what = `Reading the history of API '${query.apiName}'`;
    await connection.ready(Date.now() + STARTUP_WAIT_MS, undefined, what);
    const streams =
      this.options.stream_use === 'per_api' || query.eventName !== undefined
        ? [this.streamOf(query.apiName, query.eventName ?? '*')]
        : await connection.scan(this.keys.apiStreams(query.apiName));
    const end = query.stop ? `${query.stop.getTime()}-18446744073709551615` : '+';
    const start = query.start ? `${query.start.getTime()}-0` : '-';
    const cursors = streams.map((stream) => ({ stream, end, buffer: [] as StreamEntry[], done: false }));
    let yielded = 0;
    for (;;) {
      for (const cursor of cursors) {
        if (cursor.buffer.length > 0 || cursor.done) continue;
        let reply;
        try {
          reply = await connection.send(['XREVRANGE', cursor.stream, cursor.end, start, 'COUNT', HISTORY_PAGE]);
        } catch (error) {
          throw commandFailure(error, what);
        }
        cursor.buffer = parseEntries(cursor.stream, reply);
        const last = cursor.buffer[cursor.buffer.length - 1];
        const before = last ? previousStreamId(last.id) : undefined;
        if (cursor.buffer.length < HISTORY_PAGE || before === undefined) cursor.done = true;
        else cursor.end = before;
      }
      let newest: (typeof cursors)[number] | undefined;
      for (const cursor of cursors) {
        if (cursor.buffer.length === 0) continue;
        if (!newest || compareStreamIds(cursor.buffer[0]!.id, newest.buffer[0]!.id) > 0) newest = cursor;
      }
      if (!newest) return;
      const entry = newest.buffer.shift()!;
      if (entry.fields === null || isPlaceholder(entry.fields)) continue;
      let message: EventMessage;
      try {
        message = decodeEventFields(entry.fields, entry.id);
      } catch (error) {
        this.context.logger.debug('History: skipped an entry that cannot be decoded', {
          stream: entry.stream,
          entryId: entry.id,
          error: errorText(error),
        });
        continue;
      }
      if (message.apiName !== query.apiName) continue;
      if (query.eventName !== undefined && message.eventName !== query.eventName) continue;
      if (query.limit !== undefined && yielded >= query.limit) return;
      yielded += 1;
      yield message;
    }
  }
}

/** An entry's fields as an event, or why they cannot be one. */
function decodeEntry(fields: FieldList, entryId: string): ReceivedEvent {
  try {
    return decoded(decodeEventFields(fields, entryId));
  } catch (error) {
    return error instanceof UndecodableMessage
      ? undecodable(error.reason, error.messageId)
      : undecodable(errorText(error));
  }
}

/** One running consumer of a group: a connection, a loop. */
class EventConsumer {
  private readonly streams: string[];
  private readonly wanted: Set<string>;
  private readonly reader: BlockingReader;
  private readonly logger;
  /** Highest entry id seen per stream: where to re-create a group that vanished. */
  private readonly cursors = new Map<string, string>();
  /** Entries handled, not yet acknowledged (or whose XACK failed), per stream. */
  private readonly toAck = new Map<string, string[]>();
  /** XACKs on the wire. */
  private readonly acking = new InFlight();
  private flushScheduled = false;
  /** The last XACK failed (warn once, not on every retry). */
  private ackFailing = false;
  private readonly ackTimeoutMs: number;
  private readonly reclaimIntervalMs: number;
  private readonly reclaimBatch: number;
  private nextReclaim = 0;

  constructor(
    private readonly transport: RedisEventTransport,
    context: TransportContext,
    private readonly spec: ConsumeSpec,
    private readonly handler: EventMessageHandler,
    private readonly commands: RedisConnection,
    connection: RedisConnection,
  ) {
    this.logger = context.logger;
    this.streams = [...new Set(spec.events.map((e) => transport.streamOf(e.apiName, e.eventName)))];
    this.wanted = new Set(spec.events.map((e) => `${e.apiName}\u0000${e.eventName}`));
    this.reader = new BlockingReader(connection, commands, context.logger, this.streams[0] ?? '');
    const options = transport.options;
    this.ackTimeoutMs = Math.round(options.acknowledgement_timeout * 1000);
    this.reclaimIntervalMs = Math.round((options.reclaim_interval ?? options.acknowledgement_timeout) * 1000);
    this.reclaimBatch = options.reclaim_batch_size ?? options.batch_size * 10;
  }

  get connection(): RedisConnection {
    return this.reader.connection;
  }

  private get what(): string {
    return `Listening for ${this.spec.events.map((e) => `${e.apiName}.${e.eventName}`).join(', ')} (group ${this.spec.group})`;
  }

  /**
   * Wait for Redis (`ready`), create the groups, then run the loop. Fails
   * clearly if Redis cannot be reached at start, or if stop() came first; the
   * caller then stops this consumer (closing its connection).
   */
  async start(startId: string, ready: (what: string, signal: AbortSignal) => Promise<void>): Promise<void> {
    await ready(this.what, this.reader.signal);
    try {
      await this.removeIdleConsumers();
      await this.createGroups(() => startId);
      await this.readCursors();
    } catch (error) {
      if (this.reader.stopping) throw new BusClosedError(`${this.what}: stopped while starting (the bus is closing).`);
      throw startFailure(error, `${this.what}: creating the consumer group`, this.connection);
    }
    if (this.reader.stopping) throw new BusClosedError(`${this.what}: stopped while starting (the bus is closing).`);
    this.reader.start((signal) => this.loop(signal));
  }

  async stop(): Promise<void> {
    await this.reader.stop();
    if (this.spec.ephemeral) await this.leave();
  }

  /**
   * An ephemeral group (ListenOptions.ephemeral): this consumer leaves it, and the group goes
   * (XGROUP DESTROY, its pending entries with it) once no consumer is left. A consumer of another
   * process that starts meanwhile creates the group again at the stream's end.
   */
  private async leave(): Promise<void> {
    for (const stream of this.streams) {
      try {
        await this.commands.send(['XGROUP', 'DELCONSUMER', stream, this.spec.group, this.spec.consumer]);
        const left = parseInfoList(await this.commands.send(['XINFO', 'CONSUMERS', stream, this.spec.group]));
        if (left.length === 0) {
          await this.commands.send(['XGROUP', 'DESTROY', stream, this.spec.group]);
          this.logger.debug(`Removed the ephemeral consumer group ${this.spec.group} on ${stream}`);
        }
      } catch (error) {
        this.logger.warn(`${this.what}: could not remove the ephemeral consumer group on ${stream}`, {
          error: errorText(error),
        });
      }
    }
  }

  private async loop(signal: AbortSignal): Promise<void> {
    const failures = new FailureStreak(this.logger, this.transport.options.consumption_restart_delay * 1000);
    let ownPendingRead = false;
    // Sized to the load: batch_size while reads come back short; while they come back full (a backlog), each
    // read asks for twice as many, up to BATCH_GROWTH x batch_size, so a backlog costs few round trips and writes.
    const baseCount = this.transport.options.batch_size;
    let count = baseCount;
    while (!signal.aborted) {
      try {
        if (!ownPendingRead) {
          await this.readOwnPending(signal);
          ownPendingRead = true;
        }
        if (Date.now() >= this.nextReclaim) {
          await this.reclaim(signal);
          this.nextReclaim = Date.now() + this.reclaimIntervalMs;
          if (signal.aborted) break;
        }
        const block = Math.max(1, Math.min(BLOCK_MS, this.nextReclaim - Date.now()));
        // Acknowledgements that failed earlier go out again with the read, in the same write.
        const acks = this.sendAcks();
        const reply = await this.reader.read([
          'XREADGROUP',
          'GROUP',
          this.spec.group,
          this.spec.consumer,
          'COUNT',
          count,
          'BLOCK',
          block,
          'STREAMS',
          ...this.streams,
          ...this.streams.map(() => '>'),
        ]);
        await acks;
        failures.succeeded();
        const entries = parseStreamsReply(reply);
        count = entries.length >= count ? Math.min(count * 2, baseCount * BATCH_GROWTH) : baseCount;
        await this.handleBatch(entries, signal);
      } catch (error) {
        if (signal.aborted) break;
        if (isReplyError(error) && error.message.startsWith('NOGROUP')) {
          this.logger.warn(
            `${this.what}: the stream or its consumer group vanished (Redis restarted without its data, or the key was ` +
              'deleted); re-creating the group after the last event seen, so newer events are not skipped',
          );
          try {
            await this.createGroups((stream) => this.cursors.get(stream) ?? '$');
            this.toAck.clear(); // a new group has no pending entries to acknowledge
            continue;
          } catch (again) {
            // eslint-disable-next-line no-ex-assign -- from here on, the failure to report is the re-creation's
            error = again;
          }
        }
        // A read whose reply was lost left entries delivered to us: take them first when back.
        ownPendingRead = false;
        await failures.failed(
          `${this.what}: reading from Redis at ${this.connection.where} failed; retrying with backoff (at most ` +
            'consumption_restart_delay apart). Events wait in the stream meanwhile; none is lost.',
          error,
          signal,
        );
      }
    }
    // Stopping: make sure what was handled is acknowledged.
    await this.flushAcks();
    if (this.toAck.size > 0) {
      const count = [...this.toAck.values()].reduce((sum, ids) => sum + ids.length, 0);
      this.logger.warn(
        `${this.what}: stopped with ${count} handled event(s) not acknowledged (Redis unreachable); they will be delivered ` +
          `again, to this consumer when it restarts under the same name, or to another after acknowledgement_timeout`,
      );
    }
  }

  /** Entries delivered to this consumer name earlier and never acknowledged (a restart): handled first. */
  private async readOwnPending(signal: AbortSignal): Promise<void> {
    // Acknowledgements that failed first: those events were handled and must not come back as pending.
    await this.flushAcks();
    const after = new Map(this.streams.map((s) => [s, '0']));
    while (!signal.aborted && after.size > 0) {
      const streams = [...after.keys()];
      const reply = await this.connection.send([
        'XREADGROUP',
        'GROUP',
        this.spec.group,
        this.spec.consumer,
        'COUNT',
        this.transport.options.batch_size,
        'STREAMS',
        ...streams,
        ...streams.map((s) => after.get(s)!),
      ]);
      const entries = parseStreamsReply(reply);
      for (const stream of streams) {
        const mine = entries.filter((e) => e.stream === stream);
        if (mine.length === 0) after.delete(stream);
        else after.set(stream, mine[mine.length - 1]!.id);
      }
      if (entries.length > 0) {
        this.logger.info(
          `${this.what}: handling ${entries.length} event(s) delivered before a restart and never acknowledged`,
        );
        await this.handleBatch(entries, signal);
      }
    }
  }

  /** Claim entries of the group idle past acknowledgement_timeout (dead or failed consumers) and handle them. */
  private async reclaim(signal: AbortSignal): Promise<void> {
    for (const stream of this.streams) {
      let from = '-';
      for (;;) {
        const pending = parsePending(
          await this.connection.send(['XPENDING', stream, this.spec.group, from, '+', this.reclaimBatch]),
        );
        const stale = pending.filter((p) => p.idleMs >= this.ackTimeoutMs);
        if (stale.length > 0) {
          const reply = await this.connection.send([
            'XCLAIM',
            stream,
            this.spec.group,
            this.spec.consumer,
            this.ackTimeoutMs,
            ...stale.map((p) => p.id),
          ]);
          const claimed = parseEntries(stream, reply);
          if (claimed.length > 0) {
            const owners = [...new Set(stale.map((p) => p.consumer))].join(', ');
            this.logger.info(
              `${this.what}: reclaimed ${claimed.length} event(s) not acknowledged within ${this.ackTimeoutMs / 1000}s by ${owners}`,
            );
            await this.handleBatch(claimed, signal);
            if (signal.aborted) return;
          }
        }
        if (pending.length < this.reclaimBatch) break;
        from = nextStreamId(pending[pending.length - 1]!.id);
      }
    }
  }

  /** Handle entries in order; stop early (leaving the rest pending) when stopping. */
  private async handleBatch(entries: readonly StreamEntry[], signal: AbortSignal): Promise<void> {
    for (const entry of entries) {
      if (signal.aborted) return;
      this.advanceCursor(entry);
      if (entry.fields === null || isPlaceholder(entry.fields)) {
        this.ack(entry);
        continue;
      }
      const received = decodeEntry(entry.fields, entry.id);
      if (received.ok && !this.wanted.has(`${received.value.apiName}\u0000${received.value.eventName}`)) {
        this.ack(entry); // another event of the API (per_api stream): not ours
        continue;
      }
      try {
        await settleEvent(
          received,
          this.handler,
          {
            deliveryLimit: this.transport.options.delivery_limit,
            deliveries: () => this.deliveries(entry),
            onDeadLetter: this.spec.onDeadLetter,
          },
          {
            ack: () => this.ack(entry),
            deadLetter: (reason, id) => this.setAside(entry, reason, id),
            redeliver: (error, deliveries) =>
              this.logger.debug(
                `${this.what}: event not acknowledged (its handler failed, delivery ${deliveries}); it will be delivered again`,
                {
                  entryId: entry.id,
                  error: errorText(error),
                },
              ),
          },
        );
      } catch (error) {
        // Reading the delivery count failed: the entry stays pending and is settled when delivered again.
        this.logger.warn(
          `${this.what}: event not acknowledged (its handler failed, and its delivery count could not be read); it will be delivered again`,
          {
            entryId: entry.id,
            error: errorText(error),
          },
        );
      }
    }
  }

  /** How many times the group delivered this entry (XPENDING counts reads of it, claims included). */
  private async deliveries(entry: StreamEntry): Promise<number> {
    const [pending] = parsePending(
      await this.connection.send(['XPENDING', entry.stream, this.spec.group, entry.id, entry.id, 1]),
    );
    return pending?.deliveries ?? 1;
  }

  private advanceCursor(entry: StreamEntry): void {
    const current = this.cursors.get(entry.stream);
    if (current === undefined || compareStreamIds(entry.id, current) > 0) this.cursors.set(entry.stream, entry.id);
  }

  /**
   * Acknowledge an entry now that its handler finished: the XACK goes out in
   * the next turn of the event loop, one per stream for every entry finished
   * until then, so a crash later in the batch does not bring it back. (Quick
   * handlers finish a whole batch within one turn: one XACK for the batch.)
   */
  private ack(entry: StreamEntry): void {
    const list = this.toAck.get(entry.stream);
    if (list) list.push(entry.id);
    else this.toAck.set(entry.stream, [entry.id]);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      void this.sendAcks();
    });
  }

  /** Wait for the XACKs on the wire, then send what is left (those that failed). */
  private async flushAcks(): Promise<void> {
    await this.acking.drain();
    await this.sendAcks();
  }

  /**
   * Send the acknowledgements not yet sent (one XACK per stream, in one
   * write). Never rejects: on failure they are kept and sent again with the
   * next read (or before pending entries are read again).
   */
  private sendAcks(): Promise<void> {
    if (this.toAck.size === 0) return Promise.resolve();
    const batch = [...this.toAck.entries()];
    this.toAck.clear();
    const commands: Command[] = batch.map(([stream, ids]) => ['XACK', stream, this.spec.group, ...ids]);
    const sent: Promise<void> = this.connection.pipeline(commands).then(
      () => {
        this.ackFailing = false;
      },
      (error: unknown) => {
        for (const [stream, ids] of batch) this.toAck.set(stream, [...ids, ...(this.toAck.get(stream) ?? [])]);
        const log = this.ackFailing ? this.logger.debug.bind(this.logger) : this.logger.warn.bind(this.logger);
        this.ackFailing = true;
        log(
          `${this.what}: acknowledging ${batch.reduce((n, [, ids]) => n + ids.length, 0)} handled event(s) failed; they stay ` +
            'pending and are acknowledged once the connection is back',
          { error: errorText(error) },
        );
      },
    );
    return this.acking.track(sent);
  }

  /** Copy an entry to `<stream>:dead_letters` with the reason, and acknowledge it, in one transaction. */
  private async setAside(entry: StreamEntry, reason: string, messageId: string | undefined): Promise<void> {
    const target = deadLetterKey(entry.stream);
    this.logger.error(`${this.what}: event set aside, ${reason}`, {
      stream: entry.stream,
      entryId: entry.id,
      id: messageId,
      deadLetters: target,
    });
    const record = [
      'reason',
      reason,
      'stream',
      entry.stream,
      'entry_id',
      entry.id,
      'group',
      this.spec.group,
      'consumer',
      this.spec.consumer,
      'fields',
      JSON.stringify(entry.fields ?? []),
    ];
    try {
      await this.connection.transaction([
        this.transport.addCommand(target, record),
        ['XACK', entry.stream, this.spec.group, entry.id],
      ]);
    } catch (error) {
      // Not acknowledged: it stays pending and is set aside again when reclaimed.
      this.logger.error(
        `${this.what}: could not set the event aside (Redis unreachable or refused); it stays pending and is set aside again when reclaimed`,
        { entryId: entry.id, error: errorText(error) },
      );
    }
  }

  /** XGROUP CREATE <stream> <group> <id> MKSTREAM for each stream (an existing group is fine). */
  private async createGroups(startOf: (stream: string) => string): Promise<void> {
    for (const stream of this.streams) {
      try {
        await this.connection.send(['XGROUP', 'CREATE', stream, this.spec.group, startOf(stream), 'MKSTREAM']);
        this.logger.debug(`Created consumer group ${this.spec.group} on ${stream}`, { at: startOf(stream) });
      } catch (error) {
        if (!(isReplyError(error) && error.message.startsWith('BUSYGROUP'))) throw error;
      }
    }
  }

  /** Where the group stands on each stream (its last delivered id). */
  private async readCursors(): Promise<void> {
    for (const stream of this.streams) {
      const groups = parseInfoList(await this.connection.send(['XINFO', 'GROUPS', stream]));
      const group = groups.find((g) => String(g.name) === this.spec.group);
      const last = group?.['last-delivered-id'];
      if (typeof last === 'string') this.cursors.set(stream, last);
    }
  }

  /** consumer_ttl: forget consumers of the streams' groups idle that long and holding nothing. */
  private async removeIdleConsumers(): Promise<void> {
    const ttlMs = this.transport.options.consumer_ttl * 1000;
    if (ttlMs <= 0) return;
    for (const stream of this.streams) {
      let groups;
      try {
        groups = parseInfoList(await this.connection.send(['XINFO', 'GROUPS', stream]));
      } catch (error) {
        if (isReplyError(error)) continue; // no stream yet
        throw error;
      }
      for (const group of groups) {
        const groupName = String(group.name);
        let consumers;
        try {
          consumers = parseInfoList(await this.connection.send(['XINFO', 'CONSUMERS', stream, groupName]));
        } catch (error) {
          if (isReplyError(error)) continue;
          throw error;
        }
        for (const consumer of consumers) {
          const name = String(consumer.name);
          if (
            Number(consumer.idle) >= ttlMs &&
            Number(consumer.pending) === 0 &&
            !(groupName === this.spec.group && name === this.spec.consumer)
          ) {
            await this.connection.send(['XGROUP', 'DELCONSUMER', stream, groupName, name]);
            this.logger.debug(
              `Removed consumer ${name} of group ${groupName} on ${stream}: idle longer than consumer_ttl`,
            );
          }
        }
      }
    }
  }
}
