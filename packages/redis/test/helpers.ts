/**
 * Shared by the integration tests: the Redis they use, transports with full
 * options, a raw ioredis client for asserting what is on the wire, unique
 * names, and a record of every key a test touched so it can delete them (the
 * Redis is shared with other test runs: never flush it).
 */
import { randomBytes } from 'node:crypto';
import { Redis, type Cluster } from 'ioredis';
import lightbus, {
  type Bus,
  type LightbusConfigInput,
  type EventMessage,
  type Logger,
  type ResultMessage,
  type RpcMessage,
} from '@lightbus/core';
import {
  ConsoleLogger,
  optionsWithDefaults,
  type ConsumeSpec,
  type Consumer,
  type EventMessageHandler,
  type EventTransport,
  type HistoryQuery,
  type PendingResult,
  type ResultTransport,
  type RpcHandler,
  type RpcTransport,
  type SchemaTransport,
  type SendEventOptions,
  type OutgoingCall,
  type OutgoingRpcMessage,
  type TransportContext,
  type ApiSchema,
} from '@lightbus/core/transport';
import {
  RedisEventOptions,
  RedisEventTransport,
  RedisResultOptions,
  RedisResultTransport,
  RedisRpcOptions,
  RedisRpcTransport,
  RedisSchemaOptions,
  RedisSchemaTransport,
  deadLetterKey,
  keyNames,
  transport,
  type KeyLayout,
  type KeyNames,
} from '@lightbus/redis';
import type { TSchema } from '@sinclair/typebox';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/0';

/** A short random id for names in one test run. */
export function uniqueId(): string {
  return randomBytes(4).toString('hex');
}

/** Options of a role with every default filled in, as core would pass them. */
export function withDefaults<T>(schema: TSchema, options: Record<string, unknown>): T {
  return optionsWithDefaults<T>(schema, { url: REDIS_URL, ...options });
}

export const rpcOptions = (o: Partial<RedisRpcOptions> = {}): RedisRpcOptions => withDefaults(RedisRpcOptions, o);
export const resultOptions = (o: Partial<RedisResultOptions> = {}): RedisResultOptions =>
  withDefaults(RedisResultOptions, o);
export const eventOptions = (o: Partial<RedisEventOptions> = {}): RedisEventOptions =>
  withDefaults(RedisEventOptions, o);
export const schemaOptions = (o: Partial<RedisSchemaOptions> = {}): RedisSchemaOptions =>
  withDefaults(RedisSchemaOptions, o);

export const quietLogger: Logger = new ConsoleLogger(process.env.LIGHTBUS_TEST_LOG === 'debug' ? 'debug' : 'critical');

export function context(serviceName: string, processName: string, logger: Logger = quietLogger): TransportContext {
  return { serviceName, processName, logger };
}

/** A raw ioredis client, as a Python peer or an operator would use Redis. */
export function rawRedis(): Redis {
  return new Redis(REDIS_URL, { protocol: 2, lazyConnect: false, maxRetriesPerRequest: 3 });
}

/** A raw client: to one Redis, or to a Redis Cluster. */
export type RawRedis = Redis | Cluster;

/** Keys (and schema set members) a test created, deleted at the end. */
export class TouchedKeys {
  readonly keys = new Set<string>();
  readonly schemaNames = new Set<string>();
  /** The names of the keys, in the layout the test's transports use. */
  readonly names: KeyNames;

  constructor(layout: KeyLayout = 'python') {
    this.names = keyNames(layout);
  }

  add(...keys: string[]): void {
    for (const key of keys) this.keys.add(key);
  }

  stream(key: string): void {
    this.add(key, deadLetterKey(key));
  }

  api(apiName: string): void {
    const queue = this.names.rpcQueue(apiName);
    this.add(queue, deadLetterKey(queue));
    for (const use of ['per_api', 'per_event'] as const) this.stream(this.names.stream(apiName, '*', use));
  }

  async cleanup(redis: RawRedis): Promise<void> {
    const keys = [...this.keys];
    if (redis instanceof Redis) {
      for (let i = 0; i < keys.length; i += 500) await redis.del(...keys.slice(i, i + 500));
    } else {
      await Promise.all(keys.map((key) => redis.del(key))); // a cluster: one slot per DEL
    }
    if (this.schemaNames.size > 0) await redis.srem(this.names.schemasSet, ...this.schemaNames);
    this.keys.clear();
    this.schemaNames.clear();
  }
}

