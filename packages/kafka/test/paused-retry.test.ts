/**
 * A failed event pauses its partition and a timer resumes it after a backoff
 * (events.ts, redeliverLater). The resume function comes from kafkajs's batch
 * payload and is bound to the kafkajs ConsumerGroup object that fetched the
 * batch: when kafkajs restarts a crashed consumer it builds a new ConsumerGroup,
 * so a timer that fires afterwards resumes the dead one, not the live one.
 *
 * These tests take the worst case: the timer's resume is held back and never
 * reaches any consumer while the group restarts (or rebalances). The partition
 * must still be read again, from the failed event, and the events behind it
 * must follow: nothing stays paused and nothing is skipped.
 */
import type { EventMessage } from '@lightbus/core';
import { newMessageId } from '@lightbus/core/transport';
import { KafkaEventTransport } from '@lightbus/kafka';
import { Collector, waitFor } from '@lightbus/testing';
import type { Consumer as KafkaConsumer } from 'kafkajs';
import type { ConsumedBatch, GroupConsumer, GroupConsumerSettings, KafkaClient } from '../src/adapter/client';
import { cleanupRun, context, eventOptions, uniquePrefix, startOwnBroker } from './helpers';

const FAST_RETRY = { retries: 2, initial_retry_time_ms: 100, max_retry_time_ms: 500 };

function event(apiName: string, eventName: string, n: number): EventMessage {
  return { id: newMessageId(), apiName, eventName, version: 1, kwargs: { n } };
}

/** What a test sees of a group consumer's kafkajs consumer: its group joins and crashes, in order. */
interface GroupWatch {
  readonly events: Array<'join' | 'crash-restart' | 'crash-final'>;
  /** The resume functions returned by batch.pause(), held back: the test decides whether they ever run. */
  readonly heldResumes: Array<() => void>;
  /** The partitions the live kafkajs consumer group has paused now. */
  paused(): Array<{ topic: string; partitions: number[] }>;
}

/**
 * Let `client`'s group consumers run as usual, except that batch.pause()'s resume
 * is held back (the retry timer calls a no-op); record the kafkajs consumer's
 * joins and crashes.
 */
function holdResumes(client: KafkaClient): GroupWatch {
  let consumer: KafkaConsumer | undefined;
  const watch: GroupWatch = { events: [], heldResumes: [], paused: () => consumer?.paused() ?? [] };
  const target = client as unknown as { createGroupConsumer(settings: GroupConsumerSettings): GroupConsumer };
  const original = target.createGroupConsumer.bind(client);
  target.createGroupConsumer = (settings) => {
    const group = original({
      ...settings,
      handle: (batch: ConsumedBatch) =>
        settings.handle({
          ...batch,
          pause: () => {
            watch.heldResumes.push(batch.pause());
            return () => undefined;
          },
        }),
    });
    const kafkajs = (group as unknown as { consumer: KafkaConsumer }).consumer;
    consumer = kafkajs;
    kafkajs.on(kafkajs.events.GROUP_JOIN, () => void watch.events.push('join'));
    kafkajs.on(
      kafkajs.events.CRASH,
      (e) => void watch.events.push(e.payload.restart ? 'crash-restart' : 'crash-final'),
    );
    return group;
  };
  return watch;
}

/** Handled events of `calls` in order, where the first delivery of `failing` threw. */
function expectRedeliveredInOrder(calls: readonly number[], failing: number, after: number): void {
  const failed = calls.indexOf(failing);
  const retried = calls.indexOf(failing, failed + 1);
  expect(failed).toBeGreaterThanOrEqual(0);
  expect(retried).toBeGreaterThan(failed);
  // At least once, in order: what comes behind the failed event comes after its successful retry, and only then.
  expect(calls.slice(failed + 1, retried)).not.toContain(after);
  expect(calls.slice(retried)).toContain(after);
}

