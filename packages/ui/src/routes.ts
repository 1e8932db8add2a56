/**
 * The UI's JSON endpoints. Every list is paged and every read is bounded: the APIs list is a
 * slice of the schema cache; history reads one page (`limit`, newest first, before a time)
 * through the transport; the live tail is a bounded buffer. A transport that cannot tell
 * something (history, groups, lag) gives `supported: false` and a reason, never an error page.
 */
import { RemoteError, RpcTimeoutError, LightbusError, type Bus, type EventMessage } from '@lightbus/core';
import { newMessageId, redactUrl, type EventRef, type EventTransport } from '@lightbus/core/transport';
import type { SchemaCache } from './schemas';
import type { ServiceTracker } from './services';
import { tailed, type Tail, type TailFilter } from './tail';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly body: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export interface RouteContext {
  readonly bus: Bus;
  readonly schemas: SchemaCache;
  readonly services: ServiceTracker;
  readonly tail: Tail;
}

function whole(value: string | null, fallback: number, max: number): number {
  const n = value === null ? NaN : Number(value);
  return Number.isInteger(n) && n >= 0 ? Math.min(n, max) : fallback;
}

function time(value: string | null, name: string): Date | undefined {
  if (!value) return undefined;
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) throw new HttpError(400, `${name} must be an ISO 8601 time (got '${value}').`);
  return date;
}

