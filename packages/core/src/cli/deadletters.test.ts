/** `lightbus deadletters` run in-process against a memory worker that sets events aside. */
import { MessageRejectedError, type EventMessage } from '..';
import { Collector, waitFor } from '@lightbus/testing';
import { busFactory, captureIo, memoryConfig, RecordingLogger, SupportCaseApi } from '../test-helpers';
import { actOnDeadLetters, listDeadLetters, showDeadLetter } from './commands/deadletters';

const buses = busFactory();
afterEach(() => buses.closeAll());

/** A worker whose listener refuses ids below `state.refuseBelow`; three events set aside. */
async function workerWithDeadLetters() {
  const logger = new RecordingLogger();
  const bus = buses.make({ config: memoryConfig(), logger });
  bus.client.registerApi(new SupportCaseApi());
  const state = { refuseBelow: 4 };
  const handled = new Collector<EventMessage>();
  bus.support.case.caseCreated.listen(
    async (params: { id: number }, message: EventMessage) => {
      if (params.id < state.refuseBelow) throw new MessageRejectedError(`id ${params.id} refused`);
      handled.push(message);
    },
    { listenerName: 'notify' },
  );
  await bus.start();
  for (const id of [1, 2, 3]) await bus.support.case.caseCreated.fire({ id, sender: 'x' });
  await waitFor(async () => (await bus.client.deadLetters.list()).entries.length === 3, { timeout: 5000 });
  return { bus, state, handled, logger };
}

describe('lightbus deadletters', () => {
  it('lists a page as a table with a hint for the next, and as JSON', async () => {
    const { bus } = await workerWithDeadLetters();
    const human = captureIo();
    await listDeadLetters(bus, { api: 'support.case', limit: 2 }, human.io);
    const lines = human.out().trim().split('\n');
    expect(lines[0]).toMatch(/^ID +SET ASIDE +EVENT +GROUP +REASON$/);
    expect(lines).toHaveLength(3);
    expect(lines[1]).toMatch(/support\.case\.caseCreated +test-service-notify +.*id 1 refused/);
    const next = /--cursor '([^']+)'/.exec(human.err())?.[1];
    expect(human.err()).toContain('More: lightbus deadletters list --api support.case --limit 2 --cursor');

    const json = captureIo();
    await listDeadLetters(bus, { limit: 2, cursor: next!, json: true }, json.io);
    const page = JSON.parse(json.out()) as { entries: { message: { kwargs: { id: number } } }[]; next?: string };
    expect(page.entries.map((e) => e.message.kwargs.id)).toEqual([3]);
    expect(page.next).toBeUndefined();

    const none = captureIo();
    await listDeadLetters(bus, { group: 'nobody-here' }, none.io);
    expect(none.out()).toBe('');
    expect(none.err()).toContain('No dead letters matching --group nobody-here.');
  });

  it('shows one, replays it by id to its listener, and logs what it did', async () => {
    const { bus, state, handled, logger } = await workerWithDeadLetters();
    const [first] = (await bus.client.deadLetters.list()).entries;
    const shown = captureIo();
    await showDeadLetter(bus, first!.id, {}, shown.io);
    expect(shown.out()).toMatch(/reason: +rejected by the handler: .*id 1 refused/);
    expect(shown.out()).toContain('"kwargs": {');

    state.refuseBelow = 0;
    const replayed = captureIo();
    await actOnDeadLetters(bus, 'replay', first!.id, { json: true }, replayed.io);
    expect(JSON.parse(replayed.out())).toEqual({ action: 'replay', count: 1, selection: { id: first!.id } });
    await handled.waitForCount(1, 5000);
    expect(handled.items[0]!.kwargs).toMatchObject({ id: 1 });
    expect(logger.records).toContainEqual(
      expect.objectContaining({
        message: 'lightbus deadletters: replayed 1 dead letter(s)',
        fields: expect.objectContaining({ id: first!.id, event: 'support.case.caseCreated' }),
      }),
    );
    await expect(showDeadLetter(bus, first!.id, {}, captureIo().io)).rejects.toThrow(
      `No dead letter '${first!.id}' (replayed or discarded already?)`,
    );
  });

  it('acts on more than one only with --all and a confirmation', async () => {
    const { bus } = await workerWithDeadLetters();
    await expect(actOnDeadLetters(bus, 'discard', undefined, {}, captureIo().io)).rejects.toThrow(
      /Name the dead letter to discard .* or give --all/,
    );
    await expect(actOnDeadLetters(bus, 'discard', 'some-id', { all: true }, captureIo().io)).rejects.toThrow(
      'Give either an id or --all with filters to discard, not both.',
    );
    // Not a terminal and no --yes: refused, nothing done.
    await expect(actOnDeadLetters(bus, 'discard', undefined, { all: true }, captureIo().io)).rejects.toThrow(
      'Discard 3 dead letter(s) (no filter: every one)? Not confirmed: stdin is not a terminal to ask on. Run again with --yes',
    );
    // A terminal: asked; "n" does nothing, "y" discards.
    const declined = captureIo(true);
    declined.io.input.write('n\n');
    await expect(actOnDeadLetters(bus, 'discard', undefined, { all: true }, declined.io)).rejects.toThrow(
      'not confirmed',
    );
    expect(declined.err()).toContain('Discard 3 dead letter(s) (no filter: every one)? [y/N]');
    expect((await bus.client.deadLetters.list()).entries).toHaveLength(3);

    const accepted = captureIo(true);
    accepted.io.input.write('y\n');
    const since = new Date(Date.now() - 60_000);
    await actOnDeadLetters(bus, 'discard', undefined, { all: true, api: 'support.case', since }, accepted.io);
    expect(accepted.out()).toBe(
      `Discarded 3 dead letter(s) matching --api support.case --since ${since.toISOString()}.\n`,
    );
    expect((await bus.client.deadLetters.list()).entries).toEqual([]);

    const nothing = captureIo();
    await actOnDeadLetters(bus, 'replay', undefined, { all: true }, nothing.io);
    expect(nothing.out()).toBe('Replayed 0 dead letter(s).\n');
  });
});
