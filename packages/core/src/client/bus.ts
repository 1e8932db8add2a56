/** `lightbus.create()` and the bus object it returns. */
import { readMeta, type Api, type ApiClass } from '../api/api';
import type { Health } from '../health';
import { assertApiName } from '../api/names';
import type { ApiClient } from '../api/types';
import { loadConfig, type LoadConfigOptions } from '../config';
import { ConsoleLogger, type Logger } from '../log';
import { memoryTransport } from '../transport/memory';
import type { AnyTransportDefinition } from '../transport/interfaces';
import { TransportRegistry } from '../transport/registry';
import { BusClient } from './client';
import type { StartOptions } from '../worker/worker';
import { pathNode, type PathNode } from './path';
import { installPlugins } from '../plugins';

export interface CreateOptions extends LoadConfigOptions {
  /** Where Lightbus logs (default: lines on stderr at the config's log_level). */
  readonly logger?: Logger;
  /** Transports to register in code, in addition to `memory` and installed packages. */
  readonly transports?: readonly AnyTransportDefinition[];
}

/**
 * The APIs every bus knows by type, by name. Empty here; declare yours once
 * (module augmentation), and `bus.support.case.get({ id })` is typed, also
 * under noUncheckedIndexedAccess:
 *
 *   declare module '@lightbus/core' {
 *     interface BusApis { 'support.case': SupportCaseApi }
 *   }
 *
 * Values are API classes' instance types, or clients written by `lightbus codegen`.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface BusApis {}

/** The client of an entry of BusApis (or create<Apis>()): an API class's typed client, or a generated client as is. */
export type ClientOf<T> = T extends Api ? ApiClient<T> : T;

export interface BusRoot<Apis extends object = BusApis> {
  /** The client: registerApi, callRpc, fireEvent, listen, every, hooks, start, close. */
  readonly client: BusClient;
  /** The statically typed client of an API class: `bus.api(SupportCaseApi).get({ id: 1 })`. */
  api<A extends Api>(apiClass: ApiClass<A>): ApiClient<A>;
  /** The typed client of an API by name, from the types given to create<Apis>() (see `lightbus codegen`). */
  api<K extends keyof Apis & string>(apiName: K): ClientOf<Apis[K]>;
  /** The dynamic path of an API by name (for names that clash with bus members). */
  api(apiName: string): PathNode;
  /** Serve registered APIs, run listeners and tasks (what `lightbus run` does). */
  start(options?: StartOptions): Promise<void>;
  /** Stop gracefully and close connections. */
  close(): Promise<void>;
  /** Resolves when the bus has closed; rejects if a listener or task failed. */
  waitUntilStopped(): Promise<void>;
  /** Live and ready, and why not (what `lightbus run --health-port` serves). An API named `health` is at `bus.api('health')`. */
  health(): Health;
}

type Split<S extends string> = S extends `${infer Head}.${infer Rest}` ? [Head, ...Split<Rest>] : [S];
type Nest<Path extends readonly string[], V> = Path extends [infer Head extends string, ...infer Rest extends string[]]
  ? { readonly [K in Head]: Nest<Rest, V> }
  : V;
type UnionToIntersection<U> = (U extends unknown ? (x: U) => void : never) extends (x: infer I) => void ? I : never;

/** `{ 'support.case': X }` as nested paths `{ support: { case: X } }`. */
export type TypedPaths<Apis extends object> = [keyof Apis] extends [never]
  ? // eslint-disable-next-line @typescript-eslint/no-empty-object-type -- {} is the identity of the intersection: no typed paths
    {}
  : UnionToIntersection<{ [K in keyof Apis & string]: Nest<Split<K>, ClientOf<Apis[K]>> }[keyof Apis & string]>;

/**
 * The bus: its members, typed paths for the APIs in `Apis` (BusApis, or the
 * types given to create<Apis>(), e.g. from `lightbus codegen`), and dynamic
 * paths for everything else (`bus.billing.invoice.create()`: results are
 * `unknown`, and under noUncheckedIndexedAccess such undeclared paths are
 * `PathNode | undefined`: declare the API in BusApis, or use bus.client.callRpc()).
 */
export type Bus<Apis extends object = BusApis> = BusRoot<Apis> &
  TypedPaths<Apis> & { readonly [segment: string]: PathNode };

const BUS_BRAND = Symbol.for('lightbus.bus');

/**
 * Create a bus. Opens no connection: the first call, fire or start does.
 * The config comes from `options.config`, `options.configFile`, `LIGHTBUS_CONFIG`
 * or `./lightbus.yaml`; without any, every API uses the memory transport.
 */
export function create<Apis extends object = BusApis>(options: CreateOptions = {}): Bus<Apis> {
  const registry = new TransportRegistry([memoryTransport, ...(options.transports ?? [])]);
  const config = loadConfig(options, registry);
  const logger =
    options.logger ??
    new ConsoleLogger(config.logLevel, {
      ...(config.logFormat !== undefined ? { format: config.logFormat } : {}),
      context: { service: config.serviceName, process: config.processName },
    });
  for (const warning of config.warnings) logger.warn(`Config ${config.source}: ${warning.path}: ${warning.message}`);
  for (const chosen of config.chosenDefaults()) {
    logger.debug(
      `Config ${config.source}: ${chosen.path}: ${JSON.stringify(chosen.value)} (not set: ${chosen.reason})`,
    );
  }
  const client = new BusClient(config, registry, logger);
  installPlugins(client, config);

  const root: BusRoot<Apis> = {
    client,
    api: ((target: ApiClass | string) => {
      if (typeof target === 'string') {
        assertApiName(target);
        return pathNode(client, target.split('.'));
      }
      return pathNode(client, readMeta(target, 'bus.api()').name.split('.'));
    }) as BusRoot<Apis>['api'],
    start: (startOptions) => client.start(startOptions),
    close: () => client.close(),
    waitUntilStopped: () => client.waitUntilStopped(),
    health: () => client.health(),
  };

  return new Proxy(root, {
    get(target, property) {
      if (property === BUS_BRAND) return true;
      if (typeof property === 'symbol' || property in target) return Reflect.get(target, property);
      if (property === 'then' || property === 'toJSON') return undefined;
      return pathNode(client, [property]);
    },
  }) as Bus<Apis>;
}

/** True for what create() returns (also across copies of this package). */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- {} is the identity of the intersection: no typed paths
export function isBus(value: unknown): value is Bus<{}> {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BUS_BRAND] === true;
}
