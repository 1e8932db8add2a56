/** One listener: a handler, the events it listens to, its consumer group, and its consumers. */
import type { EventHandler, Listener, ListenOptions, OnError } from '../api/types';
import { WorkerFailedError } from '../errors';
import type { Consumer, EventRef, StartPosition } from '../transport/interfaces';
import { deferred } from '../util/async';

export class ListenerState implements Listener {
  readonly listenerName: string;
  readonly onError: OnError;
  readonly since: StartPosition | undefined;
  readonly ephemeral: boolean;
  private readonly readyDeferred = deferred<void>();
  readonly ready: Promise<void>;
  consumers: Consumer[] = [];
  started = false;
  stopped = false;
  /** Set once a handler failed in 'shutdown' mode: later deliveries are left unacknowledged. */
  failure: WorkerFailedError | undefined;

  constructor(
    readonly events: readonly EventRef[],
    readonly handler: EventHandler,
    options: ListenOptions,
    private readonly stopHook: (listener: ListenerState) => Promise<void>,
  ) {
    this.listenerName = options.listenerName;
    this.onError = options.onError ?? 'shutdown';
    this.since = toStartPosition(options.since);
    this.ephemeral = options.ephemeral === true;
    this.ready = this.readyDeferred.promise;
    // A listener that never starts (the bus never does) must not leave an unhandled rejection.
    this.ready.catch(() => undefined);
  }

  markReady(): void {
    this.readyDeferred.resolve();
  }

  markFailedToStart(error: unknown): void {
    this.readyDeferred.reject(error);
  }

  stop(): Promise<void> {
    return this.stopHook(this);
  }
}

function toStartPosition(since: ListenOptions['since']): StartPosition | undefined {
  if (since === undefined || since === 'latest') return undefined;
  if (since === 'beginning') return { kind: 'beginning' };
  if (since instanceof Date) return { kind: 'time', time: since };
  return { kind: 'position', position: since.position };
}
