/**
 * The bus-level tier of @lightbus/testing on the shared Redis (see tiers.ts), the connection cut
 * through the fault proxy included.
 */
import { addressOf } from '@lightbus/testing';
import { REDIS_URL, rawRedis } from './helpers';
import { redisBusTier } from './tiers';

const raw = rawRedis();
afterAll(async () => {
  await raw.quit();
});

redisBusTier('redis', () => ({ url: REDIS_URL, raw }), addressOf(REDIS_URL, 6379));