/** Wrap transports so every key they touch is recorded. */
export function recordRpc(inner: RpcTransport, keys: TouchedKeys): RpcTransport {
  return {
    callRpc: (message: OutgoingRpcMessage) => {
      keys.api(message.apiName);
      keys.add(keys.names.rpcExpiry(message.apiName, message.id));
      return inner.callRpc(message);
    },
    consumeRpcs: (apiNames: readonly string[], handler: RpcHandler) => {
      apiNames.forEach((name) => keys.api(name));
      return inner.consumeRpcs(apiNames, handler);
    },
    close: () => inner.close(),
  };
}

export function recordResult(inner: RedisResultTransport, keys: TouchedKeys): ResultTransport {
  keys.add(inner.resultKey);
  return {
    expectResult: (call: OutgoingCall): Promise<PendingResult> => inner.expectResult(call),
    sendResult: (call: RpcMessage, result: ResultMessage) => {
      if (call.returnPath.startsWith('redis+key://')) keys.add(call.returnPath.slice('redis+key://'.length));
      return inner.sendResult(call, result);
    },
    close: () => inner.close(),
  };
}

export function recordEvent(inner: RedisEventTransport, keys: TouchedKeys): EventTransport {
  const streamsOf = (apiName: string, eventName: string): void => keys.stream(inner.streamOf(apiName, eventName));
  return {
    capabilities: inner.capabilities,
    sendEvent: (message: EventMessage, options: SendEventOptions) => {
      streamsOf(message.apiName, message.eventName);
      return inner.sendEvent(message, options);
    },
    consume: (spec: ConsumeSpec, handler: EventMessageHandler): Promise<Consumer> => {
      spec.events.forEach((e) => streamsOf(e.apiName, e.eventName));
      return inner.consume(spec, handler);
    },
    history: (query: HistoryQuery) => {
      keys.api(query.apiName);
      return inner.history(query);
    },
    deadLetters: inner.deadLetters,
    close: () => inner.close(),
  };
}

export function recordSchema(inner: SchemaTransport, keys: TouchedKeys): SchemaTransport {
  return {
    store: (apiName: string, schema: ApiSchema, ttl: number) => {
      keys.add(keys.names.schema(apiName));
      keys.schemaNames.add(apiName);
      return inner.store(apiName, schema, ttl);
    },
    load: () => inner.load(),
    close: () => inner.close(),
  };
}

export { RedisEventTransport, RedisResultTransport, RedisRpcTransport, RedisSchemaTransport };

/** A lightbus config with every role on this Redis, plus `extra` options for each role. */
export function redisConfig(
  names: { service: string; process: string },
  extra: {
    rpc?: Record<string, unknown>;
    result?: Record<string, unknown>;
    event?: Record<string, unknown>;
    schema?: Record<string, unknown>;
  } = {},
): LightbusConfigInput {
  const role = (options: Record<string, unknown> | undefined) => ({ redis: { url: REDIS_URL, ...options } });
  return {
    service_name: names.service,
    process_name: names.process,
    bus: { schema: { transport: role(extra.schema) } },
    apis: {
      default: {
        rpc_transport: role(extra.rpc),
        result_transport: role(extra.result),
        event_transport: role(extra.event),
      },
    },
  };
}

/**
 * What most integration test files share: a raw client, the keys they touch and
 * the buses they make; after each test the buses are closed and the keys
 * deleted, after all of them the client is closed.
 */
export function redisTestKit(): { raw: Redis; keys: TouchedKeys; buses: ReturnType<typeof busFactory> } {
  const raw = rawRedis();
  const keys = new TouchedKeys();
  const buses = busFactory();
  afterEach(async () => {
    await buses.closeAll();
    await keys.cleanup(raw);
  });
  afterAll(async () => {
    await raw.quit();
  });
  return { raw, keys, buses };
}

/** Buses made by a test (on Redis), closed after it. */
export function busFactory(): { make(config: LightbusConfigInput, logger?: Logger): Bus; closeAll(): Promise<void> } {
  const buses: Bus[] = [];
  return {
    make(config, logger = quietLogger) {
      const bus = lightbus.create({ config, logger, transports: [transport] });
      buses.push(bus);
      return bus;
    },
    async closeAll() {
      await Promise.all(buses.splice(0).map((bus) => bus.close()));
    },
  };
}

export { pythonJson } from './python-json';

/** An id as Python Lightbus makes them (uuid1 text). */
export function pythonId(): string {
  const hex = randomBytes(16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-1${hex.slice(13, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
