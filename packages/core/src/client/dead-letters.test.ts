/** bus.client.deadLetters: one store over every event transport the bus uses. */
import { MessageRejectedError, type EventMessage } from '..';
import { Collector, waitFor } from '@lightbus/testing';
import { busFactory, memoryConfig, SupportCaseApi } from '../test-helpers';

const buses = busFactory();
afterEach(() => buses.closeAll());

describe('bus.client.deadLetters', () => {
  it('lists, replays to the listener and discards across the transports of several APIs', async () => {
    const config = memoryConfig(undefined, {
      apis: { 'other.api': { event_transport: { memory: { name: `dl-other-${process.pid}` } } } },
    });
    const bus = buses.make({ config });
    bus.client.registerApi(new SupportCaseApi());
    let fixed = false;
    const handled = new Collector<EventMessage>();
    bus.support.case.caseCreated.listen(
      async (params: { id: number }, message: EventMessage) => {
        if (params.id === 1 && !fixed) throw new MessageRejectedError('id 1 is refused');
        handled.push(message);
      },
      { listenerName: 'notify' },
    );
    await bus.start();
    await bus.support.case.caseCreated.fire({ id: 1, sender: 'Joe' });
    await bus.support.case.caseCreated.fire({ id: 2, sender: 'Ann' });
    await handled.waitForCount(1, 3000);

    const { entries, next } = await bus.client.deadLetters.list();
    expect(next).toBeUndefined();
    expect(entries).toHaveLength(1);
    const [letter] = entries;
    expect(letter).toMatchObject({
      apiName: 'support.case',
      eventName: 'caseCreated',
      group: 'test-service-notify',
      message: { kwargs: { id: 1, sender: 'Joe' } },
    });
    expect(letter!.reason).toMatch(/rejected by the handler: .*id 1 is refused/);
    expect(await bus.client.deadLetters.get(letter!.id)).toMatchObject({ id: letter!.id });
    expect((await bus.client.deadLetters.list({ apiName: 'other.api' })).entries).toEqual([]);

    fixed = true;
    expect(await bus.client.deadLetters.replay({ id: letter!.id })).toBe(1);
    await handled.waitForCount(2, 3000);
    expect(handled.items[1]!.kwargs).toEqual({ id: 1, sender: 'Joe' });
    expect((await bus.client.deadLetters.list()).entries).toEqual([]);
    expect(await bus.client.deadLetters.discard({ all: {} })).toBe(0);
  });

  it('pages across stores with a cursor', async () => {
    const bus = buses.make({ config: memoryConfig() });
    bus.client.registerApi(new SupportCaseApi());
    const seen = new Collector<number>();
    bus.support.case.caseCreated.listen(
      async (params: { id: number }) => {
        seen.push(params.id);
        throw new MessageRejectedError('no');
      },
      { listenerName: 'refuser' },
    );
    await bus.start();
    for (const id of [1, 2, 3]) await bus.support.case.caseCreated.fire({ id, sender: 'x' });
    await seen.waitForCount(3, 3000);
    await waitFor(async () => (await bus.client.deadLetters.list()).entries.length === 3, { timeout: 3000 });
    const first = await bus.client.deadLetters.list({}, { limit: 2 });
    expect(first.entries).toHaveLength(2);
    const second = await bus.client.deadLetters.list({}, { limit: 2, cursor: first.next! });
    expect(second.entries.map((l) => l.message?.kwargs.id)).toEqual([3]);
    expect(second.next).toBeUndefined();
    await expect(bus.client.deadLetters.list({}, { cursor: 'nonsense' })).rejects.toThrow(/Not a dead-letter cursor/);
    expect(await bus.client.deadLetters.discard({ all: { eventName: 'caseCreated' } })).toBe(3);
  });
});
