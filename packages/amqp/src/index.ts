/**
 * @lightbus/amqp: the Lightbus transport for RabbitMQ (AMQP 0-9-1, on
 * amqplib) for all four roles. Name it in lightbus.yaml:
 *
 *   apis:
 *     default:
 *       rpc_transport:    {amqp: {url: amqp://guest:guest@127.0.0.1:5672/}}
 *       result_transport: {amqp: {url: amqp://guest:guest@127.0.0.1:5672/}}
 *       event_transport:  {amqp: {url: amqp://guest:guest@127.0.0.1:5672/}}
 *
 * Topology and guarantees: docs/explanation/amqp-topology.md; every option:
 * docs/reference/transports/amqp.md.
 */
import { defineTransport, redactUrl } from '@lightbus/core/transport';
import { AmqpEventTransport, eventCapabilities } from './events';
import { brokerKeyOf } from './link';
import { AmqpEventOptions, AmqpResultOptions, AmqpRpcOptions, AmqpSchemaOptions } from './options';
import { AmqpResultTransport } from './result';
import { AmqpRpcTransport } from './rpc';
import { AmqpSchemaTransport } from './schema';

export { AmqpEventOptions, AmqpResultOptions, AmqpRpcOptions, AmqpSchemaOptions } from './options';
export type { AmqpConnectionOptions } from './options';
export { AmqpRpcTransport } from './rpc';
export { AmqpResultTransport } from './result';
export { AmqpEventTransport, eventCapabilities } from './events';
export { AmqpSchemaTransport } from './schema';
export { AmqpDeclarationError, DeadLetterTargetMissingError, RpcQueueMissingError, StreamReadError } from './errors';
export { HEADER, MESSAGE_TYPE, Names } from './topology';

/** Two urls of one broker; a url that does not parse is left to the options check, which names it. */
function sameBroker(a: string, b: string): boolean {
  try {
    return brokerKeyOf(a) === brokerKeyOf(b);
  } catch {
    return true;
  }
}

export const transport = defineTransport({
  name: 'amqp',
  // With default options (stream: false): no replay, no history; `stream: true` gives both.
  capabilities: eventCapabilities({ stream: false }),
  eventCapabilities,
  options: { rpc: AmqpRpcOptions, result: AmqpResultOptions, event: AmqpEventOptions, schema: AmqpSchemaOptions },
  rpc: (options, context) => new AmqpRpcTransport(options, context),
  result: (options, context) => new AmqpResultTransport(options, context),
  event: (options, context) => new AmqpEventTransport(options, context),
  schema: (options, context) => new AmqpSchemaTransport(options, context),
  checkRoles: (roles, apiPath) => {
    // A direct reply (amq.rabbitmq.reply-to) can only answer a call that RabbitMQ carried, on the same broker.
    if (roles.result.name !== 'amqp' || (roles.result.options.reply_mode ?? 'direct') !== 'direct') return [];
    const path = `${apiPath}.result_transport.amqp.reply_mode`;
    if (roles.rpc.name !== 'amqp')
      return [
        {
          path,
          message:
            `'direct' (the default) answers over RabbitMQ's direct reply-to, which works only for calls sent over amqp, ` +
            `but this API's rpc_transport is '${roles.rpc.name}': set reply_mode: queue (a reply queue per process), ` +
            `or carry calls on amqp too`,
        },
      ];
    // Options come with their defaults filled: both have a url.
    const [rpcUrl, resultUrl] = [String(roles.rpc.options.url), String(roles.result.options.url)];
    if (sameBroker(rpcUrl, resultUrl)) return [];
    return [
      {
        path,
        message:
          `'direct' (the default) answers over RabbitMQ's direct reply-to, which needs the rpc and result transports on ` +
          `the same RabbitMQ (host, port, user and vhost), but they are ${redactUrl(rpcUrl)} and ${redactUrl(resultUrl)}: ` +
          `use one url for both, or set reply_mode: queue`,
      },
    ];
  },
});

export default transport;
