/**
 * The transport conformance suite of @lightbus/testing, unchanged, against Redis
 * with its default layout (stream_use per_api). per_event has tests of its own in
 * events.test.ts: there, history across several events of an API is ordered only
 * to the millisecond (each event has its own stream and stream ids are per stream),
 * which the suite's history test does not allow for.
 */
import { transportConformance } from '@lightbus/testing/jest';
import { deadLetterKey, streamKey } from '@lightbus/redis';
import {
  RedisEventTransport,
  RedisResultTransport,
  RedisRpcTransport,
  RedisSchemaTransport,
  TouchedKeys,
  eventOptions,
  rawRedis,
  recordEvent,
  recordResult,
  recordRpc,
  recordSchema,
  resultOptions,
  rpcOptions,
  schemaOptions,
} from './helpers';

const raw = rawRedis();
afterAll(async () => {
  await raw.quit();
});

for (const streamUse of ['per_api'] as const) {
  transportConformance({
    name: `redis (stream_use ${streamUse})`,
    // Written out, not redisCapabilities: the suite checks the transport reports exactly this.
    capabilities: {
      crossProcess: true,
      durable: true,
      consumerGroups: true,
      replay: true,
      history: true,
      ordering: 'per-stream',
    },
    canInjectMalformedEvents: true,
    deliveryLimit: 2,
    patience: 10_000,
    namespace() {
      const keys = new TouchedKeys();
      return {
        connect: (context) => ({
          rpc: recordRpc(new RedisRpcTransport(rpcOptions(), context), keys),
          result: recordResult(new RedisResultTransport(resultOptions(), context), keys),
          // Short acknowledgement_timeout: a stopped consumer's events go to another within a second.
          event: recordEvent(
            new RedisEventTransport(
              eventOptions({
                acknowledgement_timeout: 1,
                reclaim_interval: 0.25,
                stream_use: streamUse,
                delivery_limit: 2,
              }),
              context,
            ),
            keys,
          ),
          schema: recordSchema(new RedisSchemaTransport(schemaOptions(), context), keys),
        }),
        cleanup: () => keys.cleanup(raw),
        deadLetters: async (apiName, eventName) => {
          const entries = await raw.xrange(deadLetterKey(streamKey(apiName, eventName, streamUse)), '-', '+');
          return entries.map(([, flat]) => {
            const record = new Map<string, string>();
            for (let i = 0; i + 1 < flat.length; i += 2) record.set(flat[i]!, flat[i + 1]!);
            const fields = JSON.parse(record.get('fields') ?? '[]') as Array<[string, string]>;
            return { id: fields.find(([key]) => key === 'id')?.[1], reason: record.get('reason') ?? '' };
          });
        },
        // A foreign producer's entry: a parameter that is not JSON.
        injectMalformedEvent: async (apiName, eventName) => {
          const stream = streamKey(apiName, eventName, streamUse);
          keys.stream(stream);
          await raw.xadd(
            stream,
            '*',
            'id',
            'bad-1',
            'api_name',
            apiName,
            'event_name',
            eventName,
            'version',
            '1',
            ':n',
            '{not json',
          );
        },
      };
    },
  });
}
