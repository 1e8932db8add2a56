/**
 * Connections dropped (CLIENT KILL, on the shared Redis: only this test's own
 * connections, found by name) and Redis restarting (a private redis-server):
 * calls in flight end with their result or an error, never a hang; consumers
 * reconnect and resume; nothing acknowledged is lost.
 */
import { Api, BrokerConnectionError, Event, RpcTimeoutError, type Bus } from '@lightbus/core';
import { Collector, FaultProxy, waitFor } from '@lightbus/testing';
import { PrivateRedis } from './private-redis';
import { REDIS_URL, redisConfig, redisTestKit, uniqueId } from './helpers';

const { raw, keys, buses } = redisTestKit();

/** `executions`, when given, records every n the worker executes. */
function slowApi(name: string, executions?: number[]) {
  return class SlowApi extends Api {
    static override meta = { name };
    ticked = new Event({ parameters: ['n'] });
    async slow({ n, ms }: { n: number; ms: number }) {
      executions?.push(n);
      await new Promise((resolve) => setTimeout(resolve, ms));
      return n;
    }
  };
}

/** How many times each n was executed. */
function timesEach(executions: readonly number[]): Map<number, number> {
  const times = new Map<number, number>();
  for (const n of executions) times.set(n, (times.get(n) ?? 0) + 1);
  return times;
}

/** CLIENT KILL every connection whose name starts with `lightbus:<service>:`; their names. */
async function killConnectionsOf(service: string): Promise<string[]> {
  const list = String(await raw.client('LIST'));
  const victims = list
    .split('\n')
    .map((line) => Object.fromEntries(line.split(' ').map((pair) => pair.split('=') as [string, string])))
    .filter((client) => client.name?.startsWith(`lightbus:${service}:`));
  for (const victim of victims) await raw.client('KILL', 'ID', victim.id!);
  return victims.map((v) => v.name!.slice(`lightbus:${service}:`.length)).sort();
}

function isAcceptableCallFailure(error: unknown): boolean {
  return error instanceof RpcTimeoutError || error instanceof BrokerConnectionError;
}

const fast = { consumption_restart_delay: 0.5 };

