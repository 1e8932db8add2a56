/**
 * What the transport declares on RabbitMQ, as the broker reports it
 * (rabbitmqctl list_queues / list_exchanges / list_bindings): names, types,
 * durability, arguments and bindings are a wire format other processes rely on.
 */
import type { EventMessage } from '@lightbus/core';
import { newMessageId, type OutgoingCall } from '@lightbus/core/transport';
import { Collector, waitFor } from '@lightbus/testing';
import { AmqpDeclarationError } from '@lightbus/amqp';
import {
  LogCollector,
  namespaces,
  connectionDetails,
  listBindings,
  listExchanges,
  listQueues,
  withChannel,
} from './helpers';

const namespace = namespaces('topo');

const event = (apiName: string, eventName: string): EventMessage => ({
  id: newMessageId(),
  apiName,
  eventName,
  version: 1,
  kwargs: {},
});

it('declares the default topology: rpc queue, events exchange, quorum group queue, dead letters, streams, schemas', async () => {
  const ns = namespace();
  const p = ns.prefix;
  const set = ns.connect(ns.context({ serviceName: 'billing', processName: 'w1' }), {
    event: { stream: true, delivery_limit: 3 },
  });

  // rpc: a worker declares the API's queue.
  const consumer = await set.rpc.consumeRpcs(['support.case'], async () => {});
  // events: a listener of two events of one API.
  const consumed = await set.event.consume(
    {
      events: [
        { apiName: 'support.case', eventName: 'created' },
        { apiName: 'support.case', eventName: 'closed' },
      ],
      group: 'billing-notify',
      consumer: 'w1',
    },
    async () => {},
  );
  await set.event.sendEvent(event('support.case', 'created'), { timeoutSeconds: 5 });
  await set.schema.store('support.case', { rpcs: {}, events: {} }, 60);

  const queues = Object.fromEntries((await listQueues(p)).map((q) => [q.name, q]));
  expect(Object.keys(queues).sort()).toEqual([
    `${p}.dead-letter`,
    `${p}.group.billing-notify`,
    `${p}.rpc.support.case`,
    `${p}.schemas`,
    `${p}.stream.support.case`,
  ]);
  expect(queues[`${p}.rpc.support.case`]).toMatchObject({
    type: 'classic',
    durable: true,
    auto_delete: false,
    exclusive: false,
    arguments: { 'x-queue-type': 'classic' },
  });
  expect(queues[`${p}.group.billing-notify`]).toMatchObject({
    type: 'quorum',
    durable: true,
    arguments: { 'x-queue-type': 'quorum', 'x-delivery-limit': 3, 'x-dead-letter-exchange': `${p}.dead-letter` },
  });
  expect(queues[`${p}.dead-letter`]).toMatchObject({
    type: 'classic',
    durable: true,
    arguments: { 'x-queue-type': 'classic' },
  });
  expect(queues[`${p}.stream.support.case`]).toMatchObject({
    type: 'stream',
    durable: true,
    arguments: {
      'x-queue-type': 'stream',
      'x-max-age': '604800s',
      'x-max-length-bytes': 10_000_000_000,
      'x-stream-max-segment-size-bytes': 500_000_000,
    },
  });
  expect(queues[`${p}.schemas`]).toMatchObject({
    type: 'stream',
    arguments: { 'x-queue-type': 'stream', 'x-max-age': '1D' },
  });

  expect((await listExchanges(p)).sort((a, b) => a.name.localeCompare(b.name))).toEqual([
    { name: `${p}.dead-letter`, type: 'topic', durable: true },
    { name: `${p}.events`, type: 'topic', durable: true },
  ]);

  const bindings = (await listBindings(p))
    .map((b) => `${b.source_name} -> ${b.destination_name} [${b.routing_key}]`)
    .sort();
  expect(bindings).toEqual([
    `${p}.dead-letter -> ${p}.dead-letter [#]`,
    `${p}.events -> ${p}.group.billing-notify [support.case.closed]`,
    `${p}.events -> ${p}.group.billing-notify [support.case.created]`,
    `${p}.events -> ${p}.stream.support.case [support.case.*]`,
  ]);
  await consumer.stop();
  await consumed.stop();
});

