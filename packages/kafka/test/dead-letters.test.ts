/**
 * The Kafka dead-letter store beyond the conformance suite: another process sees
 * what one replayed or discarded (the markers on `<dead-letter topic>.settled`),
 * a call's dead letter is not listed, an undecodable event shows its payload, a
 * replay reaches neither history nor a group that reads the topic later, and the
 * markers of dead letters gone by retention are tombstoned.
 */
import { MessageRejectedError, type EventMessage } from '@lightbus/core';
import { newMessageId, type DeadLetter, type DeadLetterStore } from '@lightbus/core/transport';
import { KafkaEventTransport, TopicNames } from '@lightbus/kafka';
import { Collector, waitFor } from '@lightbus/testing';
import type { KafkaMessage } from 'kafkajs';
import { cleanupRun, context, eventOptions, rawKafka, uniquePrefix } from './helpers';

afterAll(() => cleanupRun());

function event(apiName: string, kwargs: Record<string, unknown>): EventMessage {
  return { id: newMessageId(), apiName, eventName: 'created', version: 1, kwargs };
}

async function listAll(store: DeadLetterStore, apiName: string): Promise<DeadLetter[]> {
  const out: DeadLetter[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.list({ apiName }, { limit: 2, ...(cursor !== undefined ? { cursor } : {}) });
    out.push(...page.entries);
    cursor = page.next;
  } while (cursor !== undefined);
  return out;
}

async function produce(
  topic: string,
  messages: Array<{ key: string; value: string | null; headers: Record<string, string> }>,
) {
  const producer = rawKafka().producer();
  await producer.connect();
  try {
    await producer.send({ topic, messages });
  } finally {
    await producer.disconnect();
  }
}

/** Every record of a topic (from its start to its end now), with a plain kafkajs consumer in a group deleted after. */
async function readAll(topic: string, groupId: string): Promise<KafkaMessage[]> {
  const admin = rawKafka().admin();
  await admin.connect();
  const consumer = rawKafka().consumer({ groupId, sessionTimeout: 6000, heartbeatInterval: 500, maxWaitTimeInMs: 100 });
  try {
    const end = (await admin.fetchTopicOffsets(topic)).reduce((n, p) => n + Number(p.high) - Number(p.low), 0);
    const records: KafkaMessage[] = [];
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void records.push(message) });
    await waitFor(() => records.length >= end, { timeout: 15_000, message: `the ${end} records of ${topic}` });
    return records;
  } finally {
    await consumer.disconnect();
    await admin.deleteGroups([groupId]).catch(() => undefined);
    await admin.disconnect();
  }
}

