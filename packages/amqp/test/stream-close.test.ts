/**
 * Stream reads (history, schema loads, replay) cut short by close() fail with
 * core's BusClosedError, or end quietly where the caller is stopping anyway
 * (a replay of a consumer that stops), never with StreamReadError. The reads
 * are caught mid-way deterministically: through a proxy that stops passing the
 * broker's frames on the read's channel once it sends basic.consume (so it waits for
 * consume-ok forever), or by replaying from a position the stream has not
 * reached (so it waits for data that never comes).
 */
import { BusClosedError, type EventMessage } from '@lightbus/core';
import { newMessageId } from '@lightbus/core/transport';
import { waitFor } from '@lightbus/testing';
import { LogCollector, TcpProxy, basicConsumeChannel, consumerCounts, namespaces } from './helpers';

const proxies: TcpProxy[] = [];
afterEach(async () => {
  await Promise.all(proxies.splice(0).map((p) => p.stop()));
});
const namespace = namespaces('stclose');

const tick = (i: number): EventMessage => ({
  id: newMessageId(),
  apiName: 'svc.api',
  eventName: 'tick',
  version: 1,
  kwargs: { i },
});

async function startProxy(): Promise<TcpProxy> {
  const proxy = new TcpProxy();
  proxies.push(proxy);
  await proxy.start();
  return proxy;
}

it('history() cut short by close() fails with BusClosedError', async () => {
  const ns = namespace();
  const producer = ns.connect(ns.context(), { event: { stream: true } }).event;
  for (let i = 0; i < 3; i++) await producer.sendEvent(tick(i), { timeoutSeconds: 5 });
  const proxy = await startProxy();
  const reader = ns.connect(ns.context({ processName: 'reader' }), {
    all: { url: proxy.url },
    event: { stream: true },
  }).event;
  const muted = proxy.muteChannelWhenClientSends(basicConsumeChannel);
  const reading = (async () => {
    for await (const message of reader.history({ apiName: 'svc.api' })) void message;
  })().then(
    () => 'finished',
    (error: unknown) => error,
  );
  await muted; // the read sent basic.consume and now waits for the broker
  await reader.close();
  const outcome = await reading;
  expect(outcome).toBeInstanceOf(BusClosedError);
  expect((outcome as Error).message).toMatch(/amqp event transport is closed/);
});

it('a schema load cut short by close() fails with BusClosedError', async () => {
  const ns = namespace();
  const proxy = await startProxy();
  const schemas = ns.connect(ns.context(), { all: { url: proxy.url } }).schema;
  await schemas.store('svc.api', { rpcs: {}, events: {} }, 60);
  const muted = proxy.muteChannelWhenClientSends(basicConsumeChannel);
  const loading = schemas.load().then(
    () => 'loaded',
    (error: unknown) => error,
  );
  await muted;
  await schemas.close();
  const outcome = await loading;
  expect(outcome).toBeInstanceOf(BusClosedError);
  expect((outcome as Error).message).toMatch(/amqp schema transport is closed/);
});

it('a replay waiting for stream data ends at once and quietly when its transport closes', async () => {
  const ns = namespace();
  const producer = ns.connect(ns.context(), { event: { stream: true } }).event;
  for (let i = 0; i < 3; i++) await producer.sendEvent(tick(i), { timeoutSeconds: 5 });
  const logs = new LogCollector();
  const events = ns.connect(ns.context({ processName: 'replayer', logger: logs }), { event: { stream: true } }).event;
  const handled: string[] = [];
  // A position the stream has not reached: the replay waits for data (and its marker) that never come.
  await events.consume(
    {
      events: [{ apiName: 'svc.api', eventName: 'tick' }],
      group: 'svc-far',
      consumer: 'c1',
      since: { kind: 'position', position: '1000000' },
    },
    async (m) => {
      handled.push(m.id);
    },
  );
  const stream = `${ns.prefix}.stream.svc.api`;
  await waitFor(async () => (await consumerCounts(ns.prefix))[stream] === 1, {
    timeout: 20_000,
    message: 'the replay to read the stream',
  });
  await events.close();
  expect(handled).toEqual([]);
  expect(logs.lines.filter((l) => l.startsWith('error'))).toEqual([]);
  const ended = logs.lines.filter((l) => l.includes('Replay for the new group svc-far ended: the consumer stopped'));
  expect(ended).toHaveLength(1);
  expect(ended[0]).toContain('was stopped');
  expect(ended[0]).not.toMatch(/StreamReadError|made no progress/);
});
