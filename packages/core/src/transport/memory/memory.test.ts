import { transportConformance } from '@lightbus/testing/jest';
import { memoryTransport, memoryBroker, resetMemoryBroker } from '..';
import type { TransportContext } from '../interfaces';

let run = 0;

transportConformance({
  name: 'memory',
  // Written out, not memoryCapabilities: the suite checks the transport reports exactly this.
  capabilities: {
    crossProcess: false,
    durable: true,
    consumerGroups: true,
    replay: true,
    history: true,
    ordering: 'per-stream',
  },
  canInjectMalformedEvents: true,
  deliveryLimit: 2,
  patience: 3000,
  namespace() {
    const name = `conformance-${process.pid}-${++run}`;
    const factory = memoryTransport as unknown as {
      rpc(o: unknown, c: TransportContext): never;
      result(o: unknown, c: TransportContext): never;
      event(o: unknown, c: TransportContext): never;
      schema(o: unknown, c: TransportContext): never;
    };
    return {
      connect: (context) => ({
        rpc: factory.rpc({ name, concurrency: 10 }, context),
        result: factory.result({ name }, context),
        event: factory.event({ name, max_stream_length: 1000, delivery_limit: 2 }, context),
        schema: factory.schema({ name }, context),
      }),
      cleanup: async () => resetMemoryBroker(name),
      deadLetters: async (apiName) =>
        memoryBroker(name)
          .deadLetters.filter((letter) => letter.payload.includes(`"apiName":${JSON.stringify(apiName)}`))
          .map((letter) => ({ id: (JSON.parse(letter.payload) as { id: string }).id, reason: letter.reason })),
      injectMalformedEvent: async (apiName, eventName) => {
        memoryBroker(name).stream(`${apiName}.${eventName}`, 1000).append(apiName, eventName, '{not json');
      },
    };
  },
});
