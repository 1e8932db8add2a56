/**
 * The quickstart on RabbitMQ across processes: `lightbus run` serves the
 * unchanged SupportCaseApi and its listener, the quickstart client calls it
 * from another process, both configured only by examples/quickstart/lightbus.amqp.yaml
 * (LIGHTBUS_CONFIG). The test gives the file a unique prefix, so that runs
 * sharing the broker do not meet, and removes what it declared.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startNode, startTypeScript, type ChildRun } from '@lightbus/testing';
import { AMQP_URL, TcpProxy, TestNamespace, listExchanges, listQueues } from './helpers';


const root = path.resolve(__dirname, '..', '..', '..');
const quickstart = path.join(root, 'examples', 'quickstart');
const BIN = path.join(root, 'packages', 'core', 'bin', 'lightbus.js');
const children: ChildRun[] = [];
const ns = new TestNamespace('quickstart');

afterAll(async () => {
  for (const child of children) if (child.child.exitCode === null && child.child.signalCode === null) child.kill('SIGKILL');
  (await listQueues(ns.prefix)).forEach((q) => ns.queues.add(q.name));
  (await listExchanges(ns.prefix)).forEach((e) => ns.exchanges.add(e.name));
  await ns.cleanup();
});

function configCopy(url = AMQP_URL): string {
  const original = readFileSync(path.join(quickstart, 'lightbus.amqp.yaml'), 'utf8');
  const line = '        url: amqp://guest:guest@127.0.0.1:5672/\n';
  expect(original).toContain(line);
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'lightbus-amqp-quickstart-')), 'lightbus.amqp.yaml');
  writeFileSync(file, original.replace(line, `        url: ${url}\n        prefix: ${ns.prefix}\n`));
  return file;
}

it('runs the quickstart worker with `lightbus run` and the client in another process, over RabbitMQ', async () => {
  const env = { LIGHTBUS_CONFIG: configCopy() };
  const worker = startNode([BIN, 'run', '--bus', 'bus.ts'], { cwd: quickstart, env });
  children.push(worker);
  await worker.waitForOutput(/Listening for support\.case\.caseCreated/);

  const client = startTypeScript('client.ts', { cwd: quickstart, env });
  children.push(client);
  const { code } = await client.exit;
  expect({ code, output: client.output() }).toEqual({ code: 0, output: expect.stringContaining('[client] created case 124') });
  expect(client.output()).toContain("subject: 'I need support please!'");
  await worker.waitForOutput('[worker] case 124 created: Where is my order?');

  worker.kill('SIGTERM');
  const exit = await worker.exit;
  expect({ ...exit, output: worker.output() }).toEqual({ code: 0, signal: null, output: expect.not.stringContaining('handles still open') });
  // Only the documented names (the schema stream appears where core shares schemas through the schema transport).
  const queues = (await listQueues(ns.prefix)).map((q) => q.name).sort();
  expect(queues).toEqual(expect.arrayContaining([`${ns.prefix}.dead-letter`, `${ns.prefix}.group.quickstart-print-new-cases`, `${ns.prefix}.rpc.support.case`]));
  expect(queues.filter((q) => !['dead-letter', 'group.quickstart-print-new-cases', 'rpc.support.case', 'schemas'].includes(q.slice(ns.prefix.length + 1)))).toEqual([]);
});

it('a worker whose broker is down exits 1 saying where it tried and what to check', async () => {
  const proxy = new TcpProxy();
  await proxy.start();
  const url = proxy.url;
  await proxy.stop(); // nothing listens there
  const worker = startNode([BIN, 'run', '--bus', 'bus.ts'], { cwd: quickstart, env: { LIGHTBUS_CONFIG: configCopy(url) } });
  children.push(worker);
  const { code } = await worker.exit;
  expect(code).toBe(1);
  expect(worker.output()).toMatch(/Cannot connect to RabbitMQ at amqp:\/\/guest:\*\*\*@127\.0\.0\.1:\d+\/: .*ECONNREFUSED.*Check that RabbitMQ is running/);
});
