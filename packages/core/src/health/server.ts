/**
 * The health endpoints of a worker, for process managers and Kubernetes probes:
 *
 * - `GET /healthz` (liveness): 200 while the process answers and its event loop
 *   is not stuck (the longest recent event-loop delay under `maxEventLoopDelay`).
 * - `GET /readyz` (readiness): 200 once every consumer has started and every
 *   broker connection is up; 503 while starting, while a broker is unreachable,
 *   and while draining on SIGTERM.
 *
 * Both answer JSON: the `Health` report (`bus.health()`), never secrets.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { Health } from './report';

export interface HealthServerOptions {
  readonly port: number;
  /** Interface to bind (default 0.0.0.0, so that probes from outside the container reach it). */
  readonly host?: string;
  /** Liveness fails when an event-loop delay over this many milliseconds was seen recently (default 5000). */
  readonly maxEventLoopDelay?: number;
}

export interface HealthServer {
  /** The port it listens on (useful with port 0). */
  readonly port: number;
  close(): Promise<void>;
}

/** Serve /healthz and /readyz from `report`. Resolves once listening. */
export async function serveHealth(report: () => Health, options: HealthServerOptions): Promise<HealthServer> {
  const maxDelayMs = options.maxEventLoopDelay ?? 5000;
  const loop: IntervalHistogram = monitorEventLoopDelay({ resolution: 50 });
  loop.enable();
  // Judge the recent past: reset the histogram every few seconds.
  const reset = setInterval(() => loop.reset(), 10_000);
  reset.unref();

  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    const health = report();
    const eventLoopDelayMs = Math.round(loop.max / 1e6);
    let ok: boolean;
    if (path === '/healthz' || path === '/livez') ok = health.live && eventLoopDelayMs <= maxDelayMs;
    else if (path === '/readyz') ok = health.ready;
    else {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('Not found: use /healthz or /readyz\n');
      return;
    }
    const body = JSON.stringify({ ...health, eventLoopDelayMs });
    response.writeHead(ok ? 200 : 503, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    response.end(request.method === 'HEAD' ? undefined : `${body}\n`);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '0.0.0.0', () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.unref();
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        clearInterval(reset);
        loop.disable();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
