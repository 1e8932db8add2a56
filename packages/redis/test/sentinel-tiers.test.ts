/**
 * Both conformance tiers (tiers.ts) on Redis Sentinel: a topology of this file's own (one master,
 * one replica, three sentinels; topologies.ts), every role connecting through the sentinels.
 * The bus tier's connection cut is not run here: the roles connect to the address the sentinels
 * give, not to one endpoint a proxy could stand in front of (sentinel-failover.test.ts kills the
 * master instead).
 */
import type { Redis } from 'ioredis';
import { redisBusTier, redisTransportTier, type RedisUnderTest } from './tiers';
import { SentinelTopology } from './topologies';

let topology: SentinelTopology | undefined;
let raw: Redis | undefined;
beforeAll(async () => {
  topology = await SentinelTopology.start();
  raw = topology.client();
}, 60_000);
afterAll(async () => {
  raw?.disconnect();
  await topology?.stop();
});

function redis(): RedisUnderTest {
  if (!topology || !raw) throw new Error('The sentinel topology did not start (see beforeAll)');
  return { url: topology.url, sentinel: topology.option, raw };
}

redisTransportTier('redis via sentinel', redis);
redisBusTier('redis via sentinel', redis);
