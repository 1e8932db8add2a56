/** Listening: registration checks, consumer groups, replay, onError. */
import { Collector, waitFor } from '@lightbus/testing';
import {
  BusClosedError,
  DuplicateListenerError,
  TransportCapabilityError,
  UnknownEventError,
  WorkerFailedError,
} from '../errors';
import type { EventMessage } from '../message';
import { memoryBroker } from '../transport';
import type { Params } from '../api/event';
import { busFactory, memoryConfig, RecordingLogger, SupportCaseApi, pairOn } from '../test-helpers';

const buses = busFactory();
afterEach(() => buses.closeAll());
const pair = pairOn(buses);

describe('listening', () => {
  it('delivers parameters and the message to a listener', async () => {
    const { worker, client } = await pair();
    const got = new Collector<[Record<string, unknown>, EventMessage]>();
    const listener = client.support.case.caseCreated.listen(
      (params: Params, message: EventMessage) => got.push([params, message]),
      { listenerName: 'notify' },
    );
    await client.start();
    await listener.ready;
    await worker.api(SupportCaseApi).caseCreated.fire({ id: 1, sender: 'Joe' });
    const [params, message] = (await got.waitForCount(1))[0]!;
    expect(params).toEqual({ id: 1, sender: 'Joe' });
    expect(message).toMatchObject({ apiName: 'support.case', eventName: 'caseCreated', version: 1 });
  });

  it('listens to several events with one listener', async () => {
    const { worker, client } = await pair();
    const got = new Collector<string>();
    const typed = client.api(SupportCaseApi);
    client.client.listen([typed.caseCreated, 'support.case.caseClosed'], (_p, m) => got.push(m.eventName), {
      listenerName: 'both',
    });
    await client.start();
    await worker.support.case.caseCreated.fire({ id: 1, sender: 'a' });
    await worker.support.case.caseClosed.fire({ id: 1 });
    expect(await got.waitForCount(2)).toEqual(['caseCreated', 'caseClosed']);
  });

  it('shares events between processes of a service, and gives every service all of them', async () => {
    const { worker, config } = await pair();
    const seen = { a1: 0, a2: 0, b: 0 };
    for (const [service, process, key] of [
      ['service-a', 'p1', 'a1'],
      ['service-a', 'p2', 'a2'],
      ['service-b', 'p1', 'b'],
    ] as const) {
      const bus = buses.make({ config: { ...config, service_name: service, process_name: process } });
      bus.support.case.caseClosed.listen(() => void (seen[key] += 1), { listenerName: 'count' });
      await bus.start();
    }
    for (let i = 0; i < 20; i++) await worker.support.case.caseClosed.fire({ id: i });
    await waitFor(() => seen.b === 20 && seen.a1 + seen.a2 === 20);
    expect(seen.a1 + seen.a2).toBe(20);
  });

  it('names the consumer group <service>-<listener>', async () => {
    const { worker, config } = await pair();
    const groups: string[] = [];
    const bus = buses.make({ config: { ...config, service_name: 'billing' } });
    bus.support.case.caseClosed.listen(() => undefined, { listenerName: 'invoice' });
    await bus.start();
    const name = (config.apis!.default!.event_transport as { memory: { name: string } }).memory.name;
    for (const stream of memoryBroker(name).streams.values()) groups.push(...stream.groups.keys());
    expect(groups).toContain('billing-invoice');
    expect(worker).toBeDefined();
  });

  it('refuses a duplicate listener name, a missing name and a bad onError', async () => {
    const { client } = await pair();
    client.support.case.caseClosed.listen(() => undefined, { listenerName: 'x' });
    expect(() => client.support.case.caseCreated.listen(() => undefined, { listenerName: 'x' })).toThrow(
      DuplicateListenerError,
    );
    expect(() => client.support.case.caseCreated.listen(() => undefined, {} as never)).toThrow(/listenerName/);
    expect(() =>
      client.support.case.caseCreated.listen(() => undefined, { listenerName: 'y', onError: 'ignore' as never }),
    ).toThrow(/onError must be 'shutdown' or 'acknowledge_and_log'/);
    expect(() =>
      client.support.case.caseCreated.listen(() => undefined, { listenerName: 'z', since: 12 as never }),
    ).toThrow(/since must be/);
  });

  it('refuses to listen to an unknown event of a registered API', async () => {
    const { worker } = await pair();
    expect(() => worker.support.case.nope.listen(() => undefined, { listenerName: 'n' })).toThrow(UnknownEventError);
  });

  it('replays past events for a new listener with since', async () => {
    const { worker, client } = await pair();
    await worker.support.case.caseClosed.fire({ id: 1 });
    await worker.support.case.caseClosed.fire({ id: 2 });
    const got = new Collector<unknown>();
    client.support.case.caseClosed.listen((p: Params) => got.push(p.id), {
      listenerName: 'replay',
      since: 'beginning',
    });
    await client.start();
    expect(await got.waitForCount(2)).toEqual([1, 2]);
  });

  it("with onError 'acknowledge_and_log', logs a failing handler and goes on", async () => {
    const { worker, config } = await pair();
    const logger = new RecordingLogger();
    const bus = buses.make({ config, logger });
    const got = new Collector<unknown>();
    bus.support.case.caseClosed.listen(
      ({ id }: Params) => {
        if (id === 1) throw new Error('bad case');
        got.push(id);
      },
      { listenerName: 'tolerant', onError: 'acknowledge_and_log' },
    );
    await bus.start();
    await worker.support.case.caseClosed.fire({ id: 1 });
    await worker.support.case.caseClosed.fire({ id: 2 });
    expect(await got.waitForCount(1)).toEqual([2]);
    expect(logger.messages('error').join('\n')).toMatch(
      /Listener 'tolerant' failed on support\.case\.caseClosed.*acknowledge_and_log/,
    );
  });

  it("with onError 'shutdown' (default), stops the bus with the reason and loses no event", async () => {
    const { worker, config } = await pair();
    const failing = buses.make({ config });
    failing.support.case.caseClosed.listen(
      ({ id }: Params) => {
        if (id === 1) throw new Error('bad case');
      },
      { listenerName: 'strict' },
    );
    await failing.start();
    await worker.support.case.caseClosed.fire({ id: 1 });
    const error = await failing.waitUntilStopped().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WorkerFailedError);
    expect((error as Error).message).toMatch(
      /Listener 'strict' failed on support\.case\.caseClosed .*bad case.*not acknowledged/,
    );
    await expect(failing.support.case.get({ id: 1 })).rejects.toThrow(BusClosedError);

    // The unacknowledged event goes to the next consumer of the group.
    const replacement = buses.make({ config });
    const got = new Collector<unknown>();
    replacement.support.case.caseClosed.listen((p: Params) => got.push(p.id), { listenerName: 'strict' });
    await replacement.start();
    await worker.support.case.caseClosed.fire({ id: 2 });
    expect(await got.waitForCount(2)).toEqual([1, 2]);
  });

  it('stops one listener', async () => {
    const { worker, client } = await pair();
    const got = new Collector<unknown>();
    const listener = client.support.case.caseClosed.listen((p: Params) => got.push(p.id), {
      listenerName: 'stoppable',
    });
    await client.start();
    await worker.support.case.caseClosed.fire({ id: 1 });
    await got.waitForCount(1);
    await listener.stop();
    await worker.support.case.caseClosed.fire({ id: 2 });
    // A second listener on another group proves the event was delivered meanwhile.
    const other = new Collector<unknown>();
    client.support.case.caseClosed.listen((p: Params) => other.push(p.id), {
      listenerName: 'other',
      since: 'beginning',
    });
    await other.waitForCount(2);
    expect(got.items).toEqual([1]);
  });

  it('refuses since on a transport that cannot replay', async () => {
    const config = memoryConfig();
    const noReplay = {
      name: 'noreplay',
      capabilities: {
        crossProcess: true,
        durable: true,
        consumerGroups: true,
        replay: false,
        history: false,
        ordering: 'none' as const,
      },
      options: {},
      event: () => ({
        capabilities: {
          crossProcess: true,
          durable: true,
          consumerGroups: true,
          replay: false,
          history: false,
          ordering: 'none' as const,
        },
        sendEvent: async () => undefined,
        consume: async () => ({ stop: async () => undefined }),
        close: async () => undefined,
      }),
    };
    const bus = buses.make({
      config: { ...config, apis: { ...config.apis, 'support.case': { event_transport: { noreplay: {} } } } },
      transports: [noReplay],
    });
    expect(() =>
      bus.support.case.caseClosed.listen(() => undefined, { listenerName: 'r', since: 'beginning' }),
    ).toThrow(TransportCapabilityError);
    expect(() =>
      bus.support.case.caseClosed.listen(() => undefined, { listenerName: 'r', since: 'beginning' }),
    ).toThrow(/cannot replay events/);
  });
});
