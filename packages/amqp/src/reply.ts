/**
 * Where results come back to a caller: one reply endpoint per result transport.
 *
 * - direct (default): RabbitMQ's direct reply-to. The endpoint consumes the
 *   pseudo-queue amq.rabbitmq.reply-to (no-ack) on a confirm channel; the call
 *   must be published on that same channel, so the rpc transport publishes
 *   through the endpoint (found by call id in `directCalls`). No queue is
 *   declared; a reply to a caller that is gone is dropped by the broker. When
 *   the channel is lost, results of calls in flight can no longer arrive: those
 *   callers get a BrokerConnectionError at once.
 * - queue: an exclusive, auto-delete queue with a fixed name per process,
 *   declared again (same name) after a reconnection, so results sent after
 *   the reconnection still reach callers in flight. Works with any rpc
 *   transport.
 *
 * Either way, results are routed to their caller by correlation id (= the call's id).
 */
import { randomBytes } from 'node:crypto';
import {
  BrokerConnectionError,
  ReplyMatcher,
  errorText,
  retry,
  type ExpectedCall,
  type Logger,
  type PendingResult,
  type TransportContext,
} from '@lightbus/core/transport';
import {
  closeChannel,
  isClosedError,
  type Channel,
  type ConfirmChannel,
  type Delivery,
  type PublishOptions,
} from './adapter';
import { decodeResult, returnPathFor } from './codec';
import { assertQueue, drained, type Link } from './link';
import { publishConfirmed } from './publisher';
import { DIRECT_REPLY_TO, replyQueue, type Names } from './topology';

export type ReplyMode = 'direct' | 'queue';

/** Calls waiting for a direct reply, by call id: the rpc transport publishes them through their endpoint. */
export const directCalls = new Map<string, ReplyEndpoint>();
/** Open direct-mode endpoints, for a call whose caller stopped waiting before it was sent (its reply is dropped anyway). */
const directEndpoints = new Set<ReplyEndpoint>();

/** The endpoint to publish a direct reply-to call through: the one waiting for it, else any on the same broker. */
export function directEndpointFor(callId: string, brokerKey: string): ReplyEndpoint | undefined {
  const waiting = directCalls.get(callId);
  if (waiting) return waiting;
  for (const endpoint of directEndpoints) if (endpoint.link.brokerKey === brokerKey) return endpoint;
  return undefined;
}

export class ReplyEndpoint {
  private readonly matcher: ReplyMatcher;
  private channel: Promise<Channel> | undefined;
  private current: Channel | undefined;
  private drain: Promise<void> | undefined;
  private closed = false;
  private readonly queueName: string | undefined;
  private restarting = false;
  /** Ends the waits of reopen() when the endpoint closes. */
  private readonly abort = new AbortController();

  constructor(
    readonly link: Link,
    readonly mode: ReplyMode,
    names: Names,
    context: TransportContext,
    private readonly logger: Logger,
  ) {
    this.matcher = new ReplyMatcher({ name: 'amqp result transport', logger });
    this.queueName =
      mode === 'queue'
        ? names.replyQueue(context.serviceName, context.processName, randomBytes(6).toString('hex'))
        : undefined;
    if (mode === 'direct') directEndpoints.add(this);
    // Queue mode: open the reply queue again as soon as the connection is back, so results sent from then on arrive.
    link.on('connected', () => {
      if (this.mode === 'queue' && !this.closed && this.matcher.size > 0 && !this.channel) void this.reopen();
    });
  }

  /** The reply address put into calls (reply_to). */
  get address(): string {
    return this.queueName ?? DIRECT_REPLY_TO;
  }

  expect(message: ExpectedCall): Promise<PendingResult> {
    // Hot path: the reply channel is open already.
    if (this.current && !this.closed) return Promise.resolve(this.pend(message));
    return this.open().then(() => this.pend(message));
  }

  private pend(message: ExpectedCall): PendingResult {
    // Closed while the reply channel opened: the matcher refuses, nothing would ever settle this call.
    if (this.mode !== 'direct') return this.matcher.expect(message, returnPathFor(this.address));
    const pending = this.matcher.expect(message, returnPathFor(this.address), () => {
      if (directCalls.get(message.id) === this) directCalls.delete(message.id);
    });
    directCalls.set(message.id, this);
    return pending;
  }

