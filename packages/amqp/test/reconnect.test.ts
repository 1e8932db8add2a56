/**
 * Connections force-closed by the broker (rabbitmqctl close_connection, only
 * this test's connections, found by their connection_name) while calls are in
 * flight and events are being fired and consumed: the transports reconnect,
 * declare again and resume; callers get their result or a clear error, never
 * a hang; no event is lost.
 */
import { BrokerConnectionError, type EventMessage, type ResultMessage } from '@lightbus/core';
import { newMessageId, type OutgoingCall } from '@lightbus/core/transport';
import { Collector, waitFor } from '@lightbus/testing';
import type { AmqpResultTransport, AmqpRpcTransport } from '@lightbus/amqp';
import { namespaces, closeConnections, connectionsNamed, consumerCounts, listQueues } from './helpers';

const namespace = namespaces('reconn');

type Caller = { rpc: AmqpRpcTransport; result: AmqpResultTransport };

/** A call as core makes it: expectResult, callRpc, await the result within the deadline. */
async function call(
  caller: Caller,
  apiName: string,
  kwargs: Record<string, unknown>,
  timeoutSeconds = 5,
): Promise<ResultMessage> {
  const message: OutgoingCall = {
    id: newMessageId(),
    apiName,
    procedureName: 'echo',
    kwargs,
    deadline: Date.now() + timeoutSeconds * 1000,
  };
  const pending = await caller.result.expectResult(message);
  let timer: NodeJS.Timeout | undefined;
  try {
    await caller.rpc.callRpc({ ...message, returnPath: pending.returnPath });
    return await Promise.race([
      pending.result,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('timeout')), timeoutSeconds * 1000);
      }),
    ]);
  } finally {
    clearTimeout(timer);
    pending.cancel();
  }
}

function echo(worker: Caller, apiName: string, started?: Collector<string>, gate?: Promise<void>) {
  return worker.rpc.consumeRpcs([apiName], async (message) => {
    started?.push(message.id);
    if (gate) await gate;
    await worker.result.sendResult(message, {
      id: newMessageId(),
      rpcMessageId: message.id,
      result: message.kwargs,
      error: false,
    });
  });
}

it('a worker whose connections are closed mid-load recovers; every call settles with its result or an error', async () => {
  const ns = namespace();
  const worker = ns.connect(ns.context({ processName: 'worker' }), { all: { connection_name: `${ns.prefix}-worker` } });
  const caller = ns.connect(ns.context({ processName: 'caller' }), { all: { connection_name: `${ns.prefix}-caller` } });
  const consumer = await echo(worker, 'svc.api');
  const outcomes: Array<'ok' | 'wrong' | string> = [];
  const load = Array.from({ length: 8 }, async (_, lane) => {
    for (let i = 0; i < 40; i++) {
      const kwargs = { lane, i };
      try {
        const result = await call(caller, 'svc.api', kwargs, 3);
        outcomes.push(JSON.stringify(result.result) === JSON.stringify(kwargs) ? 'ok' : 'wrong');
      } catch (error) {
        outcomes.push(error instanceof BrokerConnectionError ? 'broker' : (error as Error).message);
      }
    }
  });
  await waitFor(() => outcomes.length >= 40, { message: '40 calls to complete' });
  const before = await connectionsNamed(`${ns.prefix}-worker`);
  expect(await closeConnections(`${ns.prefix}-worker`)).toBe(2); // its rpc and result connections
  await Promise.all(load);
  const after = await connectionsNamed(`${ns.prefix}-worker`);
  expect(after).toHaveLength(2);
  expect(after.filter((pid) => before.includes(pid))).toEqual([]);
  expect(outcomes).toHaveLength(320);
  expect(outcomes.filter((o) => o === 'wrong')).toEqual([]);
  // Calls in flight at the close may time out (a redelivered call is not run twice); the rest succeed.
  expect(outcomes.filter((o) => o !== 'ok' && o !== 'timeout')).toEqual([]);
  expect(outcomes.slice(-40).every((o) => o === 'ok')).toBe(true);
  await consumer.stop();
});

it('a caller whose connection is closed gets an error at once for calls in flight (direct reply-to), and the next call works', async () => {
  const ns = namespace();
  const worker = ns.connect(ns.context({ processName: 'worker' }), { all: { connection_name: `${ns.prefix}-worker` } });
  const caller = ns.connect(ns.context({ processName: 'caller' }), { all: { connection_name: `${ns.prefix}-caller` } });
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const started = new Collector<string>();
  const consumer = await echo(worker, 'svc.api', started, gate);
  const inFlight = Array.from({ length: 5 }, (_, i) =>
    call(caller, 'svc.api', { i }, 20).catch((error: unknown) => error),
  );
  await started.waitForCount(5);
  const t0 = Date.now();
  expect(await closeConnections(`${ns.prefix}-caller`)).toBe(1);
  const results = await Promise.all(inFlight);
  expect(Date.now() - t0).toBeLessThan(10_000);
  for (const result of results) {
    expect(result).toBeInstanceOf(BrokerConnectionError);
    expect((result as Error).message).toMatch(/lost while this call waited for its result/);
  }
  open();
  expect((await call(caller, 'svc.api', { again: true })).result).toEqual({ again: true });
  await consumer.stop();
});

