/**
 * startUi(): the UI's HTTP server (Node's http; a handful of routes needs no framework), its
 * listener (the live tail and the services list are fed by one listener on every API's events),
 * and the prebuilt front end.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LightbusError, type Bus, type EventMessage, type Listener } from '@lightbus/core';
import { Access, isLoopback } from './auth';
import { actOnDeadLetters, getDeadLetter, listDeadLetters } from './dead-letters';
import * as routes from './routes';
import { HttpError, type RouteContext } from './routes';
import { SchemaCache } from './schemas';
import { ServiceTracker } from './services';
import { serveStatic, webRoot } from './static';
import { Tail } from './tail';

export interface UiOptions {
  /** The bus the UI reads and acts through (created from the config by `lightbus ui`). */
  readonly bus: Bus;
  /** Default 127.0.0.1. Any non-loopback address needs `token`. */
  readonly host?: string;
  /** Default 4000; 0 picks a free port. */
  readonly port?: number;
  /** Every request must carry it (required to bind beyond localhost). */
  readonly token?: string;
  /** How often the schema store is read again, ms (default 5000). */
  readonly schemaRefreshMs?: number;
}

export interface UiServer {
  /** Where to open it (with a token: open `<url>?token=<token>` once). */
  readonly url: string;
  readonly port: number;
  /** Resolves once close() finished. */
  readonly closed: Promise<void>;
  /** Stop serving, stop the listeners, close the bus. */
  close(): Promise<void>;
}

/** The UI refuses options that would expose it (or cannot be served). */
export class UiOptionsError extends LightbusError {
  override readonly code = 'LIGHTBUS_UI_OPTIONS';
}

const MAX_BODY = 1024 * 1024;

async function readJson(request: IncomingMessage): Promise<Record<string, unknown>> {
  if (!(request.headers['content-type'] ?? '').startsWith('application/json')) {
    // Also what keeps other sites' forms out: a cross-site JSON post needs CORS, which this server never grants.
    throw new HttpError(415, 'Send the request body as JSON (Content-Type: application/json).');
  }
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw new HttpError(413, 'Request body too large (1 MiB at most).');
    chunks.push(chunk);
  }
  try {
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new Error('not an object');
    return body as Record<string, unknown>;
  } catch {
    throw new HttpError(400, 'The request body must be a JSON object.');
  }
}

function send(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  response.end(JSON.stringify(body));
}

/** Listen to every event of the APIs in the store (one listener per new set of APIs). */
class Feed {
  private readonly listened = new Set<string>();
  private readonly listeners: Listener[] = [];

  constructor(
    private readonly ctx: RouteContext,
    private readonly onEvent: (message: EventMessage) => void,
  ) {}

  update(): void {
    const schemas = this.ctx.schemas.all();
    const fresh = Object.keys(schemas)
      .filter((name) => name !== 'internal.metrics' && !this.listened.has(name))
      .sort();
    const events = fresh.flatMap((apiName) =>
      Object.keys(schemas[apiName]!.events).map((eventName): [string, string] => [apiName, eventName]),
    );
    for (const name of fresh) this.listened.add(name);
    if (events.length === 0) return;
    // Ephemeral groups: they go when the UI stops (on RabbitMQ, its queues with it), so nothing piles up for
    // a tail nobody watches. Named after the APIs, as one listener per set of APIs must be.
    const id = createHash('sha256').update(fresh.join(',')).digest('hex').slice(0, 10);
    try {
      const listener = this.ctx.bus.client.listen(
        events,
        (_params, message) => {
          this.onEvent(message as EventMessage);
        },
        { listenerName: `live-tail-${id}`, onError: 'acknowledge_and_log', ephemeral: true },
      );
      this.listeners.push(listener);
    } catch (error) {
      this.ctx.bus.client.logger.warn('UI: cannot follow the events of some APIs', { error, apis: fresh });
    }
  }
}

/** Seed the services list from the state events of the last few minutes, where the transport keeps history. */
async function seedServices(ctx: RouteContext): Promise<void> {
  try {
    const transport = ctx.bus.client.eventTransport('internal.state');
    if (!transport.capabilities.history || !transport.history) return;
    const start = new Date(Date.now() - 5 * 60_000);
    for await (const message of transport.history({ apiName: 'internal.state', limit: 500, start })) {
      ctx.services.observe(message);
    }
  } catch (error) {
    ctx.bus.client.logger.debug('UI: no state history', { error });
  }
}

