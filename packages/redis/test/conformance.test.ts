/** The transport conformance suite of @lightbus/testing, unchanged, against the shared Redis (see tiers.ts). */
import { REDIS_URL, rawRedis } from './helpers';
import { redisTransportTier } from './tiers';

const raw = rawRedis();
afterAll(async () => {
  await raw.quit();
});

redisTransportTier('redis (stream_use per_api)', () => ({ url: REDIS_URL, raw }));
