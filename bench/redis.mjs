// `npm run bench -- redis [--quick] [--rounds N] [--profile DIR]`: Lightbus on Redis beside raw
// ioredis (bench/sides/redis-raw.mjs), each as a worker process and a caller process. Uses
// REDIS_URL (default redis://127.0.0.1:6379/0); every side deletes the keys it made.
import {
  absoluteMax,
  atLeast,
  atMost,
  benchTransport,
  eventsPhase,
  parseArgs,
  rpcPhases,
  transportSides,
} from './lib/harness.mjs';

const options = parseArgs();
const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/0';
const q = options.quick;
const lightbus = { transport: 'redis', config: { url } };

await benchTransport({
  transport: 'redis',
  title: 'Redis',
  rawLabel: 'raw ioredis (RPUSH/BLPOP with 8 BLPOP loops; XADD pipelined, XREADGROUP COUNT 100, one XACK per batch)',
  options,
  sides: transportSides({ module: 'redis-raw.mjs', params: { url } }, lightbus),
  phases: [...rpcPhases(q, q ? 10000 : 30000), eventsPhase({ count: q ? 20000 : 60000, warmup: 2000 })],
  targets: {
    'rpcSeq.p50': atMost(1.3),
    rpc64: atLeast(2),
    events: atLeast(0.5),
    idleRss: absoluteMax(60, 'MB'),
    peakRss: absoluteMax(100, 'MB'),
  },
});
