/**
 * Whole processes: a consumer killed with SIGKILL mid-batch (its unacknowledged
 * events go to another consumer of the group), and a process that uses all four
 * roles and then exits by itself after closing its bus (no handle left open).
 * The child processes load the built package (npm test builds first).
 */
import path from 'node:path';
import { newMessageId, type EventMessage } from '@lightbus/core';
import { Collector, startTypeScript, waitFor, type ChildRun } from '@lightbus/testing';
import { AMQP_URL, TcpProxy, TestNamespace, connectionsNamed, listQueues, withChannel } from './helpers';


const FIXTURES = path.join(__dirname, 'fixtures');
const namespaces: TestNamespace[] = [];
const children: ChildRun[] = [];

const proxies: TcpProxy[] = [];

afterEach(async () => {
  for (const child of children.splice(0)) if (child.child.exitCode === null && child.child.signalCode === null) child.kill('SIGKILL');
  await Promise.all(proxies.splice(0).map((p) => p.stop()));
  await Promise.all(namespaces.splice(0).map((n) => n.cleanup()));
});

function lines(output: string, word: string): string[] {
  return output
    .split('\n')
    .filter((line) => line.startsWith(`${word} `))
    .map((line) => line.slice(word.length + 1).trim());
}

it('gives every event a killed consumer had not acknowledged to another consumer of its group', async () => {
  const ns = new TestNamespace('kill');
  namespaces.push(ns);
  const child = startTypeScript(path.join(FIXTURES, 'group-consumer.ts'), { env: { AMQP_URL, PREFIX: ns.prefix, HANG_AFTER: '5' } });
  children.push(child);
  await child.waitForOutput('ready');
  // The child declared the group queue; record it (and the exchange) for cleanup.
  (await listQueues(ns.prefix)).forEach((q) => ns.queues.add(q.name));
  ns.exchanges.add(`${ns.prefix}.events`).add(`${ns.prefix}.dead-letter`);

  const producer = ns.connect(ns.context({ processName: 'producer' })).event;
  const sent: string[] = [];
  for (let i = 0; i < 50; i++) {
    const message: EventMessage = { id: newMessageId(), apiName: 'svc.api', eventName: 'tick', version: 1, kwargs: { i } };
    await producer.sendEvent(message, { timeoutSeconds: 5 });
    sent.push(message.id);
  }
  // Mid-batch: five handled and acknowledged, the sixth hanging, more delivered ahead (prefetch 10).
  await waitFor(() => lines(child.output(), 'received').length >= 6, { timeout: 20_000, message: 'the child to be mid-batch' });
  child.kill('SIGKILL');
  expect((await child.exit).signal).toBe('SIGKILL');
  const handledByChild = lines(child.output(), 'handled');
  const hanging = lines(child.output(), 'received').filter((id) => !handledByChild.includes(id));
  expect(handledByChild).toHaveLength(5);
  expect(hanging).toHaveLength(1);

  const survivor = ns.connect(ns.context({ processName: 'survivor' })).event;
  const got = new Collector<EventMessage>();
  const consumer = await survivor.consume({ events: [{ apiName: 'svc.api', eventName: 'tick' }], group: 'killtest-l', consumer: 'survivor' }, async (m) => got.push(m));
  const missing = sent.filter((id) => !handledByChild.includes(id));
  await waitFor(() => missing.every((id) => got.items.some((m) => m.id === id)), { timeout: 20_000, message: 'the survivor to handle every unacknowledged event' });
  expect(got.items.map((m) => m.id)).toContain(hanging[0]);
  // Acknowledged events are not handed out again.
  expect(got.items.filter((m) => handledByChild.includes(m.id))).toEqual([]);
  // The killed consumer's connection is gone from the broker.
  expect(await connectionsNamed(`${ns.prefix}-child`)).toEqual([]);
  await consumer.stop();
});

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
  const child = startTypeScript(path.join(FIXTURES, 'close-while-reconnecting.ts'), { env: { PROXY_URL: proxy.url, PREFIX: ns.prefix } });
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
  await waitFor(() => proxy.silentSockets.size === 0, { timeout: 10_000, message: 'the child to drop its connection attempt' });
  expect(await child.exit).toEqual({ code: 0, signal: null });
});
