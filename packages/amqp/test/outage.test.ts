/**
 * The broker unreachable: at first use (a clear error at once, naming the url
 * without its password and what to check), and for a while after connecting
 * (a TCP proxy in front of RabbitMQ is stopped, so only this test's clients see
 * the outage): calls and events wait, reconnection attempts back off, and all
 * resumes when the broker is back.
 */
import { BrokerConnectionError, type EventMessage } from '@lightbus/core';
import { newMessageId, type OutgoingCall } from '@lightbus/core/transport';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Collector, startNode, waitFor } from '@lightbus/testing';
import { AMQP_URL, LogCollector, TcpProxy, TestNamespace, eventOptions, holdsBasicConsume } from './helpers';
import { AmqpEventTransport } from '@lightbus/amqp';

const namespaces: TestNamespace[] = [];
const proxies: TcpProxy[] = [];
afterEach(async () => {
  await Promise.all(proxies.splice(0).map((p) => p.stop()));
  await Promise.all(namespaces.splice(0).map((n) => n.cleanup()));
});

/** A proxy in front of the broker (an outage of its own) and a namespace, both cleaned up after the test. */
async function behindProxy(): Promise<{ proxy: TcpProxy; ns: TestNamespace }> {
  const proxy = new TcpProxy();
  proxies.push(proxy);
  await proxy.start();
  const ns = new TestNamespace('outage');
  namespaces.push(ns);
  return { proxy, ns };
}

const tick = (i: number): EventMessage => ({
  id: newMessageId(),
  apiName: 'svc.api',
  eventName: 'tick',
  version: 1,
  kwargs: { i },
});

