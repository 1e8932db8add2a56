/**
 * The event role. Events are published, persistent and with publisher
 * confirms, to the topic exchange `<prefix>.events` with routing key
 * `<api>.<event>`. Each consumer group (`<service>-<listener>`) has one queue
 * `<prefix>.group.<group>` (quorum by default) bound to exactly the events it
 * listens for; the processes of a group consume it as competing consumers.
 * An event is acknowledged after its handler succeeded; a rejected (poison) or
 * undecodable one is copied to the dead-letter queue with the reason, then
 * acknowledged; any other failure leaves it unacknowledged, so it goes back
 * to the group when the consumer stops (bounded by delivery_limit).
 *
 * With `stream: true` every API's events are also kept in a stream queue
 * `<prefix>.stream.<api>`, which gives replay (`since`) and history.
 */
import {
  BrokerConnectionError,
  InvalidParametersError,
  settleEvent,
  TransportCapabilityError,
  deadlineIn,
  errorText,
  msUntil,
  type ConsumeSpec,
  type Consumer,
  type EventMessage,
  type EventMessageHandler,
  type EventTransport,
  type HistoryQuery,
  type Logger,
  type SendEventOptions,
  type StartPosition,
  type TransportCapabilities,
  type TransportContext,
  BusClosedError,
  ConfigError,
  RoleLifecycle,
  type ConnectionHealth,
  type ConsumerLag,
  type EventRef,
  type DeadLetterStore,
} from '@lightbus/core/transport';
import { closeChannel, type Channel, type Delivery } from './adapter';
import { decodeEvent, encodeEvent, eventTime, idForLog, isMarker, numberHeader } from './codec';
import { RestartingConsumer, ack, nack } from './consumer';
import { DeadLetters, republishOptions } from './dead-letter';
import { AmqpDeadLetters } from './dead-letter-store';
import { assertExchange, assertQueue, Link } from './link';
import type { AmqpEventOptions } from './options';
import { Publisher } from './publisher';
import { linkSettings } from './settings';
import { closedInstead, readStream, streamOffset, writeMarker, type StreamStart } from './stream';
import {
  HEADER,
  Names,
  apiBindingKey,
  eventRoutingKey,
  eventStream,
  eventsExchange,
  groupQueue,
  parseRoutingKey,
} from './topology';

/** What an event transport with these options can do. */
export function eventCapabilities(options: Pick<AmqpEventOptions, 'stream'>): TransportCapabilities {
  return Object.freeze({
    crossProcess: true,
    // Group queues keep events while a group's consumers are down (across broker restarts with durable: true).
    durable: true,
    consumerGroups: true,
    replay: options.stream,
    history: options.stream,
    // One consumer handles a queue's events one at a time in publish order (per publisher).
    ordering: 'per-stream',
  });
}

/** Reject option combinations RabbitMQ cannot declare. */
export function checkEventOptions(options: AmqpEventOptions): void {
  if (options.queue_type === 'quorum' && !options.durable) {
    throw new ConfigError('amqp event transport options', [
      {
        path: 'queue_type',
        message: "quorum queues are always durable: with durable: false use queue_type: 'classic'",
      },
    ]);
  }
}

export class AmqpEventTransport implements EventTransport {
  readonly capabilities: TransportCapabilities;
  /** Consuming (group queues) and reading streams. */
  private readonly link: Link;
  /** Publishing events, markers, dead letters. */
  private readonly publishLink: Link;
  private readonly names: Names;
  private readonly publisher: Publisher;
  private readonly deadLetterQueue: DeadLetters;
  /** The dead-letter queue read back (dead-letter-store.ts); none with dead_letter: false (nothing is set aside). */
  readonly deadLetters: DeadLetterStore | undefined;
  /** Closed flag, the group consumers, one close(). */
  private readonly life = new RoleLifecycle(
    (what, cause) =>
      new BusClosedError(
        `The amqp event transport is closed: cannot ${what}. Create a new bus.`,
        cause === undefined ? undefined : { cause },
      ),
  );

  constructor(
    private readonly options: AmqpEventOptions,
    private readonly context: TransportContext,
  ) {
    checkEventOptions(options);
    this.capabilities = eventCapabilities(options);
    this.link = new Link(linkSettings(options, 'event', context, 'consumer'), 'event', context.logger, 'consumer');
    this.publishLink = new Link(
      linkSettings(options, 'event', context, 'publisher'),
      'event',
      context.logger,
      'publisher',
    );
    this.names = new Names(options.prefix);
    this.publisher = new Publisher(this.publishLink, true, context.logger);
    this.deadLetterQueue = new DeadLetters(this.publishLink, this.names, options.dead_letter, context.logger);
    this.deadLetters = options.dead_letter
      ? new AmqpDeadLetters({ link: this.link, names: this.names, logger: context.logger })
      : undefined;
  }

