/**
 * What RPC and event consumers share: a channel set up by `setup()` (declare,
 * qos, basic.consume), set up again with backoff whenever it is lost (channel
 * or connection closed, consumer cancelled by the broker), and a stop() that
 * cancels, lets the subclass finish its work, and closes the channel.
 */
import { LightbusError, errorText, retry, type Logger } from '@lightbus/core/transport';
import { closeChannel, isClosedError, type Channel, type Delivery } from './adapter';
import type { Link } from './link';

/** How many times the first setup is tried when the connection drops under it. */
const FIRST_SETUP_ATTEMPTS = 5;

export abstract class RestartingConsumer {
  protected channel: Channel | undefined;
  protected stopping = false;
  private readonly tags: string[] = [];
  private restarting: Promise<void> | undefined;
  /** The first setup succeeded; until then a lost channel is firstOpen()'s to retry, not restart()'s. */
  private started = false;
  /** The first setup, while it runs: stop() waits for it, so nothing it starts outlives the stop. */
  private starting: Promise<void> | undefined;
  private readonly abort = new AbortController();
  private stopped: Promise<void> | undefined;

  /** Aborted when stop() is called: ends waits (and stream reads) the consumer started. */
  protected get stopSignal(): AbortSignal {
    return this.abort.signal;
  }

  constructor(
    protected readonly link: Link,
    protected readonly logger: Logger,
    /** For logs: "consumer of group svc-notify", ... */
    protected readonly what: string,
  ) {}

  /** Declare what is needed and start consuming on `channel` (call consumeFrom for each queue). */
  protected abstract setup(channel: Channel, first: boolean): Promise<void>;
  /** Handle one delivery that arrived on `channel`. */
  protected abstract deliver(channel: Channel, message: Delivery): void;
  /** After basic.cancel: finish work in hand (handlers, acks). */
  protected abstract drain(): Promise<void>;
  /** The channel is gone: forget deliveries received on it (the broker gives them back). */
  protected channelLost(_channel: Channel): void {}

  /** First setup: errors reach the caller of consume(); stopped meanwhile (the transport closed), it fails with BusClosedError. */
  async start(): Promise<void> {
    this.starting = this.firstOpen();
    await this.starting;
  }

  /**
   * The first setup, again on the next connection when the connection or channel
   * dropped under it (a broker restart, or RabbitMQ closing a connection on an
   * internal error, as 3.10 does when a quorum queue is consumed right after another
   * connection declared it). What RabbitMQ refuses (arguments, permissions) fails at once.
   */
  private async firstOpen(): Promise<void> {
    await retry(() => this.open(true), {
      what: `Starting the ${this.what}`,
      attempts: FIRST_SETUP_ATTEMPTS,
      backoff: { initialMs: 100, maxMs: 2000 },
      signal: this.abort.signal,
      // A dropped connection or channel: set up again on the next one. What RabbitMQ refused fails at once.
      retriable: (error) =>
        !(error instanceof LightbusError) && isClosedError(error) && !this.stopping && !this.link.isClosed,
      onRetry: (error, attempt) =>
        this.logger.warn(`The connection dropped while starting the ${this.what}; starting it again`, {
          attempt,
          error: errorText(error),
        }),
    });
    this.started = true;
    // The channel closed just as the setup finished: from now on, lost channels are set up again by restart().
    if (!this.channel && !this.stopping && !this.link.isClosed)
      this.restarting ??= this.restart().finally(() => (this.restarting = undefined));
  }

  protected async consumeFrom(channel: Channel, queue: string, args?: Record<string, unknown>): Promise<void> {
    const { consumerTag } = await channel.consume(
      queue,
      (message) => {
        if (message === null) {
          // The broker cancelled this consumer (queue deleted, leader moved): start again.
          if (!this.stopping) {
            this.logger.warn(`RabbitMQ cancelled the ${this.what} (was queue ${queue} deleted?); consuming again`);
            this.link.forgetDeclarations();
            void closeChannel(channel);
          }
          return;
        }
        this.deliver(channel, message);
      },
      { noAck: false, ...(args ? { arguments: args } : {}) },
    );
    if (this.channel === channel) this.tags.push(consumerTag);
  }

  private async open(first: boolean): Promise<void> {
    // The abort signal ends a wait for a lost connection when stop() is called.
    const channel = await this.link.channel(this.abort.signal);
    if (this.stopping) {
      await closeChannel(channel);
      throw this.link.closedError();
    }
    this.channel = channel;
    this.tags.length = 0;
    channel.once('close', () => this.lost(channel));
    try {
      await this.setup(channel, first);
    } catch (error) {
      if (this.channel === channel) this.channel = undefined;
      await closeChannel(channel);
      throw this.stopping ? this.link.closedError() : this.link.explain(error);
    }
    // Stopped during setup: stop() (waiting for this) cancels, drains and closes the channel.
    if (this.stopping) throw this.link.closedError();
  }

  private lost(channel: Channel): void {
    if (this.channel !== channel) return;
    this.channel = undefined;
    this.tags.length = 0;
    this.channelLost(channel);
    if (this.stopping || this.link.isClosed || !this.started) return;
    this.restarting ??= this.restart().finally(() => (this.restarting = undefined));
  }

  private async restart(): Promise<void> {
    const gone = (): boolean => this.stopping || this.link.isClosed;
    try {
      await retry(
        async () => {
          if (!gone()) await this.open(false);
        },
        {
          what: `Resuming the ${this.what}`,
          delayFirst: true,
          backoff: { initialMs: 100, maxMs: 10_000 },
          signal: this.abort.signal,
          // Until it works, or the consumer or its connection stops.
          retriable: () => !gone(),
          onRetry: (error, attempt) =>
            this.logger[isClosedError(error) ? 'debug' : 'error'](`Could not resume the ${this.what}; trying again`, {
              attempt,
              error: errorText(error),
            }),
        },
      );
    } catch {
      return; // stopped meanwhile
    }
    if (!gone()) this.logger.info(`Resumed the ${this.what}`);
  }

  private async cancel(): Promise<void> {
    const channel = this.channel;
    const tags = this.tags.splice(0);
    if (!channel) return;
    await Promise.all(tags.map((tag) => channel.cancel(tag).catch(() => undefined)));
  }

  /** Stop taking work, finish and acknowledge what is in hand, close the channel. Idempotent. */
  stop(): Promise<void> {
    this.stopped ??= this.shutdown();
    return this.stopped;
  }

  private async shutdown(): Promise<void> {
    this.stopping = true;
    this.abort.abort();
    await this.starting?.catch(() => undefined);
    await this.restarting;
    await this.cancel();
    await this.drain();
    const channel = this.channel;
    this.channel = undefined;
    if (channel) await closeChannel(channel);
  }
}

/** Acknowledge on the channel the message came on; if that channel is gone, the broker gives the message back anyway. */
export function ack(channel: Channel, delivery: Delivery): void {
  try {
    channel.ack(delivery);
  } catch {
    // Channel closed: nothing to acknowledge any more.
  }
}

export function nack(channel: Channel, delivery: Delivery, requeue: boolean): void {
  try {
    channel.nack(delivery, false, requeue);
  } catch {
    // Channel closed: the broker gives the message back to the queue.
  }
}
