/**
 * Publishing on one lazily opened channel of a Link: with publisher confirms
 * (resolves when the broker has the message) or without (resolves once
 * written). Honours flow control (waits for 'drain'); a channel that closes is
 * replaced on the next publish.
 */
import { BrokerConnectionError, type Logger } from '@lightbus/core';
import { closeChannel, type Channel, type ConfirmChannel, type PublishOptions } from './adapter';
import { drained, type Link } from './link';

const DONE: Promise<void> = Promise.resolve();

export class Publisher {
  private channel: Promise<Channel> | undefined;
  /** The channel once open (publishing on it needs no await). */
  private ready: Channel | undefined;
  private drain: Promise<void> | undefined;

  constructor(
    private readonly link: Link,
    private readonly confirm: boolean,
    private readonly logger: Logger,
  ) {}

  private open(): Promise<Channel> {
    if (!this.channel) {
      const opening: Promise<Channel> = this.confirm ? this.link.confirmChannel() : this.link.channel();
      this.channel = opening;
      opening.then(
        (channel) => {
          if (this.channel === opening) this.ready = channel;
          channel.once('close', () => {
            if (this.ready === channel) this.ready = undefined;
            if (this.channel === opening) this.channel = undefined;
          });
        },
        () => {
          if (this.channel === opening) this.channel = undefined;
        },
      );
    }
    return this.channel;
  }

  /** Publish; with confirms, resolves once the broker confirmed and rejects if it refused (nack) or the channel closed first. */
  publish(exchange: string, routingKey: string, content: Buffer, options: PublishOptions): Promise<void> {
    // Hot path: the channel is open and not flow-controlled.
    if (this.ready && !this.drain) return this.send(this.ready, exchange, routingKey, content, options);
    return this.publishSlowly(exchange, routingKey, content, options);
  }

  private async publishSlowly(exchange: string, routingKey: string, content: Buffer, options: PublishOptions): Promise<void> {
    const channel = await this.open();
    while (this.drain) await this.drain;
    await this.send(channel, exchange, routingKey, content, options);
  }

  private send(channel: Channel, exchange: string, routingKey: string, content: Buffer, options: PublishOptions): Promise<void> {
    if (!this.confirm) {
      try {
        if (!channel.publish(exchange, routingKey, content, options)) this.waitForDrain(channel);
      } catch (error) {
        return Promise.reject(error);
      }
      return DONE;
    }
    return new Promise<void>((resolve, reject) => {
      const written = (channel as ConfirmChannel).publish(exchange, routingKey, content, options, (error: unknown) => {
        if (error === null || error === undefined) resolve();
        else reject(nackError(error, exchange, routingKey));
      });
      if (!written) this.waitForDrain(channel);
    });
  }

  private waitForDrain(channel: Channel): void {
    if (this.drain) return;
    this.logger.debug('AMQP channel write buffer full; waiting for it to drain');
    this.drain = drained(channel).finally(() => (this.drain = undefined));
  }

  async close(): Promise<void> {
    const opening = this.channel;
    this.channel = undefined;
    this.ready = undefined;
    if (!opening) return;
    const channel = await opening.catch(() => undefined);
    if (channel) await closeChannel(channel);
  }
}

function nackError(error: unknown, exchange: string, routingKey: string): Error {
  if (error instanceof Error && /nack/i.test(error.message)) {
    return new BrokerConnectionError(
      `RabbitMQ refused the message for ${exchange || '(default exchange)'} / ${routingKey} (negative confirm): a queue may be full ` +
        `(x-overflow reject-publish) or the broker is out of resources. See the broker's log.`,
      { cause: error },
    );
  }
  return error instanceof Error ? error : new Error(String(error));
}