  async sendEvent(message: EventMessage, options: SendEventOptions): Promise<void> {
    const deadline = deadlineIn(options.timeoutSeconds);
    const encoded = encodeEvent(message, this.options.durable);
    const routingKey = eventRoutingKey(message.apiName, message.eventName);
    try {
      // At least once: published again when the channel or connection went away before the confirm, until the deadline.
      await this.publisher.publishUntil(
        deadline,
        `Publishing event ${message.apiName}.${message.eventName} (${message.id})`,
        this.names.eventsExchange,
        routingKey,
        encoded.content,
        encoded.properties,
        async (signal) => {
          await this.publishLink.declareExchange(eventsExchange(this.names), signal);
          if (this.options.stream) await this.declareStream(message.apiName, signal);
        },
      );
    } catch (error) {
      if (msUntil(deadline) === 0 && !this.publishLink.isClosed) {
        // An event whose caller is told it failed is never published later.
        throw new BrokerConnectionError(
          `Event ${message.apiName}.${message.eventName} was not sent: RabbitMQ at ${this.publishLink.where} could not be reached within ` +
            `${options.timeoutSeconds}s (event_fire_timeout). It will not be sent later; fire it again once the broker is back.`,
          { cause: error },
        );
      }
      throw error;
    }
  }

  private async declareStream(apiName: string, signal?: AbortSignal): Promise<void> {
    const stream = eventStream(this.names, apiName, this.options);
    await this.publishLink.declareExchange(eventsExchange(this.names), signal);
    await this.publishLink.declareQueue(stream, signal);
    await this.publishLink.bind(stream.name, this.names.eventsExchange, apiBindingKey(apiName), signal);
  }

  async consume(spec: ConsumeSpec, handler: EventMessageHandler): Promise<Consumer> {
    if (spec.events.length === 0) throw new InvalidParametersError('consume() needs at least one event.');
    if (spec.since && !this.capabilities.replay) {
      throw new TransportCapabilityError(
        `Consumer group '${spec.group}' asks to replay events (since) but this amqp event transport keeps no stream. ` +
          `Set event_transport.amqp.stream: true (RabbitMQ >= 3.9) in every process of these APIs, or remove 'since'.`,
      );
    }
    return this.life.startConsumer(
      new GroupConsumer(this.groupContext(), spec, handler),
      `listen (group ${spec.group})`,
      spec.signal,
    );
  }

  async *history(query: HistoryQuery): AsyncIterable<EventMessage> {
    if (!this.capabilities.history) {
      throw new TransportCapabilityError(
        `This amqp event transport keeps no history: set event_transport.amqp.stream: true.`,
      );
    }
    const stream = this.names.eventStream(query.apiName);
    const found = await closedInstead([this.link, this.publishLink], () => this.readHistory(stream, query));
    for (let i = found.length - 1; i >= 0; i--) yield found[i]!;
  }

  /** The matching events of `stream`, oldest first. Closed meanwhile: BusClosedError. */
  private async readHistory(stream: string, query: HistoryQuery): Promise<EventMessage[]> {
    const found: EventMessage[] = [];
    // Reading history creates nothing: an API whose stream does not exist has no history.
    if (!(await this.link.queueExists(stream))) return found;
    const marker = await writeMarker(this.publisher, stream);
    const limit = query.limit ?? Infinity;
    const start = query.start?.getTime();
    const stop = query.stop?.getTime();
    await readStream(
      this.link,
      stream,
      query.start ? { kind: 'time', time: query.start } : { kind: 'first' },
      marker,
      (delivery) => {
        const offset = streamOffset(delivery);
        const decoded = decodeEvent(delivery, offset === undefined ? undefined : String(offset));
        if (!decoded.ok) {
          this.context.logger.debug('Skipped an undecodable message in history', {
            id: idForLog(delivery),
            reason: decoded.reason,
          });
          return;
        }
        const event = decoded.value;
        if (event.apiName !== query.apiName || (query.eventName && event.eventName !== query.eventName)) return;
        const time = event.time?.getTime();
        if (start !== undefined && (time === undefined || time < start)) return;
        if (stop !== undefined && time !== undefined && time > stop) return;
        found.push(event);
        if (found.length > limit) found.shift();
      },
    );
    return found;
  }

