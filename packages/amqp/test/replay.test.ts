/**
 * Replay and history come from the stream queue kept per API when `stream` is
 * on; without it, asking for them fails clearly rather than being ignored.
 */
import lightbus, { MessageRejectedError, type EventMessage, type Logger } from '@lightbus/core';
import { TransportCapabilityError } from '@lightbus/core/errors';
import { newMessageId, type DeadLetter } from '@lightbus/core/transport';
import { Collector, waitFor } from '@lightbus/testing';
import { transport } from '@lightbus/amqp';
import { AMQP_URL, namespaces, listQueues } from './helpers';

const namespace = namespaces('replay');

const tick = (i: number): EventMessage => ({
  id: newMessageId(),
  apiName: 'svc.api',
  eventName: 'tick',
  version: 1,
  kwargs: { i },
});
const spec = (group: string) => ({ events: [{ apiName: 'svc.api', eventName: 'tick' }], group, consumer: 'c1' });

it('replays from a position taken from history, and only when the group is new', async () => {
  const ns = namespace();
  const events = ns.connect(ns.context(), { event: { stream: true } }).event;
  const sent = [tick(0), tick(1), tick(2), tick(3)];
  for (const message of sent) await events.sendEvent(message, { timeoutSeconds: 5 });
  const history: EventMessage[] = [];
  for await (const message of events.history({ apiName: 'svc.api', eventName: 'tick' })) history.push(message);
  expect(history.map((m) => m.id)).toEqual([...sent].reverse().map((m) => m.id));
  expect(history.every((m) => /^\d+$/.test(m.nativeId ?? '') && m.time instanceof Date)).toBe(true);
  const position = history.find((m) => m.id === sent[2]!.id)!.nativeId!;
  // An API with no stream has no history (and reading it creates none).
  const none: EventMessage[] = [];
  for await (const message of events.history({ apiName: 'svc.other' })) none.push(message);
  expect(none).toEqual([]);
  expect((await listQueues(ns.prefix)).map((q) => q.name)).not.toContain(`${ns.prefix}.stream.svc.other`);
  // A start time in the future: no event yet, answered at once (not a read that never reaches its end).
  const future: EventMessage[] = [];
  for await (const message of events.history({ apiName: 'svc.api', start: new Date(Date.now() + 3_600_000) }))
    future.push(message);
  expect(future).toEqual([]);
  // The same for a replay: a new group with `since` in the future gets live events at once (no stalled read, no error logged).
  const errors: string[] = [];
  const quiet: Logger = {
    debug: () => undefined,
    info: () => undefined,
    warn: () => undefined,
    error: (m) => void errors.push(m),
  };
  const watched = ns.connect(ns.context({ logger: quiet }), { event: { stream: true } }).event;
  const live = new Collector<EventMessage>();
  const fromFuture = await watched.consume(
    {
      events: [{ apiName: 'svc.later', eventName: 'tick' }],
      group: 'svc-from-future',
      consumer: 'c1',
      since: { kind: 'time', time: new Date(Date.now() + 3_600_000) },
    },
    async (m) => live.push(m),
  );
  const now: EventMessage = { ...tick(9), apiName: 'svc.later' };
  await events.sendEvent(now, { timeoutSeconds: 5 });
  await live.waitForCount(1);
  expect(live.items.map((m) => m.id)).toEqual([now.id]);
  expect(errors).toEqual([]);
  await fromFuture.stop();
  const sinceFirst: EventMessage[] = [];
  for await (const message of events.history({ apiName: 'svc.api', start: history[history.length - 1]!.time! }))
    sinceFirst.push(message);
  expect(sinceFirst.map((m) => m.id)).toEqual([...sent].reverse().map((m) => m.id));

  const got = new Collector<EventMessage>();
  const consumer = await events.consume(
    {
      events: [{ apiName: 'svc.api', eventName: 'tick' }],
      group: 'svc-from-position',
      consumer: 'c1',
      since: { kind: 'position', position },
    },
    async (m) => got.push(m),
  );
  await got.waitForCount(2);
  expect(got.items.map((m) => m.id)).toEqual([sent[2]!.id, sent[3]!.id]);
  await consumer.stop();

  // The group exists now: `since` is ignored, only new events come.
  const again = new Collector<EventMessage>();
  const second = await events.consume(
    {
      events: [{ apiName: 'svc.api', eventName: 'tick' }],
      group: 'svc-from-position',
      consumer: 'c1',
      since: { kind: 'beginning' },
    },
    async (m) => again.push(m),
  );
  const fresh = tick(4);
  await events.sendEvent(fresh, { timeoutSeconds: 5 });
  await again.waitForCount(1);
  expect(again.items.map((m) => m.id)).toEqual([fresh.id]);
  await second.stop();
});

