/**
 * What the Kafka event transport does beyond the conformance suite: dead letters
 * with their reason, partition keys, the topic layout and the fallback when the
 * broker cannot create topics, replay from a position, history, and redelivery of
 * a failed event to the same consumer.
 */
import { MessageRejectedError, type EventMessage, type Logger } from '@lightbus/core';
import { newMessageId, type LogFields, type TransportContext } from '@lightbus/core/transport';
import { KafkaEventTransport, KafkaResultTransport, KafkaRpcTransport, TopicNames } from '@lightbus/kafka';
import { Collector, untilTime, waitFor } from '@lightbus/testing';
import type { KafkaMessage } from 'kafkajs';
import { cleanupRun, context, eventOptions, rawKafka, resultOptions, rpcOptions, uniquePrefix } from './helpers';

function event(apiName: string, eventName: string, kwargs: Record<string, unknown>): EventMessage {
  return { id: newMessageId(), apiName, eventName, version: 1, kwargs };
}

class RecordingLogger implements Logger {
  readonly lines: string[] = [];
  debug(): void {}
  info(message: string, fields?: LogFields): void {
    this.lines.push(`info ${message} ${JSON.stringify(fields ?? {})}`);
  }
  warn(message: string, fields?: LogFields): void {
    this.lines.push(`warn ${message} ${JSON.stringify(fields ?? {})}`);
  }
  error(message: string, fields?: LogFields): void {
    this.lines.push(`error ${message} ${JSON.stringify(fields ?? {})}`);
  }
}

/**
 * Read topics from the beginning with a plain kafkajs consumer until `done` says so. A reader whose
 * group join went wrong (a topic's leader not serving it yet when the group formed) reads nothing:
 * then a fresh reader, in a new group, tries again.
 */
async function readTopics(
  topics: string[],
  groupId: string,
  done: (records: Array<{ topic: string } & KafkaMessage>) => boolean,
) {
  let lastError: unknown;
  for (let attempt = 1; attempt <= 2; attempt++) {
    const consumer = rawKafka().consumer({
      groupId: `${groupId}-${attempt}`,
      sessionTimeout: 6000,
      heartbeatInterval: 500,
      maxWaitTimeInMs: 100,
    });
    const records: Array<{ topic: string } & KafkaMessage> = [];
    await consumer.connect();
    try {
      await waitFor(
        async () => {
          await consumer.subscribe({ topics, fromBeginning: true });
          return true;
        },
        { timeout: 15_000, interval: 200, message: `subscribing to ${topics.join(', ')}` },
      );
      await consumer.run({ eachMessage: async ({ topic, message }) => void records.push({ topic, ...message }) });
      await waitFor(() => done(records), {
        timeout: 15_000,
        message: () =>
          `records on ${topics.join(', ')} (read: ${JSON.stringify(records.map((r) => [r.topic, String(r.value).slice(0, 30)]))})`,
      });
      return records;
    } catch (error) {
      lastError = error;
    } finally {
      await consumer.disconnect();
    }
  }
  throw lastError;
}

const text = (value: Buffer | string | Array<Buffer | string> | undefined): string | undefined =>
  value === undefined ? undefined : Array.isArray(value) ? String(value[value.length - 1]) : value.toString();

