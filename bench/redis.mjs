// `npm run bench -- redis [--quick] [--rounds N] [--profile DIR]`: Lightbus on Redis beside raw
// ioredis (bench/sides/redis-raw.mjs), each as a worker process and a caller process. Uses
// REDIS_URL (default redis://127.0.0.1:6379/0); every side deletes the keys it made.
import { absoluteMax, atLeast, atMost, benchTransport, parseArgs } from './lib/harness.mjs';

const options = parseArgs();
const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/0';
const q = options.quick;
const lightbus = { transport: 'redis', config: { url } };

await benchTransport({
  transport: 'redis',
  title: 'Redis',
  rawLabel: 'raw ioredis (RPUSH/BLPOP with 8 BLPOP loops; XADD pipelined, XREADGROUP COUNT 100, one XACK per batch)',
  options,
  sides: [
    { key: 'raw', module: 'redis-raw.mjs', params: { url } },
    { key: 'lightbus', module: 'lightbus.mjs', params: lightbus },
    { key: 'otel', module: 'lightbus.mjs', params: { ...lightbus, otel: true } },
  ],
  phases: [
    {
      key: 'rpcSeq',
      run: 'rpcSequential',
      label: 'RPC, one call at a time',
      count: q ? 1000 : 3000,
      warmup: 200,
      per: 'call',
      driver: 'caller',
    },
    {
      key: 'rpc64',
      run: 'rpcInFlight',
      inFlight: 64,
      label: 'RPC, 64 calls in flight',
      unit: 'calls/s',
      count: q ? 10000 : 30000,
      warmup: 1000,
      per: 'call',
      driver: 'caller',
    },
    {
      key: 'events',
      run: 'fire',
      inFlight: 64,
      label: 'events, 64 fires in flight, end to end',
      unit: 'events/s',
      count: q ? 20000 : 60000,
      warmup: 2000,
      per: 'event',
      driver: 'firer',
    },
  ],
  targets: {
    'rpcSeq.p50': atMost(1.3),
    rpc64: atLeast(2),
    events: atLeast(0.5),
    idleRss: absoluteMax(60, 'MB'),
    peakRss: absoluteMax(100, 'MB'),
  },
});
