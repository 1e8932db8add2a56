/** The examples run as their READMEs say (memory transport, one process). */
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, type AddressInfo } from 'node:net';
import path from 'node:path';
import lightbus from '@lightbus/core';
import { transport as amqp } from '@lightbus/amqp';
import { transport as kafka } from '@lightbus/kafka';
import { transport as redis } from '@lightbus/redis';
import { startNode } from '@lightbus/testing';
import { Redis } from 'ioredis';
import { parse as parseYaml } from 'yaml';

const root = path.resolve(__dirname, '..');
const BIN = path.join(root, 'packages', 'core', 'bin', 'lightbus.js');

async function runExample(name: string, args: string[]): Promise<string> {
  const run = startNode(args, { cwd: path.join(root, 'examples', name), env: { LIGHTBUS_CONFIG: '' } });
  const { code } = await run.exit;
  if (code !== 0) throw new Error(`example ${name} exited ${code}:\n${run.output()}`);
  return run.output();
}

it('quickstart: a worker and a client on the memory transport', async () => {
  const output = await runExample('quickstart', ['--import', 'tsx', 'main.ts']);
  expect(output).toContain("subject: 'I need support please!'");
  expect(output).toContain('[worker] case 124 created: Where is my order?');
  expect(output).toContain('[client] created case 124');
  expect(output).toContain('[quickstart] done');
});

it('typed-shop: typed declarations, conversions, validation, generated types', async () => {
  const output = await runExample('typed-shop', ['--import', 'tsx', 'main.ts']);
  expect(output).toContain('[client] placed order 1: 12999 cents, placed is a Date: true');
  expect(output).toContain('[client] get -> ann, status open');
  expect(output).toContain(
    `[client] Invalid parameters for shop.orders.place(): 'customer' must NOT have fewer than 1 characters (got "").`,
  );
  expect(output).toMatch(/\[worker\] order 1 for ann at \d{4}-\d\d-\d\dT.* via web/);
});

it('typed-shop: the committed generated types are what codegen writes today', async () => {
  const out = path.join(mkdtempSync(path.join(tmpdir(), 'lightbus-codegen-')), 'bus-types.ts');
  await runExample('typed-shop', [BIN, 'codegen', '--bus', 'bus.ts', '--out', out]);
  const committed = readFileSync(path.join(root, 'examples', 'typed-shop', 'generated', 'bus-types.ts'), 'utf8');
  expect(readFileSync(out, 'utf8')).toBe(committed);
});

it('observability: two services on Redis with traces and Prometheus metrics', async () => {
  const port = await freePort();
  const run = startNode(['--import', 'tsx', 'main.ts'], {
    cwd: path.join(root, 'examples', 'observability'),
    env: {
      LIGHTBUS_CONFIG: '',
      BILLING_PROMETHEUS_PORT: String(port),
      REDIS_URL: `redis://127.0.0.1:6379/${EXAMPLE_DB}`,
    },
  });
  const { code } = await run.exit;
  await removeExampleKeys();
  const output = run.output();
  if (code !== 0) throw new Error(`example observability exited ${code}:\n${output}`);
  expect(output).toMatch(/rpc_server_call_duration_count\{[^}]*rpc_method="charge"[^}]*lightbus_outcome="ok"[^}]*\} 3/);
  expect(output).toMatch(
    /messaging_client_sent_messages_total\{[^}]*messaging_destination_name="billing.charged"[^}]*\} 3/,
  );
  expect(output).toContain("name: 'billing/charge'");
  expect(output).toContain('[main] done');
});

// The example's keys live in their own Redis database; the test removes them (and only them) afterwards.
const EXAMPLE_DB = 11;
async function removeExampleKeys(): Promise<void> {
  const redis = new Redis(`redis://127.0.0.1:6379/${EXAMPLE_DB}`, { lazyConnect: true });
  try {
    await redis.connect();
    await redis.del('billing.*:stream', 'billing:rpc_queue', 'schema:billing');
    await redis.srem('schemas', 'billing');
  } finally {
    redis.disconnect();
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

// The quickstart's config files for each transport (the bus-level tier runs the same worker and
// client shape on each transport with a config of its own): each is valid as it stands.
it.each(['lightbus.redis.yaml', 'lightbus.amqp.yaml', 'lightbus.kafka.yaml', 'lightbus.mixed.yaml'])(
  'quickstart: %s is a valid config',
  async (file) => {
    const bus = lightbus.create({
      configFile: path.join(root, 'examples', 'quickstart', file),
      transports: [redis, amqp, kafka],
    });
    await bus.close();
  },
);

// Every example's config names its service: without service_name each restart of a worker would
// make a new random consumer group and miss the events fired while it was down.
const exampleConfigs = readdirSync(path.join(root, 'examples')).flatMap((example) =>
  readdirSync(path.join(root, 'examples', example))
    .filter((file) => /\.ya?ml$/.test(file))
    .map((file) => path.join(example, file)),
);
it.each(exampleConfigs)('%s names its service', (file) => {
  const data = parseYaml(readFileSync(path.join(root, 'examples', file), 'utf8')) as { service_name?: unknown };
  expect(typeof data.service_name).toBe('string');
  expect(data.service_name).not.toBe('');
});
