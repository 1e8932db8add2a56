import { busConformance } from '@lightbus/testing/jest';
import { memoryBroker, resetMemoryBroker } from '..';

// The bus-level tier on the memory transport: one process, so the scenarios across processes
// are reported as skipped (crossProcess), and so is the connection cut (no broker to cut).
busConformance({
  name: 'memory',
  capabilities: {
    crossProcess: false,
    durable: true,
    consumerGroups: true,
    replay: true,
    history: true,
    ordering: 'per-stream',
  },
  readsDeadLetters: true,
  canInjectMalformedEvents: true,
  patience: 5000,
  namespace(apiName) {
    const name = `bus-tier-${apiName}`;
    const role = { memory: { name } };
    return {
      config: () => ({
        bus: { schema: { transport: role } },
        apis: { default: { rpc_transport: role, result_transport: role, event_transport: role } },
      }),
      injectMalformedEvent: async (api, eventName) => {
        memoryBroker(name).stream(`${api}.${eventName}`, 10000).append(api, eventName, '{not json');
      },
      deadLetters: async () => memoryBroker(name).deadLetters.filter((d) => d.kind === 'event'),
      cleanup: async () => resetMemoryBroker(name),
    };
  },
});
