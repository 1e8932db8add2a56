/**
 * The bus-level tier of @lightbus/testing on Redis: processes, SIGKILL, SIGTERM drain,
 * a connection cut through the fault proxy, poison messages. Each scenario's keys are
 * those of its own API name, deleted afterwards.
 */
import { addressOf } from '@lightbus/testing';
import { busConformance } from '@lightbus/testing/jest';
import { deadLetterKey, schemaKey, streamKey, transport } from '@lightbus/redis';
import { REDIS_URL, TouchedKeys, rawRedis } from './helpers';

const raw = rawRedis();
afterAll(async () => {
  await raw.quit();
});

busConformance({
  name: 'redis',
  capabilities: {
    crossProcess: true,
    durable: true,
    consumerGroups: true,
    replay: true,
    history: true,
    ordering: 'per-stream',
  },
  broker: addressOf(REDIS_URL, 6379),
  readsDeadLetters: true,
  consumerLag: {},
  canInjectMalformedEvents: true,
  transports: [transport],
  patience: 15_000,
  namespace(apiName) {
    const keys = new TouchedKeys();
    keys.api(apiName);
    keys.add(schemaKey(apiName));
    keys.schemaNames.add(apiName);
    const stream = streamKey(apiName, '*', 'per_api');
    return {
      config: ({ via } = {}) => {
        const url = via ? `redis://${via}/0` : REDIS_URL;
        // Quick hand-over: a killed consumer's events go to another after 1 s; consumers restart after 0.2 s.
        const role = (extra: Record<string, unknown> = {}) => ({ redis: { url, ...extra } });
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
      injectMalformedEvent: async (api, eventName) => {
        await raw.xadd(
          streamKey(api, eventName, 'per_api'),
          '*',
          'id',
          'bad-1',
          'api_name',
          api,
          'event_name',
          eventName,
          'version',
          '1',
          ':i',
          '{not json',
        );
      },
      deadLetters: async () =>
        (await raw.xrange(deadLetterKey(stream), '-', '+')).map(([, fields]) => ({
          reason: fields[fields.indexOf('reason') + 1] ?? '',
        })),
      cleanup: () => keys.cleanup(raw),
    };
  },
});
