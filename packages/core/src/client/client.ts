/**
 * BusClient: what `bus.client` is. It calls procedures, fires and listens to
 * events (client/), registers APIs (api/registry.ts) and runs the worker
 * (worker/): serving, consuming, tasks, start and drain. It owns the pieces
 * they share (runtime/context.ts) and closes them in order.
 */
import type { Api, ApiDefinition } from '../api/api';
import { ApiRegistry } from '../api/registry';
import type { EventHandler, Listener, ListenOptions } from '../api/types';
import type { Config } from '../config';
import type { Logger } from '../log';
import type { EventMessage } from '../message';
import type { BusContext } from '../runtime/context';
import { HookRegistry, type HookCallback, type HookName } from '../runtime/hooks';
import { Lifecycle } from '../runtime/lifecycle';
import { TransportPool } from '../runtime/pool';
import { apiSchema } from '../schema/generate';
import { ValidationPolicy } from '../schema/policy';
import { SchemaRegistry } from '../schema/registry';
import { Telemetry } from '../telemetry';
import { healthOf, type Health } from '../health';
import type { DeadLetterStore } from '../transport/dead-letters';
import type { EventTransport, HistoryQuery, RoleTransport } from '../transport/interfaces';
import type { TransportRegistry } from '../transport/registry';
import type { EveryOptions, Interval } from '../worker/tasks';
import { Worker, type StartOptions } from '../worker/worker';
import { Caller, type CallOptions } from './call';
import { BusDeadLetters } from './dead-letters';
import { fireEvent } from './fire';
import { history, listenedEvents, type EventSelector } from './listen';

export class BusClient {
  readonly hooks = new HookRegistry();
  /** The API schemas this bus knows: its own, from files, and from the bus. */
  readonly schemas: SchemaRegistry;
  private readonly bus: BusContext;
  private readonly caller: Caller;
  private readonly worker: Worker;
  private closing: Promise<void> | undefined;
  private deadLetterStores: BusDeadLetters | undefined;

  constructor(
    readonly config: Config,
    registry: TransportRegistry,
    readonly logger: Logger,
  ) {
    const transports = new TransportPool(config, registry, {
      serviceName: config.serviceName,
      processName: config.processName,
      logger,
    });
    this.schemas = new SchemaRegistry(() => transports.get('', 'schema'), config.schemaTtl, logger);
    this.bus = {
      config,
      logger,
      transports,
      hooks: this.hooks,
      schemas: this.schemas,
      apis: new ApiRegistry(),
      validation: new ValidationPolicy(config, this.schemas, logger),
      lifecycle: new Lifecycle(logger, () => this.close()),
      telemetry: new Telemetry(),
    };
    this.caller = new Caller(this.bus);
    this.worker = new Worker(this.bus);
  }

  get serviceName(): string {
    return this.config.serviceName;
  }

  get processName(): string {
    return this.config.processName;
  }

  /** True between start() and close(). */
  get isRunning(): boolean {
    return this.bus.lifecycle.isRunning;
  }

  /** The APIs this process registered (and so serves and fires events of). */
  get registeredApis(): ReadonlyMap<string, ApiDefinition> {
    return this.bus.apis.all;
  }

  /**
   * For tests: use these transports for every API instead of the configured
   * ones (an empty object restores them). Used by @lightbus/testing's BusMocker;
   * set it before the bus starts.
   */
  replaceTransports(transports: Partial<RoleTransport>): void {
    this.bus.transports.override(transports);
  }

  /** 'api.event' names of every event this bus listens to. */
  listeningFor(): string[] {
    return this.worker.listeningFor();
  }

  /** Add a hook callback; returns a function that removes it. */
  on<N extends HookName>(name: N, callback: HookCallback<N>): () => void {
    return this.hooks.on(name, callback);
  }