export async function startUi(options: UiOptions): Promise<UiServer> {
  const host = options.host ?? '127.0.0.1';
  const loopback = isLoopback(host);
  if (!loopback && !options.token) {
    throw new UiOptionsError(
      `Refusing to serve the UI on '${host}' without a token: anyone who reaches it could call procedures and fire events. ` +
        `Pass --token <secret> (or set LIGHTBUS_UI_TOKEN), or bind to 127.0.0.1.`,
    );
  }
  const { bus } = options;
  const access = new Access(options.token, loopback);
  const schemas = new SchemaCache(bus, options.schemaRefreshMs);
  const ctx: RouteContext = { bus, schemas, services: new ServiceTracker(bus.client.processName), tail: new Tail() };
  const feed = new Feed(ctx, (message) => {
    ctx.services.observe(message);
    ctx.tail.add(message);
  });
  await schemas.start();
  await seedServices(ctx);
  feed.update();
  const feedTimer = setInterval(() => feed.update(), options.schemaRefreshMs ?? 5_000);
  feedTimer.unref();
  await bus.client.start({ features: ['events'] });
  const root = webRoot();

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const url = new URL(request.url ?? '/', 'http://ui.invalid');
    const token = access.tokenFromQuery(url);
    if (token) {
      url.searchParams.delete('token');
      response.writeHead(303, { location: `${url.pathname}${url.search}`, 'set-cookie': access.cookie(token) });
      response.end();
      return;
    }
    const refusal = access.refusal(request);
    if (refusal) return send(response, 401, { error: refusal });
    const { pathname } = url;
    if (!pathname.startsWith('/api/')) return serveStatic(root, pathname, response);
    const route = `${request.method ?? 'GET'} ${pathname}`;
    const apiDetail = /^GET \/api\/apis\/([^/]+)$/.exec(route);
    if (apiDetail) return send(response, 200, routes.api(ctx, decodeURIComponent(apiDetail[1]!)));
    const deadLetter = /^GET \/api\/deadletters\/([^/]+)$/.exec(route);
    if (deadLetter) return send(response, 200, await getDeadLetter(ctx, decodeURIComponent(deadLetter[1]!)));
    switch (route) {
      case 'GET /api/overview':
        return send(response, 200, routes.overview(ctx));
      case 'GET /api/services':
        return send(response, 200, routes.services(ctx));
      case 'GET /api/apis':
        return send(response, 200, routes.apis(ctx, url));
      case 'POST /api/call':
        return send(response, 200, await routes.call(ctx, await readJson(request)));
      case 'POST /api/fire':
        return send(response, 200, await routes.fire(ctx, await readJson(request)));
      case 'GET /api/events/recent':
        return send(response, 200, routes.recent(ctx, url));
      case 'GET /api/events/stream':
        return ctx.tail.follow(response, routes.filterOf(url));
      case 'GET /api/events/history':
        return send(response, 200, await routes.history(ctx, url));
      case 'GET /api/groups':
        return send(response, 200, await routes.groups(ctx, url));
      case 'GET /api/groups/lag':
        return send(response, 200, await routes.lag(ctx, url));
      case 'GET /api/deadletters':
        return send(response, 200, await listDeadLetters(ctx, url));
      case 'POST /api/deadletters/replay':
        return send(response, 200, await actOnDeadLetters(ctx, 'replay', await readJson(request)));
      case 'POST /api/deadletters/discard':
        return send(response, 200, await actOnDeadLetters(ctx, 'discard', await readJson(request)));
      default:
        throw new HttpError(404, `No endpoint ${route}.`);
    }
  };

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (response.headersSent) return response.end();
      if (error instanceof HttpError) return send(response, error.status, { error: error.message, ...error.body });
      bus.client.logger.error('UI: request failed', { error, url: request.url });
      send(response, 500, { error: error instanceof Error ? error.message : String(error) });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        error.code === 'EADDRINUSE'
          ? new UiOptionsError(
              `Port ${options.port ?? 4000} on ${host} is in use: pass another --port (0: any free port).`,
              {
                cause: error,
              },
            )
          : error,
      ),
    );
    server.listen(options.port ?? 4000, host, resolve);
  });
  const { port } = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  let markClosed!: () => void;
  const closed = new Promise<void>((resolve) => (markClosed = resolve));
  const shown = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shown}:${port}/`,
    port,
    closed,
    close() {
      closing ??= (async () => {
        clearInterval(feedTimer);
        schemas.stop();
        ctx.tail.closeAll();
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        await bus.close();
        markClosed();
      })();
      return closing;
    },
  };
}
