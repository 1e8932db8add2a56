/**
 * The rpc role: calls go to one classic queue per API (`<prefix>.rpc.<api>`),
 * declared by callers and workers alike, so a call made before any worker
 * started waits there until its deadline. The workers of an API consume that
 * queue as competing consumers with prefetch = concurrency, acknowledging a
 * call after executing it.
 *
 * At most once: a call is dropped unexecuted when its deadline passed (the
 * broker also drops it at its expiration), and when the broker redelivers it
 * (the worker that had it died or lost its connection mid-call, so it may have
 * run). Calls are transient messages: a broker restart loses calls waiting.
 */
import {
  BrokerConnectionError,
  ConsumerSet,
  InFlight,
  TransportCapabilityError,
  errorText,
  isPast,
  type ConsumeRpcsOptions,
  type Consumer,
  type ConnectionHealth,
  type Logger,
  type RpcHandler,
  type OutgoingRpcMessage,
  type RpcMessage,
  type RpcTransport,
  type TransportContext,
} from '@lightbus/core/transport';
import { isClosedError, type Channel, type Delivery } from './adapter';
import { decodeCall, encodeCall, idForLog } from './codec';
import { RestartingConsumer, ack } from './consumer';
import { DeadLetters } from './dead-letter';
import { assertQueue, Link } from './link';
import type { AmqpRpcOptions } from './options';
import { Publisher, ReturnedMessage } from './publisher';
import { RpcQueueMissingError } from './errors';
import { directEndpointFor } from './reply';
import { DIRECT_REPLY_TO, Names, rpcQueue, type QueueDeclaration } from './topology';
import { linkSettings } from './settings';

export class AmqpRpcTransport implements RpcTransport {
  /** Consuming calls (workers). */
  private readonly link: Link;
  /** Publishing calls (reply_mode queue or a non-amqp result transport) and dead letters. */
  private readonly publishLink: Link;
  private readonly names: Names;
  private readonly publisher: Publisher;
  private readonly deadLetters: DeadLetters;
  private readonly consumers = new ConsumerSet();
  private readonly queues = new Map<string, QueueDeclaration>();

  constructor(
    private readonly options: AmqpRpcOptions,
    private readonly context: TransportContext,
  ) {
    this.link = new Link(linkSettings(options, 'rpc', context, 'consumer'), 'rpc', context.logger, 'consumer');
    this.publishLink = new Link(linkSettings(options, 'rpc', context, 'publisher'), 'rpc', context.logger, 'publisher');
    this.names = new Names(options.prefix);
    this.publisher = new Publisher(this.publishLink, true, context.logger);
    this.deadLetters = new DeadLetters(this.publishLink, this.names, true, context.logger);
  }

  async callRpc(message: OutgoingRpcMessage): Promise<void> {
    try {
      await this.send(message);
    } catch (error) {
      if (!isClosedError(error) || this.publishLink.isClosed) throw error;
      // Not sent again: the broker may have it already, and a call runs at most once.
      throw new BrokerConnectionError(
        `The connection to RabbitMQ closed while sending the call to ${message.apiName}.${message.procedureName}(); ` +
          `it may or may not have been delivered. Call again if that is safe.`,
        { cause: error },
      );
    }
  }

  private async send(message: OutgoingRpcMessage): Promise<void> {
    const encoded = encodeCall(message);
    // mandatory: if no queue takes the call (its queue was deleted), RabbitMQ returns it instead of dropping it silently.
    const properties = { ...encoded.properties, mandatory: true };
    let queue = this.queues.get(message.apiName);
    if (!queue) this.queues.set(message.apiName, (queue = rpcQueue(this.names, message.apiName)));
    if (encoded.properties.replyTo === DIRECT_REPLY_TO) {
      // Direct reply-to: publish on the channel that consumes the reply.
      const endpoint = directEndpointFor(message.id, this.link.brokerKey);
      if (!endpoint) {
        throw new TransportCapabilityError(
          `Call ${message.apiName}.${message.procedureName}() asks for a direct reply (amq.rabbitmq.reply-to) but no amqp result ` +
            `transport in this process waits for it. Prepare the result first (expectResult), or use result_transport.amqp.reply_mode: queue.`,
        );
      }
      if (endpoint.link.brokerKey !== this.link.brokerKey) {
        throw new TransportCapabilityError(
          `API '${message.apiName}': direct reply-to needs the rpc and result transports on the same RabbitMQ (url, vhost and user); ` +
            `they are ${this.link.where} and ${endpoint.link.where}. Use one url for both, or result_transport.amqp.reply_mode: queue.`,
        );
      }
      await endpoint.link.declareQueue(queue);
      await this.returnedAsError(
        message,
        queue.name,
        endpoint.link,
        endpoint.publishCall(queue.name, encoded.content, properties),
      );
      return;
    }
    await this.publishLink.declareQueue(queue);
    await this.returnedAsError(
      message,
      queue.name,
      this.publishLink,
      this.publisher.publish('', queue.name, encoded.content, properties),
    );
  }