  /** The group's queue depth: messages ready and not yet delivered to the group (RabbitMQ does not count unacknowledged ones here). */
  async lag(_events: readonly EventRef[], group: string): Promise<readonly ConsumerLag[]> {
    const queue = this.names.groupQueue(group);
    const { messageCount } = await this.link.checkQueue(queue);
    return [{ destination: queue, lag: messageCount }];
  }

  /** The links this role has opened, and whether each is up (for `bus.health()`). */
  connections(): ConnectionHealth[] {
    return [this.link.health(), this.publishLink.health()].filter((h): h is ConnectionHealth => h !== undefined);
  }

  /** Stops the group consumers (those still starting too), then the publishers and connections. Idempotent. */
  close(): Promise<void> {
    return this.life.close(async () => {
      await this.publisher.close();
      await this.deadLetterQueue.close();
      await Promise.all([this.link.close(), this.publishLink.close()]);
    });
  }

  /** What a group consumer needs from its transport. */
  private groupContext(): GroupContext {
    return {
      link: this.link,
      options: this.options,
      names: this.names,
      publisher: this.publisher,
      deadLetterQueue: this.deadLetterQueue,
      logger: this.context.logger,
      declareStream: (api) => this.declareStream(api),
    };
  }
}

interface GroupContext {
  readonly link: Link;
  readonly options: AmqpEventOptions;
  readonly names: Names;
  readonly publisher: Publisher;
  readonly deadLetterQueue: DeadLetters;
  readonly logger: Logger;
  declareStream(apiName: string): Promise<void>;
}

/** How many ids a replay remembers to skip the same events when the group queue takes over. */
const REPLAY_OVERLAP_IDS = 10_000;

class GroupConsumer extends RestartingConsumer {
  private readonly queue: string;
  private readonly wanted: Set<string>;
  private chain: Promise<void> = Promise.resolve();
  /** Failed deliveries left unacknowledged on the current channel (given back when it closes). */
  private held: Array<{ channel: Channel; delivery: Delivery }> = [];
  /** Ids a replay delivered; the group queue may hold some of them again. */
  private replayed: Set<string> | undefined;
  private readonly transport: GroupContext;
  /** Routing keys of events received that the listener does not listen for (warned about once each). */
  private readonly unwantedKeys = new Set<string>();
  /** A replay in progress (new group with since); live consumption starts after it. */
  private replaying: Promise<void> | undefined;

  constructor(
    transport: GroupContext,
    private readonly spec: ConsumeSpec,
    private readonly handler: EventMessageHandler,
  ) {
    super(transport.link, transport.logger, `event consumer of group ${spec.group}`);
    this.transport = transport;
    this.queue = transport.names.groupQueue(spec.group);
    this.wanted = new Set(spec.events.map((e) => eventRoutingKey(e.apiName, e.eventName)));
  }

  private get options(): AmqpEventOptions {
    return this.transport.options;
  }

  /** The group's queue is classic (the option, or an ephemeral group's): the transport counts redeliveries. */
  private get classic(): boolean {
    return this.options.queue_type === 'classic' || this.spec.ephemeral === true;
  }

  protected async setup(channel: Channel, first: boolean): Promise<void> {
    const { names, deadLetterQueue } = this.transport;
    await assertExchange(channel, eventsExchange(names), this.link.log);
    if (this.options.dead_letter) await deadLetterQueue.declareOn(channel);
    const since = first ? this.spec.since : undefined;
    const created = since ? !(await this.link.queueExists(this.queue)) : false;
    await assertQueue(
      channel,
      groupQueue(names, this.spec.group, this.options, this.spec.ephemeral === true),
      this.link.log,
    );
    for (const key of this.wanted) await channel.bindQueue(this.queue, names.eventsExchange, key);
    await channel.prefetch(this.options.prefetch, false);
    if (created && since) {
      // The queue is bound: events fired from now on wait in it. Replay the stored ones first, in the background.
      this.replaying = this.replay(since)
        .catch((error: unknown) => {
          if (this.stopping)
            this.transport.logger.debug(`Replay for the new group ${this.spec.group} ended: the consumer stopped`, {
              error: errorText(error),
            });
          else
            this.transport.logger.error(
              `Replay for the new group ${this.spec.group} failed; consuming new events only`,
              { error: errorText(error) },
            );
        })
        .then(async () => {
          if (!this.stopping && this.channel === channel) await this.consumeFrom(channel, this.queue);
        })
        .catch((error: unknown) => {
          if (this.channel === channel) void closeChannel(channel); // restarts consumption
          this.transport.logger.debug('Starting to consume after the replay failed', { error: errorText(error) });
        });
      return;
    }
    await this.replaying;
    await this.consumeFrom(channel, this.queue);
  }

