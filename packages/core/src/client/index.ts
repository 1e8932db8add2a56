/** The client side: create(), the bus, the client, paths, hooks. */
export { create, isBus } from './bus';
export type { Bus, BusRoot, CreateOptions, TypedPaths } from './bus';
export { BusClient, ALL_FEATURES } from './client';
export type { CallOptions, EventSelector, EveryOptions, Feature, Interval, StartOptions } from './client';
export type { PathNode } from './path';
export type { HookCallback, HookName, HookPayloads } from './hooks';
