/**
 * BusClient: calls procedures, fires and listens to events, serves registered
 * APIs, runs background tasks. `lightbus.create()` returns a bus whose
 * `client` is one of these; the dynamic paths and typed clients call into it.
 */
import { describeApi, type Api, type ApiDefinition } from '../api/api';
import { assertApiName, assertListenerName, assertMemberName } from '../api/names';
import type { EventHandler, Listener, ListenOptions } from '../api/types';
import type { Config } from '../config';
import {
  ApiNotRegisteredError,
  BusClosedError,
  DuplicateListenerError,
  EventFireTimeoutError,
  InvalidApiError,
  InvalidParametersError,
  MessageRejectedError,
  isMessageRejected,
  RemoteError,
  RpcTimeoutError,
  TransportCapabilityError,
  UnknownApiError,
  UnknownEventError,
  UnknownProcedureError,
  ValidationError,
  WorkerFailedError,
} from '../errors';
import type { Logger } from '../log';
import { errorTypeFromTrace, newMessageId, type EventMessage, type ResultMessage, type RpcMessage } from '../message';
import type { Consumer, EventRef, EventTransport, HistoryQuery, PendingResult, RoleTransport } from '../transport/interfaces';
import type { TransportRegistry } from '../transport/registry';
import { InFlight, deferred, delay, errorText, isPlainObject, withTimeout } from '../util/async';
import { Value } from '@sinclair/typebox/value';
import { apiSchema } from '../schema/generate';
import { castBySchema, toWire } from '../schema/codec';
import { SchemaRegistry } from '../schema/registry';
import type { ApiSchema, JsonSchema, RpcSchema } from '../schema/types';
import { assertValid } from '../schema/validator';
import type { ResolvedApiConfig } from '../config';
import { HookRegistry, type HookCallback, type HookName } from './hooks';
import { ListenerState } from './listener';
import { TransportPool } from './transports';
import { PATH_SEGMENTS } from './path';

export type Feature = 'rpcs' | 'events' | 'tasks';
export const ALL_FEATURES: readonly Feature[] = ['rpcs', 'events', 'tasks'];

export interface CallOptions {
  /** Seconds to wait for the result; default: the API's rpc_timeout. */
  readonly timeout?: number;
}

export interface StartOptions {
  /** What this process does: serve calls ('rpcs'), run listeners ('events'), run tasks ('tasks'). Default all. */
  readonly features?: readonly Feature[];
}

/** Something that names one event: 'api.name.event', [api, event], or a bus path / typed event client. */
export type EventSelector = string | readonly [apiName: string, eventName: string] | object;

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

type State = 'idle' | 'starting' | 'running' | 'stopping' | 'closed';

interface Task {
  readonly description: string;
  readonly run: (signal: AbortSignal) => Promise<void>;
}

export class BusClient {
  readonly hooks = new HookRegistry();
  /** The API schemas this bus knows: its own, from files, and from the bus. */
  readonly schemas: SchemaRegistry;
  private readonly transports: TransportPool;
  private readonly apis = new Map<string, ApiDefinition>();
  private readonly listeners = new Map<string, ListenerState>();
  private readonly tasks: Task[] = [];
  private readonly rpcConsumers: Consumer[] = [];
  private readonly served = new Set<string>();
  private features: ReadonlySet<Feature> = new Set(ALL_FEATURES);
  private state: State = 'idle';
  private closing: Promise<void> | undefined;
  private starting: Promise<void> | undefined;
  /** Consumers being created (by start(), or listen()/registerApi() on a running bus). */
  private readonly startups = new InFlight();
  private transportsClosed = false;
  private fatal: Error | undefined;
  private readonly stopped = deferred<void>();
  /** Outgoing calls still waiting for their result: ended with BusClosedError when the bus closes. */
  private readonly waitingCalls = new Set<() => void>();
  /** Schemas that could not be compiled (already reported). */
  private readonly unusableSchemas = new WeakSet<Error>();
  /** Aborted when close() begins: tasks end, and transports stop consumers that are still starting. */
  private readonly closingSignal = new AbortController();
  private readonly runningTasks = new InFlight();
  private readonly inFlightCalls = new InFlight();

  constructor(
    readonly config: Config,
    registry: TransportRegistry,
    readonly logger: Logger,
  ) {
    this.transports = new TransportPool(config, registry, {
      serviceName: config.serviceName,
      processName: config.processName,
      logger,
    });
    this.schemas = new SchemaRegistry(() => this.transports.get('', 'schema'), config.schemaTtl, logger);
    this.stopped.promise.catch(() => undefined);
  }

