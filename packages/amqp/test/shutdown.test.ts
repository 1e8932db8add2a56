/**
 * close() racing with work that is starting, resuming or waiting: consumers
 * that are still setting up, consumers waiting to resume after losing their
 * connection, calls waiting for results. close() leaves nothing
 * running and every caller gets an answer (BusClosedError), never a hang.
 */
import { BusClosedError, type EventMessage } from '@lightbus/core';
import { newMessageId, type OutgoingCall } from '@lightbus/core/transport';
import { Collector, waitFor } from '@lightbus/testing';
import { LogCollector, TcpProxy, connectionsNamed, namespaces, withChannel } from './helpers';

const proxies: TcpProxy[] = [];
afterEach(async () => {
  await Promise.all(proxies.splice(0).map((p) => p.stop()));
});
const namespace = namespaces('shut');

const spec = (group: string) => ({ events: [{ apiName: 'svc.api', eventName: 'tick' }], group, consumer: 'c1' });
const tick = (): EventMessage => ({
  id: newMessageId(),
  apiName: 'svc.api',
  eventName: 'tick',
  version: 1,
  kwargs: {},
});

async function consumerCount(queue: string): Promise<number> {
  return withChannel(async (channel) => (await channel.checkQueue(queue)).consumerCount);
}

it('close() while an event consumer is starting: consume() fails with BusClosedError and nothing consumes afterwards', async () => {
  const ns = namespace();
  const set = ns.connect(ns.context());
  // The consumer connection is open already (another group), so the new consumer gets its channel at once.
  await set.event.consume(spec('svc-first'), async () => {});
  const starting = set.event.consume(spec('svc-second'), async () => {}).catch((error: unknown) => error);
  await set.event.close();
  expect(await starting).toBeInstanceOf(BusClosedError);
  expect(await connectionsNamed(ns.connectionName)).toEqual([]);
  const queue = `${ns.prefix}.group.svc-second`;
  if (ns.queues.has(queue)) expect(await consumerCount(queue)).toBe(0);
});

it('close() while an RPC consumer is starting: consumeRpcs() fails with BusClosedError', async () => {
  const ns = namespace();
  const set = ns.connect(ns.context());
  await set.rpc.consumeRpcs(['svc.first'], async () => {});
  const starting = set.rpc.consumeRpcs(['svc.second'], async () => {}).catch((error: unknown) => error);
  await set.rpc.close();
  expect(await starting).toBeInstanceOf(BusClosedError);
  expect(await connectionsNamed(ns.connectionName)).toEqual([]);
});

it('stop() while a consumer waits to resume after losing its connection: returns, logs no error, resumes nothing', async () => {
  const proxy = new TcpProxy();
  proxies.push(proxy);
  await proxy.start();
  const ns = namespace();
  const logs = new LogCollector();
  const set = ns.connect(ns.context({ logger: logs }), {
    all: { url: proxy.url, reconnect_initial_delay: 0.05, reconnect_max_delay: 0.2 },
  });
  const got = new Collector<string>();
  const consumer = await set.event.consume(spec('svc-l'), async (m) => got.push(m.id));
  await set.event.sendEvent(tick(), { timeoutSeconds: 5 });
  await got.waitForCount(1);
  await proxy.stop();
  // Several failed attempts: the consumer's own retry (after 0.1 s) now waits for the connection.
  await waitFor(
    () =>
      logs.lines.filter((l) => l.includes('Reconnecting to RabbitMQ failed') && l.includes('event consumer')).length >=
      3,
    {
      timeout: 20_000,
      message: 'failed reconnection attempts',
    },
  );
  await consumer.stop();
  await set.event.close();
  expect(logs.lines.filter((l) => l.startsWith('error'))).toEqual([]);
  expect(logs.has('Resumed the event consumer')).toBe(false);
});

for (const mode of ['direct', 'queue'] as const) {
  it(`close() fails the calls still waiting for their results with BusClosedError (reply_mode ${mode})`, async () => {
    const ns = namespace();
    const set = ns.connect(ns.context(), { result: { reply_mode: mode } });
    const call: OutgoingCall = {
      id: newMessageId(),
      apiName: 'svc.api',
      procedureName: 'x',
      kwargs: {},
      deadline: Date.now() + 60_000,
    };
    const pending = await set.result.expectResult(call);
    let settled: unknown;
    pending.result.catch((error: unknown) => (settled = error));
    // Another call starts waiting while the endpoint closes.
    const late = set.result
      .expectResult({ ...call, id: newMessageId() })
      .then((p) => p.result)
      .catch((error: unknown) => error);
    await set.result.close();
    await waitFor(() => settled, { message: 'the waiting call to fail' });
    expect(settled).toBeInstanceOf(BusClosedError);
    expect(await late).toBeInstanceOf(BusClosedError);
  });
}
