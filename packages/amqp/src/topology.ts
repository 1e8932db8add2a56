/**
 * The topology: every exchange and queue name, routing key and declaration
 * argument the transport uses. It is a wire format: other processes (and other
 * versions) declare the same names with the same arguments, so change nothing
 * here without a migration note in docs/explanation/amqp-topology.md.
 */
import { InvalidNameError } from '@lightbus/core/transport';
import type { AmqpEventOptions } from './options';

/** Declaration arguments as RabbitMQ takes them (x-... keys). */
export type QueueArguments = Record<string, string | number | boolean>;

export interface QueueDeclaration {
  readonly name: string;
  readonly durable: boolean;
  readonly exclusive?: boolean;
  readonly autoDelete?: boolean;
  readonly arguments: QueueArguments;
}

export interface ExchangeDeclaration {
  readonly name: string;
  readonly type: 'topic' | 'fanout' | 'direct';
  readonly durable: boolean;
}

/** The header and property values the transport writes and reads. */
export const HEADER = {
  /** Epoch milliseconds after which a call must not run (calls). */
  deadline: 'lightbus-deadline',
  /** The caller's return path when it is not an AMQP reply address (calls). */
  returnPath: 'lightbus-return-path',
  /** Epoch milliseconds when the event was fired, by the publisher's clock (events). */
  time: 'lightbus-time',
  /** Why the transport dead-lettered a message (dead letters). */
  deadLetterReason: 'lightbus-dead-letter-reason',
  /** The queue the dead letter was taken from (dead letters). */
  deadLetterQueue: 'lightbus-dead-letter-queue',
  /** Epoch milliseconds when it was dead-lettered (dead letters). */
  deadLetterTime: 'lightbus-dead-letter-time',
  /** The dead letter's id, unique, stamped when it was set aside (dead letters; the store's id). */
  deadLetterId: 'lightbus-dead-letter-id',
  /** Times a classic group queue gave the message back (classic queues only). */
  redeliveries: 'lightbus-redeliveries',
} as const;

/** The AMQP `type` property of each kind of message. */
export const MESSAGE_TYPE = {
  call: 'lightbus.rpc',
  result: 'lightbus.result',
  event: 'lightbus.event',
  schema: 'lightbus.schema',
  /** Written into a stream by a reader to find the stream's end; every reader skips it. */
  marker: 'lightbus.marker',
} as const;

export const CONTENT_TYPE = 'application/json';
export const DIRECT_REPLY_TO = 'amq.rabbitmq.reply-to';

const MAX_NAME_BYTES = 255;

function checked(name: string, what: string): string {
  const bytes = Buffer.byteLength(name);
  if (bytes > MAX_NAME_BYTES) {
    throw new InvalidNameError(
      `The ${what} name '${name.slice(0, 60)}...' is ${bytes} bytes long; RabbitMQ allows ${MAX_NAME_BYTES}. ` +
        `Shorten the transport's prefix, the API name, or the service and listener names.`,
    );
  }
  return name;
}

/** Every name under one prefix. */
export class Names {
  constructor(readonly prefix: string) {}

  /** Topic exchange every event is published to. */
  get eventsExchange(): string {
    return `${this.prefix}.events`;
  }

  /** Where set-aside messages go (a topic exchange and a queue of the same name). */
  get deadLetter(): string {
    return `${this.prefix}.dead-letter`;
  }

  /** Stream queue of schema announcements. */
  get schemaStream(): string {
    return `${this.prefix}.schemas`;
  }

  /** The queue of calls to one API, shared by its workers. */
  rpcQueue(apiName: string): string {
    return checked(`${this.prefix}.rpc.${apiName}`, 'RPC queue');
  }

  /** The queue of one consumer group (`<service>-<listener>`). */
  groupQueue(group: string): string {
    return checked(`${this.prefix}.group.${group}`, 'consumer group queue');
  }

  /** The consumer group whose queue this is, or undefined for any other queue. */
  groupOf(queue: string): string | undefined {
    const start = `${this.prefix}.group.`;
    return queue.startsWith(start) && queue.length > start.length ? queue.slice(start.length) : undefined;
  }

  /** The stream queue keeping one API's events (when `stream` is on). */
  eventStream(apiName: string): string {
    return checked(`${this.prefix}.stream.${apiName}`, 'event stream');
  }

  /** A per-process reply queue (reply_mode: queue). */
  replyQueue(serviceName: string, processName: string, unique: string): string {
    const name = `${this.prefix}.reply.${serviceName}.${processName}.${unique}`;
    return Buffer.byteLength(name) <= MAX_NAME_BYTES ? name : `${this.prefix}.reply.${unique}`;
  }
}

