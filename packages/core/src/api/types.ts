/**
 * Type-level helpers: from an API class, the static shape of its client
 * (procedures with their parameters and results, events with their parameters).
 */
import type { Api } from './api';
import type { EventDefinition, Params } from './event';
import type { EventMessage } from '../message';

/** Names of the procedures of an API instance type: its public methods. */
export type ProcedureNames<A> = {
  [K in keyof A]-?: K extends string
    ? K extends keyof Api | `_${string}`
      ? never
      : A[K] extends (...args: never[]) => unknown
        ? K
        : never
    : never;
}[keyof A];

/** Names of the events of an API instance type. */
export type EventNames<A> = {
  [K in keyof A]-?: K extends string ? (A[K] extends EventDefinition<Params> ? K : never) : never;
}[keyof A];

/** What a handler receives with the parameters: the whole event message. */
export type EventHandler<P extends object = Params> = (params: P, message: EventMessage<P>) => unknown;

export type OnError = 'shutdown' | 'acknowledge_and_log';

/** Where a new consumer group starts reading: a time, the beginning, or a transport position. */
export type Since = Date | 'beginning' | 'latest' | { position: string };

export interface ListenOptions {
  /** Stable name of this listener; the consumer group is `<service_name>-<listenerName>`. */
  listenerName: string;
  /** Replay from here when the consumer group is first created (ignored afterwards). */
  since?: Since;
  /**
   * What a handler error does: 'shutdown' (default) stops the worker with exit
   * code 1 and leaves the event unacknowledged for redelivery;
   * 'acknowledge_and_log' logs it, acknowledges the event and goes on.
   */
  onError?: OnError;
  /**
   * The consumer group lasts only while this listener runs (for tools that watch, such as a live
   * tail): when its last consumer stops, or its process goes, the transport removes the group and
   * what waits in it, so nothing keeps piling up for a listener that is gone. Events fired while
   * it is not running are never delivered to it. Default false: a durable group.
   */
  ephemeral?: boolean;
}

/** A running (or pending) listener. */
export interface Listener {
  readonly listenerName: string;
  /** Resolves once the consumer is set up (group created, consuming). */
  readonly ready: Promise<void>;
  /** Stop consuming; waits for the handler in progress. */
  stop(): Promise<void>;
}

/** Client side of one event: fire it (if this process registered the API) or listen to it. */
export interface EventClient<P extends object = Params> {
  fire(params: P): Promise<void>;
  listen(handler: EventHandler<P>, options: ListenOptions): Listener;
}

/** Client side of one procedure: same parameters, result always a promise. */
export type ProcedureClient<F> = F extends (...args: infer Args) => infer R
  ? (...args: Args) => Promise<Awaited<R>>
  : never;

/** The typed client of an API class: `bus.api(SupportCaseApi)`. */
export type ApiClient<A> = {
  readonly [K in ProcedureNames<A>]: ProcedureClient<A[K]>;
} & {
  readonly [K in EventNames<A>]: A[K] extends EventDefinition<infer P> ? EventClient<P> : never;
};
