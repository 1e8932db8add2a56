/**
 * The dead-letter part of the transport conformance suite (registered by
 * transportConformance): what an operator relies on when listing, replaying
 * and discarding the events a transport set aside (EventTransport.deadLetters).
 */
import { expect, it } from '@jest/globals';
import {
  MessageRejectedError,
  newMessageId,
  type Consumer,
  type DeadLetter,
  type DeadLetterStore,
  type EventMessage,
  type EventTransport,
} from '@lightbus/core/transport';
import { Collector, waitFor } from './wait';

export interface DeadLetterSuiteContext {
  /** An event transport of a new process in the test's namespace. */
  events(): Promise<EventTransport>;
  /** Stopped after the test. */
  keep(consumer: Consumer): Consumer;
  uniqueApi(): string;
  readonly patience: number;
}

function event(apiName: string, kwargs: Record<string, unknown>): EventMessage {
  return { id: newMessageId(), apiName, eventName: 'created', version: 1, kwargs };
}

function storeOf(transport: EventTransport): DeadLetterStore {
  if (!transport.deadLetters) {
    throw new Error(
      'this event transport has no deadLetters store; give the target deadLetterStore: false if it keeps none',
    );
  }
  return transport.deadLetters;
}

/** Every dead letter of `apiName`, page by page. */
async function allOf(store: DeadLetterStore, apiName: string, limit = 50): Promise<DeadLetter[]> {
  const out: DeadLetter[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.list({ apiName }, { limit, ...(cursor !== undefined ? { cursor } : {}) });
    out.push(...page.entries);
    cursor = page.next;
  } while (cursor !== undefined);
  return out;
}

