// `npm run bench -- amqp [--quick] [--rounds N] [--profile DIR]`: Lightbus on RabbitMQ beside raw
// amqplib (bench/sides/amqp-raw.mjs), each as a worker process and a caller process. Uses
// LIGHTBUS_AMQP_URL (default amqp://guest:guest@127.0.0.1:5672); every side deletes the queues it made.
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
const url = process.env.LIGHTBUS_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const q = options.quick;
const lightbus = { transport: 'amqp', config: { url } };

await benchTransport({
  transport: 'amqp',
  title: 'AMQP (RabbitMQ)',
  rawLabel: 'raw amqplib (direct reply-to, prefetch 100; confirm channel, persistent, quorum queue, prefetch 100)',
  options,
  sides: transportSides({ module: 'amqp-raw.mjs', params: { url } }, lightbus),
  phases: [
    ...rpcPhases(q, q ? 6000 : 20000),
    eventsPhase({ label: 'events (durable, confirmed)', count: q ? 6000 : 20000, warmup: 1000 }),
  ],
  targets: {
    'rpcSeq.p50': atMost(1.3),
    rpc64: atLeast(0.8),
    events: atLeast(0.8),
    idleRss: absoluteMax(60, 'MB'),
    peakRss: absoluteMax(100, 'MB'),
  },
});