describe('CLIENT KILL', () => {
  it('during calls: calls in flight get their result or an error, and later calls work', async () => {
    const api = `kill${uniqueId()}.slow`;
    keys.api(api);
    const workerService = `wsvc-${uniqueId()}`;
    const callerService = `csvc-${uniqueId()}`;
    const executions: number[] = [];
    const worker = buses.make(redisConfig({ service: workerService, process: 'w' }, { rpc: fast }));
    worker.client.registerApi(new (slowApi(api, executions))());
    await worker.start({ features: ['rpcs'] });
    const callerConfig = redisConfig({ service: callerService, process: 'c' }, { rpc: fast });
    const caller = buses.make({
      ...callerConfig,
      apis: { ...callerConfig.apis, default: { ...callerConfig.apis!.default, rpc_timeout: 3 } },
    });

    const first = await caller.client.callRpc(api, 'slow', { n: -1, ms: 1 }); // every connection is open
    expect(first).toBe(-1);
    const inFlight = Array.from({ length: 20 }, (_, n) => caller.client.callRpc(api, 'slow', { n, ms: 100 }));
    const killed = [...(await killConnectionsOf(workerService)), ...(await killConnectionsOf(callerService))];
    expect(killed).toEqual(expect.arrayContaining(['w:commands', 'w:rpc-consumer', 'c:commands', 'c:result-reader']));

    const settled = await Promise.allSettled(inFlight);
    settled.forEach((outcome, n) => {
      if (outcome.status === 'fulfilled') expect(outcome.value).toBe(n);
      else expect(isAcceptableCallFailure(outcome.reason)).toBe(true);
    });
    // Reconnected: new calls all succeed.
    const after = await Promise.all(
      Array.from({ length: 10 }, (_, n) => caller.client.callRpc(api, 'slow', { n: 100 + n, ms: 1 })),
    );
    expect(after).toEqual(Array.from({ length: 10 }, (_, n) => 100 + n));
    // Nothing of the first 20 is still queued (the queue is FIFO and the later calls were taken), and no call
    // ran twice: each of the 20 ran at most once; every call that succeeded ran exactly once.
    expect(await raw.llen(`${api}:rpc_queue`)).toBe(0);
    const times = timesEach(executions);
    const ranTwice = [...times].filter(([, count]) => count > 1).map(([n]) => n);
    expect(ranTwice).toEqual([]);
    const succeededButNotRun = settled.flatMap((outcome, n) =>
      outcome.status === 'fulfilled' && times.get(n) !== 1 ? [n] : [],
    );
    expect(succeededButNotRun).toEqual([]);
  });

  it('after a command reached Redis but before its reply: the call is not sent again, and runs once', async () => {
    const api = `cut${uniqueId()}.slow`;
    keys.api(api);
    const target = new URL(REDIS_URL);
    const proxy = await FaultProxy.start({ host: target.hostname, port: Number(target.port || 6379) });
    try {
      const executions: number[] = [];
      // One call at a time, so the worker takes calls in queue order.
      const worker = buses.make(
        redisConfig({ service: `wsvc-${uniqueId()}`, process: 'w' }, { rpc: { ...fast, concurrency: 1 } }),
      );
      worker.client.registerApi(new (slowApi(api, executions))());
      await worker.start({ features: ['rpcs'] });
      // The caller sends calls through the proxy; its results come straight from Redis.
      const callerConfig = redisConfig(
        { service: `csvc-${uniqueId()}`, process: 'c' },
        { rpc: { ...fast, rpc_retry_delay: 0.05, url: `redis://${proxy.address}/0` } },
      );
      const caller = buses.make({
        ...callerConfig,
        apis: { default: { ...callerConfig.apis!.default, rpc_timeout: 5 } },
      });
      expect(await caller.client.callRpc(api, 'slow', { n: 0, ms: 1 })).toBe(0); // connected

      const cut = proxy.cutAfter((data) => data.includes('RPUSH') && data.includes(`${api}:rpc_queue`));
      const outcome = await caller.client.callRpc(api, 'slow', { n: 1, ms: 1 }).catch((error: unknown) => error);
      await cut;
      expect(proxy.cuts).toBe(1);
      // The call reached Redis: the worker ran it and its result came back on the result list.
      expect(outcome).toBe(1);
      // A later call, taken after anything queued before it, shows that no second copy was waiting.
      expect(await caller.client.callRpc(api, 'slow', { n: 2, ms: 1 })).toBe(2);
      expect(executions).toEqual([0, 1, 2]);
      expect(await raw.llen(`${api}:rpc_queue`)).toBe(0);
    } finally {
      await buses.closeAll();
      await proxy.stop();
    }
  });

  it('during consumption: the listener reconnects and every event is handled', async () => {
    const api = `kill${uniqueId()}.ticks`;
    keys.api(api);
    const listenerService = `lsvc-${uniqueId()}`;
    const producer = buses.make(redisConfig({ service: `psvc-${uniqueId()}`, process: 'p' }));
    producer.client.registerApi(new (slowApi(api))());
    const listener = buses.make(
      redisConfig(
        { service: listenerService, process: 'l' },
        { event: { ...fast, acknowledgement_timeout: 1, reclaim_interval: 0.2, batch_size: 5 } },
      ),
    );
    const handled = new Collector<number>();
    listener.client.listen(
      [api, 'ticked'],
      async ({ n }) => {
        await new Promise((resolve) => setTimeout(resolve, 5));
        handled.push(n as number);
      },
      { listenerName: 'count' },
    );
    await listener.start({ features: ['events'] });

    for (let n = 0; n < 10; n++) await producer.client.fireEvent(api, 'ticked', { n });
    await handled.waitForCount(3);
    expect(await killConnectionsOf(listenerService)).toEqual(
      expect.arrayContaining([`l:listener:${listenerService}-count`]),
    );
    for (let n = 10; n < 30; n++) await producer.client.fireEvent(api, 'ticked', { n });
    await waitFor(() => new Set(handled.items).size === 30, {
      timeout: 15_000,
      message: 'all 30 events to be handled',
    });
    expect([...new Set(handled.items)].sort((a, b) => a - b)).toEqual(Array.from({ length: 30 }, (_, n) => n));
    await waitFor(
      async () => ((await raw.xpending(`${api}.*:stream`, `${listenerService}-count`)) as [number])[0] === 0,
      {
        message: 'nothing left pending',
      },
    );
  });
});

