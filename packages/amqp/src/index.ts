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
import { defineTransport } from '@lightbus/core/transport';
import { AmqpEventTransport, eventCapabilities } from './events';
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
export { AmqpDeclarationError, RpcQueueMissingError, StreamReadError } from './errors';
export { HEADER, MESSAGE_TYPE, Names } from './topology';

export const transport = defineTransport({
  name: 'amqp',
  // With default options (stream: false): no replay, no history. An event transport reports its own.
  capabilities: eventCapabilities({ stream: false }),
  options: { rpc: AmqpRpcOptions, result: AmqpResultOptions, event: AmqpEventOptions, schema: AmqpSchemaOptions },
  rpc: (options, context) => new AmqpRpcTransport(options, context),
  result: (options, context) => new AmqpResultTransport(options, context),
  event: (options, context) => new AmqpEventTransport(options, context),
  schema: (options, context) => new AmqpSchemaTransport(options, context),
  checkRoles: (roles, apiPath) => {
    // A direct reply (amq.rabbitmq.reply-to) can only answer a call that RabbitMQ carried.
    if (
      roles.result.name !== 'amqp' ||
      roles.rpc.name === 'amqp' ||
      (roles.result.options.reply_mode ?? 'direct') !== 'direct'
    )
      return [];
    return [
      {
        path: `${apiPath}.result_transport.amqp.reply_mode`,
        message:
          `'direct' (the default) answers over RabbitMQ's direct reply-to, which works only for calls sent over amqp, ` +
          `but this API's rpc_transport is '${roles.rpc.name}': set reply_mode: queue (a reply queue per process), ` +
          `or carry calls on amqp too`,
      },
    ];
  },
});

export default transport;
