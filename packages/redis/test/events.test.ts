/**
 * Event behaviour beyond the conformance suite: per_event streams, the
 * dead-letter stream's contents, `since` a position, a stream that vanishes
 * while consumed, history bounds, consumer_ttl.
 */
import { MessageRejectedError, type EventMessage } from '@lightbus/core';
import { newMessageId, type Consumer } from '@lightbus/core/transport';
import { Collector, waitFor } from '@lightbus/testing';
import { RedisEventTransport, TouchedKeys, context, eventOptions, rawRedis, uniqueId } from './helpers';

const raw = rawRedis();
const keys = new TouchedKeys();
const toClose: Array<{ close(): Promise<void> }> = [];
const toStop: Consumer[] = [];
let api: string;

function transport(options: Parameters<typeof eventOptions>[0] = {}): RedisEventTransport {
  const t = new RedisEventTransport(
    eventOptions({ acknowledgement_timeout: 1, reclaim_interval: 0.2, ...options }),
    context('ev', `p${uniqueId()}`),
  );
  toClose.push(t);
  return t;
}

function event(eventName: string, kwargs: Record<string, unknown>): EventMessage {
  return { id: newMessageId(), apiName: api, eventName, version: 1, kwargs };
}

async function consume(
  t: RedisEventTransport,
  events: string[],
  group: string,
  handler: (m: EventMessage) => Promise<void>,
  since?: Parameters<RedisEventTransport['consume']>[0]['since'],
) {
  const consumer = await t.consume(
    { events: events.map((eventName) => ({ apiName: api, eventName })), group, consumer: 'c1', since },
    handler,
  );
  toStop.push(consumer);
  return consumer;
}

beforeEach(() => {
  api = `ev${uniqueId()}.demo`;
  keys.api(api);
  for (const name of ['created', 'closed']) keys.stream(`${api}.${name}:stream`);
});

afterEach(async () => {
  await Promise.all(toStop.splice(0).map((c) => c.stop()));
  await Promise.all(toClose.splice(0).map((t) => t.close()));
  await keys.cleanup(raw);
});

afterAll(async () => {
  await raw.quit();
});

describe('stream_use per_event', () => {
  it('writes each event to its own stream and reads several streams with one consumer', async () => {
    const t = transport({ stream_use: 'per_event' });
    const got = new Collector<string>();
    await consume(t, ['created', 'closed'], 'svc-pe', async (m) => got.push(`${m.eventName}:${String(m.kwargs.n)}`));
    await t.sendEvent(event('created', { n: 1 }), { timeoutSeconds: 5 });
    await t.sendEvent(event('closed', { n: 2 }), { timeoutSeconds: 5 });
    await got.waitForCount(2);
    expect(got.items.sort()).toEqual(['closed:2', 'created:1']);
    expect(await raw.xlen(`${api}.created:stream`)).toBe(1);
    expect(await raw.xlen(`${api}.closed:stream`)).toBe(1);
    expect(await raw.exists(`${api}.*:stream`)).toBe(0);
  });

  it('reads the history of one event, and of all events of the API across their streams', async () => {
    const t = transport({ stream_use: 'per_event' });
    const first = event('created', { n: 1 });
    await t.sendEvent(first, { timeoutSeconds: 5 });
    const firstEntry = (await raw.xrange(`${api}.created:stream`, '-', '+'))[0]![0];
    // Streams order their own entries; across streams only the millisecond tells: fire the next one later.
    await waitFor(() => Date.now() > Number(firstEntry.split('-')[0]));
    const second = event('closed', { n: 2 });
    await t.sendEvent(second, { timeoutSeconds: 5 });
    const read = async (eventName?: string): Promise<string[]> => {
      const ids: string[] = [];
      for await (const m of t.history({ apiName: api, eventName })) ids.push(m.id);
      return ids;
    };
    expect(await read('created')).toEqual([first.id]);
    expect(await read()).toEqual([second.id, first.id]);
  });
});

