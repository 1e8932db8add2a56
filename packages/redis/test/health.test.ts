/**
 * `lightbus run --health-port` on Redis, through a fault proxy: /healthz stays
 * live throughout; /readyz is ready once started, not while the broker is cut,
 * ready again once it is back, and not while draining on SIGTERM. A worker whose
 * broker is down at start keeps trying (not ready) and starts when it comes.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import lightbus from '@lightbus/core';
import { transport } from '@lightbus/redis';
import { FaultProxy, addressOf, startNode, waitFor, type ChildRun } from '@lightbus/testing';
import { REDIS_URL, TouchedKeys, rawRedis, uniqueId } from './helpers';

const BIN = path.resolve(__dirname, '..', '..', 'core', 'bin', 'lightbus.js');
const FIXTURE = path.resolve(__dirname, '..', '..', '..', 'test', 'health-bus.ts');
const raw = rawRedis();
const keys = new TouchedKeys();
let proxy: FaultProxy;

beforeEach(async () => {
  proxy = await FaultProxy.start(addressOf(REDIS_URL, 6379));
});
afterEach(async () => {
  await proxy.stop();
});
afterAll(async () => {
  await keys.cleanup(raw);
  await raw.quit();
});

function config(apiName: string): string {
  const url = new URL(REDIS_URL);
  url.host = proxy.address;
  const role = { redis: { url: url.toString() } };
  const consuming = { redis: { url: url.toString(), consumption_restart_delay: 0.2 } };
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'lightbus-health-')), 'lightbus.json');
  writeFileSync(
    file,
    JSON.stringify({
      service_name: `health-${apiName}`,
      bus: { schema: { transport: role } },
      apis: { default: { rpc_transport: consuming, result_transport: role, event_transport: consuming } },
    }),
  );
  keys.api(apiName);
  keys.add(`schema:${apiName}`);
  keys.schemaNames.add(apiName);
  return file;
}

function worker(apiName: string): ChildRun {
  return startNode(
    [BIN, 'run', '--bus', FIXTURE, '--config', config(apiName), '--health-port', '0', '--health-host', '127.0.0.1'],
    {
      env: { HEALTH_API: apiName },
    },
  );
}

async function healthPort(run: ChildRun): Promise<number> {
  await run.waitForOutput(/Health endpoints: http:\/\/127\.0\.0\.1:\d+/, 20_000);
  return Number(/Health endpoints: http:\/\/127\.0\.0\.1:(\d+)/.exec(run.output())![1]);
}

async function probe(
  port: number,
  path: '/healthz' | '/readyz',
): Promise<{ status: number; body: { ready: boolean; state: string; reasons: string[] } }> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`);
  return {
    status: response.status,
    body: (await response.json()) as { ready: boolean; state: string; reasons: string[] },
  };
}

async function until(
  port: number,
  path: '/healthz' | '/readyz',
  status: number,
  what: string,
): Promise<{ reasons: string[]; state: string }> {
  let last: Awaited<ReturnType<typeof probe>> | undefined;
  await waitFor(
    async () => {
      last = await probe(port, path);
      return last.status === status;
    },
    { timeout: 20_000, message: `${path} to answer ${status} (${what}); last: ${JSON.stringify(last)}` },
  );
  return last!.body;
}

it('is ready once started, not ready while the broker is cut or while draining, and live throughout', async () => {
  const apiName = `health${uniqueId()}.api`;
  const run = worker(apiName);
  const port = await healthPort(run);
  await until(port, '/readyz', 200, 'started');

  proxy.down();
  const down = await until(port, '/readyz', 503, 'broker cut');
  expect(down.reasons.join('\n')).toMatch(/redis broker redis:\/\/127\.0\.0\.1:\d+\/0 unreachable/);
  expect((await probe(port, '/healthz')).status).toBe(200);
  proxy.restore();
  await until(port, '/readyz', 200, 'broker back');

  // A call in hand when SIGTERM comes: not ready while it finishes, live until the end.
  const caller = lightbus.create({
    config: {
      bus: { schema: { transport: { redis: { url: REDIS_URL } } } },
      apis: {
        default: { rpc_transport: { redis: { url: REDIS_URL } }, result_transport: { redis: { url: REDIS_URL } } },
      },
    },
    transports: [transport],
    logLevel: 'critical',
  });
  try {
    const call = caller.client.callRpc(apiName, 'slow', { ms: 1500 }, { timeout: 10 });
    await run.waitForOutput('work started');
    run.child.kill('SIGTERM');
    const draining = await until(port, '/readyz', 503, 'draining');
    expect(draining.state).toBe('stopping');
    expect((await probe(port, '/healthz')).status).toBe(200);
    await expect(call).resolves.toBe(1500);
  } finally {
    await caller.close();
  }
  expect((await run.exit).code).toBe(0);
});

it('keeps trying while the broker is down at start (not ready), and starts when it comes back', async () => {
  const apiName = `health${uniqueId()}.api`;
  proxy.down();
  const run = worker(apiName);
  const port = await healthPort(run);
  const starting = await until(port, '/readyz', 503, 'broker down at start');
  expect(starting.state).toBe('starting');
  await run.waitForOutput('Cannot start yet (attempt 1)', 30_000);
  expect((await probe(port, '/healthz')).status).toBe(200);
  proxy.restore();
  await until(port, '/readyz', 200, 'broker back');
  run.child.kill('SIGTERM');
  expect((await run.exit).code).toBe(0);
});
