/**
 * The memory transport: all four roles inside one process. The default when a
 * config names no transport; used by the quickstart and by unit tests. Messages
 * travel as JSON text, as they would over a broker, so values JSON cannot carry
 * show up here first.
 */
import { Type } from '@sinclair/typebox';
import { defineTransport } from '../interfaces';
import { deliveryLimitOption } from '../kit/settle';
import { memoryCapabilities, MemoryEventTransport } from './events';
import { MemoryResultTransport } from './result';
import { MemoryRpcTransport } from './rpc';
import { MemorySchemaTransport } from './schema';

export { memoryBroker, resetMemoryBroker, MemoryBroker } from './broker';
export type { MemoryDeadLetter } from './broker';
export { memoryCapabilities } from './events';

const BrokerName = Type.String({
  minLength: 1,
  default: 'default',
  description: 'Which in-process broker to use; buses with the same name share messages.',
});

export const MemoryRpcOptions = Type.Object(
  {
    name: BrokerName,
    concurrency: Type.Integer({ minimum: 1, default: 10, description: 'Calls a worker executes at once.' }),
  },
  { additionalProperties: false },
);
export const MemoryBrokerOptions = Type.Object({ name: BrokerName }, { additionalProperties: false });
export const MemoryEventOptions = Type.Object(
  {
    name: BrokerName,
    max_stream_length: Type.Integer({
      minimum: 1,
      default: 10000,
      description: 'Events kept per event stream for replay and history; older ones are dropped.',
    }),
    delivery_limit: deliveryLimitOption(),
  },
  { additionalProperties: false },
);

export const memoryTransport = defineTransport({
  name: 'memory',
  capabilities: memoryCapabilities,
  options: {
    rpc: MemoryRpcOptions,
    result: MemoryBrokerOptions,
    event: MemoryEventOptions,
    schema: MemoryBrokerOptions,
  },
  rpc: (options, context) => new MemoryRpcTransport(options, context),
  result: (options, context) => new MemoryResultTransport(options, context),
  event: (options, context) => new MemoryEventTransport(options, context),
  schema: (options) => new MemorySchemaTransport(options),
});