  /** Publish a call on the endpoint's channel (direct reply-to needs the caller's consuming channel). */
  publishCall(queue: string, content: Buffer, options: PublishOptions): Promise<void> {
    if (this.current && !this.drain) return this.send(this.current as ConfirmChannel, queue, content, options);
    return this.publishSlowly(queue, content, options);
  }

  private async publishSlowly(queue: string, content: Buffer, options: PublishOptions): Promise<void> {
    const channel = (await this.open()) as ConfirmChannel;
    while (this.drain) await this.drain;
    await this.send(channel, queue, content, options);
  }

  private send(channel: ConfirmChannel, queue: string, content: Buffer, options: PublishOptions): Promise<void> {
    return publishConfirmed(channel, '', queue, content, options, () => {
      this.drain ??= drained(channel).finally(() => (this.drain = undefined));
    });
  }

  private open(): Promise<Channel> {
    if (this.closed) return Promise.reject(this.link.closedError());
    if (!this.channel) {
      const opening = this.openChannel();
      this.channel = opening;
      opening.catch(() => {
        if (this.channel === opening) this.channel = undefined;
      });
    }
    return this.channel;
  }

  private async openChannel(): Promise<Channel> {
    const channel = this.mode === 'direct' ? await this.link.confirmChannel() : await this.link.channel();
    channel.once('close', () => this.lost(channel));
    try {
      if (this.queueName) await assertQueue(channel, replyQueue(this.queueName), this.link.log);
      await channel.consume(this.address, (delivery) => this.onReply(delivery), { noAck: true });
    } catch (error) {
      await closeChannel(channel);
      throw this.link.explain(error);
    }
    this.current = channel;
    return channel;
  }

  private onReply(delivery: Delivery | null): void {
    if (!delivery) {
      // Cancelled by the broker (reply queue deleted): open it again.
      if (this.current) void closeChannel(this.current);
      return;
    }
    // The correlation id says whose reply it is, even when the body cannot be read.
    const stated =
      typeof delivery.properties.correlationId === 'string' && delivery.properties.correlationId
        ? delivery.properties.correlationId
        : undefined;
    this.matcher.settle(decodeResult(delivery), stated);
  }

  private lost(channel: Channel): void {
    if (this.current === channel) this.current = undefined;
    this.channel = undefined;
    if (this.closed) return;
    if (this.mode === 'direct') {
      // The pseudo-queue belonged to that channel: no result for these calls can arrive any more.
      this.matcher.failAll(
        new BrokerConnectionError(
          'The connection to RabbitMQ was lost while this call waited for its result (direct reply-to cannot deliver it on a new ' +
            'connection). The call may or may not have run; call again if that is safe.',
        ),
      );
    } else if (this.matcher.size > 0 && !this.link.isClosed) {
      void this.reopen();
    }
  }

  /** Queue mode: declare and consume the reply queue again, with backoff, while callers wait. */
  private async reopen(): Promise<void> {
    if (this.restarting) return;
    this.restarting = true;
    const waited = (): boolean => !this.closed && this.matcher.size > 0;
    try {
      await retry(
        async () => {
          if (waited()) await this.open();
        },
        {
          what: 'Opening the reply queue again',
          backoff: { initialMs: 100, maxMs: 5000 },
          signal: this.abort.signal,
          // While callers wait for results and the endpoint is open.
          retriable: waited,
          onRetry: (error) => {
            if (!isClosedError(error))
              this.logger.warn('Could not open the reply queue again; retrying', { error: errorText(error) });
          },
        },
      );
    } catch {
      // Closed, or nobody waits any more: nothing to reopen for.
    } finally {
      this.restarting = false;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.abort.abort();
    directEndpoints.delete(this);
    // Calls still waiting get their answer now: no result can reach a closed endpoint.
    this.matcher.close();
    const opening = this.channel;
    this.channel = undefined;
    const channel = opening ? await opening.catch(() => undefined) : undefined;
    if (channel) await closeChannel(channel);
  }
}
