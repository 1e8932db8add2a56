/**
 * `npm run bench -- redis`: Lightbus on Redis beside a raw ioredis script doing
 * the same Redis commands, in one run:
 * - sequential RPC latency (p50, p99),
 * - RPC throughput with 64 calls in flight,
 * - events end to end: fire N one after another, until all are handled.
 * The raw script is what a careful hand-written ioredis client would do with
 * the same commands as Lightbus: calls as SET PX + RPUSH; a worker BLPOPs,
 * DELs the expiry key on the same connection, takes more waiting calls with
 * MULTI LRANGE/LTRIM while it has free slots (10 calls at once, Lightbus's
 * default concurrency), and answers with LPUSH + EXPIRE; one result list per
 * process read by one BLPOP loop, draining with MULTI LRANGE/DEL when more
 * calls wait; events XADD MAXLEN ~, read by XREADGROUP COUNT 10 BLOCK with
 * XACK. Its command connections use ioredis's auto-pipelining, the idiomatic
 * way to coalesce writes (Lightbus corks its sockets for the same effect).
 * The machine is shared and noisy: each side runs ROUNDS times, alternating,
 * and the median of each figure is reported. Uses REDIS_URL (default
 * redis://127.0.0.1:6379/0) and deletes every key it made.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import lightbus, { Api, Event, type Bus } from '@lightbus/core';
import { ConsoleLogger, Semaphore, deferred, type Deferred } from '@lightbus/core/transport';
import { transport } from '@lightbus/redis';
import { Counter, endToEnd, median, printTable, sequentialLatency, throughput, type Row } from './lib';

const URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/0';
const SEQUENTIAL = Number(process.env.BENCH_SEQUENTIAL ?? 2000);
const PARALLEL_CALLS = Number(process.env.BENCH_CALLS ?? 10000);
const IN_FLIGHT = 64;
const EVENTS = Number(process.env.BENCH_EVENTS ?? 10000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const run = randomUUID().slice(0, 8);

// ---- Lightbus ---------------------------------------------------------------------------------

function benchApi(name: string) {
  return class BenchApi extends Api {
    static override meta = { name };
    happened = new Event({ parameters: ['n', 'text'] });
    echo({ n, text }: { n: number; text: string }) {
      return { n, text };
    }
  };
}

function bus(processName: string): Bus {
  const redis = { redis: { url: URL } };
  return lightbus.create({
    config: {
      service_name: `bench-${run}`,
      process_name: processName,
      bus: { schema: { transport: redis } },
      apis: { default: { rpc_transport: redis, result_transport: redis, event_transport: redis } },
    },
    transports: [transport],
    logger: new ConsoleLogger('error'),
  });
}

interface Figures {
  latency: { p50: number; p99: number };
  calls: number;
  events: number;
}

async function lightbusRows(round: number): Promise<Figures> {
  const API = `bench${run}.lb${round}`;
  const worker = bus('worker');
  worker.client.registerApi(new (benchApi(API))());
  const handled = new Counter();
  worker.client.listen([API, 'happened'], handled.hit, { listenerName: 'count' });
  await worker.start();
  const caller = bus('caller');
  const call = (n: number) => caller.client.callRpc(API, 'echo', { n, text: 'hello' });

  const latency = await sequentialLatency(() => call(1), SEQUENTIAL);
  const calls = await throughput((i) => call(i), PARALLEL_CALLS, IN_FLIGHT);
  const events = await endToEnd(
    (n) => worker.client.fireEvent(API, 'happened', { n, text: 'hello' }),
    handled.after(EVENTS),
    EVENTS,
  );
  await caller.close();
  await worker.close();
  const cleanup = new Redis(URL, { protocol: 2 });
  await cleanup.del(`${API}:rpc_queue`, `${API}.*:stream`);
  await cleanup.quit();
  return { latency, calls, events };
}

// ---- raw ioredis ------------------------------------------------------------------------------

async function rawRows(round: number): Promise<Figures> {
  const RAW = `bench${run}.raw${round}`;
  const open: Redis[] = [];
  const connect = (autoPipeline = false): Redis => {
    const c = new Redis(URL, {
      protocol: 2,
      enableAutoPipelining: autoPipeline && process.env.RAW_AUTOPIPELINE !== '0',
    });
    open.push(c);
    return c;
  };
  const queue = `${RAW}:rpc_queue`;
  const resultKey = `${RAW}:results:${randomUUID()}`;
  let stopping = false;

  // Worker: BLPOP, DEL the expiry key on the same connection, take more waiting calls while slots are free.
  const workerBlocking = connect();
  const workerCommands = connect(true);
  const slots = new Semaphore(10);
  const answer = async (blob: string, deleted: Promise<number>): Promise<void> => {
    const call = JSON.parse(blob) as {
      kwargs: { n: number; text: string };
      metadata: { id: string; return_path: string };
    };
    if ((await deleted) !== 1) return;
    const key = call.metadata.return_path.slice('redis+key://'.length);
    const result = JSON.stringify({
      kwargs: { result: { n: call.kwargs.n, text: call.kwargs.text } },
      metadata: { error: false, id: randomUUID(), rpc_message_id: call.metadata.id },
    });
    await Promise.all([workerCommands.lpush(key, result), workerCommands.expire(key, 60)]);
  };
  const take = (blob: string): void => {
    const id = (JSON.parse(blob) as { metadata: { id: string } }).metadata.id;
    void answer(blob, workerBlocking.del(`rpc_expiry_key:${id}`)).finally(() => slots.release());
  };
  const workerLoop = (async () => {
    while (!stopping) {
      await slots.acquire();
      const popped = await workerBlocking.blpop(queue, 1);
      if (!popped) {
        slots.release();
        continue;
      }
      take(popped[1]);
      const free = slots.available;
      if (free > 0) {
        const [[, more]] = (await workerBlocking
          .multi()
          .lrange(queue, 0, free - 1)
          .ltrim(queue, free, -1)
          .exec()) as [[null, string[]]];
        for (const blob of more) {
          await slots.acquire();
          take(blob);
        }
      }
    }
  })();

  // Caller: one result list, one reader routing results by call id.
  const callerCommands = connect(true);
  const callerBlocking = connect();
  const waiting = new Map<string, Deferred<unknown>>();
  const route = (blob: string): void => {
    const result = JSON.parse(blob) as { kwargs: { result: unknown }; metadata: { rpc_message_id: string } };
    const box = waiting.get(result.metadata.rpc_message_id);
    waiting.delete(result.metadata.rpc_message_id);
    box?.resolve(result.kwargs.result);
  };
  const readerLoop = (async () => {
    while (!stopping) {
      const popped = await callerBlocking.blpop(resultKey, 1);
      if (!popped) continue;
      route(popped[1]);
      if (waiting.size > 0) {
        const [[, rest]] = (await callerBlocking.multi().lrange(resultKey, 0, -1).del(resultKey).exec()) as [
          [null, string[]],
        ];
        rest.forEach(route);
      }
    }
  })();
  const call = async (n: number): Promise<unknown> => {
    const id = randomUUID();
    const box = deferred<unknown>();
    waiting.set(id, box);
    const blob = JSON.stringify({
      kwargs: { n, text: 'hello' },
      metadata: { api_name: RAW, id, procedure_name: 'echo', return_path: `redis+key://${resultKey}` },
    });
    await Promise.all([callerCommands.set(`rpc_expiry_key:${id}`, '1', 'PX', 5000), callerCommands.rpush(queue, blob)]);
    return box.promise;
  };

  const latency = await sequentialLatency(() => call(1), SEQUENTIAL);
  const calls = await throughput((i) => call(i), PARALLEL_CALLS, IN_FLIGHT);

  // Events: XADD; a consumer group reads batches of 10 and acknowledges them with the next read.
  const stream = `${RAW}.*:stream`;
  const producer = connect(true);
  const consumer = connect();
  await consumer.xgroup('CREATE', stream, 'bench', '$', 'MKSTREAM');
  let handled = 0;
  const allHandled = deferred<void>();
  const consumerLoop = (async () => {
    let toAck: string[] = [];
    while (handled < EVENTS) {
      const ack = toAck.length ? consumer.xack(stream, 'bench', ...toAck) : undefined; // leaves with the read
      toAck = [];
      const reply = (await consumer.xreadgroup(
        'GROUP',
        'bench',
        'c',
        'COUNT',
        10,
        'BLOCK',
        1000,
        'STREAMS',
        stream,
        '>',
      )) as Array<[string, Array<[string, string[]]>]> | null;
      await ack;
      for (const [, entries] of reply ?? []) {
        for (const [id, fields] of entries) {
          const kwargs: Record<string, unknown> = {};
          for (let i = 8; i < fields.length; i += 2) kwargs[fields[i]!.slice(1)] = JSON.parse(fields[i + 1]!);
          handled += kwargs.n === undefined ? 0 : 1;
          toAck.push(id);
        }
      }
    }
    if (toAck.length) await consumer.xack(stream, 'bench', ...toAck);
    allHandled.resolve();
  })();
  const events = await endToEnd(
    (n) =>
      producer.xadd(
        stream,
        'MAXLEN',
        '~',
        100000,
        '*',
        'id',
        randomUUID(),
        'api_name',
        RAW,
        'event_name',
        'happened',
        'version',
        '1',
        ':n',
        JSON.stringify(n),
        ':text',
        JSON.stringify('hello'),
      ),
    allHandled.promise,
    EVENTS,
  );
  await consumerLoop;

  stopping = true;
  await Promise.all([workerLoop, readerLoop]);
  await producer.del(stream, queue, resultKey);
  await Promise.all(open.map((c) => c.quit()));
  return { latency, calls, events };
}

async function main(): Promise<void> {
  const raw: Figures[] = [];
  const lb: Figures[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    // Alternate who goes first, so neither always runs on a warmer (or busier) machine.
    if (round % 2 === 0) {
      raw.push(await rawRows(round));
      lb.push(await lightbusRows(round));
    } else {
      lb.push(await lightbusRows(round));
      raw.push(await rawRows(round));
    }
  }
  const m = (figures: Figures[], pick: (f: Figures) => number): number => median(figures.map(pick));
  const rows: Row[] = [
    {
      metric: 'sequential RPC p50',
      unit: 'ms',
      lightbus: m(lb, (f) => f.latency.p50),
      raw: m(raw, (f) => f.latency.p50),
      higherIsBetter: false,
    },
    {
      metric: 'sequential RPC p99',
      unit: 'ms',
      lightbus: m(lb, (f) => f.latency.p99),
      raw: m(raw, (f) => f.latency.p99),
      higherIsBetter: false,
    },
    {
      metric: `RPC throughput, ${IN_FLIGHT} in flight`,
      unit: 'calls/s',
      lightbus: m(lb, (f) => f.calls),
      raw: m(raw, (f) => f.calls),
      higherIsBetter: true,
    },
    {
      metric: 'events fired and handled, end to end',
      unit: 'events/s',
      lightbus: m(lb, (f) => f.events),
      raw: m(raw, (f) => f.events),
      higherIsBetter: true,
    },
  ];
  printTable(
    `Redis: ${SEQUENTIAL} sequential calls, ${PARALLEL_CALLS} calls with ${IN_FLIGHT} in flight, ${EVENTS} events; ` +
      `median of ${ROUNDS} rounds; Lightbus vs raw ioredis doing the same commands`,
    rows,
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
