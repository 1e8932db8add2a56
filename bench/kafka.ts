/**
 * `npm run bench -- kafka`: Lightbus on Kafka beside a raw kafkajs script doing
 * the same work, in the same run, against the same broker: KAFKA_BROKERS if set,
 * else a single-node Apache Kafka from Maven Central (tools/kafka), started here.
 *
 * - events end to end: fire N events, one after another and 64 at a time, until
 *   a listener (consumer group) has handled all of them;
 * - RPC: call latency one call at a time (p50, p99), and calls per second with
 *   32 in flight.
 * Both sides use the same settings: acks=all, the idempotent producer, fetch
 * max wait 100 ms (BENCH_MAX_WAIT_MS).
 */
import { randomBytes } from 'node:crypto';
import lightbus, { Api, Event, type Bus } from '@lightbus/core';
import { Kafka, Partitioners, logLevel, type Consumer, type Producer } from 'kafkajs';
import { Counter, endToEnd, printTable, sequentialLatency, throughput, type Row } from './lib';

import { benchBroker } from './kafka-broker';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 3000);
const CALLS = Number(process.env.BENCH_CALLS ?? 300);
const MAX_WAIT_MS = Number(process.env.BENCH_MAX_WAIT_MS ?? 100);

class BenchApi extends Api {
  static override meta = { name: 'bench.kafka' };
  tick = new Event({ parameters: ['i'] });
  async echo({ value }: { value: number }): Promise<number> {
    return value;
  }
}

async function lightbusSide(
  brokers: string[],
  prefix: string,
): Promise<{ rows: Omit<Row, 'raw'>[]; close(): Promise<void> }> {
  const kafka = { brokers, topic_prefix: prefix, max_wait_ms: MAX_WAIT_MS };
  const grouped = { ...kafka, session_timeout_ms: 6000, heartbeat_interval_ms: 1000 };
  const config = {
    apis: {
      default: { rpc_transport: { kafka: grouped }, result_transport: { kafka }, event_transport: { kafka: grouped } },
    },
  };
  const worker: Bus = lightbus.create({ config: { ...config, service_name: 'bench-worker' }, logLevel: 'warning' });
  const client: Bus = lightbus.create({ config: { ...config, service_name: 'bench-client' }, logLevel: 'warning' });
  worker.client.registerApi(new BenchApi());
  const handled = new Counter();
  worker.api(BenchApi).tick.listen(() => handled.hit(), { listenerName: 'count' });
  await worker.start();
  // Warm up: the listener's and the workers' groups have joined once these arrive.
  const warm = handled.after(1);
  await worker.api(BenchApi).tick.fire({ i: -1 });
  await warm;
  await client.api(BenchApi).echo({ value: 0 });

  const fire = (i: number) => worker.api(BenchApi).tick.fire({ i });
  const sequential = await endToEnd(fire, handled.after(EVENTS), EVENTS);
  const concurrentRate = await endToEnd(fire, handled.after(EVENTS), EVENTS, 64);
  const latency = await sequentialLatency(() => client.api(BenchApi).echo({ value: 1 }), CALLS, 20);
  const calls = await throughput(() => client.api(BenchApi).echo({ value: 2 }), CALLS * 3, 32);
  return {
    rows: [
      { metric: 'events end to end, one at a time', unit: 'events/s', lightbus: sequential, higherIsBetter: true },
      { metric: 'events end to end, 64 in flight', unit: 'events/s', lightbus: concurrentRate, higherIsBetter: true },
      { metric: 'RPC latency p50', unit: 'ms', lightbus: latency.p50, higherIsBetter: false },
      { metric: 'RPC latency p99', unit: 'ms', lightbus: latency.p99, higherIsBetter: false },
      { metric: 'RPC, 32 calls in flight', unit: 'calls/s', lightbus: calls, higherIsBetter: true },
    ],
    close: async () => {
      await client.close();
      await worker.close();
    },
  };
}

