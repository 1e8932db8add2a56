/**
 * `lightbus run --health-port` on Kafka, through a fault proxy: /healthz stays
 * live throughout; /readyz is ready once started, not while the broker is cut
 * (the reason names it), ready again once it is back, and not while draining on
 * SIGTERM. A Kafka client connects to the address the broker advertises, so the
 * worker runs with fixtures/through-proxy.cjs, which sends every connection to
 * the broker through the proxy (as if the broker advertised the proxy).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import lightbus, { type LightbusConfigInput } from '@lightbus/core';
import { transport } from '@lightbus/kafka';
import { FaultProxy, startNode, waitFor, type ChildRun } from '@lightbus/testing';
import {
  TEST_FETCH,
  TEST_GROUP_TIMING,
  cleanupRun,
  deleteTopicsWithPrefix,
  kafkaBrokers,
  uniquePrefix,
} from './helpers';

const BIN = path.resolve(__dirname, '..', '..', 'core', 'bin', 'lightbus.js');
const FIXTURE = path.resolve(__dirname, '..', '..', '..', 'test', 'health-bus.ts');
const THROUGH_PROXY = path.join(__dirname, 'fixtures', 'through-proxy.cjs');
const broker = kafkaBrokers()[0]!;
const prefixes: string[] = [];
let proxy: FaultProxy;

beforeEach(async () => {
  const at = broker.lastIndexOf(':');
  proxy = await FaultProxy.start({ host: broker.slice(0, at), port: Number(broker.slice(at + 1)) });
});
afterEach(async () => {
  await proxy.stop();
});
afterAll(async () => {
  for (const prefix of prefixes) await deleteTopicsWithPrefix(prefix, true);
  await cleanupRun();
});

function roles(prefix: string): LightbusConfigInput {
  const base = { brokers: [broker], topic_prefix: prefix, ...TEST_FETCH };
  const grouped = { kafka: { ...base, ...TEST_GROUP_TIMING } };
  return {
    bus: { schema: { transport: { kafka: base } } },
    apis: { default: { rpc_transport: grouped, result_transport: { kafka: base }, event_transport: grouped } },
  };
}

function worker(apiName: string, prefix: string): ChildRun {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'lightbus-kafka-health-')), 'lightbus.json');
  writeFileSync(file, JSON.stringify({ service_name: `health-${prefix}`, ...roles(prefix) }));
  return startNode(
    [
      '--require',
      THROUGH_PROXY,
      BIN,
      'run',
      '--bus',
      FIXTURE,
      '--config',
      file,
      '--health-port',
      '0',
      '--health-host',
      '127.0.0.1',
    ],
    { env: { HEALTH_API: apiName, LIGHTBUS_TEST_KAFKA_BROKER: broker, LIGHTBUS_TEST_KAFKA_VIA: proxy.address } },
  );
}

async function healthPort(run: ChildRun): Promise<number> {
  await run.waitForOutput(/Health endpoints: http:\/\/127\.0\.0\.1:\d+/, 30_000);
  return Number(/Health endpoints: http:\/\/127\.0\.0\.1:(\d+)/.exec(run.output())![1]);
}

interface Probe {
  status: number;
  body: { ready: boolean; state: string; reasons: string[] };
}

async function probe(port: number, path: '/healthz' | '/readyz'): Promise<Probe> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: response.status, body: (await response.json()) as Probe['body'] };
}

async function until(port: number, path: '/healthz' | '/readyz', status: number, what: string): Promise<Probe['body']> {
  let last: Probe | undefined;
  await waitFor(
    async () => {
      last = await probe(port, path);
      return last.status === status;
    },
    { timeout: 40_000, message: () => `${path} to answer ${status} (${what}); last: ${JSON.stringify(last)}` },
  );
  return last!.body;
}

it('is ready once started, not ready while the broker is cut or while draining, and live throughout', async () => {
  const prefix = uniquePrefix('health');
  prefixes.push(prefix);
  const apiName = `health${prefix.replace(/[^a-z0-9]/gi, '')}.api`;
  const run = worker(apiName, prefix);
  const port = await healthPort(run);
  await until(port, '/readyz', 200, 'started');
  expect(proxy.connections).toBeGreaterThan(0); // the worker's connections go through the proxy

  proxy.down();
  const down = await until(port, '/readyz', 503, 'broker cut');
  expect(down.reasons.join('\n')).toContain(`kafka broker ${broker} unreachable`);
  expect((await probe(port, '/healthz')).status).toBe(200);
  proxy.restore();
  await until(port, '/readyz', 200, 'broker back');

  // A call in hand when SIGTERM comes: not ready while it finishes, live until the end.
  const caller = lightbus.create({ config: roles(prefix), transports: [transport], logLevel: 'critical' });
  try {
    const call = caller.client.callRpc(apiName, 'slow', { ms: 2000 }, { timeout: 30 });
    await run.waitForOutput('work started', 30_000);
    run.child.kill('SIGTERM');
    const draining = await until(port, '/readyz', 503, 'draining');
    expect(draining.state).toBe('stopping');
    expect((await probe(port, '/healthz')).status).toBe(200);
    await expect(call).resolves.toBe(2000);
  } finally {
    await caller.close();
  }
  expect((await run.exit).code).toBe(0);
});