  get serviceName(): string {
    return this.config.serviceName;
  }

  get processName(): string {
    return this.config.processName;
  }

  /** True between start() and close(). */
  get isRunning(): boolean {
    return this.state === 'running' || this.state === 'starting';
  }

  /** The APIs this process registered (and so serves and fires events of). */
  get registeredApis(): ReadonlyMap<string, ApiDefinition> {
    return this.apis;
  }

  /**
   * For tests: use these transports for every API instead of the configured
   * ones (an empty object restores them). Used by @lightbus/testing's BusMocker;
   * set it before the bus starts.
   */
  replaceTransports(transports: Partial<RoleTransport>): void {
    this.transports.override(transports);
  }

  /** 'api.event' names of every event this bus listens to. */
  listeningFor(): string[] {
    return [...this.listeners.values()].flatMap((l) => l.events.map((e) => `${e.apiName}.${e.eventName}`));
  }

  /** Add a hook callback; returns a function that removes it. */
  on<N extends HookName>(name: N, callback: HookCallback<N>): () => void {
    return this.hooks.on(name, callback);
  }

  // ---- APIs ------------------------------------------------------------------------------

  /**
   * Register an API instance: this process then serves its procedures (when the
   * bus runs with 'rpcs') and may fire its events.
   */
  registerApi(api: Api): ApiDefinition {
    this.assertOpen();
    const definition = describeApi(api);
    if (this.apis.has(definition.name)) {
      throw new InvalidApiError(`API '${definition.name}' is already registered on this bus.`);
    }
    this.apis.set(definition.name, definition);
    this.schemas.addOwn(definition.name, apiSchema(definition));
    if (this.state === 'running') {
      this.schemas
        .storeOwn([definition.name])
        .catch((error: unknown) => this.logger.warn(`Storing the schema of '${definition.name}' failed; retrying at the next refresh`, { error }));
      if (this.features.has('rpcs')) {
        this.serve([definition.name]).catch((error: unknown) => this.fail(error, `serving API '${definition.name}'`));
      }
    }
    return definition;
  }

  // ---- RPC -------------------------------------------------------------------------------

  /** Call a remote procedure and wait for its result. */
  async callRpc(apiName: string, procedureName: string, params: unknown = {}, options: CallOptions = {}): Promise<unknown> {
    this.assertNotClosed();
    assertApiName(apiName);
    assertMemberName(apiName, 'procedure', procedureName);
    if (!isPlainObject(params)) {
      throw new InvalidParametersError(
        `Parameters of ${apiName}.${procedureName}() must be one object of named parameters, e.g. { id: 1 } (got ${describeValue(params)}).`,
      );
    }
    const local = this.apis.get(apiName);
    if (local && !local.procedures.has(procedureName)) {
      throw new UnknownProcedureError(
        `API '${apiName}' has no procedure '${procedureName}'. Its procedures: ${[...local.procedures.keys()].join(', ') || '(none)'}.`,
      );
    }
    const timeout = options.timeout ?? this.config.api(apiName).rpcTimeout;
    if (!(typeof timeout === 'number' && timeout > 0)) {
      throw new InvalidParametersError(`Call option 'timeout' must be a positive number of seconds (got ${describeValue(timeout)}).`);
    }
    const timeoutError = (): RpcTimeoutError =>
      new RpcTimeoutError(
        apiName,
        procedureName,
        timeout,
        local
          ? ''
          : `API '${apiName}' is not registered in this process; check the name and that a worker serving it is running and reachable, ` +
              `or raise apis.${apiName}.rpc_timeout.`,
      );
    // The deadline covers everything from here: schema loading, hooks, sending and waiting.
    const deadline = Date.now() + timeout * 1000;
    let pending: PendingResult | undefined;
    const call = async (): Promise<unknown> => {
      const apiConfig = this.config.api(apiName);
      const kwargs = toWire(params, `the parameters of ${apiName}.${procedureName}()`) as Record<string, unknown>;
      const rpcSchema = await this.rpcSchema(apiName, procedureName, apiConfig);
      if (apiConfig.validate.outgoing && rpcSchema) {
        this.validate(rpcSchema.parameters, kwargs, `parameters for ${apiName}.${procedureName}()`);
      }
      const message: RpcMessage = {
        id: newMessageId(),
        apiName,
        procedureName,
        kwargs: kwargs === params ? { ...params } : kwargs,
        returnPath: '',
        deadline,
      };
      if (this.hooks.has('beforeRpcCall')) await this.hooks.run('beforeRpcCall', { message });
      const remaining = { timeoutSeconds: Math.max(0.001, (deadline - Date.now()) / 1000) };
      pending = await this.transports.get(apiName, 'result').expectResult(message, remaining);
      message.returnPath = pending.returnPath;
      await this.transports.get(apiName, 'rpc').callRpc(message, remaining);
      const result = await this.untilClosed(pending.result);
      if (this.hooks.has('afterRpcCall')) await this.hooks.run('afterRpcCall', { message, result });
      if (result.error) {
        throw new RemoteError(
          apiName,
          procedureName,
          String(result.result),
          result.errorType ?? errorTypeFromTrace(result.trace),
          result.trace,
        );
      }
      if (rpcSchema && apiConfig.validate.incoming) {
        this.validate(rpcSchema.response, result.result, `result from ${apiName}.${procedureName}()`);
      }
      return rpcSchema && apiConfig.castValues ? castBySchema(rpcSchema.response, result.result) : result.result;
    };
    try {
      return await this.inFlightCalls.track(withTimeout(call(), timeout * 1000, timeoutError));
    } finally {
      // Also on timeout: release what the result transport holds for this call.
      pending?.cancel();
    }
  }

