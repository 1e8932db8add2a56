/**
 * Built-in plugins, switched on in the config's `plugins` section. They fire
 * events on Lightbus's internal APIs with the names and parameters Python
 * Lightbus uses, so monitoring tools read both kinds of services alike.
 * - internal_state: `internal.state` worker_started, worker_ping (every
 *   ping_interval seconds, unless ping_enabled is false), worker_stopped,
 *   with exactly the parameters Python's schema declares: a Python listener
 *   validates them against its own copy of that schema and stops on any other.
 *   Python's own plugin also sends hostname, pid, ping_enabled and
 *   max_memory_use (and no timestamp in worker_stopped): read as they are.
 * Timestamps are seconds since the epoch as a float, as Python writes them.
 * The schemas of the internal APIs are built in: events Python writes are read
 * against them (never against a peer's stricter copy on the bus).
 * - internal_metrics: `internal.metrics` events for every call, result and event.
 * A failure to send a plugin event is logged; it never fails the user's work,
 * and metrics are sent in the background, never delaying it.
 */
import { Api, describeApi } from '../api/api';
import { Type, type TOptional, type TUnknown } from '@sinclair/typebox';
import { Event } from '../api/event';
import { apiSchema } from '../schema/generate';
import type { ApiSchema } from '../schema/types';
import type { BusClient } from '../client/client';
import type { Config } from '../config';
import type { EventMessage, RpcMessage } from '../message';
import { InFlight } from '../util/async';

const any = (): TUnknown => Type.Unknown();
const maybe = (): TOptional<TUnknown> => Type.Optional(Type.Unknown());

/** Python's declared parameters, then what its plugin also sends. */
const WORKER_PARAMETERS = {
  service_name: any(),
  process_name: any(),
  metrics_enabled: any(),
  api_names: any(),
  listening_for: any(),
  timestamp: any(),
  ping_interval: any(),
  ping_enabled: maybe(),
  hostname: maybe(),
  pid: maybe(),
  max_memory_use: maybe(),
};

export class LightbusStateApi extends Api {
  static override meta = { name: 'internal.state', internal: true };
  worker_started = new Event({ parameters: Type.Object(WORKER_PARAMETERS) });
  worker_ping = new Event({ parameters: Type.Object(WORKER_PARAMETERS) });
  // Python declares process_name and timestamp, and sends process_name and service_name.
  worker_stopped = new Event({
    parameters: Type.Object({ process_name: any(), service_name: maybe(), timestamp: maybe() }),
  });
}

const CALL = ['service_name', 'process_name', 'id', 'api_name', 'procedure_name', 'timestamp'] as const;
const EVENT = ['service_name', 'process_name', 'event_id', 'api_name', 'event_name', 'kwargs', 'timestamp'] as const;

export class LightbusMetricsApi extends Api {
  static override meta = { name: 'internal.metrics', internal: true };
  rpc_call_sent = new Event({ parameters: [...CALL, 'kwargs'] });
  rpc_call_received = new Event({ parameters: CALL });
  rpc_response_sent = new Event({ parameters: [...CALL, 'result'] });
  rpc_response_received = new Event({ parameters: CALL });
  event_fired = new Event({ parameters: EVENT });
  event_received = new Event({ parameters: EVENT });
  event_processed = new Event({ parameters: EVENT });
}

/** Seconds since the epoch, a float, as Python's plugins write `timestamp`. */
function now(): number {
  return Date.now() / 1000;
}

/** The schemas of the internal APIs, as this version declares them. */
export function internalApiSchemas(): Record<string, ApiSchema> {
  const apis = [new LightbusStateApi(), new LightbusMetricsApi()].map((api) => describeApi(api));
  return Object.fromEntries(apis.map((api) => [api.name, apiSchema(api)]));
}

/** Fire a plugin event; log instead of failing the work it reports on. */
async function send(
  client: BusClient,
  apiName: string,
  eventName: string,
  params: Record<string, unknown>,
): Promise<void> {
  try {
    await client.fireEvent(apiName, eventName, params);
  } catch (error) {
    client.logger.warn(`Plugin event ${apiName}.${eventName} could not be sent`, { error });
  }
}

function installState(client: BusClient, config: Config): void {
  client.registerApi(new LightbusStateApi());
  const { pingInterval, pingEnabled } = config.plugins.internalState;
  const worker = (): Record<string, unknown> => ({
    service_name: client.serviceName,
    process_name: client.processName,
    metrics_enabled: config.plugins.internalMetrics.enabled,
    api_names: [...client.registeredApis.values()].filter((a) => !a.internal).map((a) => a.name),
    listening_for: client.listeningFor(),
    timestamp: now(),
    ping_interval: pingInterval,
  });
  client.on('onStart', () => send(client, 'internal.state', 'worker_started', worker()));
  if (pingEnabled) {
    client.every(pingInterval, function statePing() {
      return send(client, 'internal.state', 'worker_ping', worker());
    });
  }
  client.on('onStop', () =>
    send(client, 'internal.state', 'worker_stopped', { process_name: client.processName, timestamp: now() }),
  );
}

function installMetrics(client: BusClient): void {
  client.registerApi(new LightbusMetricsApi());
  const base = (): Record<string, unknown> => ({
    service_name: client.serviceName,
    process_name: client.processName,
    timestamp: now(),
  });
  const call = (message: RpcMessage): Record<string, unknown> => ({
    ...base(),
    id: message.id,
    api_name: message.apiName,
    procedure_name: message.procedureName,
  });
  const event = (message: EventMessage): Record<string, unknown> => ({
    ...base(),
    event_id: message.id,
    api_name: message.apiName,
    event_name: message.eventName,
    kwargs: message.kwargs,
  });
  // Metrics never delay (or count against the deadline of) the work they report on: they are sent
  // in the background, and the bus waits for the ones in flight before it stops.
  const inFlight = new InFlight();
  const metric = (name: string, params: Record<string, unknown>): void => {
    void inFlight.track(send(client, 'internal.metrics', name, params));
  };
  client.on('onStop', () => inFlight.drain());
  client.on('beforeRpcCall', ({ message }) => metric('rpc_call_sent', { ...call(message), kwargs: message.kwargs }));
  client.on('afterRpcCall', ({ message }) => metric('rpc_response_received', call(message)));
  client.on('beforeRpcExecution', ({ message }) => metric('rpc_call_received', call(message)));
  client.on('afterRpcExecution', ({ message, result }) =>
    metric('rpc_response_sent', { ...call(message), result: result.result }),
  );
  // Metrics about metrics events would never end.
  client.on('afterEventSent', ({ message }) =>
    message.apiName === 'internal.metrics' ? undefined : metric('event_fired', event(message)),
  );
  client.on('beforeEventExecution', ({ message }) =>
    message.apiName === 'internal.metrics' ? undefined : metric('event_received', event(message)),
  );
  client.on('afterEventExecution', ({ message }) =>
    message.apiName === 'internal.metrics' ? undefined : metric('event_processed', event(message)),
  );
}

/** Install the plugins the config enables. */
export function installPlugins(client: BusClient, config: Config): void {
  client.schemas.addBuiltIn(internalApiSchemas());
  if (config.plugins.internalState.enabled) installState(client, config);
  if (config.plugins.internalMetrics.enabled) installMetrics(client);
}