describe('dead letters', () => {
  it('keeps undecodable and rejected entries in <stream>:dead_letters with the reason and the original fields, acknowledged', async () => {
    const t = transport();
    const stream = `${api}.*:stream`;
    const seen = new Collector<string>();
    await consume(t, ['created'], 'svc-dl', async (m) => {
      seen.push(String(m.kwargs.n));
      if (m.kwargs.n === 'poison') throw new MessageRejectedError('n must be a number');
    });
    const extraField = [
      'id',
      'e1',
      'api_name',
      api,
      'event_name',
      'created',
      'version',
      '1',
      'native_id',
      '0-1',
      ':n',
      '1',
    ];
    await raw.xadd(stream, '*', ...extraField);
    const notJson = ['id', 'e2', 'api_name', api, 'event_name', 'created', 'version', '1', ':n', 'nope'];
    await raw.xadd(stream, '*', ...notJson);
    const poison = event('created', { n: 'poison' });
    await t.sendEvent(poison, { timeoutSeconds: 5 });
    const good = event('created', { n: 'good' });
    await t.sendEvent(good, { timeoutSeconds: 5 });
    await seen.waitForCount(2);
    expect(seen.items).toEqual(['poison', 'good']);

    const deadLetters = `${stream}:dead_letters`;
    await waitFor(async () => (await raw.xlen(deadLetters)) === 3, { message: '3 dead letters' });
    const entries = (await raw.xrange(deadLetters, '-', '+')).map(([, fields]) => {
      const record: Record<string, string> = {};
      for (let i = 0; i < fields.length; i += 2) record[fields[i]!] = fields[i + 1]!;
      return record;
    });
    expect(entries[0]).toMatchObject({ stream, group: 'svc-dl', consumer: 'c1' });
    expect(entries[0]!.reason).toMatch(/cannot be decoded: .*unexpected metadata fields: native_id/);
    expect(JSON.parse(entries[0]!.fields!)).toEqual(
      Array.from({ length: extraField.length / 2 }, (_, i) => [extraField[2 * i], extraField[2 * i + 1]]),
    );
    expect(entries[1]!.reason).toMatch(/parameter 'n' is not JSON/);
    expect(entries[2]!.reason).toBe('rejected by the handler: n must be a number');
    expect(JSON.parse(entries[2]!.fields!)).toContainEqual(['id', poison.id]);
    const [streamIds] = [await raw.xrange(stream, '-', '+')];
    expect(entries.map((e) => e.entry_id)).toEqual(streamIds.slice(0, 3).map(([id]) => id));
    await waitFor(async () => ((await raw.xpending(stream, 'svc-dl')) as [number])[0] === 0, {
      message: 'nothing pending',
    });
  });
});

describe('consumer groups', () => {
  it('since a position: a new group starts after that entry', async () => {
    const t = transport();
    const sent = [event('created', { n: 1 }), event('created', { n: 2 }), event('created', { n: 3 })];
    for (const m of sent) await t.sendEvent(m, { timeoutSeconds: 5 });
    const [firstId] = (await raw.xrange(`${api}.*:stream`, '-', '+', 'COUNT', 1))[0]!;
    const got = new Collector<string>();
    await consume(t, ['created'], 'svc-pos', async (m) => got.push(m.id), { kind: 'position', position: firstId! });
    await got.waitForCount(2);
    expect(got.items).toEqual([sent[1]!.id, sent[2]!.id]);
  });

  it('re-creates its group when the stream vanishes (deleted, or Redis restarted empty) and goes on', async () => {
    const t = transport({ consumption_restart_delay: 0.2 });
    const got = new Collector<number>();
    await consume(t, ['created'], 'svc-vanish', async (m) => got.push(m.kwargs.n as number));
    await t.sendEvent(event('created', { n: 1 }), { timeoutSeconds: 5 });
    await got.waitForCount(1);
    await raw.del(`${api}.*:stream`);
    // The next event creates a new stream without the group; the consumer meets NOGROUP on its next read,
    // re-creates the group after the last entry it saw, and reads on.
    await t.sendEvent(event('created', { n: 2 }), { timeoutSeconds: 5 });
    await got.waitForCount(2, 15_000);
    expect(got.items).toEqual([1, 2]);
  });

  it('an entry whose handler failed is delivered again after acknowledgement_timeout (reclaimed)', async () => {
    const t = transport();
    const attempts = new Collector<string>();
    let fail = true;
    await consume(t, ['created'], 'svc-retry', async (m) => {
      attempts.push(m.id);
      if (fail) {
        fail = false;
        throw new Error('temporary');
      }
    });
    const sent = event('created', { n: 1 });
    await t.sendEvent(sent, { timeoutSeconds: 5 });
    await attempts.waitForCount(2);
    expect(attempts.items).toEqual([sent.id, sent.id]);
    await waitFor(async () => ((await raw.xpending(`${api}.*:stream`, 'svc-retry')) as [number])[0] === 0, {
      message: 'nothing pending',
    });
  });

  it('acknowledges each handled event on its own; an event whose handler failed stays pending, unacknowledged', async () => {
    const t = transport({ acknowledgement_timeout: 60, reclaim_interval: 60 });
    const stream = `${api}.*:stream`;
    const handled = new Collector<number>();
    await consume(t, ['created'], 'svc-each', async (m) => {
      if (m.kwargs.n === 2) throw new Error('handler failed');
      handled.push(m.kwargs.n as number);
    });
    const fire = raw.multi(); // one batch
    for (let n = 1; n <= 3; n++)
      fire.xadd(stream, '*', 'id', `e${n}`, 'api_name', api, 'event_name', 'created', 'version', '1', ':n', String(n));
    await fire.exec();
    await handled.waitForCount(2);
    const entryIds = (await raw.xrange(stream, '-', '+')).map(([id]) => id);
    await waitFor(
      async () => {
        const pending = (await raw.xpending(stream, 'svc-each', '-', '+', 10)) as Array<[string]>;
        return pending.length === 1 && pending[0]![0] === entryIds[1];
      },
      { message: 'only the failed event (e2) to be pending' },
    );
  });

  it('consumer_ttl: consumers idle that long with nothing pending are removed when a listener starts', async () => {
    const stream = `${api}.*:stream`;
    await raw.xgroup('CREATE', stream, 'svc-old', '$', 'MKSTREAM');
    await raw.xgroup('CREATECONSUMER', stream, 'svc-old', 'gone-for-good');
    await waitFor(
      async () => {
        const consumers = (await raw.xinfo('CONSUMERS', stream, 'svc-old')) as Array<Array<string | number>>;
        return Number(consumers[0]![5]) >= 1100; // idle ms
      },
      { timeout: 5000, interval: 100, message: 'the consumer to be idle for a second' },
    );
    const t = transport({ consumer_ttl: 1 });
    await consume(t, ['created'], 'svc-new', async () => undefined);
    expect(await raw.xinfo('CONSUMERS', stream, 'svc-old')).toEqual([]);
  });
});

