/**
 * The quickstart, unchanged, on Kafka: the worker under `lightbus run` in one
 * process, the client in another, with LIGHTBUS_CONFIG pointing at
 * examples/quickstart/lightbus.kafka.yaml (given the test broker, a unique topic
 * prefix and the mock's group timings). Needs the build (npm test builds first).
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startNode, startTypeScript } from '@lightbus/testing';
import { parse } from 'yaml';
import { cleanupRun, kafkaBrokers, uniquePrefix } from './helpers';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const QUICKSTART = path.join(ROOT, 'examples', 'quickstart');
const BIN = path.join(ROOT, 'packages', 'core', 'bin', 'lightbus.js');

type Block = Record<string, unknown>;

/** The example config, pointed at the test broker. */
function testConfig(): string {
  const config = parse(readFileSync(path.join(QUICKSTART, 'lightbus.kafka.yaml'), 'utf8')) as {
    bus: { schema: { transport: { kafka: Block } } };
    apis: { default: Record<string, { kafka: Block }> };
  };
  const prefix = uniquePrefix('quickstart');
  const adapt = (block: Block, role: string): Block => ({
    ...block,
    brokers: kafkaBrokers(),
    topic_prefix: prefix,
    max_wait_ms: 100,
    ...(role === 'rpc' || role === 'event' ? { session_timeout_ms: 6000, heartbeat_interval_ms: 500, rebalance_timeout_ms: 6000 } : {}),
  });
  config.bus.schema.transport.kafka = adapt(config.bus.schema.transport.kafka, 'schema');
  for (const role of ['rpc', 'result', 'event']) {
    const selector = config.apis.default[`${role}_transport`]!;
    selector.kafka = adapt(selector.kafka, role);
  }
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'lightbus-kafka-quickstart-')), 'lightbus.json');
  writeFileSync(file, JSON.stringify(config, null, 2));
  return file;
}

describe('kafka: the quickstart across processes', () => {
  afterAll(() => cleanupRun());

  it('serves calls and delivers events with the API class unchanged, and the worker stops cleanly on SIGTERM', async () => {
    const env = { LIGHTBUS_CONFIG: testConfig() };
    const worker = startNode([BIN, 'run', '--bus', 'bus.ts'], { cwd: QUICKSTART, env });
    try {
      await worker.waitForOutput('Listening for support.case.caseCreated', 30_000);
      const client = startTypeScript(path.join(QUICKSTART, 'client.ts'), { cwd: QUICKSTART, env });
      const { code } = await client.exit;
      expect({ code, output: client.output() }).toEqual({ code: 0, output: expect.stringContaining('[client] created case 124') });
      expect(client.output()).toContain("[client] bus.support.case.get({ id: 123 }) -> {");
      await worker.waitForOutput('[worker] case 124 created: Where is my order?', 30_000);
      worker.kill('SIGTERM');
      const exit = await worker.exit;
      expect(exit).toEqual({ code: 0, signal: null });
      expect(worker.output()).not.toContain('handles still open');
    } finally {
      worker.kill('SIGKILL');
    }
  });
});
