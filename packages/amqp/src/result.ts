/**
 * The result role. Caller side: a reply endpoint (direct reply-to or a
 * per-process reply queue, see reply.ts) where results are matched to calls by
 * correlation id. Worker side: results are published to the default exchange
 * with the call's reply address as routing key, correlation id = call id.
 * Results are transient and at most once: a result for a caller that is gone
 * is dropped by the broker.
 */
import {
  deadlineOf,
  foreignReturnPath,
  type PendingResult,
  type ResultMessage,
  type ResultTransport,
  type OutgoingCall,
  type RpcMessage,
  type TransportContext,
  type ConnectionHealth,
} from '@lightbus/core/transport';
import { encodeResult, replyAddressOf } from './codec';
import { Link } from './link';
import type { AmqpResultOptions } from './options';
import { Publisher } from './publisher';
import { ReplyEndpoint } from './reply';
import { linkSettings } from './settings';
import { DIRECT_REPLY_TO, Names } from './topology';

export class AmqpResultTransport implements ResultTransport {
  private readonly link: Link;
  private readonly endpoint: ReplyEndpoint;
  /** Results need no confirms (at most once): written to the socket, done. */
  private readonly publisher: Publisher;

  constructor(options: AmqpResultOptions, context: TransportContext) {
    this.link = new Link(linkSettings(options, 'result', context), 'result', context.logger);
    this.endpoint = new ReplyEndpoint(
      this.link,
      // Through a config it is always set (chosen from the rpc transport when left out); made by hand: direct.
      options.reply_mode ?? 'direct',
      new Names(options.prefix),
      context,
      context.logger,
    );
    this.publisher = new Publisher(this.link, false, context.logger);
  }

  /** The deadline is core's to apply; the endpoint only routes the reply. */
  expectResult(message: OutgoingCall): Promise<PendingResult> {
    return this.endpoint.expect(message);
  }

  async sendResult(call: RpcMessage, result: ResultMessage): Promise<void> {
    const address = replyAddressOf(call.returnPath);
    if (address === undefined) throw foreignReturnPath('amqp', call, 'amqp:<reply queue>');
    if (address === DIRECT_REPLY_TO) {
      // The broker rewrites amq.rabbitmq.reply-to when the call is published over AMQP; unrewritten, it came another way.
      throw foreignReturnPath(
        'amqp',
        call,
        'amqp:<reply queue>',
        `the call asks for a direct reply (amq.rabbitmq.reply-to) but did not travel over AMQP, and only RabbitMQ can route a ` +
          `direct reply. With a non-amqp rpc transport, leave result_transport.amqp.reply_mode unset (or set it to queue) for API '${call.apiName}'`,
      );
    }
    const encoded = encodeResult(call, result);
    // Until the call's deadline: after it, nobody waits for this result.
    await this.publisher.publishUntil(
      deadlineOf(call),
      `Sending the result of ${call.apiName}.${call.procedureName}() (call ${call.id})`,
      '',
      address,
      encoded.content,
      encoded.properties,
    );
  }

  /** The link this role has opened, and whether it is up (for `bus.health()`). */
  connections(): ConnectionHealth[] {
    const health = this.link.health();
    return health ? [health] : [];
  }

  async close(): Promise<void> {
    await this.endpoint.close();
    await this.publisher.close();
    await this.link.close();
  }
}