describe('kafka dead-letter store', () => {
  it('shares settled dead letters between processes, lists no call, and keeps replays out of history and other groups', async () => {
    const prefix = uniquePrefix('dl');
    const names = new TopicNames(prefix);
    const api = 'dl.orders';
    const topic = names.event(api, 'created', 'per_api');
    const one = new KafkaEventTransport(eventOptions(prefix), context('p1'));
    const two = new KafkaEventTransport(eventOptions(prefix), context('p2'));
    try {
      const state = { fixed: false };
      const handled = new Collector<string>();
      const consumer = await one.consume(
        { events: [{ apiName: api, eventName: 'created' }], group: 'svc-a', consumer: 'c1' },
        async (message) => {
          if (message.kwargs.poison && !state.fixed) throw new MessageRejectedError('poison for the test');
          handled.push(message.id);
        },
      );
      const first = event(api, { poison: true, n: 1 });
      const second = event(api, { poison: true, n: 2 });
      await one.sendEvent(first, { timeoutSeconds: 5 });
      await one.sendEvent(second, { timeoutSeconds: 5 });
      await produce(topic, [
        {
          key: api,
          value: '{not json',
          headers: { ce_specversion: '1.0', ce_id: 'broken-1', ce_type: `${api}.created` },
        },
      ]);
      // What a worker sets aside for an undecodable call: on the same topic, not an event's dead letter.
      await produce(names.deadLetter(), [
        {
          key: 'call-1',
          value: '{}',
          headers: {
            'lightbus-dead-letter-reason': 'cannot be decoded: no lightbus-api or lightbus-procedure header',
            'lightbus-dead-letter-group': names.workerGroup(api),
            'lightbus-dead-letter-topic': names.request(api),
            'lightbus-dead-letter-partition': '0',
            'lightbus-dead-letter-offset': '0',
            'lightbus-dead-letter-time': new Date().toISOString(),
          },
        },
      ]);

      let listed: DeadLetter[] = [];
      await waitFor(async () => (listed = await listAll(one.deadLetters, api)).length >= 3, {
        timeout: 20_000,
        message: () => `3 dead letters of ${api} (listed: ${JSON.stringify(listed.map((l) => l.reason))})`,
      });
      expect(listed).toHaveLength(3);
      expect(await listAll(one.deadLetters, api)).toEqual(listed); // stable between reads
      expect(listed.map((l) => l.message?.id)).toEqual([first.id, second.id, undefined]); // oldest first
      for (const letter of listed) {
        expect(letter.id).toMatch(new RegExp(`^${names.deadLetter().replace(/\./g, '\\.')}:\\d+:\\d+$`));
        expect(letter).toMatchObject({ group: 'svc-a', source: topic, apiName: api, eventName: 'created' });
      }
      const broken = listed[2]!;
      expect(broken.reason).toMatch(/^cannot be decoded/);
      expect(broken.payload).toContain('{not json');
      expect(broken.payload).toContain('broken-1');
      // The call's dead letter on the same topic is not listed, with or without a filter.
      expect((await one.deadLetters.list()).entries.map((l) => l.id)).toEqual(listed.map((l) => l.id));
      await expect(one.deadLetters.list({}, { cursor: 'not a cursor' })).rejects.toThrow(RangeError);
      expect(await one.deadLetters.get(`${names.deadLetter()}:0:999999`)).toBeUndefined();
      expect(await one.deadLetters.get('1700000000000-0@some:stream')).toBeUndefined();

      // The other process lists the same dead letters, and sees what this one settles.
      expect((await listAll(two.deadLetters, api)).map((l) => l.id)).toEqual(listed.map((l) => l.id));
      expect(await one.deadLetters.discard({ id: listed[1]!.id })).toBe(1);
      expect((await listAll(two.deadLetters, api)).map((l) => l.id)).toEqual([listed[0]!.id, listed[2]!.id]);
      expect(await two.deadLetters.get(listed[1]!.id)).toBeUndefined();
      expect(await two.deadLetters.discard({ id: listed[1]!.id })).toBe(0);

      state.fixed = true;
      expect(await two.deadLetters.replay({ id: listed[0]!.id })).toBe(1);
      await waitFor(() => handled.items.includes(first.id), { timeout: 20_000, message: 'the replayed event handled' });
      expect((await listAll(one.deadLetters, api)).map((l) => l.id)).toEqual([listed[2]!.id]);
      expect(await one.deadLetters.replay({ id: listed[0]!.id })).toBe(0);

      // History lists the event once: the replay is a delivery for one group, not a new event.
      const history: string[] = [];
      for await (const message of one.history({ apiName: api, limit: 10 })) history.push(message.id);
      expect(history.filter((id) => id === first.id)).toHaveLength(1);

      // A group that reads the topic from its start later handles the event once, and skips its replay.
      const sentinel = event(api, { n: 3 });
      await one.sendEvent(sentinel, { timeoutSeconds: 5 });
      const late = new Collector<string>();
      const lateConsumer = await two.consume(
        {
          events: [{ apiName: api, eventName: 'created' }],
          group: 'svc-late',
          consumer: 'c1',
          since: { kind: 'beginning' },
        },
        async (message) => void late.push(message.id),
      );
      await waitFor(() => late.items.includes(sentinel.id), { timeout: 20_000, message: 'the late group at the end' });
      expect(late.items.filter((id) => id === first.id)).toHaveLength(1);
      await lateConsumer.stop();
      await consumer.stop();
    } finally {
      await one.close();
      await two.close();
    }
  });

  it('pages oldest first across the partitions of the dead-letter topic, from a cursor or from a time', async () => {
    const prefix = uniquePrefix('dlparts');
    const api = 'dl.spread';
    // Keyed by event id: the events, and so their dead letters, spread over the 6 partitions.
    const transport = new KafkaEventTransport(eventOptions(prefix, { partition_key: 'id' }), context('p1'));
    try {
      const consumer = await transport.consume(
        { events: [{ apiName: api, eventName: 'created' }], group: 'svc-spread', consumer: 'c1' },
        async () => {
          throw new MessageRejectedError('never wanted');
        },
      );
      const sent = [1, 2, 3, 4, 5, 6, 7, 8].map((n) => event(api, { n }));
      for (const message of sent) await transport.sendEvent(message, { timeoutSeconds: 5 });
      let listed: DeadLetter[] = [];
      await waitFor(async () => (listed = await listAll(transport.deadLetters, api)).length >= sent.length, {
        timeout: 20_000,
        message: () => `${sent.length} dead letters (listed ${listed.length})`,
      });
      await consumer.stop();
      expect(new Set(listed.map((l) => l.id.split(':')[1])).size).toBeGreaterThan(1); // several partitions
      expect(listed.map((l) => l.message?.id).sort()).toEqual(sent.map((m) => m.id).sort());
      expect(new Set(listed.map((l) => l.id)).size).toBe(sent.length);
      const times = listed.map((l) => l.time.getTime());
      expect(times).toEqual([...times].sort((a, b) => a - b));
      // A page of all of them at once is the same list.
      expect((await transport.deadLetters.list({ apiName: api }, { limit: 100 })).entries.map((l) => l.id)).toEqual(
        listed.map((l) => l.id),
      );
      // From a time: those set aside at or after it (the broker's time index finds where each partition starts).
      const from = listed[5]!.time;
      const since = (await transport.deadLetters.list({ apiName: api, since: from }, { limit: 100 })).entries;
      expect(since.map((l) => l.id)).toEqual(listed.filter((l) => l.time >= from).map((l) => l.id));
      expect(since.length).toBeGreaterThanOrEqual(3);
      expect(since.length).toBeLessThan(sent.length);
    } finally {
      await transport.close();
    }
  });

  it('tombstones the markers of dead letters gone by retention', async () => {
    const prefix = uniquePrefix('dlgone');
    const names = new TopicNames(prefix);
    const api = 'dl.gone';
    const transport = new KafkaEventTransport(eventOptions(prefix, { partitions: 1 }), context('p1'));
    try {
      const consumer = await transport.consume(
        { events: [{ apiName: api, eventName: 'created' }], group: 'svc-gone', consumer: 'c1' },
        async () => {
          throw new MessageRejectedError('never wanted');
        },
      );
      const sent = [event(api, { n: 1 }), event(api, { n: 2 })];
      for (const message of sent) await transport.sendEvent(message, { timeoutSeconds: 5 });
      let listed: DeadLetter[] = [];
      await waitFor(async () => (listed = await listAll(transport.deadLetters, api)).length >= 2, {
        timeout: 20_000,
        message: '2 dead letters',
      });
      await consumer.stop();
      expect(await transport.deadLetters.discard({ id: listed[0]!.id })).toBe(1);

      // Retention (here: DeleteRecords) takes the first record off the dead-letter topic.
      const admin = rawKafka().admin();
      await admin.connect();
      try {
        const [, partition, offset] = listed[0]!.id.split(':');
        await admin.fetchTopicMetadata({ topics: [names.deadLetter()] }); // kafkajs needs the leaders known
        await admin.deleteTopicRecords({
          topic: names.deadLetter(),
          partitions: [{ partition: Number(partition), offset: String(Number(offset) + 1) }],
        });
      } finally {
        await admin.disconnect();
      }
      expect((await listAll(transport.deadLetters, api)).map((l) => l.id)).toEqual([listed[1]!.id]);
      const markers = await readAll(names.settledMarkers(names.deadLetter()), `${prefix}marker-reader`);
      expect(markers.map((m) => [String(m.key), m.value === null ? null : 'marker'])).toEqual([
        [listed[0]!.id, 'marker'],
        [listed[0]!.id, null],
      ]);
    } finally {
      await transport.close();
    }
  });
});
