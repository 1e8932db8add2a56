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
import { defineTransport, redactUrl, type ApiRoleSelections } from '@lightbus/core/transport';
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

/**
 * Why a direct reply (amq.rabbitmq.reply-to) cannot answer this API's calls, if it cannot: RabbitMQ routes one
 * only for a call it carried, on the same broker (host, port, user and vhost).
 */
function directReplyProblem(roles: ApiRoleSelections): string | undefined {
  if (roles.rpc.name !== 'amqp') return `this API's rpc_transport is '${roles.rpc.name}', not amqp`;
  // Options come with their schema defaults filled: both have a url.
  const [rpcUrl, resultUrl] = [String(roles.rpc.options.url), String(roles.result.options.url)];
  if (sameBroker(rpcUrl, resultUrl)) return undefined;
  return `the rpc and result transports are on different RabbitMQ brokers (${redactUrl(rpcUrl)} and ${redactUrl(resultUrl)})`;
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
  roleDefaults: (roles) => {
    if (roles.result.name !== 'amqp') return [];
    const direct = directReplyProblem(roles);
    return [
      {
        role: 'result',
        key: 'reply_mode',
        value: direct === undefined ? 'direct' : 'queue',
        reason:
          direct === undefined
            ? 'calls travel over amqp on the same broker, so results use its direct reply-to'
            : `direct reply-to would not work: ${direct}`,
      },
    ];
  },
  checkRoles: (roles, apiPath) => {
    // Reached with 'direct' only when the user set it: the default is chosen by roleDefaults above.
    if (roles.result.name !== 'amqp' || roles.result.options.reply_mode !== 'direct') return [];
    const problem = directReplyProblem(roles);
    if (problem === undefined) return [];
    return [
      {
        path: `${apiPath}.result_transport.amqp.reply_mode`,
        message: `'direct' answers over RabbitMQ's direct reply-to, but ${problem}: remove reply_mode (the default then picks 'queue') or set reply_mode: queue, or carry calls on amqp on the same broker`,
      },
    ];
  },
});

export default transport;