/** Routing key of an event on the events exchange: `<api>.<event>`. */
export function eventRoutingKey(apiName: string, eventName: string): string {
  return `${apiName}.${eventName}`;
}

/**
 * Binding key that matches every event of one API and nothing else. API names
 * are dot-separated words and event names have no dots, so `<api>.*` matches
 * exactly the routing keys with the API's words plus one more.
 */
export function apiBindingKey(apiName: string): string {
  return `${apiName}.*`;
}

/** Split a routing key back into API and event (the event is the last word). */
export function parseRoutingKey(routingKey: string): { apiName: string; eventName: string } | undefined {
  const dot = routingKey.lastIndexOf('.');
  if (dot <= 0 || dot === routingKey.length - 1) return undefined;
  return { apiName: routingKey.slice(0, dot), eventName: routingKey.slice(dot + 1) };
}

export function eventsExchange(names: Names): ExchangeDeclaration {
  return { name: names.eventsExchange, type: 'topic', durable: true };
}

export function deadLetterExchange(names: Names): ExchangeDeclaration {
  return { name: names.deadLetter, type: 'topic', durable: true };
}

/** One classic, durable queue per API; calls in it are transient and expire at their deadline. */
export function rpcQueue(names: Names, apiName: string): QueueDeclaration {
  return { name: names.rpcQueue(apiName), durable: true, arguments: { 'x-queue-type': 'classic' } };
}

/** The queue every transport-dead-lettered or broker-dead-lettered message ends in. */
export function deadLetterQueue(names: Names): QueueDeclaration {
  // Fixed arguments: every role declares it the same way. Bound it with a policy (docs).
  return { name: names.deadLetter, durable: true, arguments: { 'x-queue-type': 'classic' } };
}

export type GroupQueueOptions = Pick<
  AmqpEventOptions,
  'durable' | 'queue_type' | 'delivery_limit' | 'message_ttl' | 'max_length' | 'dead_letter'
>;

/**
 * The durable queue of one consumer group, bound to the events it listens for. An ephemeral
 * group's (ListenOptions.ephemeral) is a classic, non-durable, auto-delete queue instead:
 * RabbitMQ deletes it, with what waits in it, when its last consumer goes.
 */
export function groupQueue(
  names: Names,
  group: string,
  options: GroupQueueOptions,
  ephemeral = false,
): QueueDeclaration {
  const queueType = ephemeral ? 'classic' : options.queue_type;
  const args: QueueArguments = { 'x-queue-type': queueType };
  if (queueType === 'quorum' && options.delivery_limit > 0) args['x-delivery-limit'] = options.delivery_limit;
  if (options.dead_letter) args['x-dead-letter-exchange'] = names.deadLetter;
  if (options.message_ttl !== undefined) args['x-message-ttl'] = Math.round(options.message_ttl * 1000);
  if (options.max_length !== undefined) args['x-max-length'] = options.max_length;
  if (ephemeral) return { name: names.groupQueue(group), durable: false, autoDelete: true, arguments: args };
  return {
    name: names.groupQueue(group),
    durable: options.queue_type === 'quorum' ? true : options.durable,
    arguments: args,
  };
}

/** Segment size of a stream: small enough that retention can drop old data, at most RabbitMQ's 500 MB default. */
export function streamSegmentBytes(maxBytes: number): number {
  return Math.max(1_000_000, Math.min(500_000_000, Math.floor(maxBytes / 20)));
}

/** The stream queue keeping one API's events, for replay and history. */
export function eventStream(
  names: Names,
  apiName: string,
  options: Pick<AmqpEventOptions, 'stream_max_age' | 'stream_max_bytes'>,
): QueueDeclaration {
  return {
    name: names.eventStream(apiName),
    durable: true,
    arguments: {
      'x-queue-type': 'stream',
      'x-max-age': `${options.stream_max_age}s`,
      'x-max-length-bytes': options.stream_max_bytes,
      'x-stream-max-segment-size-bytes': streamSegmentBytes(options.stream_max_bytes),
    },
  };
}

/** The stream of schema announcements (fixed arguments: every process declares the same). */
export function schemaStream(names: Names): QueueDeclaration {
  return {
    name: names.schemaStream,
    durable: true,
    arguments: {
      'x-queue-type': 'stream',
      'x-max-age': '1D',
      'x-max-length-bytes': 100_000_000,
      'x-stream-max-segment-size-bytes': 1_000_000,
    },
  };
}

/** A per-process reply queue: exclusive (gone with the connection), declared again on reconnection. */
export function replyQueue(name: string): QueueDeclaration {
  return { name, durable: false, exclusive: true, autoDelete: true, arguments: { 'x-queue-type': 'classic' } };
}