it('hands over from the replay to the group queue without losing or repeating events fired meanwhile', async () => {
  const ns = namespace();
  const producer = ns.connect(ns.context(), { event: { stream: true } }).event;
  const consumerSide = ns.connect(ns.context(), { event: { stream: true } }).event;
  const sent: string[] = [];
  const fire = async (from: number, count: number) => {
    for (let i = from; i < from + count; i++) {
      const message = tick(i);
      await producer.sendEvent(message, { timeoutSeconds: 5 });
      sent.push(message.id);
    }
  };
  await fire(0, 150);
  const got = new Collector<EventMessage>();
  const firing = fire(150, 150);
  const consumer = await consumerSide.consume(
    {
      events: [{ apiName: 'svc.api', eventName: 'tick' }],
      group: 'svc-handover',
      consumer: 'c1',
      since: { kind: 'beginning' },
    },
    async (m) => got.push(m),
  );
  await firing;
  const sentinel = tick(-1);
  await producer.sendEvent(sentinel, { timeoutSeconds: 5 });
  sent.push(sentinel.id);
  await got.waitForCount(sent.length, 30_000);
  const ids = got.items.map((m) => m.id);
  expect(new Set(ids).size).toBe(ids.length);
  expect([...ids].sort()).toEqual([...sent].sort());
  // In order, too: one consumer, one producer.
  expect(ids).toEqual(sent);
  await consumer.stop();
});

it('says so when a configuration without stream is asked for replay or history', async () => {
  const ns = namespace();
  const events = ns.connect(ns.context()).event;
  expect(events.capabilities).toMatchObject({
    replay: false,
    history: false,
    consumerGroups: true,
    durable: true,
    crossProcess: true,
  });
  await expect(events.consume({ ...spec('svc-x'), since: { kind: 'beginning' } }, async () => {})).rejects.toThrow(
    TransportCapabilityError,
  );
  await expect(events.consume({ ...spec('svc-x'), since: { kind: 'beginning' } }, async () => {})).rejects.toThrow(
    /event_transport\.amqp\.stream: true/,
  );
  const reading = async () => {
    for await (const message of events.history({ apiName: 'svc.api' })) void message;
  };
  await expect(reading()).rejects.toThrow(TransportCapabilityError);

  // Through the bus: listen() refuses `since` at once, naming the transport.
  const bus = lightbus.create({
    transports: [transport],
    config: { apis: { default: { event_transport: { amqp: { url: AMQP_URL, prefix: ns.prefix } } } } },
    logLevel: 'critical',
  });
  expect(() => bus.client.listen('svc.api.tick', () => undefined, { listenerName: 'l', since: 'beginning' })).toThrow(
    /cannot replay events/,
  );
  expect(() => bus.client.history({ apiName: 'svc.api' })).toThrow(TransportCapabilityError);
  await bus.close();
});

it("sets an event its handler rejects during a new group's replay aside as the group's, and replays it to that group", async () => {
  const ns = namespace();
  const events = ns.connect(ns.context(), { event: { stream: true } }).event;
  const poison = tick(7);
  await events.sendEvent(poison, { timeoutSeconds: 5 });
  const state = { fixed: false };
  const handled = new Collector<EventMessage>();
  await events.consume({ ...spec('svc-late'), since: { kind: 'beginning' } }, async (m) => {
    if (!state.fixed) throw new MessageRejectedError('not yet');
    handled.push(m);
  });
  const store = events.deadLetters!;
  let letters: readonly DeadLetter[] = [];
  await waitFor(async () => (letters = (await store.list()).entries).length === 1, {
    message: 'the rejected replayed event set aside',
  });
  // Taken from the stream, but set aside for the group: a replay must reach that group only, not every stream reader.
  expect(letters[0]).toMatchObject({
    group: 'svc-late',
    source: `${ns.prefix}.group.svc-late`,
    message: { id: poison.id },
  });
  state.fixed = true;
  expect(await store.replay({ id: letters[0]!.id })).toBe(1);
  await handled.waitForCount(1);
  expect(handled.items[0]!.id).toBe(poison.id);
});