/** The same work with kafkajs alone: a producer, a consumer group, request and reply topics. */
async function rawSide(brokers: string[], prefix: string): Promise<{ values: number[]; close(): Promise<void> }> {
  const kafka = new Kafka({ clientId: 'bench-raw', brokers, logLevel: logLevel.NOTHING });
  const producer: Producer = kafka.producer({ idempotent: true, createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const consumers: Consumer[] = [];
  const groupConsumer = async (
    groupId: string,
    topic: string,
    onMessage: (value: Buffer, headers: Record<string, string>) => Promise<void> | void,
  ) => {
    const consumer = kafka.consumer({
      groupId,
      sessionTimeout: 6000,
      heartbeatInterval: 1000,
      maxWaitTimeInMs: MAX_WAIT_MS,
    });
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
    await consumer.run({
      eachMessage: async ({ message }) => {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = String(v);
        await onMessage(message.value ?? Buffer.alloc(0), headers);
      },
    });
    await joined;
    consumers.push(consumer);
  };

  const eventTopic = `${prefix}raw.events`;
  const handled = new Counter();
  await producer.send({ topic: eventTopic, acks: -1, messages: [{ value: 'warm' }] });
  await groupConsumer(`${prefix}raw.listener`, eventTopic, () => handled.hit());
  const fire = (i: number) =>
    producer.send({ topic: eventTopic, acks: -1, messages: [{ key: 'bench', value: JSON.stringify({ i }) }] });
  const sequential = await endToEnd(fire, handled.after(EVENTS), EVENTS);
  const concurrentRate = await endToEnd(fire, handled.after(EVENTS), EVENTS, 64);

  const requests = `${prefix}raw.requests`;
  const replies = `${prefix}raw.replies`;
  const pending = new Map<string, (value: string) => void>();
  await producer.send({ topic: replies, acks: -1, messages: [{ value: 'warm' }] });
  await producer.send({ topic: requests, acks: -1, messages: [{ value: 'warm', headers: { id: 'warm' } }] });
  await groupConsumer(`${prefix}raw.worker`, requests, async (value, headers) => {
    if (headers.id === 'warm') return;
    await producer.send({
      topic: replies,
      acks: -1,
      messages: [{ key: 'caller', value, headers: { id: headers.id! } }],
    });
  });
  await groupConsumer(`${prefix}raw.caller.${randomBytes(3).toString('hex')}`, replies, (value, headers) => {
    pending.get(headers.id ?? '')?.(value.toString());
  });
  const call = async (value: number): Promise<string> => {
    const id = randomBytes(8).toString('hex');
    const reply = new Promise<string>((resolve) => pending.set(id, resolve));
    await producer.send({
      topic: requests,
      acks: -1,
      messages: [{ key: id, value: JSON.stringify({ value }), headers: { id } }],
    });
    const result = await reply;
    pending.delete(id);
    return result;
  };
  const latency = await sequentialLatency(() => call(1), CALLS, 20);
  const calls = await throughput(() => call(2), CALLS * 3, 32);
  return {
    values: [sequential, concurrentRate, latency.p50, latency.p99, calls],
    close: async () => {
      await Promise.all(consumers.map((c) => c.disconnect()));
      await producer.disconnect();
    },
  };
}

async function main(): Promise<void> {
  const started = await benchBroker();
  const { brokers, label: broker } = started;
  const prefix = `bench.${Date.now().toString(36)}.`;
  try {
    const raw = await rawSide(brokers, prefix);
    await raw.close();
    const ours = await lightbusSide(brokers, prefix);
    await ours.close();
    printTable(
      `Kafka (${broker}; ${EVENTS} events, ${CALLS} calls; fetch max wait ${MAX_WAIT_MS} ms)`,
      ours.rows.map((row, i) => ({ ...row, raw: raw.values[i]! })),
    );
  } finally {
    await started.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
