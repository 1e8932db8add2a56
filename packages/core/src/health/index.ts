/** Health: `bus.health()` and the /healthz and /readyz endpoints of `lightbus run --health-port`. */
export type { Health } from './report';
export { healthOf } from './report';
export type { ConnectionHealth } from '../transport/interfaces';
export { serveHealth } from './server';
export type { HealthServer, HealthServerOptions } from './server';