it('declares classic group queues with the optional limits, and a per-process reply queue', async () => {
  const ns = namespace();
  const p = ns.prefix;
  const set = ns.connect(ns.context({ serviceName: 'svc', processName: 'p9' }), {
    result: { reply_mode: 'queue' },
    event: { queue_type: 'classic', durable: false, message_ttl: 60, max_length: 1000, dead_letter: false },
  });
  const consumed = await set.event.consume(
    { events: [{ apiName: 'a', eventName: 'e' }], group: 'svc-l', consumer: 'p9' },
    async () => {},
  );
  const call: OutgoingCall = {
    id: newMessageId(),
    apiName: 'a',
    procedureName: 'x',
    kwargs: {},
    deadline: Date.now() + 60_000,
  };
  const pending = await set.result.expectResult(call);
  expect(pending.returnPath).toMatch(new RegExp(`^amqp:${p}\\.reply\\.svc\\.p9\\.[0-9a-f]{12}$`));

  const queues = Object.fromEntries((await listQueues(p)).map((q) => [q.name, q]));
  expect(queues[`${p}.group.svc-l`]).toMatchObject({
    type: 'classic',
    durable: false,
    arguments: { 'x-queue-type': 'classic', 'x-message-ttl': 60000, 'x-max-length': 1000 },
  });
  expect(queues[`${p}.dead-letter`]).toBeUndefined();
  const reply = queues[pending.returnPath.slice('amqp:'.length)];
  expect(reply).toMatchObject({ exclusive: true, auto_delete: true, durable: false });
  pending.cancel();
  await consumed.stop();
});

it('binds a group to exactly the events it listens for, and drops a binding the listener no longer has', async () => {
  const ns = namespace();
  const p = ns.prefix;
  const producer = ns.connect(ns.context()).event;
  const v1 = ns.connect(ns.context());
  const first = await v1.event.consume(
    {
      events: [
        { apiName: 'a', eventName: 'old' },
        { apiName: 'a', eventName: 'kept' },
      ],
      group: 'svc-l',
      consumer: 'c1',
    },
    async () => {},
  );
  await first.stop();
  // A new version of the listener only listens for 'kept'.
  const got = new Collector<EventMessage>();
  const second = await ns
    .connect(ns.context())
    .event.consume({ events: [{ apiName: 'a', eventName: 'kept' }], group: 'svc-l', consumer: 'c1' }, async (m) =>
      got.push(m),
    );
  await producer.sendEvent(event('a', 'old'), { timeoutSeconds: 5 });
  const kept = event('a', 'kept');
  await producer.sendEvent(kept, { timeoutSeconds: 5 });
  await got.waitForCount(1);
  expect(got.items.map((m) => m.id)).toEqual([kept.id]);
  const bindings = (await listBindings(p))
    .filter((b) => b.destination_name === `${p}.group.svc-l`)
    .map((b) => b.routing_key);
  expect(bindings).toEqual(['a.kept']);
  await second.stop();
});

it('during a rolling deploy keeps a binding an older consumer still uses; acknowledges what the new one does not want, once', async () => {
  const ns = namespace();
  const p = ns.prefix;
  const producer = ns.connect(ns.context()).event;
  // The old version listens for 'old' and 'kept' and keeps running.
  const oldGot = new Collector<EventMessage>();
  const oldVersion = await ns.connect(ns.context({ processName: 'old' })).event.consume(
    {
      events: [
        { apiName: 'a', eventName: 'old' },
        { apiName: 'a', eventName: 'kept' },
      ],
      group: 'svc-l',
      consumer: 'old',
    },
    async (m) => oldGot.push(m),
  );
  // The new version, in the same group, listens for 'kept' only.
  const logs = new LogCollector();
  const newGot = new Collector<EventMessage>();
  const newVersion = await ns
    .connect(ns.context({ processName: 'new', logger: logs }))
    .event.consume({ events: [{ apiName: 'a', eventName: 'kept' }], group: 'svc-l', consumer: 'new' }, async (m) =>
      newGot.push(m),
    );
  const fired = Array.from({ length: 20 }, () => event('a', 'old'));
  for (const message of fired) await producer.sendEvent(message, { timeoutSeconds: 5 });
  const acknowledgedByNew = () =>
    fired.filter((m) => logs.lines.some((l) => l.includes('listener does not listen for') && l.includes(m.id)));
  // Competing consumers: each event goes to one of them; the new one acknowledges its share without handling it.
  await waitFor(() => acknowledgedByNew().length > 0 && acknowledgedByNew().length + oldGot.length === fired.length, {
    message: 'every event to be handled by the old version or acknowledged by the new one',
  });
  await waitFor(() => logs.has('Kept the binding a.old of group svc-l'), {
    message: 'the new version to keep the binding',
  });
  expect(newGot.items).toEqual([]);
  expect(logs.lines.filter((l) => l.startsWith('warn') && l.includes('listener does not listen for'))).toHaveLength(1);
  expect(logs.has('Removed the binding')).toBe(false);
  let bindings = (await listBindings(p))
    .filter((b) => b.destination_name === `${p}.group.svc-l`)
    .map((b) => b.routing_key)
    .sort();
  expect(bindings).toEqual(['a.kept', 'a.old']);
  // Nothing loops: the queue is empty, no event was handed out twice.
  expect((await withChannel((channel) => channel.checkQueue(`${p}.group.svc-l`))).messageCount).toBe(0);
  expect(new Set(oldGot.items.map((m) => m.id)).size).toBe(oldGot.length);

  // The old version is gone: the next such event removes the binding.
  await oldVersion.stop();
  await producer.sendEvent(event('a', 'old'), { timeoutSeconds: 5 });
  await waitFor(() => logs.has('Removed the binding a.old of group svc-l'), {
    message: 'the stale binding to be removed',
  });
  bindings = (await listBindings(p)).filter((b) => b.destination_name === `${p}.group.svc-l`).map((b) => b.routing_key);
  expect(bindings).toEqual(['a.kept']);
  await newVersion.stop();
});

