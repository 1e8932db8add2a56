// The Lightbus side of every transport's benchmark, run as users run it: a worker process serving
// an API and listening to its event, and a caller process calling and firing through its own bus.
// params: { transport: 'redis' | 'amqp' | 'kafka', api, config (the transport's options), otel }
import { registerOtel } from './otel.mjs';
// What `lightbus run` does while it loads and starts a worker (packages/core/src/cli/young-generation.ts).
import { holdYoungGeneration, releaseYoungGeneration } from '../../packages/core/dist/cli/young-generation.js';
import { inFlight, sequential } from './../lib/measure.mjs';

async function createBus(params, processName) {
  // The SDK goes first, as a service would register it before anything that traces.
  const shutdownOtel = params.otel ? registerOtel() : undefined;
  const { default: lightbus, Api, Event } = await import('@lightbus/core');
  // BENCH_TRANSPORT_OPTIONS (JSON, by role: {"rpc": {"concurrency": 32}}): options added to the transport's
  // for one role, to measure a setting against its default.
  const extra = JSON.parse(process.env.BENCH_TRANSPORT_OPTIONS ?? '{}');
  const role = (name) => ({ [params.transport]: { ...params.config, ...extra[name] } });
  const transportConfig = role('schema');
  const bus = lightbus.create({
    config: {
      service_name: `bench-${params.api}`,
      process_name: processName,
      bus: { schema: { transport: transportConfig } },
      apis: {
        default: {
          rpc_transport: role('rpc'),
          result_transport: role('result'),
          event_transport: role('event'),
        },
      },
    },
    logLevel: 'error',
  });
  // The caller registers the API too: only the process that registers an API fires its events.
  // It does not start a worker, so it serves nothing.
  class BenchApi extends Api {
    static meta = { name: params.api };
    happened = new Event({ parameters: ['n', 'text'] });
    echo({ n, text }) {
      return { n, text };
    }
  }
  bus.client.registerApi(new BenchApi());
  return { bus, shutdownOtel };
}

export async function worker(params, handled) {
  holdYoungGeneration();
  const { bus, shutdownOtel } = await createBus(params, 'worker');
  bus.client.listen([params.api, 'happened'], () => handled(), { listenerName: 'count' });
  await bus.start();
  releaseYoungGeneration();
  return {
    close: async () => {
      await bus.close();
      await shutdownOtel?.();
      if (params.transport === 'amqp') await deleteAmqpQueues(params);
      if (params.transport === 'redis') await deleteRedisKeys(params);
    },
  };
}

export async function driver(params) {
  const { bus, shutdownOtel } = await createBus(params, 'caller');
  const call = (n) => bus.client.callRpc(params.api, 'echo', { n, text: 'hello' });
  const fire = (n) => bus.client.fireEvent(params.api, 'happened', { n, text: 'hello' });
  return {
    rpcSequential: (count) => sequential(call, count),
    rpcInFlight: (count, n) => inFlight(call, count, n),
    fire: (count, n) => inFlight(fire, count, n),
    close: async () => {
      await bus.close();
      await shutdownOtel?.();
    },
  };
}

/** RabbitMQ keeps Lightbus's durable queues (the API's call queue, the listener's group queue): delete this run's. */
async function deleteAmqpQueues(params) {
  const { default: amqp } = await import('amqplib');
  const connection = await amqp.connect(params.config.url);
  const channel = await connection.createChannel();
  await channel.deleteQueue(`lightbus.rpc.${params.api}`);
  await channel.deleteQueue(`lightbus.group.bench-${params.api}-count`);
  await connection.close();
}

/** The API's event stream, call queue and stored schema. */
async function deleteRedisKeys(params) {
  const { Redis } = await import('ioredis');
  const redis = new Redis(params.config.url);
  await redis.del(`${params.api}.*:stream`, `${params.api}:rpc_queue`, `schema:${params.api}`);
  await redis.quit();
}
