import { deferred, type Deferred } from '@lightbus/core/transport';
import { untilTime } from '@lightbus/testing';
import { DeadlinePassedError, ProduceQueue, type QueuedRecord } from './produce-queue';

const record = (value: string) => ({ key: null, value, headers: {} });

/** A sender whose requests the test completes by hand. */
function manualSender() {
  const requests: Array<{ records: readonly QueuedRecord[]; done: Deferred<void> }> = [];
  const send = (records: readonly QueuedRecord[]) => {
    const done = deferred<void>();
    requests.push({ records, done });
    return done.promise;
  };
  return { requests, send };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('the produce queue', () => {
  it('sends records pushed together in one request', async () => {
    const sender = manualSender();
    const queue = new ProduceQueue(sender.send, { lingerMs: 0, batchSize: 100, batchBytes: 1_000_000 });
    const sent = [queue.push('a', record('1')), queue.push('b', record('2')), queue.push('a', record('3'))];
    await tick();
    expect(sender.requests).toHaveLength(1);
    expect(sender.requests[0]!.records.map((r) => `${r.topic}:${String(r.record.value)}`)).toEqual([
      'a:1',
      'b:2',
      'a:3',
    ]);
    sender.requests[0]!.done.resolve();
    await Promise.all(sent);
  });

  it('gathers what arrives while a request is in flight into the next one', async () => {
    const sender = manualSender();
    const queue = new ProduceQueue(sender.send, { lingerMs: 0, batchSize: 100, batchBytes: 1_000_000 });
    const first = queue.push('t', record('1'));
    await tick();
    const later = [queue.push('t', record('2')), queue.push('t', record('3'))];
    await tick();
    expect(sender.requests).toHaveLength(1);
    sender.requests[0]!.done.resolve();
    await first;
    await tick();
    expect(sender.requests).toHaveLength(2);
    expect(sender.requests[1]!.records.map((r) => String(r.record.value))).toEqual(['2', '3']);
    sender.requests[1]!.done.resolve();
    await Promise.all(later);
  });

  it('keeps to the batch size and byte limit', async () => {
    const sender = manualSender();
    const queue = new ProduceQueue(sender.send, { lingerMs: 0, batchSize: 2, batchBytes: 1_000_000 });
    const all = ['1', '2', '3'].map((v) => queue.push('t', record(v)));
    await tick();
    expect(sender.requests[0]!.records).toHaveLength(2);
    sender.requests[0]!.done.resolve();
    await tick();
    expect(sender.requests[1]!.records).toHaveLength(1);
    sender.requests[1]!.done.resolve();
    await Promise.all(all);

    const small = manualSender();
    const bytes = new ProduceQueue(small.send, { lingerMs: 0, batchSize: 100, batchBytes: 1024 });
    const big = [bytes.push('t', record('x'.repeat(900))), bytes.push('t', record('y'.repeat(900)))];
    await tick();
    expect(small.requests[0]!.records).toHaveLength(1); // the second would pass the byte limit
    small.requests[0]!.done.resolve();
    await tick();
    small.requests[1]!.done.resolve();
    await Promise.all(big);
  });

  it('fails every record of a failed request with its error', async () => {
    const sender = manualSender();
    const queue = new ProduceQueue(sender.send, { lingerMs: 0, batchSize: 100, batchBytes: 1_000_000 });
    const both = [queue.push('t', record('1')), queue.push('t', record('2'))];
    await tick();
    sender.requests[0]!.done.reject(new Error('broker gone'));
    await expect(both[0]).rejects.toThrow('broker gone');
    await expect(both[1]).rejects.toThrow('broker gone');
  });

  it('does not send a record whose deadline passed while it waited', async () => {
    const sender = manualSender();
    const queue = new ProduceQueue(sender.send, { lingerMs: 0, batchSize: 100, batchBytes: 1_000_000 });
    const blocker = queue.push('t', record('in flight'));
    await tick();
    const late = queue.push('t', record('late'), Date.now() - 1);
    const fine = queue.push('t', record('fine'), Date.now() + 60_000);
    sender.requests[0]!.done.resolve();
    await blocker;
    await expect(late).rejects.toThrow(DeadlinePassedError);
    await tick();
    expect(sender.requests[1]!.records.map((r) => String(r.record.value))).toEqual(['fine']);
    sender.requests[1]!.done.resolve();
    await fine;
  });

  it('still sends a record that was already in a request when its deadline passed (a request in flight cannot be taken back)', async () => {
    const sender = manualSender();
    const queue = new ProduceQueue(sender.send, { lingerMs: 0, batchSize: 100, batchBytes: 1_000_000 });
    const deadline = Date.now() + 1000; // room for the flush to run first, even on a loaded machine
    const sent = queue.push('t', record('in flight'), deadline);
    await tick();
    expect(sender.requests).toHaveLength(1);
    await untilTime(deadline);
    sender.requests[0]!.done.resolve(); // the broker (after kafkajs's retries, perhaps) has it, late
    await expect(sent).resolves.toBeUndefined();
  });

  it('waits linger_ms for company before sending', async () => {
    const sender = manualSender();
    const queue = new ProduceQueue(sender.send, { lingerMs: 30, batchSize: 100, batchBytes: 1_000_000 });
    const sent = queue.push('t', record('1'));
    await tick();
    expect(sender.requests).toHaveLength(0);
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(sender.requests).toHaveLength(1);
    sender.requests[0]!.done.resolve();
    await sent;
  });

  it('drain() sends what waits, at once, and waits for it', async () => {
    const sent: string[] = [];
    const queue = new ProduceQueue(
      async (records) => {
        sent.push(...records.map((r) => String(r.record.value)));
      },
      { lingerMs: 10_000, batchSize: 100, batchBytes: 1_000_000 },
    );
    const pushed = [queue.push('t', record('1')), queue.push('t', record('2'))];
    await queue.drain();
    expect(sent).toEqual(['1', '2']);
    await Promise.all(pushed);
    await queue.drain(); // nothing left: returns at once
  });
});