  /** Resolves with `promise`, or rejects with BusClosedError if the bus closes first. */
  private untilClosed<T>(promise: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const abandon = (): void => reject(new BusClosedError('The bus was closed while this call waited for its result.'));
      this.waitingCalls.add(abandon);
      promise.then(
        (value) => {
          this.waitingCalls.delete(abandon);
          resolve(value);
        },
        (error: unknown) => {
          this.waitingCalls.delete(abandon);
          reject(error);
        },
      );
    });
  }

  /**
   * Check a value against a schema. A ValidationError (bad value) propagates; a
   * schema that cannot be used at all (a peer's keyword or pattern this validator
   * cannot compile) is reported once and skipped, never blocking calls or events.
   */
  private validate(schema: JsonSchema, value: unknown, what: string): void {
    try {
      assertValid(schema, value, what);
    } catch (error) {
      if (error instanceof ValidationError) throw error;
      // validatorFor throws one error object per unusable schema: warn about each once.
      if (error instanceof Error && !this.unusableSchemas.has(error)) {
        this.unusableSchemas.add(error);
        this.logger.warn(`The schema for ${what} cannot be used for validation; skipping it: ${errorText(error)}`);
      }
    }
  }

  /**
   * The schema of a procedure, when validation or casting may need it. Unknown
   * procedure of a known API: UnknownProcedureError. No schema at all: undefined,
   * or UnknownApiError under strict_validation.
   */
  private async rpcSchema(apiName: string, procedureName: string, apiConfig: ResolvedApiConfig): Promise<RpcSchema | undefined> {
    if (!apiConfig.validate.outgoing && !apiConfig.validate.incoming && !apiConfig.castValues && !apiConfig.strictValidation) {
      return undefined;
    }
    const schema = await this.schemaOf(apiName, apiConfig);
    if (!schema) return undefined;
    const rpc = schema.rpcs[procedureName];
    if (!rpc) {
      throw new UnknownProcedureError(
        `API '${apiName}' has no procedure '${procedureName}' (per its schema). Its procedures: ${Object.keys(schema.rpcs).join(', ') || '(none)'}.`,
      );
    }
    return rpc;
  }

  /** An API's schema (loading the bus's schemas if needed); strict_validation makes a missing one an error. */
  private async schemaOf(apiName: string, apiConfig: ResolvedApiConfig): Promise<ApiSchema | undefined> {
    let schema: ApiSchema | undefined;
    try {
      schema = await this.schemas.ensure(apiName);
    } catch (error) {
      this.logger.warn('Loading schemas from the bus failed; going on without a schema', { api: apiName, error: errorText(error) });
    }
    if (!schema && apiConfig.strictValidation) {
      throw new UnknownApiError(
        `No schema is known for API '${apiName}' and strict_validation is on. Start a worker that serves it, ` +
          `load its schema with lightbus run --schema, or turn strict_validation off for apis.${apiName}.`,
      );
    }
    return schema;
  }

  /** Execute one incoming call and send its result (never throws: failures become error results). */
  private async executeRpc(message: RpcMessage): Promise<void> {
    if (message.deadline !== undefined && Date.now() > message.deadline) {
      // At most once: the caller has given up; running it now would surprise everyone.
      this.logger.debug(`Dropped ${message.apiName}.${message.procedureName}(): its deadline passed before it could run`, {
        rpcMessageId: message.id,
      });
      return;
    }
    let result: ResultMessage;
    try {
      const api = this.apis.get(message.apiName);
      const procedure = api?.procedures.get(message.procedureName);
      if (!api || !procedure) {
        throw new UnknownProcedureError(
          `API '${message.apiName}' has no procedure '${message.procedureName}'` +
            (api ? `. Its procedures: ${[...api.procedures.keys()].join(', ') || '(none)'}.` : ' in this worker.'),
        );
      }
      if (this.hooks.has('beforeRpcExecution')) await this.hooks.run('beforeRpcExecution', { message });
      const apiConfig = this.config.api(message.apiName);
      const rpcSchema = this.schemas.get(message.apiName)?.rpcs[message.procedureName];
      const what = `${message.apiName}.${message.procedureName}()`;
      let params = isPlainObject(message.kwargs) ? message.kwargs : {};
      if (rpcSchema && apiConfig.validate.incoming) this.validate(rpcSchema.parameters, params, `parameters for ${what}`);
      if (rpcSchema && apiConfig.castValues) params = castBySchema(rpcSchema.parameters, params) as Record<string, unknown>;
      const value = toWire(await procedure.invoke(params), `the result of ${what}`);
      if (rpcSchema && apiConfig.validate.outgoing) this.validate(rpcSchema.response, value ?? null, `result of ${what}`);
      result = { id: newMessageId(), rpcMessageId: message.id, result: value === undefined ? null : value, error: false };
    } catch (error) {
      this.logger.warn(`${message.apiName}.${message.procedureName}() raised an error; returning it to the caller`, {
        rpcMessageId: message.id,
        error: errorText(error),
      });
      result = errorResult(message, error);
    }
    try {
      if (this.hooks.has('afterRpcExecution')) await this.hooks.run('afterRpcExecution', { message, result });
      await this.transports.get(message.apiName, 'result').sendResult(message, result);
    } catch (error) {
      this.logger.error(`Could not send the result of ${message.apiName}.${message.procedureName}()`, {
        rpcMessageId: message.id,
        error,
      });
    }
  }

  private async serve(apiNames: readonly string[]): Promise<void> {
    const todo = apiNames.filter((name) => !this.served.has(name));
    if (todo.length === 0) return;
    todo.forEach((name) => this.served.add(name));
    // APIs on the same rpc transport share one consumer (one blocking read on Redis).
    const byTransport = new Map<string, string[]>();
    for (const name of todo) {
      const key = this.transports.key(name, 'rpc');
      byTransport.set(key, [...(byTransport.get(key) ?? []), name]);
    }
    for (const names of byTransport.values()) {
      const transport = this.transports.get(names[0]!, 'rpc');
      const kept = await this.openConsumer(
        () => transport.consumeRpcs(names, (message) => this.executeRpc(message), { signal: this.closingSignal.signal }),
        (consumer) => this.rpcConsumers.push(consumer),
      );
      if (kept) this.logger.info(`Serving ${names.join(', ')}`, { transport: this.config.transport(names[0]!, 'rpc').name });
    }
  }

  /**
   * Create a consumer and keep it, unless the bus began closing (or its listener
   * stopped) meanwhile: then stop it at once, so close() leaves nothing running.
   * close() waits for consumers being created; this holds no user code, so it
   * cannot wait on close() in turn.
   */
  private async openConsumer(create: () => Promise<Consumer>, keep: (consumer: Consumer) => void, stillWanted = (): boolean => true): Promise<boolean> {
    return this.startups.track(
      (async () => {
        let consumer: Consumer;
        try {
          consumer = await create();
        } catch (error) {
          // Cut short by close() (closingSignal): not a failure of the listener or worker.
          if (this.isClosing) {
            this.logger.debug('A consumer still starting was stopped by close()', { error: errorText(error) });
            return false;
          }
          throw error;
        }
        if (this.isClosing || !stillWanted()) {
          await consumer.stop();
          return false;
        }
        keep(consumer);
        return true;
      })(),
    );
  }

  // ---- Events ----------------------------------------------------------------------------

  /** Fire an event of an API this process registered; resolves once the transport has it. */
  async fireEvent(apiName: string, eventName: string, params: unknown = {}): Promise<void> {
    this.assertNotClosed();
    assertApiName(apiName);
    const api = this.apis.get(apiName);
    if (!api) {
      throw new ApiNotRegisteredError(
        `Cannot fire ${apiName}.${eventName}: API '${apiName}' is not registered in this process. ` +
          `Only the process that registers an API fires its events: bus.client.registerApi(new YourApi()).`,
      );
    }
    const event = api.events.get(eventName);
    if (!event) {
      throw new UnknownEventError(
        `API '${apiName}' has no event '${eventName}'. Its events: ${[...api.events.keys()].join(', ') || '(none)'}.`,
      );
    }
    if (!isPlainObject(params)) {
      throw new InvalidParametersError(
        `Parameters of event ${apiName}.${eventName} must be one object of named parameters (got ${describeValue(params)}).`,
      );
    }
    const declared = event.parameters.map((p) => p.name);
    const missing = event.parameters.filter((p) => p.required && params[p.name] === undefined).map((p) => p.name);
    const unknown = Object.keys(params).filter((name) => !declared.includes(name));
    if (missing.length > 0 || unknown.length > 0) {
      const problems = [
        missing.length ? `missing parameter${missing.length > 1 ? 's' : ''} ${missing.map((n) => `'${n}'`).join(', ')}` : '',
        unknown.length ? `unknown parameter${unknown.length > 1 ? 's' : ''} ${unknown.map((n) => `'${n}'`).join(', ')}` : '',
      ].filter(Boolean);
      throw new InvalidParametersError(
        `Cannot fire ${apiName}.${eventName}: ${problems.join('; ')}. Declared parameters: ${declared.join(', ') || '(none)'}.`,
      );
    }
    const apiConfig = this.config.api(apiName);
    const filled = event.schema ? (Value.Default(event.schema, { ...params }) as Record<string, unknown>) : params;
    const kwargs = toWire(filled, `the parameters of event ${apiName}.${eventName}`) as Record<string, unknown>;
    if (apiConfig.validate.outgoing) {
      const schema = this.schemas.get(apiName)?.events[eventName];
      if (schema) this.validate(schema.parameters, kwargs, `parameters for event ${apiName}.${eventName}`);
    }
    const message: EventMessage = {
      id: newMessageId(),
      apiName,
      eventName,
      version: api.version,
      kwargs: kwargs === params ? { ...params } : kwargs,
    };
    if (this.hooks.has('beforeEventSent')) await this.hooks.run('beforeEventSent', { message });
    const timeout = apiConfig.eventFireTimeout;
    await withTimeout(
      this.transports.get(apiName, 'event').sendEvent(message, { timeoutSeconds: timeout }),
      timeout * 1000,
      () => new EventFireTimeoutError(apiName, eventName, timeout),
    );
    if (this.hooks.has('afterEventSent')) await this.hooks.run('afterEventSent', { message });
  }

  /**
   * Listen to one or more events with one handler. Consumption starts when the
   * bus starts (at once if it already runs). The consumer group is
   * `<service_name>-<listenerName>`: the processes of one service share the
   * events; other services each get all of them.
   */
  listen(events: EventSelector | readonly EventSelector[], handler: EventHandler, options: ListenOptions): Listener {
    this.assertOpen();
    if (typeof handler !== 'function') {
      throw new InvalidParametersError('listen(handler, options): the handler must be a function (params, message) => ...');
    }
    if (!options || typeof options !== 'object') {
      throw new InvalidParametersError("listen() needs options with a listenerName, e.g. { listenerName: 'send-welcome-email' }.");
    }
    assertListenerName(options.listenerName);
    if (options.onError !== undefined && options.onError !== 'shutdown' && options.onError !== 'acknowledge_and_log') {
      throw new InvalidParametersError(
        `listen() option onError must be 'shutdown' or 'acknowledge_and_log' (got ${describeValue(options.onError)}).`,
      );
    }
    checkSince(options.since);
    if (this.listeners.has(options.listenerName)) {
      throw new DuplicateListenerError(
        `A listener named '${options.listenerName}' already exists on this bus. Each listener needs its own name: ` +
          `it names the consumer group '${this.serviceName}-${options.listenerName}'.`,
      );
    }
    const selectors = isEventSelectorList(events) ? events : [events];
    if (selectors.length === 0) throw new InvalidParametersError('listen() needs at least one event.');
    const refs = selectors.map((selector) => this.eventRef(selector));
    for (const ref of refs) {
      const transport = this.transports.get(ref.apiName, 'event');
      if (options.since !== undefined && options.since !== 'latest' && !transport.capabilities.replay) {
        throw new TransportCapabilityError(
          `Listener '${options.listenerName}' asks for since=${describeValue(options.since)} but the event transport ` +
            `'${this.config.transport(ref.apiName, 'event').name}' of API '${ref.apiName}' cannot replay events. Remove 'since' or use a transport that can.`,
        );
      }
    }
    const listener = new ListenerState(refs, handler, options, (l) => this.stopListener(l));
    this.listeners.set(listener.listenerName, listener);
    if (this.state === 'running' && this.features.has('events')) {
      this.startListener(listener).catch((error: unknown) => this.fail(error, `starting listener '${listener.listenerName}'`));
    }
    return listener;
  }

  /** Past events of an API (newest first), where its event transport keeps history. */
  history(query: HistoryQuery): AsyncIterable<EventMessage> {
    assertApiName(query.apiName);
    const transport = this.transports.get(query.apiName, 'event');
    if (!transport.capabilities.history || !transport.history) {
      throw new TransportCapabilityError(
        `The event transport '${this.config.transport(query.apiName, 'event').name}' of API '${query.apiName}' keeps no history.`,
      );
    }
    return transport.history(query);
  }

  private eventRef(selector: EventSelector): EventRef {
    let apiName: string;
    let eventName: string;
    if (typeof selector === 'string') {
      const dot = selector.lastIndexOf('.');
      if (dot <= 0) {
        throw new InvalidParametersError(`Event '${selector}' must be written '<api name>.<event name>', e.g. 'support.case.caseCreated'.`);
      }
      apiName = selector.slice(0, dot);
      eventName = selector.slice(dot + 1);
    } else if (Array.isArray(selector) && selector.length === 2) {
      [apiName, eventName] = selector as unknown as readonly [string, string];
    } else {
      const segments = (selector as Record<symbol, unknown>)[PATH_SEGMENTS] as readonly string[] | undefined;
      if (!segments || segments.length < 2) {
        throw new InvalidParametersError(
          `listen(): cannot tell which event ${describeValue(selector)} is. Pass bus.<api>.<event>, 'api.event' or [api, event].`,
        );
      }
      apiName = segments.slice(0, -1).join('.');
      eventName = segments[segments.length - 1]!;
    }
    assertApiName(apiName);
    assertMemberName(apiName, 'event', eventName);
    const local = this.apis.get(apiName);
    if (local && !local.events.has(eventName)) {
      throw new UnknownEventError(
        `API '${apiName}' has no event '${eventName}'. Its events: ${[...local.events.keys()].join(', ') || '(none)'}.`,
      );
    }
    return { apiName, eventName };
  }

  private async startListener(listener: ListenerState): Promise<void> {
    if (listener.started || listener.stopped) return;
    listener.started = true;
    const group = `${this.serviceName}-${listener.listenerName}`;
    const byTransport = new Map<string, { transport: EventTransport; events: EventRef[] }>();
    for (const ref of listener.events) {
      const key = this.transports.key(ref.apiName, 'event');
      const entry = byTransport.get(key) ?? { transport: this.transports.get(ref.apiName, 'event'), events: [] };
      entry.events.push(ref);
      byTransport.set(key, entry);
    }
    try {
      for (const { transport, events } of byTransport.values()) {
        if (listener.stopped || this.isClosing) return;
        const setup = transport.consume(
          { events, group, consumer: this.processName, since: listener.since, signal: this.closingSignal.signal },
          (message) => this.handleEvent(listener, message),
        );
        const limit = this.config.api(events[0]!.apiName).eventListenerSetupTimeout;
        const slow = setTimeout(
          () => this.logger.warn(`Listener '${listener.listenerName}' is taking longer than ${limit}s to start (event_listener_setup_timeout)`),
          limit * 1000,
        );
        try {
          const kept = await this.openConsumer(
            () => setup,
            (consumer) => listener.consumers.push(consumer),
            () => !listener.stopped,
          );
          if (!kept) return;
        } finally {
          clearTimeout(slow);
        }
      }
      this.logger.info(`Listening for ${listener.events.map((e) => `${e.apiName}.${e.eventName}`).join(', ')}`, { group });
      listener.markReady();
    } catch (error) {
      listener.markFailedToStart(error);
      throw error;
    }
  }

  private async stopListener(listener: ListenerState): Promise<void> {
    listener.stopped = true;
    this.listeners.delete(listener.listenerName);
    const consumers = listener.consumers;
    listener.consumers = [];
    await Promise.all(consumers.map((c) => c.stop()));
  }

  /** Validate (validate.incoming) and cast (cast_values) an incoming event; invalid ones are rejected as poison. */
  private async incomingEvent(message: EventMessage): Promise<EventMessage> {
    const apiConfig = this.config.api(message.apiName);
    if (!apiConfig.validate.incoming && !apiConfig.castValues) return message;
    let schema: ApiSchema | undefined;
    try {
      schema = await this.schemaOf(message.apiName, apiConfig);
    } catch (error) {
      throw new MessageRejectedError(errorText(error));
    }
    const eventSchema = schema?.events[message.eventName];
    if (schema && !eventSchema && apiConfig.strictValidation) {
      throw new MessageRejectedError(`API '${message.apiName}' has no event '${message.eventName}' in its schema (strict_validation)`);
    }
    if (!eventSchema) return message;
    if (apiConfig.validate.incoming) {
      try {
        this.validate(eventSchema.parameters, message.kwargs, `parameters for event ${message.apiName}.${message.eventName}`);
      } catch (error) {
        if (!(error instanceof ValidationError)) throw error;
        this.logger.error(`Event ${message.id} set aside: ${error.message}`, { id: message.id, nativeId: message.nativeId });
        throw new MessageRejectedError(error.message, { cause: error });
      }
    }
    return apiConfig.castValues ? { ...message, kwargs: castBySchema(eventSchema.parameters, message.kwargs) as Record<string, unknown> } : message;
  }

  private async handleEvent(listener: ListenerState, received: EventMessage): Promise<void> {
    if (listener.failure) throw listener.failure; // stopping: leave it for redelivery
    const message = await this.incomingEvent(received);
    let error: unknown;
    try {
      if (this.hooks.has('beforeEventExecution')) {
        await this.hooks.run('beforeEventExecution', { message, listenerName: listener.listenerName });
      }
      await listener.handler(message.kwargs, message);
    } catch (caught) {
      error = caught;
    }
    if (this.hooks.has('afterEventExecution')) {
      await this.hooks.run('afterEventExecution', { message, listenerName: listener.listenerName, error });
    }
    if (error === undefined) return;
    if (isMessageRejected(error)) throw error;
    const where = `${message.apiName}.${message.eventName} (event id ${message.id})`;
    if (listener.onError === 'acknowledge_and_log') {
      this.logger.error(`Listener '${listener.listenerName}' failed on ${where}; acknowledged and logged (onError: acknowledge_and_log)`, {
        error,
      });
      return;
    }
    const failure = new WorkerFailedError(
      `Listener '${listener.listenerName}' failed on ${where}: ${errorText(error)}. The event was not acknowledged and will be ` +
        `delivered again. Fix the handler, or listen with onError: 'acknowledge_and_log' to log such errors and go on.`,
      { cause: error },
    );
    listener.failure = failure;
    this.fail(failure);
    throw failure;
  }

  // ---- Tasks -----------------------------------------------------------------------------

  /** Run `fn` every interval while the bus runs with 'tasks'. An error stops the worker (exit 1). */
  every(interval: Interval | number, fn: () => unknown, options: EveryOptions = {}): void {
    this.assertOpen();
    const seconds =
      typeof interval === 'number'
        ? interval
        : (interval.seconds ?? 0) + (interval.minutes ?? 0) * 60 + (interval.hours ?? 0) * 3600 + (interval.days ?? 0) * 86400;
    if (!(seconds > 0) || !Number.isFinite(seconds)) {
      throw new InvalidParametersError(`every(): the interval must be a positive duration, e.g. { seconds: 30 } (got ${describeValue(interval)}).`);
    }
    const description = `every ${seconds}s ${fn.name || 'task'}`;
    this.addTask({
      description,
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

  /** Run a long-lived task while the bus runs; it gets a signal that aborts at shutdown. */
  addBackgroundTask(fn: (signal: AbortSignal) => unknown): void {
    this.assertOpen();
    this.addTask({ description: `background task ${fn.name || ''}`.trim(), run: async (signal) => void (await fn(signal)) });
  }

  private addTask(task: Task): void {
    this.tasks.push(task);
    if (this.state === 'running' && this.features.has('tasks')) this.startTask(task);
  }

  private startTask(task: Task): void {
    void this.runningTasks.track(
      task.run(this.closingSignal.signal).catch((error: unknown) => {
        if (this.closingSignal.signal.aborted) this.logger.warn(`${task.description} failed while stopping`, { error });
        else this.fail(error, task.description);
      }),
    );
  }

  // ---- Lifecycle -------------------------------------------------------------------------

  /** Start serving registered APIs, consuming listeners and running tasks. */
  start(options: StartOptions = {}): Promise<void> {
    this.assertOpen();
    if (this.state !== 'idle') return this.starting ?? Promise.resolve();
    const features = options.features ?? ALL_FEATURES;
    for (const feature of features) {
      if (!ALL_FEATURES.includes(feature)) {
        throw new InvalidParametersError(`Unknown feature '${feature}'; features are ${ALL_FEATURES.join(', ')}.`);
      }
    }
    this.features = new Set(features);
    this.state = 'starting';
    this.starting = this.startWork();
    return this.starting;
  }

  private async startWork(): Promise<void> {
    this.logger.info('Starting Lightbus', {
      service: this.serviceName,
      process: this.processName,
      config: this.config.source,
      features: [...this.features].join(','),
    });
    await this.hooks.run('onStart', {});
    if (this.isClosing) return;
    await this.schemas.storeOwn();
    if (this.isClosing) return;
    this.schemas.startRefreshing();
    if (this.features.has('rpcs')) await this.serve([...this.apis.keys()]);
    if (this.features.has('events')) {
      for (const listener of [...this.listeners.values()]) await this.startListener(listener);
    }
    if (this.isClosing) return;
    if (this.features.has('tasks')) this.tasks.forEach((task) => this.startTask(task));
    this.state = 'running';
  }

  /**
   * Stop gracefully: stop taking work, finish calls and handlers in progress
   * (acknowledging them), stop tasks, run onStop hooks, close connections.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  /** Resolves when the bus has closed; rejects with the reason if a listener or task failed. */
  waitUntilStopped(): Promise<void> {
    return this.stopped.promise;
  }

  /** close() has begun (or ended). */
  private get isClosing(): boolean {
    return this.state === 'stopping' || this.state === 'closed';
  }

  private async shutdown(): Promise<void> {
    const wasStarted = this.state !== 'idle';
    this.state = 'stopping';
    this.closingSignal.abort();
    this.schemas.stopRefreshing();
    // Consumers being created now are stopped as soon as they exist (see openConsumer).
    await this.startups.drain();
    await Promise.all(this.rpcConsumers.splice(0).map((c) => c.stop().catch((error: unknown) => this.logger.error('Stopping an RPC consumer failed', { error }))));
    await Promise.all(
      [...this.listeners.values()].map((l) =>
        this.stopListener(l).catch((error: unknown) => this.logger.error(`Stopping listener '${l.listenerName}' failed`, { error })),
      ),
    );
    await this.runningTasks.drain();
    if (wasStarted) {
      await this.hooks.run('onStop', {}).catch((error: unknown) => this.logger.error('An onStop hook failed', { error }));
    }
    for (const abandon of [...this.waitingCalls]) abandon();
    await this.inFlightCalls.drain();
    this.transportsClosed = true;
    await this.transports.closeAll();
    this.state = 'closed';
    if (this.fatal) this.stopped.reject(this.fatal);
    else this.stopped.resolve();
  }

  /** A listener, task or background start failed: log it and shut down; waitUntilStopped() rejects. */
  private fail(error: unknown, what?: string): void {
    if (this.fatal) return;
    this.fatal =
      error instanceof WorkerFailedError
        ? error
        : new WorkerFailedError(`${what ? `${what} failed` : 'Lightbus failed'}: ${errorText(error)}`, { cause: error });
    this.logger.error(`Stopping: ${this.fatal.message}`, { error: (error as Error | undefined)?.stack });
    void this.close();
  }

  /** For new registrations, listeners and tasks: refused once stopping begins. */
  private assertOpen(): void {
    if (this.isClosing) {
      throw new BusClosedError('This bus is closed (or closing). Create a new one with lightbus.create().');
    }
  }

  /** For calls and events: allowed while stopping (onStop hooks, work in progress), refused once closed. */
  private assertNotClosed(): void {
    if (this.state === 'closed' || this.transportsClosed) {
      throw new BusClosedError('This bus is closed. Create a new one with lightbus.create().');
    }
  }
}

function errorResult(message: RpcMessage, error: unknown): ResultMessage {
  const err = error instanceof Error ? error : new Error(errorText(error));
  return {
    id: newMessageId(),
    rpcMessageId: message.id,
    result: err.message,
    error: true,
    trace: err.stack ?? `${err.name}: ${err.message}`,
    errorType: err.name,
  };
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'object') return Object.prototype.toString.call(value);
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

function isEventSelectorList(value: EventSelector | readonly EventSelector[]): value is readonly EventSelector[] {
  // A tuple [api, event] of two strings is one selector; a list of selectors is anything else that is an array.
  return Array.isArray(value) && !(value.length === 2 && typeof value[0] === 'string' && typeof value[1] === 'string' && !value[1].includes('.'));
}

function checkSince(since: ListenOptions['since']): void {
  if (since === undefined || since === 'beginning' || since === 'latest') return;
  if (since instanceof Date && !Number.isNaN(since.getTime())) return;
  if (isPlainObject(since) && typeof since.position === 'string' && since.position.length > 0) return;
  throw new InvalidParametersError(
    `listen() option since must be a Date, 'beginning', 'latest' or { position: '<transport position>' } (got ${describeValue(since)}).`,
  );
}
