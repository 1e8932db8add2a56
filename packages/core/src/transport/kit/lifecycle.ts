/**
 * A role's lifecycle, written once (use it as a member, or extend it): a closed flag that is set as soon as
 * close() begins, a close() that runs once however often it is called (every
 * caller waits for the same end), the role's consumers stopped on close (also
 * those still starting), and work started before close() that fails because of
 * it reported as BusClosedError.
 */
import { BusClosedError } from '../../errors';
import { ConsumerSet, type StartableConsumer } from '../consumers';
import type { Consumer } from '../interfaces';

export class RoleLifecycle {
  /** The role's consumers: close() stops them, those still starting included. */
  readonly consumers = new ConsumerSet();
  private closing: Promise<void> | undefined;

  /** `makeClosedError(what)` builds the error for work asked of a closed role (it names the transport and what to do). */
  constructor(private readonly makeClosedError: (what: string, cause?: unknown) => BusClosedError) {}

  /** close() has begun (it may still be running). */
  get isClosed(): boolean {
    return this.closing !== undefined;
  }

  /** Throw the closed error once close() has begun: nothing new starts on a closing role. */
  assertOpen(what: string): void {
    if (this.isClosed) throw this.closedError(what);
  }

  /** The error for `what`, asked of (or cut short by) a closed role. */
  closedError(what: string, cause?: unknown): BusClosedError {
    return this.makeClosedError(what, cause);
  }

  /** Run `work`; a failure once close() has begun (a connection it closed, ...) is reported as the closed error. */
  async unlessClosed<T>(what: string, work: () => Promise<T>): Promise<T> {
    this.assertOpen(what);
    try {
      const result = await work();
      this.assertOpen(what);
      return result;
    } catch (error) {
      if (this.isClosed && !(error instanceof BusClosedError)) throw this.closedError(what, error);
      throw error;
    }
  }

  /**
   * Start a consumer as one of the role's consumers. If it fails to start, or
   * the role closes (or `signal` aborts) while it starts, it is stopped and this
   * rejects: nothing is left running.
   */
  startConsumer(consumer: StartableConsumer, what: string, signal?: AbortSignal): Promise<Consumer> {
    return this.unlessClosed(what, () => this.consumers.start(consumer, signal));
  }

  /**
   * Close once: mark closed, stop the consumers, then `release` (connections,
   * queues). Later calls return the same promise.
   */
  close(release: () => Promise<void> = async () => undefined): Promise<void> {
    this.closing ??= (async () => {
      await this.consumers.stopAll();
      await release();
    })();
    return this.closing;
  }
}
