/**
 * Setting messages aside: a copy goes to the dead-letter exchange
 * `<prefix>.dead-letter` (topic, routed by the original routing key) and on to
 * the queue `<prefix>.dead-letter`, with the reason in headers; only once the
 * broker confirmed the copy is the original acknowledged. Messages the broker
 * dead-letters itself (delivery limit, ttl, max length) take the same way, with
 * RabbitMQ's x-death headers.
 */
import { errorText, type Logger } from '@lightbus/core';
import type { Channel, Delivery, PublishOptions } from './adapter';
import { idForLog } from './codec';
import { assertExchange, assertQueue, type Link } from './link';
import { Publisher } from './publisher';
import { HEADER, deadLetterExchange, deadLetterQueue, type Names } from './topology';

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
  async declareOn(channel: Channel, logger: Logger): Promise<void> {
    await assertExchange(channel, deadLetterExchange(this.names), logger);
    await assertQueue(channel, deadLetterQueue(this.names), logger);
    await channel.bindQueue(this.names.deadLetter, this.names.deadLetter, '#');
  }

  /** Declare the dead-letter exchange and queue (idempotent, once per connection). */
  async declare(): Promise<void> {
    if (!this.enabled) return;
    await this.link.declareExchange(deadLetterExchange(this.names));
    await this.link.declareQueue(deadLetterQueue(this.names));
    await this.link.bind(this.names.deadLetter, this.names.deadLetter, '#');
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
    });
    options.persistent = true;
    try {
      await this.declare();
      await this.publisher.publish(this.names.deadLetter, delivery.fields.routingKey, delivery.content, options);
      this.logger.warn('Message set aside in the dead-letter queue', { id, queue, reason, deadLetterQueue: this.names.deadLetter });
      return true;
    } catch (error) {
      this.logger.error('Could not set a message aside in the dead-letter queue', { id, queue, reason, error: errorText(error) });
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
export function republishOptions(delivery: Delivery, headers: Record<string, unknown>): PublishOptions {
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
