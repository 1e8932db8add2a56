import { describe, expect, it } from '@jest/globals';
import { BusClosedError } from '../errors';
import { deferred } from '../util/async';
import { ConsumerSet, type StartableConsumer } from './consumers';

/** A consumer whose start() resolves or rejects when the test says, and that records what happened to it. */
function fakeConsumer() {
  const started = deferred<void>();
  const log: string[] = [];
  let stops = 0;
  const consumer: StartableConsumer = {
    start: async () => {
      log.push('start');
      await started.promise;
    },
    stop: async () => {
      stops += 1;
      log.push('stop');
    },
  };
  return { consumer, started, log, stops: () => stops };
}

describe('ConsumerSet', () => {
  it('hands back a Consumer whose stop() stops it once and forgets it', async () => {
    const set = new ConsumerSet();
    const fake = fakeConsumer();
    fake.started.resolve();
    const handle = await set.start(fake.consumer);
    expect(set.size).toBe(1);
    await Promise.all([handle.stop(), handle.stop()]);
    expect(fake.stops()).toBe(1);
    expect(set.size).toBe(0);
  });

  it('stops every running consumer on stopAll() and refuses new ones', async () => {
    const set = new ConsumerSet();
    const a = fakeConsumer();
    const b = fakeConsumer();
    a.started.resolve();
    b.started.resolve();
    await set.start(a.consumer);
    await set.start(b.consumer);
    await set.stopAll();
    expect([a.stops(), b.stops()]).toEqual([1, 1]);
    expect(set.size).toBe(0);
    const c = fakeConsumer();
    await expect(set.start(c.consumer)).rejects.toBeInstanceOf(BusClosedError);
    expect(c.log).toEqual([]);
  });

  it('stops a consumer that is still starting when the set closes, and its start() rejects', async () => {
    const set = new ConsumerSet();
    const fake = fakeConsumer();
    const starting = set.start(fake.consumer);
    const closed = set.stopAll();
    await closed;
    expect(fake.log).toEqual(['start', 'stop']);
    fake.started.resolve();
    await expect(starting).rejects.toBeInstanceOf(BusClosedError);
    expect(set.size).toBe(0);
  });

  it('stops a consumer whose start() failed and rethrows the failure', async () => {
    const set = new ConsumerSet();
    const fake = fakeConsumer();
    const starting = set.start(fake.consumer);
    fake.started.reject(new Error('queue declaration refused'));
    await expect(starting).rejects.toThrow('queue declaration refused');
    expect(fake.stops()).toBe(1);
    expect(set.size).toBe(0);
  });

  it('stops a consumer still starting when its signal aborts (the bus closing), and its start() rejects', async () => {
    const set = new ConsumerSet();
    const fake = fakeConsumer();
    const closing = new AbortController();
    const starting = set.start(fake.consumer, closing.signal);
    closing.abort();
    expect(fake.log).toEqual(['start', 'stop']);
    fake.started.resolve();
    await expect(starting).rejects.toBeInstanceOf(BusClosedError);
    expect(set.size).toBe(0);
    await expect(set.start(fakeConsumer().consumer, closing.signal)).rejects.toBeInstanceOf(BusClosedError);
  });
});