it('says what to do when a queue exists with other arguments', async () => {
  const ns = namespace();
  const quorum = ns.connect(ns.context()).event;
  const classic = ns.connect(ns.context(), { event: { queue_type: 'classic' } }).event;
  const spec = { events: [{ apiName: 'a', eventName: 'e' }], group: 'svc-l', consumer: 'c1' };
  await (await quorum.consume(spec, async () => {})).stop();
  const failure = await classic.consume(spec, async () => {}).catch((error: unknown) => error);
  expect(failure).toBeInstanceOf(AmqpDeclarationError);
  expect(String((failure as Error).message)).toMatch(
    /inequivalent arg 'x-queue-type'.*every process must use the same options/s,
  );
});

it('names its connections after role, service and process, and asks for the configured heartbeat', async () => {
  const ns = namespace();
  const context = ns.context({ serviceName: `svc-${ns.prefix}`, processName: 'p7' });
  const set = ns.connect(context, { all: { connection_name: undefined }, event: { heartbeat: 7 } });
  await set.event.sendEvent(event('a', 'e'), { timeoutSeconds: 5 });
  const consumer = await set.event.consume(
    { events: [{ apiName: 'a', eventName: 'e' }], group: 'g', consumer: 'p7' },
    async () => {},
  );
  await set.schema.store('a', { rpcs: {}, events: {} }, 60);
  const connections = await connectionDetails(`lightbus `);
  const mine = connections.filter((c) => c.connectionName.includes(`svc-${ns.prefix}/p7`));
  // Publishing and consuming use separate connections (flow control blocks publishers, not acknowledgements).
  expect(mine.map((c) => [c.connectionName, c.heartbeat]).sort()).toEqual([
    [`lightbus event consumer svc-${ns.prefix}/p7`, 7],
    [`lightbus event publisher svc-${ns.prefix}/p7`, 7],
    [`lightbus schema svc-${ns.prefix}/p7`, 30],
  ]);
  await consumer.stop();
  expect(mine[0]!.clientProperties).toContain(`{"lightbus_service","svc-${ns.prefix}"}`);
  expect(mine[0]!.clientProperties).toContain('{"lightbus_process","p7"}');
});

it('declares again what an operator deleted, and goes on firing', async () => {
  const ns = namespace();
  const set = ns.connect(ns.context());
  const got = new Collector<EventMessage>();
  const consumer = await set.event.consume(
    { events: [{ apiName: 'a', eventName: 'e' }], group: 'svc-l', consumer: 'c' },
    async (m) => got.push(m),
  );
  await set.event.sendEvent(event('a', 'e'), { timeoutSeconds: 5 });
  await got.waitForCount(1);
  // Delete the events exchange under the running transport (its group queue binding goes with it).
  await withChannel(async (channel) => {
    await channel.deleteExchange(`${ns.prefix}.events`);
  });
  // The next fire meets the missing exchange (404 closes its channel), declares it again and publishes.
  // The group queue lost its binding with the exchange; RabbitMQ tells its consumer nothing, so the
  // binding comes back when the consumer starts again.
  await set.event.sendEvent(event('a', 'e'), { timeoutSeconds: 5 });
  expect((await listExchanges(ns.prefix)).map((e) => e.name)).toContain(`${ns.prefix}.events`);
  await consumer.stop();
  const again = await set.event.consume(
    { events: [{ apiName: 'a', eventName: 'e' }], group: 'svc-l', consumer: 'c' },
    async (m) => got.push(m),
  );
  await set.event.sendEvent(event('a', 'e'), { timeoutSeconds: 5 });
  await got.waitForCount(2);
  await again.stop();
});
