/**
 * Dynamic bus paths: `bus.support.case.get({ id })`, `bus.support.case.caseCreated.fire({...})`,
 * `.listen(handler, options)`. A path is a function proxy: calling it calls a
 * procedure, `.fire`/`.listen` act on an event, any other property extends it.
 * It has no `then`, so awaiting a path by mistake does not hang.
 */
import { inspect } from 'node:util';
import type { EventHandler, Listener, ListenOptions } from '../api/types';
import { InvalidParametersError } from '../errors';
import type { Params } from '../api/event';
import type { CallOptions } from './call';

export const PATH_SEGMENTS: unique symbol = Symbol.for('lightbus.path-segments') as never;

/** A node of a dynamic bus path. Calls resolve to `unknown`: use bus.api(MyApi) for static types. */
export type PathNode = ((params?: Params, options?: CallOptions) => Promise<unknown>) & {
  /** Fire this event (the path ends in an event name). */
  fire(params?: Params): Promise<void>;
  /** Listen to this event (the path ends in an event name). */
  listen(handler: EventHandler, options: ListenOptions): Listener;
} & { readonly [segment: string]: PathNode };

/** What a path calls into (the bus's client). */
export interface PathTarget {
  callRpc(apiName: string, procedureName: string, params?: unknown, options?: CallOptions): Promise<unknown>;
  fireEvent(apiName: string, eventName: string, params?: unknown): Promise<void>;
  listen(
    events: ReadonlyArray<readonly [apiName: string, eventName: string]>,
    handler: EventHandler,
    options: ListenOptions,
  ): Listener;
}

function describePath(segments: readonly string[]): string {
  return `bus.${segments.join('.')}`;
}

export function pathNode(client: PathTarget, segments: readonly string[]): PathNode {
  const target = function lightbusPath(): void {};
  return new Proxy(target, {
    get(_target, property) {
      if (property === PATH_SEGMENTS) return segments;
      if (typeof property === 'symbol') {
        if (property === Symbol.toPrimitive) return () => describePath(segments);
        if (property === inspect.custom) return () => `[lightbus path ${describePath(segments)}]`;
        return undefined;
      }
      switch (property) {
        case 'then':
          return undefined;
        case 'toString':
        case 'toJSON':
          return () => describePath(segments);
        case 'fire':
          return (params?: Params) => {
            if (segments.length < 2) {
              return Promise.reject(
                new InvalidParametersError(
                  `${describePath(segments)}.fire(): name the API and the event, e.g. bus.support.case.caseCreated.fire({...}).`,
                ),
              );
            }
            return client.fireEvent(segments.slice(0, -1).join('.'), segments[segments.length - 1]!, params);
          };
        case 'listen':
          return (handler: EventHandler, options: ListenOptions) => {
            if (segments.length < 2) {
              throw new InvalidParametersError(
                `${describePath(segments)}.listen(): name the API and the event, e.g. bus.support.case.caseCreated.listen(handler, {...}).`,
              );
            }
            return client.listen([[segments.slice(0, -1).join('.'), segments[segments.length - 1]!]], handler, options);
          };
        default:
          return pathNode(client, [...segments, property]);
      }
    },
    apply(_target, _this, args: unknown[]) {
      if (segments.length < 2) {
        return Promise.reject(
          new InvalidParametersError(
            `${describePath(segments)}() is not a procedure call: a path names the API, then the procedure, e.g. bus.support.case.get({ id: 1 }).`,
          ),
        );
      }
      const [params, options] = args as [unknown, CallOptions | undefined];
      return client.callRpc(
        segments.slice(0, -1).join('.'),
        segments[segments.length - 1]!,
        params ?? {},
        options ?? {},
      );
    },
  }) as unknown as PathNode;
}