describe('kafka events', () => {
  afterAll(() => cleanupRun());

  it('puts poison and undecodable events on the dead-letter topic with the reason, and keys events by the chosen parameter', async () => {
    const prefix = uniquePrefix('dl');
    const names = new TopicNames(prefix);
    const api = 'dl.api';
    const transport = new KafkaEventTransport(
      eventOptions(prefix, { partition_key: { parameter: 'customer' } }),
      context(),
    );
    const topic = names.event(api, 'placed', 'per_api');
    const seen = new Collector<EventMessage>();
    try {
      const consumer = await transport.consume(
        { events: [{ apiName: api, eventName: 'placed' }], group: 'svc-dl', consumer: 'c1' },
        async (message) => {
          seen.push(message);
          if (message.kwargs.poison) throw new MessageRejectedError('customer c7 is not a valid customer');
        },
      );
      await transport.sendEvent(event(api, 'placed', { customer: 'c7', poison: true }), { timeoutSeconds: 10 });
      const producer = rawKafka().producer();
      await producer.connect();
      await producer.send({
        topic,
        messages: [
          {
            key: 'x',
            value: 'not json',
            headers: { ce_specversion: '1.0', ce_id: 'foreign-1', ce_type: `${api}.placed` },
          },
        ],
      });
      await producer.disconnect();
      const good = event(api, 'placed', { customer: 'c8', poison: false });
      await transport.sendEvent(good, { timeoutSeconds: 10 });
      await waitFor(() => seen.items.some((m) => m.id === good.id), {
        timeout: 15_000,
        message: 'the good event after the bad ones',
      });
      // The events are on three partitions, handled concurrently: the dead letters may still be on their way
      // (a dead-letter topic created on first use) when the good event is seen. Read them while the consumer runs.
      const records = await readTopics(
        [names.deadLetter(), topic],
        `${prefix}reader`,
        (r) => r.filter((x) => x.topic === names.deadLetter()).length >= 2 && r.length >= 5,
      );
      await consumer.stop();
      const deadLetters = records.filter((r) => r.topic === names.deadLetter());
      const reasons = deadLetters.map((r) => text(r.headers?.['lightbus-dead-letter-reason']));
      // Different keys, different partitions: in either order.
      expect(reasons).toHaveLength(2);
      expect(reasons).toEqual(
        expect.arrayContaining([
          'rejected by the handler: customer c7 is not a valid customer',
          expect.stringMatching(/^cannot be decoded: the value is not JSON/),
        ]),
      );
      for (const record of deadLetters) {
        expect(text(record.headers?.['lightbus-dead-letter-group'])).toBe(`${prefix}svc-dl`);
        expect(text(record.headers?.['lightbus-dead-letter-topic'])).toBe(topic);
        expect(text(record.headers?.['lightbus-dead-letter-offset'])).toMatch(/^\d+$/);
      }
      const undecodable = deadLetters.find((r) =>
        text(r.headers?.['lightbus-dead-letter-reason'])?.startsWith('cannot be decoded'),
      )!;
      expect(undecodable.value?.toString()).toBe('not json'); // the original, untouched
      expect(text(undecodable.headers?.['ce_id'])).toBe('foreign-1');
      const keys = records.filter((r) => r.topic === topic).map((r) => r.key?.toString());
      expect(keys).toEqual(expect.arrayContaining(['c7', 'c8', 'x']));
    } finally {
      await transport.close();
    }
  });

  it('names topics as documented, and creates them with the configured partitions', async () => {
    const prefix = uniquePrefix('layout');
    const logger = new RecordingLogger();
    const ctx: TransportContext = { serviceName: 'layout-svc', processName: 'p1', logger };
    const perEvent = new KafkaEventTransport(eventOptions(prefix, { topic_use: 'per_event', partitions: 3 }), ctx);
    const perApi = new KafkaEventTransport(eventOptions(prefix, { partitions: 3 }), ctx);
    const rpc = new KafkaRpcTransport(rpcOptions(prefix, { partitions: 3 }), ctx);
    const results = new KafkaResultTransport(resultOptions(prefix, { partitions: 3 }), ctx);
    const admin = rawKafka().admin();
    await admin.connect();
    try {
      await perEvent.sendEvent(event('layout.api', 'opened', {}), { timeoutSeconds: 10 });
      await perApi.sendEvent(event('layout.other', 'opened', {}), { timeoutSeconds: 10 });
      const call = {
        id: newMessageId(),
        apiName: 'layout.api',
        procedureName: 'get',
        kwargs: {},
        returnPath: '',
        deadline: Date.now() + 5000,
      };
      const pending = await results.expectResult(call);
      expect(pending.returnPath).toMatch(
        new RegExp(`^kafka://${prefix.replace(/\./g, '\\.')}reply\\.layout-svc/\\d+/p1\\.[0-9a-f]+$`),
      );
      await rpc.callRpc({ ...call, returnPath: pending.returnPath });
      pending.cancel();

      const expected = [
        `${prefix}event.layout.api.opened`,
        `${prefix}event.layout.other`,
        `${prefix}rpc.layout.api`,
        `${prefix}reply.layout-svc`,
      ];
      const topics = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
      expect(topics.sort()).toEqual(expected.sort());

      // Created through CreateTopics with the configured partitions, not auto-created with the broker's default (1).
      const { topics: metadata } = await admin.fetchTopicMetadata({ topics: expected });
      expect(metadata.map((t) => t.partitions.length)).toEqual([3, 3, 3, 3]);
      expect(logger.lines.filter((l) => l.includes('does not support CreateTopics'))).toEqual([]);
    } finally {
      await admin.disconnect();
      await Promise.all([perEvent.close(), perApi.close(), rpc.close(), results.close()]);
    }
  });

  it('reads history newest first by event and time, and replays a new group from a position', async () => {
    const prefix = uniquePrefix('hist');
    const api = 'hist.api';
    const transport = new KafkaEventTransport(eventOptions(prefix, { topic_use: 'per_event' }), context());
    try {
      const ticks = [event(api, 'tick', { n: 1 }), event(api, 'tick', { n: 2 }), event(api, 'tick', { n: 3 })];
      const tock = event(api, 'tock', { n: 4 });
      for (const message of [...ticks, tock]) {
        await transport.sendEvent(message, { timeoutSeconds: 10 });
        await untilTime(Date.now() + 5);
      }
      const read = async (query: Parameters<KafkaEventTransport['history']>[0]) => {
        const out: EventMessage[] = [];
        for await (const message of transport.history(query)) out.push(message);
        return out;
      };
      expect((await read({ apiName: api, eventName: 'tick', limit: 2 })).map((m) => m.kwargs.n)).toEqual([3, 2]);
      const all = await read({ apiName: api });
      expect(all.map((m) => m.kwargs.n)).toEqual([4, 3, 2, 1]);
      const [, third, second] = all;
      expect((await read({ apiName: api, start: second!.time, stop: third!.time })).map((m) => m.kwargs.n)).toEqual([
        3, 2,
      ]);
      expect(second!.nativeId).toMatch(
        new RegExp(`^${prefix.replace(/\./g, '\\.')}event\\.hist\\.api\\.tick:\\d+:\\d+$`),
      );

      const got = new Collector<EventMessage>();
      const consumer = await transport.consume(
        {
          events: [{ apiName: api, eventName: 'tick' }],
          group: 'svc-replay',
          consumer: 'c1',
          since: { kind: 'position', position: second!.nativeId! },
        },
        async (message) => got.push(message),
      );
      await got.waitForCount(2, 15_000);
      expect(got.items.map((m) => m.kwargs.n)).toEqual([2, 3]);
      await consumer.stop();
    } finally {
      await transport.close();
    }
  });

  it('gives a failed event to the same consumer again after a pause, holding back the events behind it', async () => {
    const prefix = uniquePrefix('retry');
    const api = 'retry.api';
    const transport = new KafkaEventTransport(eventOptions(prefix), context());
    const calls = new Collector<number>();
    let failures = 0;
    try {
      const consumer = await transport.consume(
        { events: [{ apiName: api, eventName: 'tick' }], group: 'svc-retry', consumer: 'c1' },
        async (message) => {
          const n = Number(message.kwargs.n);
          calls.push(n);
          if (n === 1 && failures++ === 0) throw new Error('flaky dependency');
        },
      );
      await Promise.all([0, 1, 2].map((n) => transport.sendEvent(event(api, 'tick', { n }), { timeoutSeconds: 10 })));
      await calls.waitForCount(4, 20_000);
      expect(calls.items).toEqual([0, 1, 1, 2]);
      await consumer.stop();
    } finally {
      await transport.close();
    }
  });

  it('sets aside an event whose handler fails on delivery_limit + 1 deliveries, with its last error, and the partition moves on', async () => {
    const prefix = uniquePrefix('limit');
    const names = new TopicNames(prefix);
    const api = 'limit.api';
    const transport = new KafkaEventTransport(eventOptions(prefix, { delivery_limit: 1 }), context());
    const tried = new Collector<string>();
    const handled = new Collector<string>();
    try {
      const consumer = await transport.consume(
        { events: [{ apiName: api, eventName: 'tick' }], group: 'svc-limit', consumer: 'c1' },
        async (message) => {
          if (message.kwargs.doomed) {
            tried.push(message.id);
            throw new Error(`still broken (${tried.length})`);
          }
          handled.push(message.id);
        },
      );
      const doomed = event(api, 'tick', { doomed: true });
      const next = event(api, 'tick', { doomed: false });
      await transport.sendEvent(doomed, { timeoutSeconds: 10 });
      await transport.sendEvent(next, { timeoutSeconds: 10 });
      // One consumer, one partition: the event behind the failing one waits, then flows once it is set aside.
      await handled.waitForCount(1, 15_000);
      expect(tried.items).toEqual([doomed.id, doomed.id]);
      expect(handled.items).toEqual([next.id]);
      await consumer.stop();

      const records = await readTopics([names.deadLetter()], `${prefix}reader`, (r) => r.length >= 1);
      expect(records).toHaveLength(1);
      expect(text(records[0]!.headers?.['ce_id'])).toBe(doomed.id);
      expect(text(records[0]!.headers?.['lightbus-dead-letter-reason'])).toBe(
        'the handler failed on 2 deliveries (delivery_limit 1); last error: still broken (2)',
      );
    } finally {
      await transport.close();
    }
  });
});
