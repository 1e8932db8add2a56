/**
 * Both conformance tiers (tiers.ts) on a Redis Cluster of three masters of this file's own
 * (topologies.ts), every role connecting with `cluster` (key_layout: cluster, the default there).
 * The bus tier's connection cut is not run here: the roles connect to every master, not to one
 * endpoint a proxy could stand in front of.
 */
import type { Cluster } from 'ioredis';
import { redisBusTier, redisTransportTier, type RedisUnderTest } from './tiers';
import { ClusterTopology } from './topologies';

let topology: ClusterTopology | undefined;
let raw: Cluster | undefined;
beforeAll(async () => {
  topology = await ClusterTopology.start();
  raw = topology.client();
}, 60_000);
afterAll(async () => {
  raw?.disconnect();
  await topology?.stop();
});

function redis(): RedisUnderTest {
  if (!topology || !raw) throw new Error('The cluster topology did not start (see beforeAll)');
  return { url: topology.url, cluster: topology.option, raw };
}

redisTransportTier('redis cluster', redis);
redisBusTier('redis cluster', redis);