  /** A new group with `since`: hand it the stored events from each API's stream first, then the group queue takes over. */
  private async replay(since: StartPosition): Promise<void> {
    const { names, publisher, logger } = this.transport;
    const start: StreamStart =
      since.kind === 'beginning'
        ? { kind: 'first' }
        : since.kind === 'time'
          ? { kind: 'time', time: since.time }
          : { kind: 'offset', offset: parsePosition(since.position) };
    const from = since.kind === 'time' ? since.time.getTime() : undefined;
    const replayed = new Set<string>();
    const apis = [...new Set(this.spec.events.map((e) => e.apiName))];
    let count = 0;
    for (const apiName of apis) {
      await this.transport.declareStream(apiName);
      const stream = names.eventStream(apiName);
      // The group queue is bound already: the marker splits what only the stream has from what the queue also gets.
      const marker = await writeMarker(publisher, stream);
      await readStream(
        this.link,
        stream,
        start,
        marker,
        async (delivery) => {
          if (this.stopping) return false;
          if (from !== undefined && (eventTime(delivery) ?? 0) < from) return;
          const offset = streamOffset(delivery);
          const decoded = decodeEvent(delivery, offset === undefined ? undefined : String(offset));
          if (!decoded.ok) return; // set aside when it came through the group queue; a replay just skips it
          if (!this.wanted.has(eventRoutingKey(decoded.value.apiName, decoded.value.eventName))) return;
          replayed.add(decoded.value.id);
          if (replayed.size > REPLAY_OVERLAP_IDS) replayed.delete(replayed.values().next().value!);
          count += 1;
          // A replay reads a stream: nothing to acknowledge, and a failed handler stops the replay (no redelivery to count).
          const settled = await settleEvent(
            decoded,
            this.handler,
            { deliveryLimit: 0, deliveries: () => 1, onDeadLetter: this.spec.onDeadLetter },
            {
              ack: () => undefined,
              deadLetter: async (reason) =>
                // Set aside as taken from the group's queue: a replay of it goes to this group only, not to the stream.
                void (await this.transport.deadLetterQueue.setAside(delivery, reason, this.queue)),
            },
          );
          if (settled.kind === 'redeliver') {
            logger.error(`Replay for group ${this.spec.group} stopped: the handler failed`, {
              id: decoded.value.id,
              error: errorText(settled.error),
            });
            return false;
          }
        },
        this.stopSignal,
      );
    }
    this.replayed = replayed.size > 0 ? replayed : undefined;
    logger.info(`Replayed ${count} stored event(s) to the new group ${this.spec.group}`);
  }

  protected deliver(channel: Channel, delivery: Delivery): void {
    // One at a time, in order: the next handler starts when the previous one is done.
    this.chain = this.chain
      .then(() => this.handle(channel, delivery))
      .catch((error: unknown) => {
        this.transport.logger.error('Handling an event failed unexpectedly; it goes back to the group', {
          id: idForLog(delivery),
          error: errorText(error),
        });
        nack(channel, delivery, true);
      });
  }

  private async handle(channel: Channel, delivery: Delivery): Promise<void> {
    if (this.channel !== channel) return; // that channel is gone; the broker gives the message to the group again
    if (this.stopping) {
      // Delivered ahead (prefetch) but not started: give it back for another consumer.
      nack(channel, delivery, true);
      return;
    }
    if (isMarker(delivery)) return ack(channel, delivery);
    if (this.classic && this.options.delivery_limit > 0 && delivery.fields.redelivered) {
      if (await this.countRedelivery(channel, delivery)) return;
    }
    const decoded = decodeEvent(delivery);
    if (decoded.ok) {
      const event = decoded.value;
      if (!this.wanted.has(eventRoutingKey(event.apiName, event.eventName))) {
        // Not for this listener (a binding left by an earlier version of it): acknowledged, never handled or given back.
        ack(channel, delivery);
        await this.unwanted(event, delivery);
        return;
      }
      // Only a copy routed by the events exchange can be one the replay handled already (a dead letter replayed
      // to this group comes through the default exchange, and must be handled).
      if (delivery.fields.exchange === this.transport.names.eventsExchange && this.replayed?.has(event.id)) {
        this.replayed.delete(event.id);
        if (this.replayed.size === 0) this.replayed = undefined;
        return ack(channel, delivery);
      }
    }
    await settleEvent(
      decoded,
      this.handler,
      {
        deliveryLimit: this.options.delivery_limit,
        deliveries: () => deliveriesOf(delivery),
        onDeadLetter: this.spec.onDeadLetter,
      },
      {
        ack: () => ack(channel, delivery),
        deadLetter: (reason) => this.settleAside(channel, delivery, reason),
        // Not acknowledged: it goes back to the group when this consumer stops or its channel closes.
        redeliver: () => void this.held.push({ channel, delivery }),
      },
    );
  }

