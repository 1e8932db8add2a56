/**
 * Whole processes, as far as they are RabbitMQ's own: a process that uses all
 * four roles exits by itself after closing its bus (no handle left open), also
 * while reconnecting. A killed consumer's events going to another, SIGTERM
 * drain and the quickstart across processes: the bus-level tier (bus-tier.test.ts).
 * The child processes load the built package (npm test builds first).
 */
import path from 'node:path';
import { startTypeScript, waitFor, type ChildRun } from '@lightbus/testing';
import { AMQP_URL, TcpProxy, TestNamespace, connectionsNamed, listQueues, withChannel } from './helpers';

const FIXTURES = path.join(__dirname, 'fixtures');
const namespaces: TestNamespace[] = [];
const children: ChildRun[] = [];

const proxies: TcpProxy[] = [];

afterEach(async () => {
  for (const child of children.splice(0))
    if (child.child.exitCode === null && child.child.signalCode === null) child.kill('SIGKILL');
  await Promise.all(proxies.splice(0).map((p) => p.stop()));
  await Promise.all(namespaces.splice(0).map((n) => n.cleanup()));
});

function lines(output: string, word: string): string[] {
  return output
    .split('\n')
    .filter((line) => line.startsWith(`${word} `))
    .map((line) => line.slice(word.length + 1).trim());
}

it('a process that used all four roles exits by itself after closing its bus', async () => {
  const ns = new TestNamespace('exit');
  namespaces.push(ns);
  const child = startTypeScript(path.join(FIXTURES, 'shutdown-bus.ts'), { env: { AMQP_URL, PREFIX: ns.prefix } });
  children.push(child);
  const { code, signal } = await child.exit;
  (await listQueues(ns.prefix)).forEach((q) => ns.queues.add(q.name));
  ns.exchanges.add(`${ns.prefix}.events`).add(`${ns.prefix}.dead-letter`);
  const output = child.output();
  expect({ code, signal, output }).toEqual({ code: 0, signal: null, output: expect.stringContaining('closed') });
  expect(output).toContain('result 42');
  expect(output).toContain('heard 1');
  expect(await connectionsNamed(`${ns.prefix}-shutdown`)).toEqual([]);
  // Nothing it consumed is left unacknowledged or queued.
  await withChannel(async (channel) => {
    const group = await channel.checkQueue(`${ns.prefix}.group.shutdown-log`);
    expect(group.messageCount).toBe(0);
  });
});

it('close() during a reconnection attempt to a broker that never answers ends the attempt: no socket or timer is left', async () => {
  const ns = new TestNamespace('silent');
  namespaces.push(ns);
  ns.queues.add(`${ns.prefix}.schemas`);
  const proxy = new TcpProxy();
  proxies.push(proxy);
  await proxy.start();
  // connection_timeout 60 s: without ending the attempt, its socket and timer would keep the child alive that long.
  const child = startTypeScript(path.join(FIXTURES, 'close-while-reconnecting.ts'), {
    env: { PROXY_URL: proxy.url, PREFIX: ns.prefix },
  });
  children.push(child);
  await child.waitForOutput('connected');
  // The connection is cut; the reconnection attempt reaches a server that accepts and never answers.
  await proxy.goSilent();
  expect(proxy.silentSockets.size).toBe(1);
  child.kill('SIGUSR2');
  await child.waitForOutput(/handles .*\n/);
  const handles = JSON.parse(lines(child.output(), 'handles')[0]!) as string[];
  expect(handles.filter((h) => h !== 'TTYWrap' && h !== 'PipeWrap')).toEqual([]);
  // The child dropped the attempt's socket, and ends by itself.
  await waitFor(() => proxy.silentSockets.size === 0, {
    timeout: 10_000,
    message: 'the child to drop its connection attempt',
  });
  expect(await child.exit).toEqual({ code: 0, signal: null });
});
