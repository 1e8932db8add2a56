/**
 * The worker: serves the registered APIs' procedures, runs listeners and
 * tasks, and stops them (draining work in hand) when the bus closes. What it
 * does is chosen by features at start: 'rpcs', 'events', 'tasks'.
 */
import type { ApiDefinition } from '../api/api';
import type { EventHandler, Listener, ListenOptions } from '../api/types';
import { InvalidParametersError } from '../errors';
import { retry } from '../transport/kit/retry';
import { errorText } from '../util/async';
import type { BusContext } from '../runtime/context';
import type { EventRef } from '../transport/interfaces';
import { ConsumerStarts } from './consumers';
import { ListenerRunner } from './listeners';
import { RpcServer } from './serve';
import { TaskRunner, type EveryOptions, type Interval } from './tasks';

export type Feature = 'rpcs' | 'events' | 'tasks';
export const ALL_FEATURES: readonly Feature[] = ['rpcs', 'events', 'tasks'];

export interface StartOptions {
  /** What this process does: serve calls ('rpcs'), run listeners ('events'), run tasks ('tasks'). Default all. */
  readonly features?: readonly Feature[];
  /**
   * When a broker cannot be reached at start, keep trying with backoff (logging each attempt;
   * `bus.health()` says not ready meanwhile) instead of failing. `lightbus run` does this
   * unless given --exit-on-broker-down. Default false.
   */
  readonly waitForBrokers?: boolean;
}

export class Worker {
  private features: ReadonlySet<Feature> = new Set(ALL_FEATURES);
  private starting: Promise<void> | undefined;
  private readonly starts: ConsumerStarts;
  private readonly server: RpcServer;
  private readonly listeners: ListenerRunner;
  private readonly tasks: TaskRunner;
  /** Ends the consumer-lag metrics' callback. */
  private stopObserving: (() => void) | undefined;

  constructor(private readonly bus: BusContext) {
    this.starts = new ConsumerStarts(bus);
    this.server = new RpcServer(bus, this.starts);
    this.listeners = new ListenerRunner(bus, this.starts);
    this.tasks = new TaskRunner(bus);
  }

  /** Start serving, consuming and running tasks (once; later calls return the same promise). */
  start(options: StartOptions = {}): Promise<void> {
    if (this.bus.lifecycle.state !== 'idle') return this.starting ?? Promise.resolve();
    const features = options.features ?? ALL_FEATURES;
    for (const feature of features) {
      if (!ALL_FEATURES.includes(feature)) {
        throw new InvalidParametersError(`Unknown feature '${feature}'; features are ${ALL_FEATURES.join(', ')}.`);
      }
    }
    this.features = new Set(features);
    this.bus.lifecycle.starting();
    this.starting = this.startWork(options.waitForBrokers === true);
    return this.starting;
  }

  private async startWork(waitForBrokers: boolean): Promise<void> {
    const { config, hooks, lifecycle, logger, schemas, apis } = this.bus;
    logger.info('Starting Lightbus', {
      service: config.serviceName,
      process: config.processName,
      config: config.source,
      features: [...this.features].join(','),
    });
    await hooks.run('onStart', {});
    if (lifecycle.isClosing) return;
    // The first thing that needs a broker: while the broker is down, wait here (when asked to) rather than fail.
    await (waitForBrokers ? this.untilBrokersAnswer(() => schemas.storeOwn()) : schemas.storeOwn());
    if (lifecycle.isClosing) return;
    schemas.startRefreshing();
    if (this.features.has('rpcs')) await this.server.serve(apis.names());
    if (this.features.has('events')) {
      await this.listeners.startAll();
      this.stopObserving ??= this.bus.telemetry.observeConsumers(() => this.listeners.lag());
    }
    if (lifecycle.isClosing) return;
    if (this.features.has('tasks')) this.tasks.startAll();
    lifecycle.running();
  }

  /** Run `step` until it succeeds, trying again after a retriable failure (a broker down) with backoff, until closing. */
  private untilBrokersAnswer(step: () => Promise<void>): Promise<void> {
    const { lifecycle, logger } = this.bus;
    return retry(() => step(), {
      what: 'Starting',
      signal: lifecycle.closingSignal,
      backoff: { initialMs: 1000, maxMs: 30_000 },
      onRetry: (error, attempt, waitMs) =>
        logger.warn(
          `Cannot start yet (attempt ${attempt}): ${errorText(error)} Trying again in ${(waitMs / 1000).toFixed(1)}s; ` +
            'not ready until then (lightbus run --exit-on-broker-down exits instead).',
        ),
    }).catch((error: unknown) => {
      if (lifecycle.isClosing) return; // told to stop while waiting: not a failure to start
      throw error;
    });
  }

  /** An API was registered: on a running worker, store its schema and serve it. */
  apiAdded(definition: ApiDefinition): void {
    const { lifecycle, logger, schemas } = this.bus;
    if (lifecycle.state !== 'running') return;
    schemas
      .storeOwn([definition.name])
      .catch((error: unknown) =>
        logger.warn(`Storing the schema of '${definition.name}' failed; retrying at the next refresh`, { error }),
      );
    if (this.features.has('rpcs')) {
      this.server
        .serve([definition.name])
        .catch((error: unknown) => lifecycle.fail(error, `serving API '${definition.name}'`));
    }
  }

  hasListener(listenerName: string): boolean {
    return this.listeners.has(listenerName);
  }

  /** 'api.event' names of every event listened to. */
  listeningFor(): string[] {
    return this.listeners.listeningFor();
  }

  /** Add a listener (checked by the client); on a running worker with 'events' it starts at once. */
  addListener(events: readonly EventRef[], handler: EventHandler, options: ListenOptions): Listener {
    const listener = this.listeners.add(events, handler, options);
    if (this.bus.lifecycle.state === 'running' && this.features.has('events')) {
      this.listeners
        .start(listener)
        .catch((error: unknown) => this.bus.lifecycle.fail(error, `starting listener '${listener.listenerName}'`));
    }
    return listener;
  }

  every(interval: Interval | number, fn: () => unknown, options?: EveryOptions): void {
    this.tasks.every(interval, fn, options);
  }

  addBackgroundTask(fn: (signal: AbortSignal) => unknown): void {
    this.tasks.addBackgroundTask(fn);
  }

  /**
   * Drain (closing has begun): consumers still starting are stopped as soon as
   * they exist; consumers stop, finishing and acknowledging work in hand; tasks end.
   */
  async stop(): Promise<void> {
    this.stopObserving?.();
    this.stopObserving = undefined;
    await this.starts.drain();
    await this.server.stop();
    await this.listeners.stopAll();
    await this.tasks.drain();
  }
}
