import { describe, expect, it } from '@jest/globals';
import { BrokerConnectionError, LightbusError, ValidationError } from '../../errors';
import { isRetriable, retry } from './retry';

const fast = { initialMs: 1, maxMs: 2 };

describe('isRetriable', () => {
  it('reads retriable along the cause chain; the first error that says decides', () => {
    expect(isRetriable(new BrokerConnectionError('down'))).toBe(true);
    expect(isRetriable(new ValidationError('bad'))).toBe(false);
    expect(isRetriable(new Error('wrapped', { cause: new BrokerConnectionError('down') }))).toBe(true);
    expect(isRetriable(new LightbusError('refused', { cause: new BrokerConnectionError('down') }))).toBe(false);
    expect(isRetriable(new Error('plain'))).toBe(false);
    expect(isRetriable('text')).toBe(false);
    const cyclic: { cause?: unknown } = {};
    cyclic.cause = cyclic;
    expect(isRetriable(cyclic)).toBe(false);
  });
});

describe('retry', () => {
  it('tries again what is retriable until it succeeds', async () => {
    let calls = 0;
    const value = await retry(
      async (attempt) => {
        calls += 1;
        if (attempt < 2) throw new BrokerConnectionError('down');
        return 'done';
      },
      { what: 'test', backoff: fast },
    );
    expect(value).toBe('done');
    expect(calls).toBe(3);
  });

  it('throws what is not retriable at once', async () => {
    let calls = 0;
    const refused = new ValidationError('no');
    await expect(
      retry(
        async () => {
          calls += 1;
          throw refused;
        },
        { what: 'test', backoff: fast },
      ),
    ).rejects.toBe(refused);
    expect(calls).toBe(1);
  });

  it('gives up after the attempt limit with the last error, or what giveUp makes of it', async () => {
    let calls = 0;
    const attempt = async (): Promise<never> => {
      calls += 1;
      throw new BrokerConnectionError(`down ${calls}`);
    };
    await expect(retry(attempt, { what: 'test', attempts: 3, backoff: fast })).rejects.toThrow('down 3');
    await expect(
      retry(attempt, { what: 'test', attempts: 2, backoff: fast, giveUp: (e) => new Error('gave up', { cause: e }) }),
    ).rejects.toThrow('gave up');
    expect(calls).toBe(5);
  });

  it('gives up once the deadline passed', async () => {
    let calls = 0;
    const error = await retry(
      async () => {
        calls += 1;
        throw new BrokerConnectionError('down');
      },
      { what: 'test', deadline: Date.now() + 20, backoff: fast },
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BrokerConnectionError);
    expect(calls).toBeGreaterThan(1);
  });

  it('stops waiting and gives up when its signal aborts', async () => {
    const abort = new AbortController();
    let calls = 0;
    const error = await retry(
      async () => {
        calls += 1;
        setImmediate(() => abort.abort()); // while retry() waits its (long) backoff
        throw new BrokerConnectionError('down');
      },
      { what: 'test', signal: abort.signal, backoff: { initialMs: 60_000, maxMs: 60_000 } },
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BrokerConnectionError);
    expect(calls).toBe(1);
  });

  it('lets the transport say what is retriable', async () => {
    let calls = 0;
    await retry(
      async () => {
        calls += 1;
        if (calls === 1) throw new Error('socket closed');
      },
      { what: 'test', retriable: (e) => (e as Error).message === 'socket closed', backoff: fast },
    );
    expect(calls).toBe(2);
  });
});

describe('retry, reconnecting', () => {
  it('waits before the first attempt with delayFirst, and tells onRetry of each failure', async () => {
    const failures: number[] = [];
    let calls = 0;
    await retry(
      async () => {
        calls += 1;
        if (calls < 3) throw new BrokerConnectionError('down');
      },
      {
        what: 'reconnecting',
        delayFirst: true,
        backoff: { initialMs: 1, maxMs: 2 },
        onRetry: (_e, attempt) => failures.push(attempt),
      },
    );
    expect(failures).toEqual([1, 2]);
  });

  it('does not start after its first wait when its signal aborted', async () => {
    const abort = new AbortController();
    abort.abort();
    let calls = 0;
    await expect(
      retry(async () => void (calls += 1), { what: 'x', signal: abort.signal, delayFirst: true }),
    ).rejects.toThrow();
    expect(calls).toBe(0);
  });
});
