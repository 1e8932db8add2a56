/** The client side: create(), the bus, the client, paths, hooks. */
export { create, isBus } from './bus';
export type { Bus, BusApis, BusRoot, ClientOf, CreateOptions, TypedPaths } from './bus';
export { BusClient } from './client';
export { ALL_FEATURES } from '../worker/worker';
export type { CallOptions } from './call';
export type { EventSelector } from './listen';
export type { EveryOptions, Interval } from '../worker/tasks';
export type { Feature, StartOptions } from '../worker/worker';
export type { PathNode } from './path';
export type { HookCallback, HookName, HookPayloads } from '../runtime/hooks';
