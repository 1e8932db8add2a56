/**
 * The state of one bus, shared by its client and its worker: idle, starting,
 * running, stopping, closed; the signal that aborts when closing begins; and
 * the fatal error (a failed listener, task or start) that stops it.
 */
import { BusClosedError, WorkerFailedError } from '../errors';
import type { Logger } from '../log';
import { deferred, errorText } from '../util/async';

export type BusState = 'idle' | 'starting' | 'running' | 'stopping' | 'closed';

export class Lifecycle {
  private current: BusState = 'idle';
  private transportsClosed = false;
  private fatal: Error | undefined;
  private readonly stoppedDeferred = deferred<void>();
  /** Aborted when close() begins: tasks end, and transports stop consumers that are still starting. */
  private readonly closingController = new AbortController();

  constructor(
    private readonly logger: Logger,
    /** Called once a failure must stop the bus (close()). */
    private readonly stop: () => unknown,
  ) {
    this.stoppedDeferred.promise.catch(() => undefined);
  }

  get state(): BusState {
    return this.current;
  }

  /** Aborted when close() begins. */
  get closingSignal(): AbortSignal {
    return this.closingController.signal;
  }

  /** True between start() and close(). */
  get isRunning(): boolean {
    return this.current === 'running' || this.current === 'starting';
  }

  /** A listener, task or start failed: the bus is stopping (or stopped) because of it. */
  get hasFailed(): boolean {
    return this.fatal !== undefined;
  }

  /** close() has begun (or ended). */
  get isClosing(): boolean {
    return this.current === 'stopping' || this.current === 'closed';
  }

  /** Resolves when the bus has closed; rejects with the reason if it failed. */
  get stopped(): Promise<void> {
    return this.stoppedDeferred.promise;
  }

  starting(): void {
    this.current = 'starting';
  }

  running(): void {
    this.current = 'running';
  }

  /** close() begins: returns whether the bus had been started. */
  beginClosing(): boolean {
    const wasStarted = this.current !== 'idle';
    this.current = 'stopping';
    this.closingController.abort();
    return wasStarted;
  }

  /** Transports are about to close: calls and events are refused from now on. */
  closingTransports(): void {
    this.transportsClosed = true;
  }

  closed(): void {
    this.current = 'closed';
    if (this.fatal) this.stoppedDeferred.reject(this.fatal);
    else this.stoppedDeferred.resolve();
  }

  /** A listener, task or background start failed: log it and shut down; `stopped` rejects. */
  fail(error: unknown, what?: string): void {
    if (this.fatal) return;
    this.fatal =
      error instanceof WorkerFailedError
        ? error
        : new WorkerFailedError(`${what ? `${what} failed` : 'Lightbus failed'}: ${errorText(error)}`, {
            cause: error,
          });
    this.logger.error(`Stopping: ${this.fatal.message}`, { error: (error as Error | undefined)?.stack });
    void this.stop();
  }

  /** For new registrations, listeners and tasks: refused once stopping begins. */
  assertOpen(): void {
    if (this.isClosing) {
      throw new BusClosedError('This bus is closed (or closing). Create a new one with lightbus.create().');
    }
  }

  /** For calls and events: allowed while stopping (onStop hooks, work in progress), refused once closed. */
  assertNotClosed(): void {
    if (this.current === 'closed' || this.transportsClosed) {
      throw new BusClosedError('This bus is closed. Create a new one with lightbus.create().');
    }
  }
}
