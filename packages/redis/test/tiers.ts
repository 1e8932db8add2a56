/**
 * The conformance tiers of @lightbus/testing on a Redis: the transport tier
 * (transportConformance) and the bus tier (busConformance), for the shared
 * Redis (conformance.test.ts, bus-tier.test.ts) and the topologies of
 * topologies.ts (a file each). `redis()` is asked when a test runs, so a
 * topology may be started in the file's beforeAll.
 */
import type { BrokerAddress } from '@lightbus/testing';
import { busConformance, transportConformance } from '@lightbus/testing/jest';
import { deadLetterKey, transport } from '@lightbus/redis';
import type { ClusterOption, SentinelOption } from '../src/options';
import {
  RedisEventTransport,
  RedisResultTransport,
  RedisRpcTransport,
  RedisSchemaTransport,
  TouchedKeys,
  type RawRedis,
  eventOptions,
  recordEvent,
  recordResult,
  recordRpc,
  recordSchema,
  resultOptions,
  rpcOptions,
  schemaOptions,
} from './helpers';

/** A Redis the tiers run on: where the roles connect, and a raw client to the same data. */
export interface RedisUnderTest {
  readonly url: string;
  readonly sentinel?: SentinelOption;
  /** A Redis Cluster: the roles take its default key layout (cluster), and so do the keys the tiers look at. */
  readonly cluster?: ClusterOption;
  readonly raw: RawRedis;
}

// Written out, not redisCapabilities: the suites check the transport reports exactly this.
const capabilities = {
  crossProcess: true,
  durable: true,
  consumerGroups: true,
  replay: true,
  history: true,
  ordering: 'per-stream',
} as const;

/** The options every role of a tier gets: where Redis is. */
function target(redis: RedisUnderTest): { url: string; sentinel?: SentinelOption; cluster?: ClusterOption } {
  return {
    url: redis.url,
    ...(redis.sentinel ? { sentinel: redis.sentinel } : {}),
    ...(redis.cluster ? { cluster: redis.cluster } : {}),
  };
}

/** The tracker of the keys a tier's namespace touches, in the layout its roles use. */
function touchedKeys(redis: RedisUnderTest): TouchedKeys {
  return new TouchedKeys(redis.cluster ? 'cluster' : 'python');
}

/** Put an entry no consumer can decode (a parameter that is not JSON) on a stream, as a foreign producer would. */
async function addMalformed(raw: RawRedis, stream: string, apiName: string, eventName: string, param: string) {
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
    param,
    '{not json',
  );
}

/**
 * The transport tier with the default layout (stream_use per_api). per_event has tests of its own in
 * events.test.ts: there, history across several events of an API is ordered only to the millisecond
 * (each event has its own stream and stream ids are per stream), which the suite's history test does not allow for.
 */
export function redisTransportTier(name: string, redis: () => RedisUnderTest): void {
  const streamUse = 'per_api';
  transportConformance({
    name,
    capabilities,
    canInjectMalformedEvents: true,
    deliveryLimit: 2,
    patience: 10_000,
    namespace() {
      const keys = touchedKeys(redis());
      const { raw } = redis();
      const where = target(redis());
      return {
        connect: (context) => ({
          rpc: recordRpc(new RedisRpcTransport(rpcOptions(where), context), keys),
          result: recordResult(new RedisResultTransport(resultOptions(where), context), keys),
          // Short acknowledgement_timeout: a stopped consumer's events go to another within a second.
          event: recordEvent(
            new RedisEventTransport(
              eventOptions({
                ...where,
                acknowledgement_timeout: 1,
                reclaim_interval: 0.25,
                stream_use: streamUse,
                delivery_limit: 2,
              }),
              context,
            ),
            keys,
          ),
          schema: recordSchema(new RedisSchemaTransport(schemaOptions(where), context), keys),
        }),
        cleanup: () => keys.cleanup(raw),
        deadLetters: async (apiName, eventName) => {
          const entries = await raw.xrange(deadLetterKey(keys.names.stream(apiName, eventName, streamUse)), '-', '+');
          return entries.map(([, flat]) => {
            const record = new Map<string, string>();
            for (let i = 0; i + 1 < flat.length; i += 2) record.set(flat[i]!, flat[i + 1]!);
            const fields = JSON.parse(record.get('fields') ?? '[]') as Array<[string, string]>;
            return { id: fields.find(([key]) => key === 'id')?.[1], reason: record.get('reason') ?? '' };
          });
        },
        injectMalformedEvent: async (apiName, eventName) => {
          const stream = keys.names.stream(apiName, eventName, streamUse);
          keys.stream(stream);
          await addMalformed(raw, stream, apiName, eventName, ':n');
        },
      };
    },
  });
}

/**
 * The bus tier: processes, SIGKILL, SIGTERM drain, poison messages, and (given `broker`, the one
 * TCP endpoint every role connects to) a connection cut through the fault proxy. Each scenario's
 * keys are those of its own API name, deleted afterwards.
 */
export function redisBusTier(name: string, redis: () => RedisUnderTest, broker?: BrokerAddress): void {
  busConformance({
    name,
    capabilities,
    ...(broker ? { broker } : {}),
    readsDeadLetters: true,
    consumerLag: {},
    canInjectMalformedEvents: true,
    transports: [transport],
    patience: 15_000,
    namespace(apiName) {
      const { raw } = redis();
      const keys = touchedKeys(redis());
      keys.api(apiName);
      keys.add(keys.names.schema(apiName));
      keys.schemaNames.add(apiName);
      const stream = keys.names.stream(apiName, '*', 'per_api');
      return {
        config: ({ via } = {}) => {
          const where = via ? { url: `redis://${via}/0` } : target(redis());
          // Quick hand-over: a killed consumer's events go to another after 1 s; consumers restart after 0.2 s.
          const role = (extra: Record<string, unknown> = {}) => ({ redis: { ...where, ...extra } });
          return {
            bus: { schema: { transport: role() } },
            apis: {
              default: {
                rpc_transport: role({ consumption_restart_delay: 0.2 }),
                result_transport: role(),
                event_transport: role({
                  acknowledgement_timeout: 1,
                  reclaim_interval: 0.25,
                  consumption_restart_delay: 0.2,
                }),
              },
            },
          };
        },
        injectMalformedEvent: (api, eventName) =>
          addMalformed(raw, keys.names.stream(api, eventName, 'per_api'), api, eventName, ':i'),
        deadLetters: async () =>
          (await raw.xrange(deadLetterKey(stream), '-', '+')).map(([, fields]) => ({
            reason: fields[fields.indexOf('reason') + 1] ?? '',
          })),
        cleanup: () => keys.cleanup(raw),
      };
    },
  });
}