export function deadLetterTests(ctx: DeadLetterSuiteContext, test: typeof it.skip): void {
  /** A group whose handler rejects events with kwargs.poison until `fixed` is set; every event seen is collected. */
  async function poisonGroup(transport: EventTransport, api: string, group: string) {
    const state = { fixed: false };
    const seen = new Collector<EventMessage>();
    const handled = new Collector<EventMessage>();
    ctx.keep(
      await transport.consume(
        { events: [{ apiName: api, eventName: 'created' }], group, consumer: 'c1' },
        async (message) => {
          seen.push(message);
          if (message.kwargs.poison && !state.fixed) throw new MessageRejectedError('poison for the test');
          handled.push(message);
        },
      ),
    );
    return { state, seen, handled };
  }

  async function untilSetAside(store: DeadLetterStore, api: string, count: number): Promise<DeadLetter[]> {
    let letters: DeadLetter[] = [];
    await waitFor(async () => (letters = await allOf(store, api)).length >= count, {
      timeout: ctx.patience,
      message: `${count} dead letter(s) of ${api} listed`,
    });
    return letters;
  }

  test('lists a poison event with its reason, replays it to its group only, and forgets it', async () => {
    const api = ctx.uniqueApi();
    const transport = await ctx.events();
    const store = storeOf(transport);
    const failing = await poisonGroup(transport, api, 'svc-dl');
    const other = await poisonGroup(await ctx.events(), api, 'svc-dl-other');
    other.state.fixed = true;
    const poison = event(api, { poison: true, n: 1 });
    const good = event(api, { poison: false, n: 2 });
    const before = Date.now();
    await transport.sendEvent(poison, { timeoutSeconds: 5 });
    await transport.sendEvent(good, { timeoutSeconds: 5 });
    await failing.seen.waitForCount(2, ctx.patience);
    await other.handled.waitForCount(2, ctx.patience);

    const [letter, ...more] = await untilSetAside(store, api, 1);
    expect(more).toEqual([]);
    expect(letter).toMatchObject({
      apiName: api,
      eventName: 'created',
      group: 'svc-dl',
      message: { id: poison.id, apiName: api, eventName: 'created', kwargs: { poison: true, n: 1 } },
    });
    expect(letter!.reason).toContain('poison for the test');
    expect(letter!.time.getTime()).toBeGreaterThanOrEqual(before - 5000);
    expect(letter!.payload).toContain(poison.id);
    expect(await store.get(letter!.id)).toMatchObject({ id: letter!.id, message: { id: poison.id } });
    expect(await store.list({ apiName: api, group: 'another-group' })).toEqual({ entries: [] });
    expect(await store.list({ apiName: `${api}x` })).toEqual({ entries: [] });
    expect(await store.list({ apiName: api, since: new Date(Date.now() + 3_600_000) })).toEqual({ entries: [] });

    failing.state.fixed = true;
    expect(await store.replay({ id: letter!.id })).toBe(1);
    await waitFor(() => failing.handled.items.some((m) => m.id === poison.id), {
      timeout: ctx.patience,
      message: 'the replayed event handled by the fixed handler',
    });
    expect(await allOf(store, api)).toEqual([]);
    expect(await store.get(letter!.id)).toBeUndefined();
    expect(await store.replay({ id: letter!.id })).toBe(0);

    // The other group handled the poison event once, when it was fired: the replay was not for it.
    const sentinel = event(api, { n: 3 });
    await transport.sendEvent(sentinel, { timeoutSeconds: 5 });
    await other.handled.waitForCount(3, ctx.patience);
    await failing.handled.waitForCount(3, ctx.patience);
    expect(other.handled.items.map((m) => m.id).sort()).toEqual([poison.id, good.id, sentinel.id].sort());
    expect(failing.handled.items.filter((m) => m.id === poison.id)).toHaveLength(1);
  });

  test('discards one dead letter, then all that match a filter', async () => {
    const api = ctx.uniqueApi();
    const transport = await ctx.events();
    const store = storeOf(transport);
    const group = await poisonGroup(transport, api, 'svc-discard');
    const sent = [1, 2, 3].map((n) => event(api, { poison: true, n }));
    for (const message of sent) await transport.sendEvent(message, { timeoutSeconds: 5 });
    const letters = await untilSetAside(store, api, 3);
    expect(letters.map((l) => l.message?.id).sort()).toEqual(sent.map((m) => m.id).sort());

    expect(await store.discard({ id: letters[0]!.id })).toBe(1);
    expect((await allOf(store, api)).map((l) => l.id).sort()).toEqual([letters[1]!.id, letters[2]!.id].sort());
    expect(await store.discard({ all: { apiName: api, group: 'another-group' } })).toBe(0);
    expect(await store.discard({ all: { apiName: api } })).toBe(2);
    expect(await allOf(store, api)).toEqual([]);

    // Discarded is gone: nothing was redelivered.
    const sentinel = event(api, { n: 4 });
    await transport.sendEvent(sentinel, { timeoutSeconds: 5 });
    await group.handled.waitForCount(1, ctx.patience);
    expect(group.seen.items.map((m) => m.id)).toEqual([...sent.map((m) => m.id), sentinel.id]);
  });

  test('pages through dead letters without repeating or missing one', async () => {
    const api = ctx.uniqueApi();
    const transport = await ctx.events();
    const store = storeOf(transport);
    await poisonGroup(transport, api, 'svc-pages');
    const sent = [1, 2, 3, 4, 5].map((n) => event(api, { poison: true, n }));
    for (const message of sent) await transport.sendEvent(message, { timeoutSeconds: 5 });
    await untilSetAside(store, api, 5);

    const first = await store.list({ apiName: api }, { limit: 2 });
    expect(first.entries).toHaveLength(2);
    expect(first.next).toBeDefined();
    const paged = await allOf(store, api, 2);
    expect(paged.map((l) => l.message?.id).sort()).toEqual(sent.map((m) => m.id).sort());
    expect(new Set(paged.map((l) => l.id)).size).toBe(5);

    // Discarding all of a filter walks every page.
    expect(await store.discard({ all: { apiName: api } })).toBe(5);
    expect(await store.list({ apiName: api }, { limit: 2 })).toEqual({ entries: [] });
  });
}
