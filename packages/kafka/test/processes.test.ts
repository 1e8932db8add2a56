/**
 * Listeners in other processes (test/fixtures/consumer.ts): killed mid-batch,
 * or shut down with SIGTERM. Needs the built packages (npm test builds first).
 */
import path from 'node:path';
import { newMessageId, type EventMessage } from '@lightbus/core';
import { KafkaEventTransport } from '@lightbus/kafka';
import { Collector, startTypeScript, waitFor, type ChildRun } from '@lightbus/testing';
import { cleanupRun, context, eventOptions, uniquePrefix } from './helpers';

const FIXTURE = path.join(__dirname, 'fixtures', 'consumer.ts');

function tick(apiName: string, i: number): EventMessage {
  return { id: newMessageId(), apiName, eventName: 'tick', version: 1, kwargs: { i } };
}

function handledBy(child: ChildRun): number[] {
  return [...child.output().matchAll(/^handled (\d+)$/gm)].map((m) => Number(m[1]));
}

async function exitWithin(child: ChildRun, ms: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the child did not exit within ${ms} ms (a handle left open?); it printed:\n${child.output()}`)), ms);
  });
  try {
    return await Promise.race([child.exit, late]);
  } finally {
    clearTimeout(timer);
  }
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);

describe('kafka: a listener in another process', () => {
  afterAll(() => cleanupRun());

  it('killed mid-batch: another member of its group handles the events it had not committed', async () => {
    const prefix = uniquePrefix('kill');
    const api = 'proc.kill';
    const producer = new KafkaEventTransport(eventOptions(prefix), context('producer'));
    const child = startTypeScript(FIXTURE, { env: { TOPIC_PREFIX: prefix, API: api, BLOCK_AT: '5', CONSUMER_NAME: 'doomed' } });
    const survivor = new KafkaEventTransport(eventOptions(prefix), context('survivor'));
    try {
      await child.waitForOutput(/^ready$/m, 30_000);
      // One produce request, so the doomed consumer fetches all 20 in one batch.
      await Promise.all(range(0, 20).map((i) => producer.sendEvent(tick(api, i), { timeoutSeconds: 10 })));
      await child.waitForOutput('blocking 5', 30_000);
      child.kill('SIGKILL');
      await child.exit;
      expect(handledBy(child)).toEqual([0, 1, 2, 3, 4]);

      const got = new Collector<number>();
      const consumer = await survivor.consume(
        { events: [{ apiName: api, eventName: 'tick' }], group: 'workers', consumer: 'survivor' },
        async (message) => got.push(Number(message.kwargs.i)),
      );
      // After the dead member's session times out, the group rebalances and the survivor
      // reads from the last committed offset: everything the killed process had not committed.
      await waitFor(() => range(5, 20).every((i) => got.items.includes(i)), {
        timeout: 30_000,
        message: `the survivor to handle events 5..19 (got ${JSON.stringify(got.items)})`,
      });
      // At least once: together they handled every event.
      expect(new Set([...handledBy(child), ...got.items])).toEqual(new Set(range(0, 20)));
      await consumer.stop();
    } finally {
      child.kill('SIGKILL');
      await Promise.all([producer.close(), survivor.close()]);
    }
  });

  it('on SIGTERM finishes the event in hand, commits what it handled, leaves the group and exits by itself', async () => {
    const prefix = uniquePrefix('term');
    const api = 'proc.term';
    const producer = new KafkaEventTransport(eventOptions(prefix), context('producer'));
    const child = startTypeScript(FIXTURE, { env: { TOPIC_PREFIX: prefix, API: api, HANDLER_MS: '150', CONSUMER_NAME: 'leaving' } });
    const next = new KafkaEventTransport(eventOptions(prefix), context('next'));
    try {
      await child.waitForOutput(/^ready$/m, 30_000);
      await Promise.all(range(0, 10).map((i) => producer.sendEvent(tick(api, i), { timeoutSeconds: 10 })));
      await child.waitForOutput('handled 2', 30_000);
      child.kill('SIGTERM');
      const { code, signal } = await exitWithin(child, 20_000);
      expect({ code, signal }).toEqual({ code: 0, signal: null });
      const output = child.output();
      expect(output).toContain('closed');
      const handled = handledBy(child);
      expect(handled).toEqual(range(0, handled.length)); // in order, the one in hand finished
      expect(output.indexOf(`handled ${handled.length - 1}`)).toBeGreaterThan(output.indexOf('stopping'));

      // The next member of the group starts after what was handled: nothing handled comes again.
      const got = new Collector<number>();
      const consumer = await next.consume(
        { events: [{ apiName: api, eventName: 'tick' }], group: 'workers', consumer: 'next' },
        async (message) => got.push(Number(message.kwargs.i)),
      );
      await producer.sendEvent(tick(api, 100), { timeoutSeconds: 10 });
      await waitFor(() => got.items.includes(100), { timeout: 30_000, message: 'the next member to get the events left' });
      expect(got.items).toEqual([...range(handled.length, 10), 100]);
      await consumer.stop();
    } finally {
      child.kill('SIGKILL');
      await Promise.all([producer.close(), next.close()]);
    }
  });
});