it('with reply_mode queue, calls in flight still get results sent after the caller reconnected', async () => {
  const ns = namespace();
  const worker = ns.connect(ns.context({ processName: 'worker' }), {
    all: { connection_name: `${ns.prefix}-worker` },
    result: { reply_mode: 'queue' },
  });
  const caller = ns.connect(ns.context({ processName: 'caller' }), {
    all: { connection_name: `${ns.prefix}-caller` },
    result: { reply_mode: 'queue' },
  });
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const started = new Collector<string>();
  const consumer = await echo(worker, 'svc.api', started, gate);
  const inFlight = Array.from({ length: 5 }, (_, i) => call(caller, 'svc.api', { i }, 30));
  await started.waitForCount(5);
  const replyQueues = async () => (await listQueues(`${ns.prefix}.reply.`)).map((q) => q.name);
  const [replyQueue] = await replyQueues();
  const before = await connectionsNamed(`${ns.prefix}-caller`);
  await closeConnections(`${ns.prefix}-caller`);
  // The caller reconnects and declares its reply queue again, under the same name.
  await waitFor(
    async () => {
      const now = await connectionsNamed(`${ns.prefix}-caller`);
      return (
        now.length > 0 && now.every((name) => !before.includes(name)) && (await replyQueues()).includes(replyQueue!)
      );
    },
    { timeout: 20_000, interval: 200, message: 'the caller to reconnect and declare its reply queue again' },
  );
  open();
  const results = await Promise.all(inFlight);
  expect(results.map((r) => r.result)).toEqual(Array.from({ length: 5 }, (_, i) => ({ i })));
  await consumer.stop();
});

it('consumers and producers whose connections are closed resume; every event is handled (at least once)', async () => {
  const ns = namespace();
  const producer = ns.connect(ns.context({ processName: 'producer' }), {
    all: { connection_name: `${ns.prefix}-producer` },
  }).event;
  const consumerSet = ns.connect(ns.context({ processName: 'consumer' }), {
    all: { connection_name: `${ns.prefix}-consumer` },
    event: { prefetch: 10 },
  });
  const handled = new Collector<string>();
  const consumer = await consumerSet.event.consume(
    { events: [{ apiName: 'svc.api', eventName: 'tick' }], group: 'svc-l', consumer: 'c1' },
    async (message: EventMessage) => {
      await new Promise((resolve) => setTimeout(resolve, 2));
      handled.push(message.id);
    },
  );
  const sent: string[] = [];
  const fire = async (count: number) => {
    for (let i = 0; i < count; i++) {
      const message: EventMessage = {
        id: newMessageId(),
        apiName: 'svc.api',
        eventName: 'tick',
        version: 1,
        kwargs: { i },
      };
      await producer.sendEvent(message, { timeoutSeconds: 20 });
      sent.push(message.id);
    }
  };
  await fire(100);
  // Close the consumer's connection while it works through the backlog, the producer's while it fires.
  await handled.waitForCount(20);
  const firing = fire(100);
  await closeConnections(`${ns.prefix}-consumer`);
  await waitFor(() => sent.length >= 130, { timeout: 20_000, message: '130 events to be fired' });
  await closeConnections(`${ns.prefix}-producer`);
  await firing;
  expect(sent).toHaveLength(200);
  await waitFor(() => sent.every((id) => handled.items.includes(id)), {
    timeout: 30_000,
    interval: 100,
    message: 'every fired event to be handled',
  });
  await consumer.stop();
});

it('after two reconnections every consumer consumes exactly once (no duplicate consumers)', async () => {
  const ns = namespace();
  const worker = ns.connect(ns.context({ processName: 'worker' }), {
    all: { connection_name: `${ns.prefix}-worker` },
    result: { reply_mode: 'queue' },
  });
  const rpcConsumer = await echo(worker, 'svc.api');
  const handled = new Collector<string>();
  const eventConsumer = await worker.event.consume(
    { events: [{ apiName: 'svc.api', eventName: 'tick' }], group: 'svc-l', consumer: 'w' },
    async (m) => handled.push(m.id),
  );
  const pending = await worker.result.expectResult({
    id: newMessageId(),
    apiName: 'svc.api',
    procedureName: 'x',
    kwargs: {},
    deadline: Date.now() + 60_000,
  });
  const replyQueue = pending.returnPath.slice('amqp:'.length);
  const consumers = async () => {
    const counts = await consumerCounts(ns.prefix);
    return [`${ns.prefix}.rpc.svc.api`, `${ns.prefix}.group.svc-l`, replyQueue].map((q) => counts[q] ?? 0);
  };
  for (let round = 1; round <= 2; round++) {
    const before = await connectionsNamed(`${ns.prefix}-worker`);
    await closeConnections(`${ns.prefix}-worker`);
    await waitFor(
      async () => {
        const now = await connectionsNamed(`${ns.prefix}-worker`);
        return (
          now.length === before.length &&
          now.every((pid) => !before.includes(pid)) &&
          (await consumers()).every((n) => n === 1)
        );
      },
      { timeout: 20_000, interval: 100, message: `every consumer back after reconnection ${round}` },
    );
  }
  expect(await consumers()).toEqual([1, 1, 1]);
  const caller = ns.connect(ns.context({ processName: 'caller' }));
  expect((await call(caller, 'svc.api', { n: 1 })).result).toEqual({ n: 1 });
  const message: EventMessage = { id: newMessageId(), apiName: 'svc.api', eventName: 'tick', version: 1, kwargs: {} };
  await caller.event.sendEvent(message, { timeoutSeconds: 5 });
  await handled.waitForCount(1);
  expect(handled.items).toEqual([message.id]);
  pending.cancel();
  await rpcConsumer.stop();
  await eventConsumer.stop();
});