  /**
   * A call RabbitMQ returned (mandatory, no queue took it): its API's queue was deleted after `link` declared it.
   * The call fails at once, rather than at its timeout, and the queue is declared again for the next call.
   */
  private async returnedAsError(
    message: RpcMessage,
    queue: string,
    link: Link,
    publishing: Promise<void>,
  ): Promise<void> {
    try {
      await publishing;
    } catch (error) {
      if (!(error instanceof ReturnedMessage)) throw error;
      link.forgetDeclarations();
      this.context.logger.warn(
        `RabbitMQ returned a call to ${message.apiName}.${message.procedureName}(): queue ${queue} does not exist (deleted?)`,
        {
          id: message.id,
          queue,
          reply: `${error.replyCode} ${error.replyText}`,
        },
      );
      throw new RpcQueueMissingError(
        `The call to ${message.apiName}.${message.procedureName}() was not delivered: RabbitMQ returned it because the queue ${queue} of ` +
          `API '${message.apiName}' no longer exists (it was deleted after this process declared it: by an operator, a script or a ` +
          `policy). It reached no worker and did not run, so calling again is safe; the queue is declared again on the next call, and ` +
          `running workers declare it again when RabbitMQ cancels their consumers. If this keeps happening, find out what deletes ${queue}.`,
        { cause: error, retriable: true },
      );
    }
  }

  async consumeRpcs(apiNames: readonly string[], handler: RpcHandler, options?: ConsumeRpcsOptions): Promise<Consumer> {
    return this.consumers.start(
      new RpcConsumer(this.link, this.context.logger, apiNames, handler, this.options, this.names, this.deadLetters),
      options?.signal,
    );
  }

  /** The links this role has opened, and whether each is up (for `bus.health()`). */
  connections(): ConnectionHealth[] {
    return [this.link.health(), this.publishLink.health()].filter((h): h is ConnectionHealth => h !== undefined);
  }

  async close(): Promise<void> {
    await this.consumers.stopAll();
    await this.publisher.close();
    await this.deadLetters.close();
    await Promise.all([this.link.close(), this.publishLink.close()]);
  }
}

class RpcConsumer extends RestartingConsumer {
  private readonly inFlight = new InFlight();

  constructor(
    link: Link,
    logger: Logger,
    private readonly apiNames: readonly string[],
    private readonly handler: RpcHandler,
    private readonly options: AmqpRpcOptions,
    private readonly names: Names,
    private readonly deadLetters: DeadLetters,
  ) {
    super(link, logger, `RPC consumer of ${apiNames.join(', ')}`);
  }

  protected async setup(channel: Channel): Promise<void> {
    // Per-consumer prefetch: each API's queue gives this worker at most `prefetch` calls at once.
    await channel.prefetch(this.options.prefetch, false);
    for (const apiName of this.apiNames) {
      const queue = rpcQueue(this.names, apiName);
      await assertQueue(channel, queue, this.link.log);
      await this.consumeFrom(channel, queue.name);
    }
  }

  protected deliver(channel: Channel, delivery: Delivery): void {
    void this.inFlight.track(this.execute(channel, delivery));
  }

  private async execute(channel: Channel, delivery: Delivery): Promise<void> {
    try {
      const decoded = decodeCall(delivery);
      if (!decoded.ok) {
        await this.deadLetters.setAside(
          delivery,
          `cannot be decoded as a call: ${decoded.reason}`,
          delivery.fields.routingKey,
        );
        return;
      }
      const call = decoded.value;
      if (delivery.fields.redelivered) {
        this.logger.warn(
          `Dropped a redelivered call to ${call.apiName}.${call.procedureName}(): the worker that had it stopped mid-call, so it may have run (at most once)`,
          {
            id: call.id,
          },
        );
        return;
      }
      if (isPast(call.deadline)) {
        this.logger.debug('Dropped a call past its deadline', {
          id: call.id,
          api: call.apiName,
          procedure: call.procedureName,
        });
        return;
      }
      await this.handler(call);
    } catch (error) {
      this.logger.error('RPC handler failed', { id: idForLog(delivery), error: errorText(error) });
    } finally {
      ack(channel, delivery);
    }
  }

  protected async drain(): Promise<void> {
    await this.inFlight.drain();
  }
}
