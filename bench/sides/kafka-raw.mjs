// Raw kafkajs, the best pattern it allows for Lightbus's events on Kafka: an idempotent producer
// with acks from all in-sync replicas sending the fires in batches (all fires waiting while a
// request is in flight go in the next one, kafkajs allowing one request in flight when idempotent),
// to a topic with Lightbus's default partition count; a consumer group reading batches and
// committing offsets after each batch is handled.
// params: { api, brokers, partitions }
import { Kafka, logLevel } from 'kafkajs';
import { deferred } from '../lib/measure.mjs';

const topic = (api) => `${api}.raw.events`;

export async function worker(params, handled) {
  const kafka = new Kafka({ clientId: 'bench-raw-worker', brokers: params.brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    topics: [{ topic: topic(params.api), numPartitions: params.partitions }],
    waitForLeaders: true,
  });
  const consumer = kafka.consumer({ groupId: `${params.api}.count`, maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic(params.api)], fromBeginning: true });
  const joined = new Promise((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
  await consumer.run({
    partitionsConsumedConcurrently: params.partitions,
    eachBatch: async ({ batch, resolveOffset }) => {
      for (const message of batch.messages) {
        const event = JSON.parse(message.value.toString());
        if (event.n !== undefined) handled();
        resolveOffset(message.offset);
      }
    },
  });
  await joined;
  return {
    close: async () => {
      await consumer.disconnect();
      await admin.deleteTopics({ topics: [topic(params.api)] });
      await admin.disconnect();
    },
  };
}

export async function driver(params) {
  const kafka = new Kafka({ clientId: 'bench-raw-driver', brokers: params.brokers, logLevel: logLevel.NOTHING });
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  let queued = [];
  let sending = false;
  const flush = async () => {
    sending = true;
    while (queued.length) {
      const batch = queued;
      queued = [];
      try {
        await producer.send({ topic: topic(params.api), acks: -1, messages: batch.map((b) => b.message) });
        for (const b of batch) b.done.resolve();
      } catch (error) {
        for (const b of batch) b.done.reject(error);
      }
    }
    sending = false;
  };
  const fireOne = (n) => {
    const done = deferred();
    queued.push({ message: { key: String(n), value: JSON.stringify({ n, text: 'hello' }) }, done });
    if (!sending) void flush();
    return done.promise;
  };
  return {
    fire: async (count, inFlight) => {
      let next = 0;
      await Promise.all(
        Array.from({ length: Math.min(inFlight, count) }, async () => {
          while (next < count) await fireOne(next++);
        }),
      );
    },
    close: () => producer.disconnect(),
  };
}