describe('Redis restarting', () => {
  let server: PrivateRedis;
  beforeEach(async () => {
    server = await PrivateRedis.start();
  });
  afterEach(async () => {
    await buses.closeAll();
    await server.stop();
  });

  function busOn(service: string, process: string): Bus {
    const config = redisConfig(
      { service, process },
      { rpc: fast, event: { ...fast, acknowledgement_timeout: 1, reclaim_interval: 0.2 } },
    );
    const url = server.url();
    const withUrl = (selector: unknown) => ({ redis: { ...(selector as { redis: object }).redis, url } });
    const d = config.apis!.default!;
    return buses.make({
      ...config,
      bus: { schema: { transport: withUrl(config.bus!.schema!.transport) } },
      apis: {
        default: {
          rpc_timeout: 2,
          event_fire_timeout: 2,
          rpc_transport: withUrl(d.rpc_transport),
          result_transport: withUrl(d.result_transport),
          event_transport: withUrl(d.event_transport),
        },
      },
    });
  }

  it('calls during the outage fail clearly; afterwards calls work and listeners resume on the new, empty Redis', async () => {
    const api = 'restart.demo';
    const worker = busOn('worker', 'w');
    worker.client.registerApi(new (slowApi(api))());
    const heard = new Collector<number>();
    worker.client.listen([api, 'ticked'], ({ n }) => heard.push(n as number), { listenerName: 'hear' });
    await worker.start();
    const caller = busOn('caller', 'c');
    expect(await caller.client.callRpc(api, 'slow', { n: 1, ms: 1 })).toBe(1);
    await worker.client.fireEvent(api, 'ticked', { n: 1 });
    await heard.waitForCount(1);

    await server.stop();
    const during = await caller.client.callRpc(api, 'slow', { n: 2, ms: 1 }).then(
      () => 'succeeded',
      (error: unknown) => error,
    );
    expect(during).toBeInstanceOf(BrokerConnectionError);
    expect((during as Error).message).toContain(`cannot reach Redis at redis://127.0.0.1:${server.port}/0`);

    await server.start(); // empty: the stream and its consumer groups are gone
    const result = await waitFor(
      () => caller.client.callRpc(api, 'slow', { n: 3, ms: 1 }, { timeout: 1 }).catch(() => undefined),
      { timeout: 20_000, interval: 100, message: 'a call to succeed after the restart' },
    );
    expect(result).toBe(3);
    await worker.client.fireEvent(api, 'ticked', { n: 4 });
    await heard.waitForCount(2, 20_000);
    expect(heard.items).toEqual([1, 4]);
  });

  it('a password in the url is used and never shown', async () => {
    await server.stop();
    server = await PrivateRedis.start({ password: 's3cret-pw' });
    const good = busOn('pw', 'good');
    good.client.registerApi(new (slowApi('pw.demo'))());
    await good.start({ features: ['rpcs'] });
    expect(await good.client.callRpc('pw.demo', 'slow', { n: 7, ms: 1 })).toBe(7);

    const badConfig = redisConfig({ service: 'pw', process: 'bad' });
    const badUrl = server.url('wrong-pw');
    const bad = buses.make({
      ...badConfig,
      apis: {
        default: {
          rpc_timeout: 1,
          rpc_transport: { redis: { url: badUrl } },
          result_transport: { redis: { url: badUrl } },
        },
      },
    });
    const error = await bad.client.callRpc('pw.demo', 'slow', { n: 8, ms: 1 }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(error).toBeInstanceOf(BrokerConnectionError);
    expect(error!.message).toContain(`redis://:***@127.0.0.1:${server.port}/0`);
    expect(error!.message).toMatch(/WRONGPASS|invalid username-password/);
    expect(error!.message).not.toContain('wrong-pw');
  });
});