it('fails at once with what to check when the broker cannot be reached at first use', async () => {
  const proxy = new TcpProxy();
  await proxy.start();
  const closedUrl = proxy.url;
  await proxy.stop(); // nothing listens there now
  const context = { serviceName: 's', processName: 'p', logger: new LogCollector() };
  const down = new AmqpEventTransport(
    eventOptions({ url: closedUrl.replace('guest:guest@', 'guest:s3cret@'), prefix: 'lbtest-never' }),
    context,
  );
  const error = await down.sendEvent(tick(1), { timeoutSeconds: 5 }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(BrokerConnectionError);
  const message = (error as Error).message;
  expect(message).toMatch(
    /^Cannot connect to RabbitMQ at amqp:\/\/guest:\*\*\*@127\.0\.0\.1:\d+\/.*ECONNREFUSED.*Check that RabbitMQ is running/,
  );
  expect(message).not.toContain('s3cret');
  await down.close();

  const wrongPassword = new AmqpEventTransport(
    eventOptions({ url: AMQP_URL.replace(/\/\/[^@]*@/, '//guest:wrong@'), prefix: 'lbtest-never' }),
    context,
  );
  await expect(wrongPassword.sendEvent(tick(1), { timeoutSeconds: 5 })).rejects.toThrow(
    /ACCESS.REFUSED.*Check the user name and password/,
  );
  await wrongPassword.close();

  const noVhost = new AmqpEventTransport(
    eventOptions({ url: new URL('/no-such-vhost', AMQP_URL).toString(), prefix: 'lbtest-never' }),
    context,
  );
  await expect(noVhost.sendEvent(tick(1), { timeoutSeconds: 5 })).rejects.toThrow(
    /refused to open the vhost: check the vhost/,
  );
  await noVhost.close();
});

it('waits through an outage: reconnects with backoff, then calls, fires and deliveries resume', async () => {
  const { proxy, ns } = await behindProxy();
  const logs = new LogCollector();
  const overrides = { all: { url: proxy.url, reconnect_initial_delay: 0.05, reconnect_max_delay: 0.5 } };
  const worker = ns.connect(ns.context({ processName: 'worker', logger: logs }), overrides);
  const caller = ns.connect(ns.context({ processName: 'caller', logger: logs }), overrides);
  const rpcConsumer = await worker.rpc.consumeRpcs(['svc.api'], async (message) => {
    await worker.result.sendResult(message, {
      id: newMessageId(),
      rpcMessageId: message.id,
      result: message.kwargs,
      error: false,
    });
  });
  const got = new Collector<EventMessage>();
  const eventConsumer = await worker.event.consume(
    { events: [{ apiName: 'svc.api', eventName: 'tick' }], group: 'svc-l', consumer: 'w' },
    async (m) => got.push(m),
  );
  const call = async (kwargs: Record<string, unknown>, timeoutSeconds = 30) => {
    const message: OutgoingCall = {
      id: newMessageId(),
      apiName: 'svc.api',
      procedureName: 'echo',
      kwargs,
      deadline: Date.now() + timeoutSeconds * 1000,
    };
    const pending = await caller.result.expectResult(message);
    await caller.rpc.callRpc({ ...message, returnPath: pending.returnPath });
    try {
      return (await pending.result).result;
    } finally {
      pending.cancel();
    }
  };
  expect(await call({ before: true })).toEqual({ before: true });
  await caller.event.sendEvent(tick(0), { timeoutSeconds: 5 });
  await got.waitForCount(1);

  await proxy.stop();
  await waitFor(() => logs.has('Reconnecting to RabbitMQ failed'), {
    timeout: 20_000,
    message: 'a failed reconnection attempt',
  });
  // Sent during the outage: they wait for the connection (within their deadlines).
  const during = tick(1);
  const firing = caller.event.sendEvent(during, { timeoutSeconds: 30 });
  const calling = call({ during: true });
  await waitFor(() => logs.lines.filter((l) => l.includes('Reconnecting to RabbitMQ failed')).length >= 3, {
    timeout: 20_000,
    message: 'more attempts',
  });
  await proxy.start();

  await firing;
  expect(await calling).toEqual({ during: true });
  await waitFor(() => got.items.some((m) => m.id === during.id), {
    timeout: 20_000,
    message: 'the event fired during the outage to arrive',
  });
  expect(await call({ after: true })).toEqual({ after: true });
  expect(logs.has('Reconnected the event consumer connection to RabbitMQ')).toBe(true);
  expect(logs.has('Reconnected the event publisher connection to RabbitMQ')).toBe(true);
  await rpcConsumer.stop();
  await eventConsumer.stop();
});

it('a connection that drops while a consumer starts: consume() starts it on the next connection', async () => {
  const { proxy, ns } = await behindProxy();
  const logs = new LogCollector();
  const set = ns.connect(ns.context({ logger: logs }), {
    all: { url: proxy.url, reconnect_initial_delay: 0.05, reconnect_max_delay: 0.5 },
  });
  const cut = proxy.cutOnceWhenClientSends(holdsBasicConsume);
  const got = new Collector<EventMessage>();
  const consumer = await set.event.consume(
    { events: [{ apiName: 'svc.api', eventName: 'tick' }], group: 'svc-l', consumer: 'c' },
    async (m) => got.push(m),
  );
  await cut;
  expect(logs.has('The connection dropped while starting the')).toBe(true);
  const event = tick(7);
  await set.event.sendEvent(event, { timeoutSeconds: 5 });
  expect((await got.waitForCount(1)).map((m) => m.id)).toEqual([event.id]);
  await consumer.stop();
});

it('closes promptly while the broker is unreachable', async () => {
  const { proxy, ns } = await behindProxy();
  const set = ns.connect(ns.context({ logger: new LogCollector() }), { all: { url: proxy.url } });
  const consumer = await set.event.consume(
    { events: [{ apiName: 'svc.api', eventName: 'tick' }], group: 'svc-l', consumer: 'c' },
    async () => {},
  );
  await set.event.sendEvent(tick(1), { timeoutSeconds: 5 });
  await set.result.expectResult({
    id: newMessageId(),
    apiName: 'svc.api',
    procedureName: 'x',
    kwargs: {},
    deadline: Date.now() + 60_000,
  });
  await proxy.stop();
  const t0 = Date.now();
  await consumer.stop();
  await Promise.all([set.event.close(), set.result.close(), set.rpc.close(), set.schema.close()]);
  expect(Date.now() - t0).toBeLessThan(10_000);
});

it('a fire that cannot reach the broker within its deadline fails, and is not published once the broker is back', async () => {
  const { proxy, ns } = await behindProxy();
  const logs = new LogCollector();
  const set = ns.connect(ns.context({ logger: logs }), {
    all: { reconnect_initial_delay: 0.05, reconnect_max_delay: 0.2 },
    event: { url: proxy.url },
  });
  const got = new Collector<EventMessage>();
  const consumer = await set.event.consume(
    { events: [{ apiName: 'svc.api', eventName: 'tick' }], group: 'svc-l', consumer: 'c' },
    async (m) => got.push(m),
  );
  await set.event.sendEvent(tick(0), { timeoutSeconds: 5 });
  await got.waitForCount(1);

  await proxy.stop();
  await waitFor(() => logs.has('Reconnecting to RabbitMQ failed'), {
    timeout: 20_000,
    message: 'a failed reconnection attempt',
  });
  const late = tick(1);
  let outcome: unknown;
  set.event.sendEvent(late, { timeoutSeconds: 0.5 }).then(
    () => (outcome = 'sent'),
    (error: unknown) => (outcome = error),
  );
  await waitFor(() => outcome, { message: 'the fire to fail at its deadline, while the broker is still unreachable' });
  expect(outcome).toBeInstanceOf(BrokerConnectionError);
  expect((outcome as Error).message).toMatch(
    /was not sent: RabbitMQ .* could not be reached within 0.5s .* will not be sent later/,
  );

  await proxy.start();
  // Fired after the broker is back, on the same channel: anything published late would arrive before it.
  const after = tick(2);
  await set.event.sendEvent(after, { timeoutSeconds: 20 });
  await waitFor(() => got.items.some((m) => m.id === after.id), {
    timeout: 20_000,
    message: 'the event fired after the outage',
  });
  expect(got.items.map((m) => m.id)).not.toContain(late.id);
  await consumer.stop();
});

it('a `lightbus run --exit-on-broker-down` worker whose broker is down exits 1 saying where it tried and what to check', async () => {
  const proxy = new TcpProxy();
  await proxy.start();
  const url = proxy.url;
  await proxy.stop(); // nothing listens there
  const dir = mkdtempSync(path.join(tmpdir(), 'lightbus-amqp-down-'));
  const config = path.join(dir, 'lightbus.json');
  const role = { amqp: { url, prefix: 'lbtest-never' } };
  writeFileSync(
    config,
    JSON.stringify({
      bus: { schema: { transport: role } },
      apis: { default: { rpc_transport: role, result_transport: role, event_transport: role } },
    }),
  );
  const quickstart = path.resolve(__dirname, '..', '..', '..', 'examples', 'quickstart');
  const bin = path.resolve(__dirname, '..', '..', 'core', 'bin', 'lightbus.js');
  const worker = startNode([bin, 'run', '--bus', 'bus.ts', '--config', config, '--exit-on-broker-down'], {
    cwd: quickstart,
  });
  try {
    const { code } = await worker.exit;
    expect(code).toBe(1);
    expect(worker.output()).toMatch(
      /Cannot connect to RabbitMQ at amqp:\/\/guest:\*\*\*@127\.0\.0\.1:\d+\/: .*ECONNREFUSED.*Check that RabbitMQ is running/,
    );
  } finally {
    worker.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});
