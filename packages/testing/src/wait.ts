/** Waiting on conditions in tests, never on fixed sleeps. */

export interface WaitOptions {
  /** Give up after this many milliseconds (default 10000). */
  readonly timeout?: number;
  /** Poll every this many milliseconds (default 10). */
  readonly interval?: number;
  /** Said in the error when the condition never holds (a function: worked out then, e.g. to show output so far). */
  readonly message?: string | (() => string);
}

/** Poll `condition` until it returns a truthy value (which is returned) or the timeout passes. */
export async function waitFor<T>(condition: () => T | Promise<T>, options: WaitOptions = {}): Promise<NonNullable<T>> {
  const timeout = options.timeout ?? 10_000;
  const interval = options.interval ?? 10;
  const deadline = Date.now() + timeout;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await condition();
      if (value) return value as NonNullable<T>;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      const reason = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      const what = typeof options.message === 'function' ? options.message() : (options.message ?? 'a condition');
      throw new Error(`Timed out after ${timeout}ms waiting for ${what}${reason}`);
    }
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
}

/** Collects values pushed by handlers, and waits until enough arrived. */
export class Collector<T> {
  readonly items: T[] = [];
  private waiters: Array<() => void> = [];

  push = (item: T): void => {
    this.items.push(item);
    const waiters = this.waiters;
    this.waiters = [];
    waiters.forEach((wake) => wake());
  };

  get length(): number {
    return this.items.length;
  }

  /** Resolves once at least `count` items arrived (rejects after `timeout` ms, default 10000). */
  async waitForCount(count: number, timeout = 10_000): Promise<T[]> {
    const deadline = Date.now() + timeout;
    while (this.items.length < count) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        throw new Error(`Timed out after ${timeout}ms: ${this.items.length} of ${count} items arrived`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remaining);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.items;
  }
}

/** Resolves when `time` (ms since epoch) has passed on this machine's clock. */
export async function untilTime(time: number): Promise<void> {
  await waitFor(() => Date.now() > time, {
    timeout: Math.max(0, time - Date.now()) + 5000,
    message: 'the clock to pass a deadline',
  });
}
