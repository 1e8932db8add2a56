/**
 * The dead-letter store on RabbitMQ, beyond the conformance suite: what
 * RabbitMQ dead-letters itself (a quorum queue's x-delivery-limit) lands in it
 * with a readable reason and replays to its group; reading takes nothing away
 * and keeps the queue's order; a cursor survives its dead letter going away;
 * a dead letter whose group queue is gone is kept, with a clear error.
 */
import { MessageRejectedError, type EventMessage } from '@lightbus/core';
import { newMessageId, type DeadLetter, type DeadLetterStore } from '@lightbus/core/transport';
import { Collector, waitFor } from '@lightbus/testing';
import { DeadLetterTargetMissingError, type AmqpEventTransport } from '@lightbus/amqp';
import { namespaces, withChannel } from './helpers';

const namespace = namespaces('dls');

const tick = (kwargs: Record<string, unknown> = {}): EventMessage => ({
  id: newMessageId(),
  apiName: 'svc.api',
  eventName: 'tick',
  version: 1,
  kwargs,
});
const spec = (group = 'svc-l') => ({ events: [{ apiName: 'svc.api', eventName: 'tick' }], group, consumer: 'c1' });

function storeOf(transport: AmqpEventTransport): DeadLetterStore {
  if (!transport.deadLetters) throw new Error('the amqp event transport offers no dead-letter store');
  return transport.deadLetters;
}

async function listed(store: DeadLetterStore, count: number): Promise<DeadLetter[]> {
  let entries: readonly DeadLetter[] = [];
  await waitFor(async () => (entries = (await store.list()).entries).length >= count, {
    message: `${count} dead letter(s) listed`,
  });
  return [...entries];
}

/** A consumer of `group` that rejects events with kwargs.poison until `fixed` is set. */
async function poisonGroup(transport: AmqpEventTransport, group = 'svc-l') {
  const state = { fixed: false };
  const handled = new Collector<EventMessage>();
  const consumer = await transport.consume(spec(group), async (message) => {
    if (message.kwargs.poison && !state.fixed) throw new MessageRejectedError('poison for the test');
    handled.push(message);
  });
  return { state, handled, consumer };
}

it("lists what RabbitMQ dead-lettered past a quorum queue's x-delivery-limit, and replays it to its group", async () => {
  const ns = namespace();
  const transport = ns.connect(ns.context(), { event: { queue_type: 'quorum', delivery_limit: 2 } }).event;
  const store = storeOf(transport);
  await (await transport.consume(spec(), async () => {})).stop(); // the group queue exists, bound
  const doomed = tick({ n: 1 });
  await transport.sendEvent(doomed, { timeoutSeconds: 5 });

  // A consumer that takes it and gives it back every time (as a crashing one would): RabbitMQ dead-letters it.
  await withChannel(async (channel) => {
    const queue = `${ns.prefix}.group.svc-l`;
    await waitFor(async () => (await channel.checkQueue(queue)).messageCount === 1, { message: 'the event queued' });
    for (let returned = 0; returned < 10; returned++) {
      const message = await channel.get(queue, { noAck: false });
      if (message === false) break;
      channel.nack(message, false, true);
    }
  });
  const [letter, ...more] = await listed(store, 1);
  expect(more).toEqual([]);
  expect(letter).toMatchObject({
    group: 'svc-l',
    source: `${ns.prefix}.group.svc-l`,
    apiName: 'svc.api',
    eventName: 'tick',
    message: { id: doomed.id, kwargs: { n: 1 } },
  });
  expect(letter!.reason).toMatch(/^delivery limit reached: RabbitMQ dead-lettered it after .*svc-l delivered it/);
  expect(letter!.id.endsWith(`@${ns.prefix}.dead-letter`)).toBe(true);
  expect((await store.list()).entries.map((l) => l.id)).toEqual([letter!.id]); // the same id on every read

  const handled = new Collector<EventMessage>();
  const consumer = await transport.consume(spec(), async (message) => handled.push(message));
  expect(await store.replay({ id: letter!.id })).toBe(1);
  await handled.waitForCount(1);
  expect(handled.items[0]).toMatchObject({ id: doomed.id, kwargs: { n: 1 } });
  expect((await store.list()).entries).toEqual([]);
  await consumer.stop();
});

it('reads without taking anything away, in the order set aside, and pages on when the cursor entry is gone', async () => {
  const ns = namespace();
  const transport = ns.connect(ns.context()).event;
  const store = storeOf(transport);
  const group = await poisonGroup(transport);
  const sent = [1, 2, 3, 4, 5].map((n) => tick({ poison: true, n }));
  for (const message of sent) await transport.sendEvent(message, { timeoutSeconds: 5 });
  const letters = await listed(store, 5);
  expect(letters.map((l) => l.message?.id)).toEqual(sent.map((m) => m.id));
  // Read again: the same letters with the same ids, in the same order; the queue still holds all five.
  expect((await store.list()).entries.map((l) => l.id)).toEqual(letters.map((l) => l.id));
  expect((await store.get(letters[3]!.id))?.message?.id).toBe(sent[3]!.id);
  expect((await store.list()).entries.map((l) => l.id)).toEqual(letters.map((l) => l.id));
  await withChannel(async (channel) =>
    expect((await channel.checkQueue(`${ns.prefix}.dead-letter`)).messageCount).toBe(5),
  );

  const first = await store.list({}, { limit: 2 });
  expect(first.entries.map((l) => l.id)).toEqual(letters.slice(0, 2).map((l) => l.id));
  // The page's last dead letter is discarded before the next page is read: the next page starts after it all the same.
  expect(await store.discard({ id: letters[1]!.id })).toBe(1);
  const second = await store.list({}, { limit: 2, cursor: first.next! });
  expect(second.entries.map((l) => l.id)).toEqual(letters.slice(2, 4).map((l) => l.id));
  const third = await store.list({}, { limit: 2, cursor: second.next! });
  expect(third).toEqual({ entries: [letters[4]] });
  await expect(store.list({}, { cursor: 'nonsense' })).rejects.toThrow(/Not a dead-letter cursor/);
  expect(await store.get('1-0@some:stream')).toBeUndefined(); // another store's id: not looked for
  await group.consumer.stop();
});

it('keeps a dead letter whose group queue is gone, and says why it cannot be replayed', async () => {
  const ns = namespace();
  const transport = ns.connect(ns.context()).event;
  const store = storeOf(transport);
  const group = await poisonGroup(transport, 'svc-gone');
  await transport.sendEvent(tick({ poison: true }), { timeoutSeconds: 5 });
  const [letter] = await listed(store, 1);
  await group.consumer.stop();
  await withChannel(async (channel) => {
    await channel.deleteQueue(`${ns.prefix}.group.svc-gone`);
  });

  await expect(store.replay({ id: letter!.id })).rejects.toThrow(DeadLetterTargetMissingError);
  await expect(store.replay({ id: letter!.id })).rejects.toThrow(
    `the queue it was taken from, ${ns.prefix}.group.svc-gone, no longer exists`,
  );
  expect(await store.replay({ all: {} })).toBe(0);
  expect((await store.list()).entries.map((l) => l.id)).toEqual([letter!.id]);
  expect(await store.discard({ all: { group: 'svc-gone' } })).toBe(1);
  expect((await store.list()).entries).toEqual([]);
});
