/**
 * One API, its roles on three transports with their default options: the
 * quickstart's calls on Redis, results on RabbitMQ, events on Kafka
 * (examples/quickstart/lightbus.mixed.yaml), the API class unchanged; worker
 * and client in separate processes.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { Kafka, logLevel } from 'kafkajs';
import { parse } from 'yaml';
import { startNode, startTypeScript } from '@lightbus/testing';
import { AMQP_URL, TestNamespace, listExchanges, listQueues } from '../packages/amqp/test/helpers';

const ROOT = path.resolve(__dirname, '..');
const QUICKSTART = path.join(ROOT, 'examples', 'quickstart');
const BIN = path.join(ROOT, 'packages', 'core', 'bin', 'lightbus.js');
// A Redis database of this test's own, and a Kafka topic prefix unique to this run.
const REDIS_URL = 'redis://127.0.0.1:6379/6';
const PREFIX = `lbtest.mixed.${Date.now().toString(36)}.`;
const amqp = new TestNamespace('mixed');

function brokers(): string[] {
  return (process.env.KAFKA_BROKERS ?? '').split(',').filter(Boolean);
}

/** The example config, pointed at the test brokers. */
function testConfig(): string {
  type Selector = Record<string, Record<string, unknown>>;
  const config = parse(readFileSync(path.join(QUICKSTART, 'lightbus.mixed.yaml'), 'utf8'), { merge: true }) as {
    bus: { schema: { transport: Selector } };
    apis: { default: Record<string, Selector> };
  };
  config.bus.schema.transport.redis!.url = REDIS_URL;
  const defaults = config.apis.default;
  defaults.rpc_transport!.redis = { url: REDIS_URL };
  // Only the url and a prefix of this run: reply_mode stays unset, as in the example.
  expect(Object.keys(defaults.result_transport!.amqp!)).toEqual(['url']);
  defaults.result_transport!.amqp = { url: AMQP_URL, prefix: amqp.prefix };
  defaults.event_transport!.kafka = {
    brokers: brokers(),
    topic_prefix: PREFIX,
    max_wait_ms: 100,
    session_timeout_ms: 6000,
    heartbeat_interval_ms: 500,
    rebalance_timeout_ms: 6000,
  };
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'lightbus-mixed-')), 'lightbus.json');
  writeFileSync(file, JSON.stringify(config));
  return file;
}

const redis = new Redis(REDIS_URL, { lazyConnect: true });
const kafka = new Kafka({ clientId: 'lightbus-mixed-test', brokers: brokers(), logLevel: logLevel.NOTHING });

afterAll(async () => {
  // Delete what the run created: the quickstart's keys in this test's database, and the topics under its prefix.
  const keys: string[] = [];
  for (const pattern of ['support.case*', 'schema:support.case', 'lightbus:result:quickstart*', 'rpc_expiry_key:*']) {
    keys.push(...(await redis.keys(pattern)));
  }
  if (keys.length > 0) await redis.del(...keys);
  await redis.srem('schemas', 'support.case');
  redis.disconnect();
  (await listQueues(amqp.prefix)).forEach((q) => amqp.queues.add(q.name));
  (await listExchanges(amqp.prefix)).forEach((e) => amqp.exchanges.add(e.name));
  await amqp.cleanup();
  const admin = kafka.admin();
  await admin.connect();
  const topics = (await admin.listTopics()).filter((t) => t.startsWith(PREFIX));
  if (topics.length > 0) await admin.deleteTopics({ topics }).catch(() => undefined); // the mock broker cannot delete topics
  await admin.disconnect();
});

it('serves calls over Redis, answers them over RabbitMQ and delivers events over Kafka, with default options', async () => {
  const env = { LIGHTBUS_CONFIG: testConfig() };
  // At debug level: the worker logs the reply mode the AMQP result transport chose.
  const worker = startNode([BIN, 'run', '--bus', 'bus.ts', '--log-level', 'debug'], { cwd: QUICKSTART, env });
  try {
    await worker.waitForOutput('Listening for support.case.caseCreated', 30_000);
    expect(worker.output()).toContain('Serving support.case transport=redis');
    // Calls do not travel over RabbitMQ, so results come back through a reply queue, chosen at create().
    expect(worker.output()).toMatch(
      /apis\.default\.result_transport\.amqp\.reply_mode: "queue" \(not set: direct reply-to would not work: this API's rpc_transport is 'redis'/,
    );

    const client = startTypeScript(path.join(QUICKSTART, 'client.ts'), { cwd: QUICKSTART, env });
    const { code } = await client.exit;
    expect({ code, output: client.output() }).toEqual({
      code: 0,
      output: expect.stringContaining('[client] created case 124'),
    });
    expect(client.output()).not.toMatch(/RpcTimeoutError|ForeignReturnPath/);
    await worker.waitForOutput('[worker] case 124 created: Where is my order?', 30_000);

    // The event is in Kafka (read back through its history) and not in Redis; the calls used Redis, not Kafka.
    const inspect = startNode([BIN, 'inspect', '--api', 'support.case', '--format', 'json'], { cwd: QUICKSTART, env });
    expect((await inspect.exit).code).toBe(0);
    const events = inspect
      .output()
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { event_name: string; kwargs: { id: number } });
    expect(events).toEqual([
      expect.objectContaining({ event_name: 'caseCreated', kwargs: expect.objectContaining({ id: 124 }) }),
    ]);
    expect(await redis.keys('support.case*:stream')).toEqual([]);
    expect(await redis.exists('schema:support.case')).toBe(1);
    const admin = kafka.admin();
    await admin.connect();
    const topics = (await admin.listTopics()).filter((t) => t.startsWith(PREFIX));
    await admin.disconnect();
    expect(topics).toContain(`${PREFIX}event.support.case`);
    expect(topics.filter((t) => t.includes('rpc') || t.includes('reply'))).toEqual([]);

    worker.kill('SIGTERM');
    expect(await worker.exit).toEqual({ code: 0, signal: null });
  } finally {
    worker.kill('SIGKILL');
  }
});
