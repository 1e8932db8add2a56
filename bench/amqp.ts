/**
 * `npm run bench -- amqp`: Lightbus on RabbitMQ beside a raw amqplib script
 * doing the same work, in the same run, against the same broker
 * (LIGHTBUS_AMQP_URL, default amqp://guest:guest@127.0.0.1:5672/).
 *
 * - RPC: latency one call at a time (p50, p99) and calls per second with 64 in
 *   flight. Both sides: a classic queue per API, the call published with a
 *   publisher confirm, results by direct reply-to, worker prefetch 64 with an
 *   ack after the procedure ran.
 * - Events end to end: fire N events (one after another, and 64 in flight)
 *   until a listener has handled all of them. Both sides: topic exchange,
 *   persistent messages with publisher confirms, a quorum queue per group,
 *   prefetch 100, an ack after each handler.
 * The Lightbus side is the whole bus (lightbus.create, an Api class), so the
 * ratio includes core's work (parameter checks, hooks, message building), not
 * only the transport's. A second table measures the transport alone (its rpc,
 * result and event transports driven directly, as core drives them), to show
 * which share is the transport's.
 */
import { randomBytes } from 'node:crypto';
import * as amqplib from 'amqplib';
import lightbus, { Api, Event, type Bus } from '@lightbus/core';
import { ConsoleLogger, newMessageId, redactUrl, validateAgainst, type OutgoingCall } from '@lightbus/core/transport';
import {
  AmqpEventOptions,
  AmqpEventTransport,
  AmqpResultOptions,
  AmqpResultTransport,
  AmqpRpcOptions,
  AmqpRpcTransport,
} from '@lightbus/amqp';
import { Counter, endToEnd, median, printTable, sequentialLatency, throughput, type Row } from './lib';

