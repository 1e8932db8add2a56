/** The worker: serves procedures, consumes events for listeners, runs tasks, drains on close. */
export { Worker, ALL_FEATURES } from './worker';
export type { Feature, StartOptions } from './worker';
export type { EveryOptions, Interval } from './tasks';
