/**
 * Setting messages aside: a copy goes to the dead-letter exchange
 * `<prefix>.dead-letter` (topic, routed by the original routing key) and on to
 * the queue `<prefix>.dead-letter`, with the reason in headers; only once the
 * broker confirmed the copy is the original acknowledged. Messages the broker
 * dead-letters itself (delivery limit, ttl, max length) take the same way, with
 * RabbitMQ's x-death headers. The event transport's dead-letter store
 * (dead-letter-store.ts) reads the queue back.
 */
import { randomUUID } from 'node:crypto';
import { errorText, type Logger } from '@lightbus/core/transport';
import type { Channel, Delivery, PublishOptions } from './adapter';
import { idForLog } from './codec';
import { assertExchange, assertQueue, type Link } from './link';
import { Publisher } from './publisher';
import {
  HEADER,
  deadLetterExchange,
  deadLetterQueue,
  type ExchangeDeclaration,
  type Names,
  type QueueDeclaration,
} from './topology';

/** How declarations are made: on a consumer's channel, or once per connection through the Link. */
interface Declarer {
  exchange(exchange: ExchangeDeclaration): Promise<void>;
  queue(queue: QueueDeclaration): Promise<void>;
  bind(queue: string, exchange: string, routingKey: string): Promise<void>;
}

export class DeadLetters {
  private readonly publisher: Publisher;

  constructor(
    private readonly link: Link,
    private readonly names: Names,
    /** false: log and drop instead (event option dead_letter: false). */
    private readonly enabled: boolean,
    private readonly logger: Logger,
  ) {
    this.publisher = new Publisher(link, true, logger);
  }

  /** Declare the dead-letter exchange, queue and binding on a consumer's channel (before consuming). */
  declareOn(channel: Channel): Promise<void> {
    return this.declareWith({
      exchange: (exchange) => assertExchange(channel, exchange, this.logger),
      queue: (queue) => assertQueue(channel, queue, this.logger),
      bind: async (queue, exchange, routingKey) => {
        await channel.bindQueue(queue, exchange, routingKey);
      },
    });
  }

  /** Declare the dead-letter exchange and queue (idempotent, once per connection). */
  async declare(): Promise<void> {
    if (!this.enabled) return;
    await this.declareWith({
      exchange: (exchange) => this.link.declareExchange(exchange),
      queue: (queue) => this.link.declareQueue(queue),
      bind: (queue, exchange, routingKey) => this.link.bind(queue, exchange, routingKey),
    });
  }

  /** The three declarations (exchange, queue, binding of everything), made by `declarer`. */
  private async declareWith(declarer: Declarer): Promise<void> {
    await declarer.exchange(deadLetterExchange(this.names));
    await declarer.queue(deadLetterQueue(this.names));
    await declarer.bind(this.names.deadLetter, this.names.deadLetter, '#');
  }

  /**
   * Set a delivery aside with a reason. Resolves true once it is safe to
   * acknowledge the original (copied, or dropped on purpose), false if the copy
   * failed (then reject the original without requeue, so the queue's own
   * dead-lettering, if any, takes it).
   */
  async setAside(delivery: Delivery, reason: string, queue: string): Promise<boolean> {
    const id = idForLog(delivery);
    if (!this.enabled) {
      this.logger.warn('Dropped a message that cannot be processed (dead_letter is off)', { id, queue, reason });
      return true;
    }
    const options = republishOptions(delivery, {
      [HEADER.deadLetterReason]: reason.slice(0, 4000),
      [HEADER.deadLetterQueue]: queue,
      [HEADER.deadLetterTime]: Date.now(),
      [HEADER.deadLetterId]: randomUUID(),
    });
    options.persistent = true;
    try {
      await this.declare();
      await this.publisher.publish(this.names.deadLetter, delivery.fields.routingKey, delivery.content, options);
      this.logger.warn('Message set aside in the dead-letter queue', {
        id,
        queue,
        reason,
        deadLetterQueue: this.names.deadLetter,
      });
      return true;
    } catch (error) {
      this.logger.error('Could not set a message aside in the dead-letter queue', {
        id,
        queue,
        reason,
        error: errorText(error),
      });
      return false;
    }
  }

  async close(): Promise<void> {
    await this.publisher.close();
  }
}

/**
 * Publish options that carry a delivery's properties over to a copy of it
 * (dead letter, classic-queue redelivery count), with `headers` added.
 */
export function republishOptions(
  delivery: Pick<Delivery, 'properties'>,
  headers: Record<string, unknown>,
): PublishOptions {
  const p = delivery.properties;
  return {
    headers: { ...(p.headers ?? {}), ...headers },
    persistent: p.deliveryMode === 2,
    ...(p.messageId !== undefined ? { messageId: p.messageId as string } : {}),
    ...(p.correlationId !== undefined ? { correlationId: p.correlationId as string } : {}),
    ...(p.contentType !== undefined ? { contentType: p.contentType as string } : {}),
    ...(p.contentEncoding !== undefined ? { contentEncoding: p.contentEncoding as string } : {}),
    ...(p.type !== undefined ? { type: p.type as string } : {}),
    ...(p.timestamp !== undefined ? { timestamp: p.timestamp as number } : {}),
    ...(p.appId !== undefined ? { appId: p.appId as string } : {}),
  };
}
