/** Background tasks: every() and addBackgroundTask(), run while the worker runs with 'tasks'. */
import { InvalidParametersError } from '../errors';
import type { BusContext } from '../runtime/context';
import { InFlight, delay } from '../util/async';
import { describeValue } from '../util/describe';

export interface Interval {
  readonly seconds?: number;
  readonly minutes?: number;
  readonly hours?: number;
  readonly days?: number;
}

export interface EveryOptions {
  /** Run once at start rather than after the first period. */
  readonly alsoRunImmediately?: boolean;
}

interface Task {
  readonly description: string;
  readonly run: (signal: AbortSignal) => Promise<void>;
}

function intervalSeconds(interval: Interval | number): number {
  const seconds =
    typeof interval === 'number'
      ? interval
      : (interval.seconds ?? 0) +
        (interval.minutes ?? 0) * 60 +
        (interval.hours ?? 0) * 3600 +
        (interval.days ?? 0) * 86400;
  if (!(seconds > 0) || !Number.isFinite(seconds)) {
    throw new InvalidParametersError(
      `every(): the interval must be a positive duration, e.g. { seconds: 30 } (got ${describeValue(interval)}).`,
    );
  }
  return seconds;
}

export class TaskRunner {
  private readonly tasks: Task[] = [];
  private readonly running = new InFlight();
  /** Tasks run: added ones start at once. */
  private active = false;

  constructor(private readonly bus: BusContext) {}

  /** Run `fn` every interval. An error stops the worker (exit 1). */
  every(interval: Interval | number, fn: () => unknown, options: EveryOptions = {}): void {
    const seconds = intervalSeconds(interval);
    this.add({
      description: `every ${seconds}s ${fn.name || 'task'}`,
      run: async (signal) => {
        if (!options.alsoRunImmediately) await delay(seconds * 1000, signal);
        while (!signal.aborted) {
          const started = Date.now();
          await fn();
          await delay(Math.max(0, seconds * 1000 - (Date.now() - started)), signal);
        }
      },
    });
  }

  /** Run a long-lived task; it gets a signal that aborts at shutdown. */
  addBackgroundTask(fn: (signal: AbortSignal) => unknown): void {
    this.add({
      description: `background task ${fn.name || ''}`.trim(),
      run: async (signal) => void (await fn(signal)),
    });
  }

  /** Start every task, and from now on each one added. */
  startAll(): void {
    this.active = true;
    this.tasks.forEach((task) => this.start(task));
  }

  /** Resolves once every task has ended (they end when the closing signal aborts). */
  drain(): Promise<void> {
    return this.running.drain();
  }

  private add(task: Task): void {
    this.tasks.push(task);
    if (this.active) this.start(task);
  }

  private start(task: Task): void {
    const { lifecycle, logger } = this.bus;
    void this.running.track(
      task.run(lifecycle.closingSignal).catch((error: unknown) => {
        if (lifecycle.closingSignal.aborted) logger.warn(`${task.description} failed while stopping`, { error });
        else lifecycle.fail(error, task.description);
      }),
    );
  }
}