  /**
   * An event this group's listener does not listen for: logged (warning once
   * per routing key), and its binding removed when that is safe. Unsafe while
   * other consumers share the queue: during a rolling deploy an older version
   * may still listen for it (and binds it again when it reconnects). The
   * binding is removed on a channel of its own, so a refusal never closes the
   * consuming channel (and its unacknowledged events) with it.
   */
  private async unwanted(event: EventMessage, delivery: Delivery): Promise<void> {
    const { names, logger } = this.transport;
    const routingKey = delivery.fields.routingKey;
    const fields = { id: event.id, group: this.spec.group, routingKey };
    if (!this.unwantedKeys.has(routingKey)) {
      this.unwantedKeys.add(routingKey);
      logger.warn(
        `Group ${this.spec.group} received ${event.apiName}.${event.eventName}, which its listener does not listen for; acknowledged without handling`,
        fields,
      );
    } else {
      logger.debug('Acknowledged an event the listener does not listen for', fields);
    }
    // Only a binding of the events exchange that names none of this listener's events is stale.
    if (
      delivery.fields.exchange !== names.eventsExchange ||
      this.wanted.has(routingKey) ||
      !parseRoutingKey(routingKey)
    )
      return;
    try {
      const queue = await this.link.inspectQueue(this.queue);
      if (!queue || queue.consumers > 1) {
        logger.debug(
          `Kept the binding ${routingKey} of group ${this.spec.group}: other consumers of the queue may still listen for it`,
          {
            ...fields,
            consumers: queue?.consumers,
          },
        );
        return;
      }
      await this.link.unbind(this.queue, names.eventsExchange, routingKey);
      logger.info(
        `Removed the binding ${routingKey} of group ${this.spec.group}: its listener no longer listens for it`,
        fields,
      );
    } catch (error) {
      logger.warn(`Could not remove the binding ${routingKey} of group ${this.spec.group}`, {
        ...fields,
        error: errorText(error),
      });
    }
  }

  private async settleAside(channel: Channel, delivery: Delivery, reason: string): Promise<void> {
    if (await this.transport.deadLetterQueue.setAside(delivery, reason, this.queue)) ack(channel, delivery);
    else nack(channel, delivery, false);
  }

  /**
   * Classic queues count no deliveries: a message given back carries only the
   * redelivered flag. Count in a header instead: republish it to the group
   * queue with the count raised (or dead-letter it past the limit), then
   * acknowledge the original. Returns true when the delivery was dealt with.
   */
  private async countRedelivery(channel: Channel, delivery: Delivery): Promise<boolean> {
    const count = (numberHeader(delivery, HEADER.redeliveries) ?? 0) + 1;
    if (count > this.options.delivery_limit) {
      await this.settleAside(
        channel,
        delivery,
        `delivery limit reached: given back ${count} times without being acknowledged`,
      );
      const decoded = decodeEvent(delivery);
      this.spec.onDeadLetter?.(
        decoded.ok
          ? { cause: 'delivery_limit', apiName: decoded.value.apiName, eventName: decoded.value.eventName }
          : { cause: 'delivery_limit' },
      );
      return true;
    }
    try {
      await this.transport.publisher.publish(
        '',
        this.queue,
        delivery.content,
        republishOptions(delivery, { [HEADER.redeliveries]: count }),
      );
    } catch {
      return false; // handle it as it is; counting resumes next time
    }
    ack(channel, delivery);
    return true;
  }

  protected override channelLost(channel: Channel): void {
    this.held = this.held.filter((h) => h.channel !== channel);
  }

  protected async drain(): Promise<void> {
    await this.replaying;
    await this.chain;
    for (const { channel, delivery } of this.held.splice(0)) nack(channel, delivery, true);
  }
}

/**
 * How many times the group queue delivered this message, this time included:
 * quorum queues count returns in `x-delivery-count`; for classic queues the
 * transport counts them in `lightbus-redeliveries` (see countRedelivery).
 */
function deliveriesOf(delivery: Delivery): number {
  return 1 + (numberHeader(delivery, 'x-delivery-count') ?? numberHeader(delivery, HEADER.redeliveries) ?? 0);
}

function parsePosition(position: string): number {
  const offset = Number(position);
  if (!Number.isInteger(offset) || offset < 0) {
    throw new InvalidParametersError(
      `since: { position: '${position}' } is not a stream offset: use the nativeId of an event from history (a whole number).`,
    );
  }
  return offset;
}
