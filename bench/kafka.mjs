// `npm run bench -- kafka [--quick] [--rounds N] [--profile DIR]`: Lightbus on Kafka beside raw
// kafkajs (bench/sides/kafka-raw.mjs), each as a worker process and a producer process, on the
// broker in KAFKA_BROKERS (default 127.0.0.1:9092). Events only: the targets for Kafka.
import { Kafka, logLevel } from 'kafkajs';
import { absoluteMax, atLeast, benchTransport, eventsPhase, parseArgs, transportSides } from './lib/harness.mjs';

const options = parseArgs();
const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',').filter(Boolean);
const q = options.quick;
const prefix = `bench${Date.now().toString(36)}.`;
const lightbus = { transport: 'kafka', config: { brokers, topic_prefix: prefix } };

try {
  await benchTransport({
    transport: 'kafka',
    title: `Kafka (${brokers.join(',')})`,
    rawLabel: 'raw kafkajs (idempotent producer, acks all, batches of what waits; consumer group, eachBatch)',
    options,
    sides: transportSides({ module: 'kafka-raw.mjs', params: { brokers, partitions: 6 } }, lightbus),
    phases: [eventsPhase({ count: q ? 10000 : 40000, warmup: 200, driver: 'producer' })],
    targets: { events: atLeast(0.7), idleRss: absoluteMax(60, 'MB'), peakRss: absoluteMax(100, 'MB') },
  });
} finally {
  // Lightbus's topics of this run (the raw side deletes its own).
  const admin = new Kafka({ clientId: 'bench-cleanup', brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  const topics = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
  if (topics.length) await admin.deleteTopics({ topics });
  await admin.disconnect();
}