  /**
   * Register an API instance: this process then serves its procedures (when the
   * bus runs with 'rpcs') and may fire its events.
   */
  registerApi(api: Api): ApiDefinition {
    this.bus.lifecycle.assertOpen();
    const definition = this.bus.apis.add(api);
    this.schemas.addOwn(definition.name, apiSchema(definition));
    this.worker.apiAdded(definition);
    return definition;
  }

  /** Call a remote procedure and wait for its result. */
  callRpc(apiName: string, procedureName: string, params: unknown = {}, options: CallOptions = {}): Promise<unknown> {
    return this.caller.call(apiName, procedureName, params, options);
  }

  /** Fire an event of an API this process registered; resolves once the transport has it. */
  fireEvent(apiName: string, eventName: string, params: unknown = {}): Promise<void> {
    return fireEvent(this.bus, apiName, eventName, params);
  }

  /**
   * Listen to one or more events with one handler. Consumption starts when the
   * bus starts (at once if it already runs). The consumer group is
   * `<service_name>-<listenerName>`: the processes of one service share the
   * events; other services each get all of them.
   */
  listen(events: EventSelector | readonly EventSelector[], handler: EventHandler, options: ListenOptions): Listener {
    this.bus.lifecycle.assertOpen();
    const refs = listenedEvents(this.bus, events, handler, options, (name) => this.worker.hasListener(name));
    return this.worker.addListener(refs, handler, options);
  }

  /** Past events of an API (newest first), where its event transport keeps history. */
  history(query: HistoryQuery): AsyncIterable<EventMessage> {
    return history(this.bus, query);
  }

  /**
   * The event transport an API's events travel on, for operator tools (`lightbus ui`): its
   * capabilities, consumer groups and lag. Applications fire and listen through the client instead.
   */
  eventTransport(apiName: string): EventTransport {
    return this.bus.transports.get(apiName, 'event');
  }

  /**
   * The events set aside (dead letters) by this bus's event transports: list
   * them, replay them to the listener's group they came from, or discard them.
   */
  get deadLetters(): DeadLetterStore {
    return (this.deadLetterStores ??= new BusDeadLetters(this.bus));
  }

  /** Run `fn` every interval while the bus runs with 'tasks'. An error stops the worker (exit 1). */
  every(interval: Interval | number, fn: () => unknown, options: EveryOptions = {}): void {
    this.bus.lifecycle.assertOpen();
    this.worker.every(interval, fn, options);
  }

  /** Run a long-lived task while the bus runs; it gets a signal that aborts at shutdown. */
  addBackgroundTask(fn: (signal: AbortSignal) => unknown): void {
    this.bus.lifecycle.assertOpen();
    this.worker.addBackgroundTask(fn);
  }

  /** Start serving registered APIs, consuming listeners and running tasks. */
  start(options: StartOptions = {}): Promise<void> {
    this.bus.lifecycle.assertOpen();
    return this.worker.start(options);
  }

  /**
   * Stop gracefully: stop taking work, finish calls and handlers in progress
   * (acknowledging them), stop tasks, run onStop hooks, close connections.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  /** Live and ready, and why not: what `lightbus run --health-port` serves on /healthz and /readyz. */
  health(): Health {
    return healthOf(this.bus);
  }

  /** Resolves when the bus has closed; rejects with the reason if a listener or task failed. */
  waitUntilStopped(): Promise<void> {
    return this.bus.lifecycle.stopped;
  }

  private async shutdown(): Promise<void> {
    const { lifecycle, logger, transports } = this.bus;
    const wasStarted = lifecycle.beginClosing();
    this.schemas.stopRefreshing();
    await this.worker.stop();
    if (wasStarted) {
      await this.hooks.run('onStop', {}).catch((error: unknown) => logger.error('An onStop hook failed', { error }));
    }
    this.caller.abandonWaiting();
    await this.caller.drain();
    lifecycle.closingTransports();
    await transports.closeAll();
    lifecycle.closed();
  }
}
