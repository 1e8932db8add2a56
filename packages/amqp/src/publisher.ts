/**
 * Publishing on one lazily opened channel of a Link: with publisher confirms
 * (resolves when the broker has the message) or without (resolves once
 * written). Honours flow control (waits for 'drain'); a channel that closes is
 * replaced on the next publish.
 */
import { setMaxListeners } from 'node:events';
import { BrokerConnectionError, msUntil, retry, type Logger } from '@lightbus/core/transport';
import {
  closeChannel,
  isClosedError,
  type Channel,
  type ConfirmChannel,
  type PublishOptions,
  type Returned,
} from './adapter';
import { drained, type Link } from './link';

const DONE: Promise<void> = Promise.resolve();

/** Deadlines within this many ms share one signal. */
const DEADLINE_GRAIN_MS = 10;
const deadlineSignals = new Map<number, AbortSignal>();

/**
 * A signal that aborts (with a TimeoutError) at `deadline` (ms since the epoch), rounded up to the next
 * DEADLINE_GRAIN_MS: the publishes whose deadlines fall in the same grain share it, so thousands of messages a
 * second arm a hundred timers, not one each (each expiry also builds a DOMException with its stack).
 */
function deadlineSignal(deadline: number): AbortSignal {
  const at = Math.ceil(deadline / DEADLINE_GRAIN_MS) * DEADLINE_GRAIN_MS;
  let signal = deadlineSignals.get(at);
  if (!signal) {
    signal = AbortSignal.timeout(Math.max(1, msUntil(at)));
    // Every publish of the grain that waits (for the channel, flow control or a declaration) listens to it for
    // the wait, and stops listening after: many at once is expected, not a leak.
    setMaxListeners(0, signal);
    deadlineSignals.set(at, signal);
    signal.addEventListener('abort', () => deadlineSignals.delete(at), { once: true });
  }
  return signal;
}

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

  /**
   * Publish; with confirms, resolves once the broker confirmed and rejects if it refused (nack) or the channel closed first.
   * `signal` (the caller's deadline) ends the waits before the message is written (connection, channel, flow control):
   * then it rejects with `signal.reason` and the message is never published later.
   */
  publish(
    exchange: string,
    routingKey: string,
    content: Buffer,
    options: PublishOptions,
    signal?: AbortSignal,
  ): Promise<void> {
    // Hot path: the channel is open and not flow-controlled.
    if (this.ready && !this.drain) return this.send(this.ready, exchange, routingKey, content, options);
    return this.publishSlowly(exchange, routingKey, content, options, signal);
  }

  /**
   * Publish until `deadline` (ms since the epoch): when the channel or the
   * connection goes away before the message is confirmed (or written), publish
   * it again (at least once); waits for a lost connection end at the deadline,
   * and then it rejects with the signal's TimeoutError: the message is never
   * published later. `prepare` runs before each attempt (declarations).
   */
  publishUntil(
    deadline: number,
    what: string,
    exchange: string,
    routingKey: string,
    content: Buffer,
    options: PublishOptions,
    prepare?: (signal: AbortSignal) => Promise<void>,
  ): Promise<void> {
    const signal = deadlineSignal(deadline);
    return retry(
      async () => {
        await prepare?.(signal);
        await this.publish(exchange, routingKey, content, options, signal);
      },
      {
        what,
        deadline,
        backoff: { initialMs: 50, maxMs: 1000 },
        retriable: (error) => isClosedError(error) && !this.link.isClosed && !signal.aborted,
        logger: this.logger,
      },
    );
  }

  private async publishSlowly(
    exchange: string,
    routingKey: string,
    content: Buffer,
    options: PublishOptions,
    signal?: AbortSignal,
  ): Promise<void> {
    const channel = await untilAborted(this.open(), signal);
    while (this.drain) await untilAborted(this.drain, signal);
    signal?.throwIfAborted();
    await this.send(channel, exchange, routingKey, content, options);
  }

  private send(
    channel: Channel,
    exchange: string,
    routingKey: string,
    content: Buffer,
    options: PublishOptions,
  ): Promise<void> {
    if (!this.confirm) {
      try {
        if (!channel.publish(exchange, routingKey, content, options)) this.waitForDrain(channel);
      } catch (error) {
        return Promise.reject(error);
      }
      return DONE;
    }
    return publishConfirmed(channel as ConfirmChannel, exchange, routingKey, content, options, () =>
      this.waitForDrain(channel),
    );
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

/**
 * Publish on a confirm channel: resolves once the broker confirmed, rejects if
 * it refused (nack) or the channel closed first. `full` is called when the
 * channel's write buffer is full (wait for 'drain' before writing more).
 */
export function publishConfirmed(
  channel: ConfirmChannel,
  exchange: string,
  routingKey: string,
  content: Buffer,
  options: PublishOptions,
  full: () => void,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    // mandatory: RabbitMQ returns (basic.return) a message no queue took, then still confirms it (basic.ack);
    // the return arrives first, so when the confirm comes the message is known to be returned or not.
    const returns = options.mandatory ? watchReturns(channel) : undefined;
    const id = options.messageId;
    if (returns && id === undefined)
      throw new Error('publishConfirmed: a mandatory message needs a messageId (returns are matched by it)');
    if (returns && id !== undefined) returns.set(id, undefined);
    let written: boolean;
    try {
      written = channel.publish(exchange, routingKey, content, options, (error: unknown) => {
        const returned = returns && id !== undefined ? returns.get(id) : undefined;
        if (returns && id !== undefined) returns.delete(id);
        if (error !== null && error !== undefined) reject(nackError(error, exchange, routingKey));
        else if (returned) reject(returned);
        else resolve();
      });
    } catch (error) {
      if (returns && id !== undefined) returns.delete(id);
      throw error;
    }
    if (!written) full();
  });
}

/** RabbitMQ gave a mandatory message back: no queue is bound to its routing key (for calls: the RPC queue is gone). */
export class ReturnedMessage extends Error {
  constructor(
    readonly exchange: string,
    readonly routingKey: string,
    readonly replyCode: number,
    readonly replyText: string,
  ) {
    super(
      `RabbitMQ returned the message for ${exchange || '(default exchange)'} / ${routingKey}: ${replyCode} ${replyText}`,
    );
    this.name = 'ReturnedMessage';
  }
}

/** Per confirm channel: mandatory messages awaiting their confirm, by message id, with the return if one came. */
const returnsOf = new WeakMap<Channel, Map<string, ReturnedMessage | undefined>>();

function watchReturns(channel: Channel): Map<string, ReturnedMessage | undefined> {
  let returns = returnsOf.get(channel);
  if (!returns) {
    const map = new Map<string, ReturnedMessage | undefined>();
    returns = map;
    returnsOf.set(channel, map);
    channel.on('return', (message: Returned) => {
      const id = message.properties.messageId as unknown;
      if (typeof id !== 'string' || !map.has(id)) return;
      const fields = message.fields as Returned['fields'] & { replyCode?: number; replyText?: string };
      map.set(
        id,
        new ReturnedMessage(
          fields.exchange,
          fields.routingKey,
          fields.replyCode ?? 312,
          fields.replyText ?? 'NO_ROUTE',
        ),
      );
    });
  }
  return returns;
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

/** `promise`, or a rejection with the signal's reason as soon as it aborts (what `promise` does next is not waited for). */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const abort = (): void => reject(signal.reason as Error);
    signal.addEventListener('abort', abort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', abort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', abort);
        reject(error as Error);
      },
    );
  });
}