describe('history', () => {
  it('honours start, stop and limit, newest first, skipping placeholders and undecodable entries', async () => {
    const t = transport();
    const stream = `${api}.*:stream`;
    await raw.xadd(stream, '*', '', '');
    const ids: string[] = [];
    const times: number[] = [];
    for (let n = 0; n < 5; n++) {
      const m = event('created', { n });
      await t.sendEvent(m, { timeoutSeconds: 5 });
      ids.push(m.id);
      const entryId = (await raw.xrevrange(stream, '+', '-', 'COUNT', 1))[0]![0];
      times.push(Number(entryId.split('-')[0]));
      await waitFor(() => Date.now() > times[n]!); // the next event in a later millisecond
    }
    await raw.xadd(stream, '*', 'garbage', 'x');
    const read = async (query: { start?: Date; stop?: Date; limit?: number }): Promise<string[]> => {
      const out: string[] = [];
      for await (const m of t.history({ apiName: api, ...query })) out.push(m.id);
      return out;
    };
    expect(await read({})).toEqual([...ids].reverse());
    expect(await read({ limit: 2 })).toEqual([ids[4], ids[3]]);
    expect(await read({ start: new Date(times[1]!), stop: new Date(times[3]!) })).toEqual([ids[3], ids[2], ids[1]]);
  });
});

it('removes an ephemeral group once its last consumer stops, and keeps a durable one', async () => {
  const t = transport();
  const stream = t.streamOf(api, 'created');
  const spec = (group: string, consumer: string, ephemeral: boolean) => ({
    events: [{ apiName: api, eventName: 'created' }],
    group,
    consumer,
    ...(ephemeral ? { ephemeral: true } : {}),
  });
  const groups = async (): Promise<string[]> =>
    ((await raw.xinfo('GROUPS', stream)) as unknown[][]).map((group) => String(group[1])).sort();
  const got = new Collector<EventMessage>();
  const first = await t.consume(spec('svc-tail', 'c1', true), async (m) => got.push(m));
  const second = await t.consume(spec('svc-tail', 'c2', true), async (m) => got.push(m));
  await consume(t, ['created'], 'svc-keep', async () => {});
  await t.sendEvent(event('created', { n: 1 }), { timeoutSeconds: 5 });
  await got.waitForCount(1);
  expect(await groups()).toEqual(['svc-keep', 'svc-tail']);

  await first.stop();
  expect(await groups()).toEqual(['svc-keep', 'svc-tail']); // c2 still consumes it
  await second.stop();
  expect(await groups()).toEqual(['svc-keep']);
});