describe('kafka: a partition paused for a retry, and a restart or rebalance of the group', () => {
  afterAll(() => cleanupRun());

  it('after kafkajs restarts the crashed consumer, the paused partition is read again from the failed event, without the old resume', async () => {
    const broker = await startOwnBroker();
    const prefix = uniquePrefix('pause-crash');
    const api = 'pausecrash.api';
    const transport = new KafkaEventTransport(
      eventOptions(prefix, { brokers: [broker.bootstrap], retry: FAST_RETRY, connection_timeout_ms: 500 }),
      context('p1'),
    );
    const watch = holdResumes(transport.base.client);
    const calls = new Collector<number>();
    let failures = 0;
    try {
      const consumer = await transport.consume(
        { events: [{ apiName: api, eventName: 'tick' }], group: 'svc-pause-crash', consumer: 'c1' },
        async (message) => {
          const n = Number(message.kwargs.n);
          calls.push(n);
          if (n === 1 && failures++ === 0) throw new Error('flaky dependency');
        },
      );
      // One key (the API name): one partition, in order.
      for (const n of [0, 1, 2]) await transport.sendEvent(event(api, 'tick', n), { timeoutSeconds: 10 });
      await waitFor(() => failures === 1 && watch.heldResumes.length === 1, {
        timeout: 20_000,
        message: 'event 1 to fail and its partition to pause',
      });
      expect(calls.items).toEqual([0, 1]);
      const topic = transport.topicOf(api, 'tick');
      expect(watch.paused()).toEqual([{ topic, partitions: [expect.any(Number)] }]);

      // The broker goes away while the partition is paused: kafkajs crashes the consumer and restarts it.
      await broker.down();
      await waitFor(() => watch.events.includes('crash-restart'), {
        timeout: 30_000,
        message: `a crash that kafkajs restarts (saw ${watch.events.join(',')})`,
      });
      const crashedAt = watch.events.indexOf('crash-restart');
      await broker.up();
      await waitFor(() => watch.events.slice(crashedAt).includes('join'), {
        timeout: 40_000,
        message: `the restarted consumer to join (saw ${watch.events.join(',')})`,
      });

      // The retry timer's resume never reached any consumer, yet the restarted one reads the partition again.
      await waitFor(() => calls.items.filter((n) => n === 1).length >= 2 && calls.items.includes(2), {
        timeout: 30_000,
        message: `event 1 again and then event 2 (got ${JSON.stringify(calls.items)})`,
      });
      expect(watch.events).not.toContain('crash-final');
      expectRedeliveredInOrder(calls.items, 1, 2);
      expect(watch.paused()).toEqual([]);
      // The old resume, run late, acts on kafkajs's discarded ConsumerGroup: harmless.
      expect(() => watch.heldResumes.forEach((resume) => resume())).not.toThrow();
      await consumer.stop();
    } finally {
      await transport.close();
      await broker.stop();
    }
  }, 150_000); // starts a broker of its own, and starts it again

  it('after a rebalance that keeps the paused partition on the same member, it is read again without the timer', async () => {
    const prefix = uniquePrefix('pause-rebalance');
    const api = 'pauserebalance.api';
    // per_event topics: the second member listens to another event of the same listener group, so it
    // joins the group (a rebalance) but gets none of the first member's partitions.
    const options = eventOptions(prefix, { topic_use: 'per_event' });
    const first = new KafkaEventTransport(options, context('p1'));
    const second = new KafkaEventTransport(options, context('p2'));
    const watch = holdResumes(first.base.client);
    const calls = new Collector<number>();
    let failures = 0;
    try {
      const consumer = await first.consume(
        { events: [{ apiName: api, eventName: 'tick' }], group: 'svc-pause-rebalance', consumer: 'c1' },
        async (message) => {
          const n = Number(message.kwargs.n);
          calls.push(n);
          if (n === 1 && failures++ === 0) throw new Error('flaky dependency');
        },
      );
      for (const n of [0, 1, 2]) await first.sendEvent(event(api, 'tick', n), { timeoutSeconds: 10 });
      await waitFor(() => failures === 1 && watch.heldResumes.length === 1, {
        timeout: 20_000,
        message: 'event 1 to fail and its partition to pause',
      });
      const topic = first.topicOf(api, 'tick');
      expect(watch.paused()).toEqual([{ topic, partitions: [expect.any(Number)] }]);
      const joins = watch.events.filter((e) => e === 'join').length;

      const other = await second.consume(
        { events: [{ apiName: api, eventName: 'tock' }], group: 'svc-pause-rebalance', consumer: 'c2' },
        async () => {},
      );
      await waitFor(() => watch.events.filter((e) => e === 'join').length > joins, {
        timeout: 30_000,
        message: 'the first member to rejoin',
      });

      await waitFor(() => calls.items.filter((n) => n === 1).length >= 2 && calls.items.includes(2), {
        timeout: 30_000,
        message: `event 1 again and then event 2 (got ${JSON.stringify(calls.items)})`,
      });
      expectRedeliveredInOrder(calls.items, 1, 2);
      expect(watch.paused()).toEqual([]);
      watch.heldResumes.forEach((resume) => resume());
      await Promise.all([other.stop(), consumer.stop()]);
    } finally {
      await Promise.all([first.close(), second.close()]);
    }
  });
});