function required(value: unknown, name: string): string {
  if (typeof value !== 'string' || value === '') throw new HttpError(400, `'${name}' is required.`);
  return value;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Transport name and broker (password redacted) of each role of an API; never its other options. */
function transportsOf(bus: Bus, apiName: string): Record<string, { transport: string; broker?: string }> {
  const out: Record<string, { transport: string; broker?: string }> = {};
  for (const role of ['rpc', 'result', 'event'] as const) {
    const selection = bus.client.config.transport(apiName, role);
    const url = (selection.options as { url?: unknown }).url;
    out[role] = { transport: selection.name, ...(typeof url === 'string' ? { broker: redactUrl(url) } : {}) };
  }
  return out;
}

export function filterOf(url: URL): TailFilter {
  const get = (name: string): string | undefined => url.searchParams.get(name) || undefined;
  const api = get('api');
  const event = get('event');
  const text = get('q');
  return { ...(api ? { api } : {}), ...(event ? { event } : {}), ...(text ? { text } : {}) };
}

export function overview(ctx: RouteContext): unknown {
  const { config } = ctx.bus.client;
  return {
    serviceName: config.serviceName,
    processName: config.processName,
    config: config.source,
    defaults: transportsOf(ctx.bus, '__lightbus_ui_default__'),
  };
}

export function services(ctx: RouteContext): unknown {
  return { processes: ctx.services.list(), now: Date.now() };
}

export function apis(ctx: RouteContext, url: URL): unknown {
  const offset = whole(url.searchParams.get('offset'), 0, Number.MAX_SAFE_INTEGER);
  const limit = whole(url.searchParams.get('limit'), 25, 200);
  return ctx.schemas.page(url.searchParams.get('q') ?? '', offset, limit, url.searchParams.get('internal') === '1');
}

function knownApi(ctx: RouteContext, apiName: string): NonNullable<ReturnType<SchemaCache['get']>> {
  const schema = ctx.schemas.get(apiName);
  if (!schema) throw new HttpError(404, `No API '${apiName}' in the schema store (is its worker running?).`);
  return schema;
}

export function api(ctx: RouteContext, apiName: string): unknown {
  const schema = knownApi(ctx, apiName);
  const transport = ctx.bus.client.eventTransport(apiName);
  return { name: apiName, ...schema, transports: transportsOf(ctx.bus, apiName), capabilities: transport.capabilities };
}

export async function call(ctx: RouteContext, body: Record<string, unknown>): Promise<unknown> {
  const apiName = required(body.api, 'api');
  const procedure = required(body.procedure, 'procedure');
  const params = body.params ?? {};
  const schema = knownApi(ctx, apiName);
  if (!schema.rpcs[procedure]) throw new HttpError(404, `API '${apiName}' has no procedure '${procedure}'.`);
  const problems = ctx.schemas.check(apiName, 'rpcs', procedure, params);
  if (problems.length > 0) return { ok: false, kind: 'invalid', problems };
  const timeout = typeof body.timeout === 'number' && body.timeout > 0 ? body.timeout : undefined;
  const started = performance.now();
  const duration = (): number => Math.round((performance.now() - started) * 10) / 10;
  ctx.bus.client.logger.info(`UI: calling ${apiName}.${procedure}`);
  try {
    const result = await ctx.bus.client.callRpc(apiName, procedure, params, timeout ? { timeout } : {});
    return { ok: true, result: result ?? null, durationMs: duration() };
  } catch (error) {
    if (error instanceof RemoteError) {
      const { remoteType, remoteMessage, remoteStack } = error;
      return {
        ok: false,
        kind: 'remote',
        error: { type: remoteType ?? 'Error', message: remoteMessage, stack: remoteStack ?? '' },
        durationMs: duration(),
      };
    }
    if (error instanceof RpcTimeoutError) {
      return {
        ok: false,
        kind: 'timeout',
        error: { type: error.name, message: error.message },
        durationMs: duration(),
      };
    }
    const code = error instanceof LightbusError ? error.code : undefined;
    return {
      ok: false,
      kind: 'error',
      error: {
        type: error instanceof Error ? error.name : 'Error',
        message: errorText(error),
        ...(code ? { code } : {}),
      },
      durationMs: duration(),
    };
  }
}

/**
 * Fire an event as its API's own worker would: validated against the shared schema, then handed to
 * the API's event transport (the UI registers no API, so it sends the message itself).
 */
export async function fire(ctx: RouteContext, body: Record<string, unknown>): Promise<unknown> {
  const apiName = required(body.api, 'api');
  const eventName = required(body.event, 'event');
  const params = body.params ?? {};
  const schema = knownApi(ctx, apiName);
  if (!schema.events[eventName]) throw new HttpError(404, `API '${apiName}' has no event '${eventName}'.`);
  const problems = ctx.schemas.check(apiName, 'events', eventName, params);
  if (problems.length > 0) return { ok: false, kind: 'invalid', problems };
  if (typeof params !== 'object' || params === null || Array.isArray(params)) {
    return { ok: false, kind: 'invalid', problems: [{ path: '', message: 'parameters must be an object' }] };
  }
  const message: EventMessage = {
    id: newMessageId(),
    apiName,
    eventName,
    version: 1,
    kwargs: params as Record<string, unknown>,
  };
  const started = performance.now();
  const timeoutSeconds = ctx.bus.client.config.api(apiName).eventFireTimeout;
  ctx.bus.client.logger.info(`UI: firing ${apiName}.${eventName}`, { id: message.id });
  try {
    await ctx.bus.client.eventTransport(apiName).sendEvent(message, { timeoutSeconds });
  } catch (error) {
    return {
      ok: false,
      kind: 'error',
      error: { type: error instanceof Error ? error.name : 'Error', message: errorText(error) },
    };
  }
  return { ok: true, id: message.id, durationMs: Math.round((performance.now() - started) * 10) / 10 };
}

export function recent(ctx: RouteContext, url: URL): unknown {
  return { items: ctx.tail.recent(filterOf(url), whole(url.searchParams.get('limit'), 100, 1000)) };
}

/** One page of an API's past events, newest first, before `before`; `next` is the next page's `before`. */
export async function history(ctx: RouteContext, url: URL): Promise<unknown> {
  const apiName = required(url.searchParams.get('api'), 'api');
  knownApi(ctx, apiName);
  const transport = ctx.bus.client.eventTransport(apiName);
  if (!transport.capabilities.history || !transport.history) {
    return { supported: false, reason: `The event transport of '${apiName}' keeps no history.`, items: [] };
  }
  const limit = whole(url.searchParams.get('limit'), 50, 200);
  const filter = filterOf(url);
  const before = time(url.searchParams.get('before'), 'before');
  const since = time(url.searchParams.get('since'), 'since');
  const items = [];
  for await (const message of transport.history({
    apiName,
    ...(filter.event ? { eventName: filter.event } : {}),
    limit,
    ...(since ? { start: since } : {}),
    ...(before ? { stop: before } : {}),
  })) {
    items.push(tailed(message));
    if (items.length >= limit) break;
  }
  const last = items[items.length - 1];
  const next = items.length >= limit && last ? new Date(new Date(last.time).getTime() - 1).toISOString() : undefined;
  return { supported: true, items, ...(next ? { next } : {}) };
}

function eventsOf(ctx: RouteContext, apiName: string): EventRef[] {
  return Object.keys(ctx.schemas.get(apiName)?.events ?? {}).map((eventName) => ({ apiName, eventName }));
}

async function groupsOfApi(ctx: RouteContext, apiName: string): Promise<unknown> {
  let transport: EventTransport;
  try {
    transport = ctx.bus.client.eventTransport(apiName);
  } catch (error) {
    return { api: apiName, supported: false, reason: errorText(error), groups: [] };
  }
  const base = {
    api: apiName,
    transport: ctx.bus.client.config.transport(apiName, 'event').name,
    lagByName: !!transport.lag,
  };
  if (!transport.capabilities.consumerGroups) {
    return { ...base, supported: false, reason: 'This transport has no consumer groups.', groups: [] };
  }
  if (!transport.groups) {
    return {
      ...base,
      supported: false,
      reason: transport.lag
        ? 'This broker cannot list its groups: watch a group by its name.'
        : 'This transport cannot tell its groups or their lag.',
      groups: [],
    };
  }
  try {
    return { ...base, supported: true, groups: await transport.groups(eventsOf(ctx, apiName)) };
  } catch (error) {
    return { ...base, supported: false, reason: `The broker did not answer: ${errorText(error)}`, groups: [] };
  }
}

/** Consumer groups of a page of APIs (paged like the APIs list). */
export async function groups(ctx: RouteContext, url: URL): Promise<unknown> {
  const page = ctx.schemas.page(
    url.searchParams.get('q') ?? '',
    whole(url.searchParams.get('offset'), 0, Number.MAX_SAFE_INTEGER),
    whole(url.searchParams.get('limit'), 10, 50),
  );
  const items = await Promise.all(page.items.map((item) => groupsOfApi(ctx, item.name)));
  return { total: page.total, offset: page.offset, items };
}

/** The lag of one group, by name (for brokers that cannot list their groups). */
export async function lag(ctx: RouteContext, url: URL): Promise<unknown> {
  const apiName = required(url.searchParams.get('api'), 'api');
  const group = required(url.searchParams.get('group'), 'group');
  knownApi(ctx, apiName);
  const transport = ctx.bus.client.eventTransport(apiName);
  if (!transport.lag) return { supported: false, reason: "This transport cannot tell a group's lag.", group, lag: [] };
  try {
    return { supported: true, group, lag: await transport.lag(eventsOf(ctx, apiName), group) };
  } catch (error) {
    return { supported: false, reason: `The broker did not answer: ${errorText(error)}`, group, lag: [] };
  }
}