const URL = process.env.LIGHTBUS_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672/';
const EVENTS = Number(process.env.BENCH_EVENTS ?? 5000);
const CALLS = Number(process.env.BENCH_CALLS ?? 2000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const IN_FLIGHT = 64;
const EVENT_PREFETCH = 100;

class BenchApi extends Api {
  static override meta = { name: 'bench.amqp' };
  tick = new Event({ parameters: ['i'] });
  async echo({ value }: { value: number }): Promise<number> {
    return value;
  }
}

interface Figures {
  readonly rpcP50: number;
  readonly rpcP99: number;
  readonly rpcRate: number;
  readonly eventsSequential: number;
  readonly eventsConcurrent: number;
}

interface Side {
  measure(): Promise<Figures>;
  close(): Promise<void>;
}

async function lightbusSide(prefix: string): Promise<Side> {
  const amqp = { url: URL, prefix };
  const config = {
    bus: { log_level: 'warning' as const },
    apis: {
      default: {
        rpc_transport: { amqp: { ...amqp, prefetch: IN_FLIGHT } },
        result_transport: { amqp },
        event_transport: { amqp: { ...amqp, prefetch: EVENT_PREFETCH } },
      },
    },
  };
  const worker: Bus = lightbus.create({ config: { ...config, service_name: 'bench-worker' } });
  const client: Bus = lightbus.create({ config: { ...config, service_name: 'bench-client' } });
  worker.client.registerApi(new BenchApi());
  const handled = new Counter();
  worker.api(BenchApi).tick.listen(() => handled.hit(), { listenerName: 'count' });
  await worker.start();
  const warm = handled.after(1);
  await worker.api(BenchApi).tick.fire({ i: -1 });
  await warm;

  const call = (value: number) => client.api(BenchApi).echo({ value });
  const fire = (i: number) => worker.api(BenchApi).tick.fire({ i });
  return {
    measure: () => measure(call, fire, handled),
    close: async () => {
      await client.close();
      await worker.close();
    },
  };
}

async function measure(
  call: (value: number) => Promise<unknown>,
  fire: (i: number) => Promise<unknown>,
  handled: Counter,
): Promise<Figures> {
  const latency = await sequentialLatency(() => call(1), CALLS, 200);
  const rpcRate = await throughput(call, CALLS * 4, IN_FLIGHT);
  const eventsSequential = await endToEnd(fire, handled.after(EVENTS), EVENTS);
  const eventsConcurrent = await endToEnd(fire, handled.after(EVENTS), EVENTS, IN_FLIGHT);
  return { rpcP50: latency.p50, rpcP99: latency.p99, rpcRate, eventsSequential, eventsConcurrent };
}

/** Options with their defaults filled in, as core passes them from a config file. */
function options<T>(schema: Parameters<typeof validateAgainst>[0], value: Record<string, unknown>): T {
  const copy = { ...value };
  const issues = validateAgainst(schema, copy);
  if (issues.length > 0) throw new Error(JSON.stringify(issues));
  return copy as T;
}

/** The transport alone: its rpc, result and event transports driven the way core drives them. */
async function transportSide(prefix: string): Promise<Side> {
  const context = { serviceName: 'bench-transport', processName: 'p1', logger: new ConsoleLogger('warning') };
  const base = { url: URL, prefix: `${prefix}-t` };
  const workerRpc = new AmqpRpcTransport(options(AmqpRpcOptions, { ...base, prefetch: IN_FLIGHT }), context);
  const workerResult = new AmqpResultTransport(options(AmqpResultOptions, base), context);
  const callerRpc = new AmqpRpcTransport(options(AmqpRpcOptions, base), context);
  const callerResult = new AmqpResultTransport(options(AmqpResultOptions, base), context);
  const events = new AmqpEventTransport(options(AmqpEventOptions, { ...base, prefetch: EVENT_PREFETCH }), context);
  const rpcConsumer = await workerRpc.consumeRpcs(['bench.amqp'], async (message) => {
    await workerResult.sendResult(message, {
      id: newMessageId(),
      rpcMessageId: message.id,
      result: message.kwargs.value,
      error: false,
    });
  });
  const handled = new Counter();
  const eventConsumer = await events.consume(
    { events: [{ apiName: 'bench.amqp', eventName: 'tick' }], group: 'bench-transport-count', consumer: 'p1' },
    async () => handled.hit(),
  );
  const call = async (value: number): Promise<unknown> => {
    const message: OutgoingCall = {
      id: newMessageId(),
      apiName: 'bench.amqp',
      procedureName: 'echo',
      kwargs: { value },
      deadline: Date.now() + 5000,
    };
    const pending = await callerResult.expectResult(message);
    try {
      await callerRpc.callRpc({ ...message, returnPath: pending.returnPath });
      return (await pending.result).result;
    } finally {
      pending.cancel();
    }
  };
  const fire = (i: number) =>
    events.sendEvent(
      { id: newMessageId(), apiName: 'bench.amqp', eventName: 'tick', version: 1, kwargs: { i } },
      { timeoutSeconds: 5 },
    );
  const warm = handled.after(1);
  await fire(-1);
  await warm;
  return {
    measure: () => measure(call, fire, handled),
    close: async () => {
      await rpcConsumer.stop();
      await eventConsumer.stop();
      await Promise.all([
        workerRpc.close(),
        workerResult.close(),
        callerRpc.close(),
        callerResult.close(),
        events.close(),
      ]);
      const connection = await amqplib.connect(URL);
      const channel = await connection.createChannel();
      for (const queue of [
        `${prefix}-t.rpc.bench.amqp`,
        `${prefix}-t.group.bench-transport-count`,
        `${prefix}-t.dead-letter`,
      ])
        await channel.deleteQueue(queue);
      for (const exchange of [`${prefix}-t.events`, `${prefix}-t.dead-letter`]) await channel.deleteExchange(exchange);
      await connection.close();
    },
  };
}

/** The same work with amqplib alone: what a careful hand-written RabbitMQ service does. */
async function rawSide(prefix: string): Promise<Side> {
  const workerConnection = await amqplib.connect(URL, {
    noDelay: true,
    clientProperties: { connection_name: `${prefix}-raw-worker` },
  });
  const clientConnection = await amqplib.connect(URL, {
    noDelay: true,
    clientProperties: { connection_name: `${prefix}-raw-client` },
  });
  {
    const rpcQueue = `${prefix}.raw.rpc`;
    const exchange = `${prefix}.raw.events`;
    const groupQueue = `${prefix}.raw.group`;

    // Worker: RPC consumer and event consumer.
    const rpcChannel = await workerConnection.createChannel();
    await rpcChannel.assertQueue(rpcQueue, { durable: true, arguments: { 'x-queue-type': 'classic' } });
    await rpcChannel.prefetch(IN_FLIGHT);
    const replyChannel = await workerConnection.createChannel();
    await rpcChannel.consume(rpcQueue, (message) => {
      if (!message) return;
      const deadline = Number(message.properties.headers?.['x-deadline'] ?? Infinity);
      if (message.fields.redelivered || Date.now() > deadline) return rpcChannel.ack(message);
      const { kwargs } = JSON.parse(message.content.toString()) as { kwargs: { value: number } };
      replyChannel.publish(
        '',
        message.properties.replyTo as string,
        Buffer.from(JSON.stringify({ result: kwargs.value })),
        {
          correlationId: message.properties.correlationId as string,
        },
      );
      rpcChannel.ack(message);
    });
    const eventChannel = await workerConnection.createChannel();
    await eventChannel.assertExchange(exchange, 'topic', { durable: true });
    await eventChannel.assertQueue(groupQueue, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
    await eventChannel.bindQueue(groupQueue, exchange, 'bench.amqp.tick');
    await eventChannel.prefetch(EVENT_PREFETCH);
    const handled = new Counter();
    await eventChannel.consume(groupQueue, (message) => {
      if (!message) return;
      JSON.parse(message.content.toString());
      handled.hit();
      eventChannel.ack(message);
    });

    // Client: calls published with confirms on the channel that consumes direct replies.
    const callChannel = await clientConnection.createConfirmChannel();
    const waiting = new Map<string, (value: unknown) => void>();
    await callChannel.consume(
      'amq.rabbitmq.reply-to',
      (message) => {
        if (!message) return;
        const resolve = waiting.get(message.properties.correlationId as string);
        waiting.delete(message.properties.correlationId as string);
        resolve?.((JSON.parse(message.content.toString()) as { result: unknown }).result);
      },
      { noAck: true },
    );
    let next = 0;
    const call = async (value: number): Promise<unknown> => {
      const id = `${(next++).toString(36)}-${randomBytes(4).toString('hex')}`;
      const result = new Promise((resolve) => waiting.set(id, resolve));
      await new Promise<void>((resolve, reject) =>
        callChannel.sendToQueue(
          rpcQueue,
          Buffer.from(JSON.stringify({ id, kwargs: { value } })),
          {
            correlationId: id,
            messageId: id,
            replyTo: 'amq.rabbitmq.reply-to',
            expiration: '5000',
            headers: { 'x-deadline': Date.now() + 5000 },
            contentType: 'application/json',
          },
          (error: unknown) => (error ? reject(error as Error) : resolve()),
        ),
      );
      return result;
    };
    const publishChannel = await clientConnection.createConfirmChannel();
    const fire = (i: number) =>
      new Promise<void>((resolve, reject) =>
        publishChannel.publish(
          exchange,
          'bench.amqp.tick',
          Buffer.from(JSON.stringify({ id: randomBytes(8).toString('hex'), kwargs: { i } })),
          { persistent: true, contentType: 'application/json' },
          (error: unknown) => (error ? reject(error as Error) : resolve()),
        ),
      );
    const warm = handled.after(1);
    await fire(-1);
    await warm;

    return {
      measure: () => measure(call, fire, handled),
      close: async () => {
        const cleanup = await clientConnection.createChannel();
        await cleanup.deleteQueue(rpcQueue);
        await cleanup.deleteQueue(groupQueue);
        await cleanup.deleteExchange(exchange);
        await clientConnection.close().catch(() => undefined);
        await workerConnection.close().catch(() => undefined);
      },
    };
  }
}

/** Delete what the Lightbus side declared under its prefix. */
async function cleanupLightbus(prefix: string): Promise<void> {
  const connection = await amqplib.connect(URL);
  try {
    const channel = await connection.createChannel();
    for (const queue of [`${prefix}.rpc.bench.amqp`, `${prefix}.group.bench-worker-count`, `${prefix}.dead-letter`])
      await channel.deleteQueue(queue);
    for (const exchange of [`${prefix}.events`, `${prefix}.dead-letter`]) await channel.deleteExchange(exchange);
  } finally {
    await connection.close();
  }
}

async function main(): Promise<void> {
  const prefix = `bench-${randomBytes(4).toString('hex')}`;
  console.log(
    `RabbitMQ at ${redactUrl(URL)}; per round: ${CALLS} sequential calls, ${CALLS * 4} with ${IN_FLIGHT} in flight, ` +
      `${EVENTS} events each way; ${ROUNDS} rounds, Lightbus, transport alone and raw alternating, medians shown`,
  );
  const ours: Figures[] = [];
  const alone: Figures[] = [];
  const raw: Figures[] = [];
  const lightbusBench = await lightbusSide(prefix);
  const transportBench = await transportSide(prefix);
  const rawBench = await rawSide(prefix);
  try {
    for (let round = 0; round < ROUNDS; round++) {
      ours.push(await lightbusBench.measure());
      alone.push(await transportBench.measure());
      raw.push(await rawBench.measure());
      if (process.env.BENCH_VERBOSE)
        console.log(`round ${round + 1}`, { lightbus: ours[round], transport: alone[round], raw: raw[round] });
    }
  } finally {
    await lightbusBench.close();
    await transportBench.close();
    await rawBench.close();
    await cleanupLightbus(prefix);
  }
  const table = (title: string, side: Figures[]): void => {
    const row = (metric: string, unit: string, key: keyof Figures, higherIsBetter: boolean): Row => ({
      metric,
      unit,
      lightbus: median(side.map((f) => f[key])),
      raw: median(raw.map((f) => f[key])),
      higherIsBetter,
    });
    printTable(title, [
      row('RPC latency p50, one call at a time', 'ms', 'rpcP50', false),
      row('RPC latency p99, one call at a time', 'ms', 'rpcP99', false),
      row(`RPC throughput, ${IN_FLIGHT} in flight`, 'calls/s', 'rpcRate', true),
      row('events end to end, fired one after another', 'events/s', 'eventsSequential', true),
      row(`events end to end, ${IN_FLIGHT} fires in flight`, 'events/s', 'eventsConcurrent', true),
    ]);
  };
  table('Lightbus on RabbitMQ (whole bus, amqp transport) vs raw amqplib', ours);
  table('The amqp transport alone (no core) vs raw amqplib', alone);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
