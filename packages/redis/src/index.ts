/**
 * @lightbus/redis: the Redis transport for Lightbus, all four roles (rpc,
 * result, event, schema), speaking Python Lightbus's wire format so that
 * TypeScript and Python services share one bus.
 *
 * ```yaml
 * apis:
 *   default:
 *     rpc_transport: {redis: {url: redis://127.0.0.1:6379/0}}
 *     result_transport: {redis: {url: redis://127.0.0.1:6379/0}}
 *     event_transport: {redis: {url: redis://127.0.0.1:6379/0}}
 * bus:
 *   schema: {transport: {redis: {url: redis://127.0.0.1:6379/0}}}
 * ```
 */
import { defineTransport } from '@lightbus/core/transport';
import { RedisEventTransport, redisCapabilities } from './event';
import { RedisEventOptions, RedisResultOptions, RedisRpcOptions, RedisSchemaOptions } from './options';
import { RedisResultTransport } from './result';
import { RedisRpcTransport } from './rpc';
import { RedisSchemaTransport } from './schema';

export const transport = defineTransport({
  name: 'redis',
  // Python Lightbus's Redis transport, same keys and wire format: core warns about what Python would refuse.
  pythonCompatible: true,
  capabilities: redisCapabilities,
  options: { rpc: RedisRpcOptions, result: RedisResultOptions, event: RedisEventOptions, schema: RedisSchemaOptions },
  rpc: (options, context) => new RedisRpcTransport(options, context),
  result: (options, context) => new RedisResultTransport(options, context),
  event: (options, context) => new RedisEventTransport(options, context),
  schema: (options, context) => new RedisSchemaTransport(options, context),
});

export {
  RedisEventOptions,
  RedisResultOptions,
  RedisRpcOptions,
  RedisSchemaOptions,
  DEFAULT_REDIS_URL,
} from './options';
export { RedisRpcTransport } from './rpc';
export { RedisResultTransport } from './result';
export { RedisEventTransport, redisCapabilities, groupStartId } from './event';
export { RedisSchemaTransport } from './schema';
export { RedisCommandError, ReplicationError } from './common';
export { deadLetterKey, rpcQueueKey, rpcExpiryKey, schemaKey, streamKey, SCHEMAS_SET_KEY, keyNames } from './wire';
export type { KeyNames, StreamUse } from './wire';
export type { KeyLayout } from './options';
