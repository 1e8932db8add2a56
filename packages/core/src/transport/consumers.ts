/**
 * What every transport role that consumes needs: start a consumer, hand back its
 * `Consumer`, and stop every consumer still running when the role closes, also
 * one that is still starting. Transport packages use this instead of keeping
 * their own set.
 */
import { BusClosedError } from '../errors';
import type { Consumer } from './interfaces';

/** A consumer as a transport writes it: `stop()` may be called while `start()` runs, and more than once. */
export interface StartableConsumer {
  start(): Promise<void>;
  stop(): Promise<void>;
}

export class ConsumerSet {
  private readonly live = new Set<StartableConsumer>();
  private closing: Promise<void> | undefined;

  /** Consumers started and not stopped yet (including those still starting). */
  get size(): number {
    return this.live.size;
  }

  /**
   * Start `consumer` and keep it until it is stopped or the set closes. When
   * `start()` fails, the consumer is stopped and the error rethrown. When the set
   * closes, or `signal` aborts, while it starts, it is stopped and this rejects
   * with BusClosedError.
   */
  async start(consumer: StartableConsumer, signal?: AbortSignal): Promise<Consumer> {
    if (this.closing) throw new BusClosedError('The transport is closed; no consumer can start. Create a new bus.');
    if (signal?.aborted) throw new BusClosedError('The bus is closing; the consumer was not started.');
    this.live.add(consumer);
    // The bus closing (signal) while the consumer starts: stop it, which ends its start.
    const abandon = (): void => void consumer.stop().catch(() => undefined);
    signal?.addEventListener('abort', abandon, { once: true });
    try {
      await consumer.start();
    } catch (error) {
      this.live.delete(consumer);
      await consumer.stop().catch(() => undefined);
      if (this.closing || signal?.aborted)
        throw new BusClosedError('The bus closed while a consumer was starting. Create a new bus.', { cause: error });
      throw error;
    } finally {
      signal?.removeEventListener('abort', abandon);
    }
    if (signal?.aborted) {
      this.live.delete(consumer);
      await consumer.stop();
      throw new BusClosedError('The bus closed while a consumer was starting. Create a new bus.');
    }
    if (this.closing) {
      await this.closing;
      throw new BusClosedError('The transport closed while a consumer was starting. Create a new bus.');
    }
    let stopped: Promise<void> | undefined;
    return {
      stop: () =>
        (stopped ??= consumer.stop().finally(() => {
          this.live.delete(consumer);
        })),
    };
  }

  /** Stop every consumer (those starting too) and refuse new ones. Idempotent. */
  stopAll(): Promise<void> {
    this.closing ??= (async () => {
      // Consumers started while earlier ones stop are in `live` too: loop until none is left.
      while (this.live.size > 0) {
        const batch = [...this.live];
        await Promise.all(batch.map((consumer) => consumer.stop()));
        for (const consumer of batch) this.live.delete(consumer);
      }
    })();
    return this.closing;
  }
}
