/**
 * The memory transport: all four roles inside one process. The default when a
 * config names no transport; used by the quickstart and by unit tests. Messages
 * travel as JSON text, as they would over a broker, so values JSON cannot carry
 * show up here first.
 */
import { Type } from '@sinclair/typebox';
import {
  decodeJson,
  encodeJson,
  newMessageId,
  type EventMessage,
  type OutgoingCall,
  type OutgoingRpcMessage,
  type ResultMessage,
  type RpcMessage,
} from '../../message';
import type { ApiSchema } from '../../schema/types';
import { InFlight, Semaphore } from '../../util/async';
import {
  defineTransport,
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
  type TransportCapabilities,
  type TransportContext,
} from '../interfaces';
import { deliveryLimitOption, settleEvent, type ReceivedEvent } from '../kit/settle';
import { decoded, undecodable, type Decoded } from '../kit/codec';
import { isPast } from '../kit/deadline';
import { ReplyMatcher, foreignReturnPath } from '../kit/reply';
import { memoryBroker, type GroupState, type MemoryBroker, type MemoryStream, type StreamEntry } from './broker';

export { memoryBroker, resetMemoryBroker, MemoryBroker } from './broker';
export type { DeadLetter } from './broker';

const BrokerName = Type.String({
  minLength: 1,
  default: 'default',
  description: 'Which in-process broker to use; buses with the same name share messages.',
});

export const MemoryRpcOptions = Type.Object(
  {
    name: BrokerName,
    concurrency: Type.Integer({ minimum: 1, default: 10, description: 'Calls a worker executes at once.' }),
  },
  { additionalProperties: false },
);
export const MemoryBrokerOptions = Type.Object({ name: BrokerName }, { additionalProperties: false });
export const MemoryEventOptions = Type.Object(
  {
    name: BrokerName,
    max_stream_length: Type.Integer({
      minimum: 1,
      default: 10000,
      description: 'Events kept per event stream for replay and history; older ones are dropped.',
    }),
    delivery_limit: deliveryLimitOption(),
  },
  { additionalProperties: false },
);

export const memoryCapabilities: TransportCapabilities = Object.freeze({
  crossProcess: false,
  durable: true,
  consumerGroups: true,
  replay: true,
  history: true,
  ordering: 'per-stream',
});

class MemoryRpcTransport implements RpcTransport {
  private readonly broker: MemoryBroker;
  constructor(
    private readonly options: { name: string; concurrency: number },
    private readonly context: TransportContext,
  ) {
    this.broker = memoryBroker(options.name);
  }

  async callRpc(message: OutgoingRpcMessage): Promise<void> {
    this.broker.rpcQueue(message.apiName).push(encodeJson(message));
    this.broker.rpcArrived.notify();
  }

  async consumeRpcs(apiNames: readonly string[], handler: RpcHandler): Promise<Consumer> {
    const abort = new AbortController();
    const inFlight = new InFlight();
    const slots = new Semaphore(this.options.concurrency);
    const queues = apiNames.map((name) => this.broker.rpcQueue(name));
    const take = (): string | undefined => {
      for (const queue of queues) if (queue.length > 0) return queue.shift();
      return undefined;
    };
    const loop = async (): Promise<void> => {
      while (!abort.signal.aborted) {
        await slots.acquire();
        const payload = abort.signal.aborted ? undefined : take();
        if (payload === undefined) {
          slots.release();
          if (!abort.signal.aborted) await this.broker.rpcArrived.wait(abort.signal);
          continue;
        }
        const message = decodeJson(payload) as RpcMessage;
        if (isPast(message.deadline)) {
          this.context.logger.debug('Dropping expired call', { id: message.id, api: message.apiName });
          slots.release();
          continue;
        }
        void inFlight.track(
          handler(message)
            .catch((error: unknown) => this.context.logger.error('RPC handler failed', { id: message.id, error }))
            .finally(() => slots.release()),
        );
      }
    };
    const running = loop();
    return {
      stop: async () => {
        abort.abort();
        await running;
        await inFlight.drain();
      },
    };
  }

  async close(): Promise<void> {}
}

const MEMORY_RETURN_PATH = 'memory://result/';

class MemoryResultTransport implements ResultTransport {
  private readonly broker: MemoryBroker;
  private readonly matcher: ReplyMatcher;
  /** Results for this transport's callers come back along this path. */
  private readonly returnPath = `${MEMORY_RETURN_PATH}${newMessageId()}`;

  constructor(
    options: { name: string },
    private readonly context: TransportContext,
  ) {
    this.broker = memoryBroker(options.name);
    this.matcher = new ReplyMatcher({ name: 'memory result transport', logger: context.logger });
    this.broker.replyEndpoints.set(this.returnPath, this.matcher);
  }

  async expectResult(message: OutgoingCall): Promise<PendingResult> {
    return this.matcher.expect(message, this.returnPath);
  }

  async sendResult(call: RpcMessage, result: ResultMessage): Promise<void> {
    if (!call.returnPath.startsWith(MEMORY_RETURN_PATH))
      throw foreignReturnPath('memory', call, `${MEMORY_RETURN_PATH}<endpoint>`);
    const endpoint = this.broker.replyEndpoints.get(call.returnPath);
    if (!endpoint) {
      this.context.logger.debug('The calling bus was closed: no caller waits for this result any more; dropped', {
        rpcMessageId: call.id,
      });
      return;
    }
    // As JSON text, as over a broker.
    endpoint.settle(decodeResult(encodeJson(result)));
  }

  async close(): Promise<void> {
    this.matcher.close();
    this.broker.replyEndpoints.delete(this.returnPath);
  }
}

function decodeResult(payload: string): Decoded<ResultMessage> {
  const value = decodeJson(payload) as Partial<ResultMessage> | null;
  if (!value || typeof value.rpcMessageId !== 'string' || typeof value.error !== 'boolean')
    return undecodable('not a result message');
  return decoded(value as ResultMessage);
}

interface Subscription {
  readonly stream: MemoryStream;
  readonly group: GroupState;
}

class MemoryEventTransport implements EventTransport {
  readonly capabilities = memoryCapabilities;
  private readonly broker: MemoryBroker;
  constructor(
    private readonly options: { name: string; max_stream_length: number; delivery_limit: number },
    private readonly context: TransportContext,
  ) {
    this.broker = memoryBroker(options.name);
  }

  private stream(apiName: string, eventName: string): MemoryStream {
    return this.broker.stream(`${apiName}.${eventName}`, this.options.max_stream_length);
  }

  async sendEvent(message: EventMessage): Promise<void> {
    const { apiName, eventName, id, version, kwargs, traceContext } = message;
    this.stream(apiName, eventName).append(
      apiName,
      eventName,
      encodeJson({ id, apiName, eventName, version, kwargs, traceContext }),
    );
  }

  async consume(spec: ConsumeSpec, handler: EventMessageHandler): Promise<Consumer> {
    const subscriptions: Subscription[] = spec.events.map(({ apiName, eventName }) => {
      const stream = this.stream(apiName, eventName);
      return { stream, group: stream.group(spec.group, spec.since) };
    });
    const abort = new AbortController();
    const mine = new Set<{ sub: Subscription; seq: number }>();

    const next = (): { sub: Subscription; seq: number } | undefined => {
      for (const sub of subscriptions) {
        const { group, stream } = sub;
        while (group.redeliver.length > 0) {
          const seq = group.redeliver.shift()!;
          if (stream.entry(seq)) return { sub, seq };
          group.pending.delete(seq); // trimmed away meanwhile
          group.deliveries.delete(seq);
        }
        if (group.cursor < stream.firstSeq) group.cursor = stream.firstSeq;
        if (group.cursor < stream.endSeq) return { sub, seq: group.cursor++ };
      }
      return undefined;
    };

    const waitForAny = async (): Promise<void> => {
      const local = new AbortController();
      const onAbort = (): void => local.abort();
      abort.signal.addEventListener('abort', onAbort, { once: true });
      await Promise.race(subscriptions.map((s) => s.stream.changed.wait(local.signal)));
      local.abort();
      abort.signal.removeEventListener('abort', onAbort);
    };

    const loop = async (): Promise<void> => {
      while (!abort.signal.aborted) {
        const item = next();
        if (!item) {
          await waitForAny();
          continue;
        }
        const { sub, seq } = item;
        const entry = sub.stream.entry(seq)!;
        sub.group.pending.set(seq, spec.consumer);
        const deliveries = (sub.group.deliveries.get(seq) ?? 0) + 1;
        sub.group.deliveries.set(seq, deliveries);
        const settled = (): void => {
          sub.group.pending.delete(seq);
          sub.group.deliveries.delete(seq);
        };
        await settleEvent(
          decodeEvent(entry),
          handler,
          { deliveryLimit: this.options.delivery_limit, deliveries: () => deliveries },
          {
            ack: settled,
            deadLetter: (reason, id) => {
              this.setAside(spec.group, entry.payload, reason, id ?? String(seq));
              settled();
            },
            // Not acknowledged: stays pending and goes back to the group when this consumer stops.
            redeliver: () => void mine.add(item),
          },
        );
      }
    };
    const running = loop();
    return {
      stop: async () => {
        abort.abort();
        await running;
        for (const { sub, seq } of mine) {
          if (sub.group.pending.get(seq) === spec.consumer) {
            sub.group.pending.delete(seq);
            sub.group.redeliver.push(seq);
            sub.stream.changed.notify();
          }
        }
      },
    };
  }

  private setAside(group: string, payload: string, reason: string, id: string): void {
    this.broker.deadLetters.push({ kind: 'event', group, payload, reason });
    this.context.logger.warn('Event set aside (dead letter)', { id, group, reason });
  }

  async *history(query: HistoryQuery): AsyncIterable<EventMessage> {
    const streams = [...this.broker.streams.entries()]
      .filter(([key]) =>
        query.eventName ? key === `${query.apiName}.${query.eventName}` : key.startsWith(`${query.apiName}.`),
      )
      .map(([, stream]) => stream);
    const entries = streams
      .flatMap((s) => s.entries)
      .filter((e) => e.apiName === query.apiName)
      .filter((e) => (!query.start || e.time >= query.start) && (!query.stop || e.time <= query.stop))
      .sort((a, b) => b.order - a.order);
    let count = 0;
    for (const entry of entries) {
      if (query.limit !== undefined && count++ >= query.limit) return;
      const decoded = decodeEvent(entry);
      if (decoded.ok) yield decoded.value;
    }
  }

  async close(): Promise<void> {}
}

class MemorySchemaTransport implements SchemaTransport {
  private readonly broker: MemoryBroker;
  constructor(options: { name: string }) {
    this.broker = memoryBroker(options.name);
  }

  async store(apiName: string, schema: ApiSchema, ttlSeconds: number): Promise<void> {
    this.broker.schemas.set(apiName, {
      schema: decodeJson(encodeJson(schema)) as ApiSchema,
      expiresAt: Date.now() + ttlSeconds * 1000,
    });
  }

  async load(): Promise<Record<string, ApiSchema>> {
    const now = Date.now();
    const out: Record<string, ApiSchema> = {};
    for (const [name, { schema, expiresAt }] of this.broker.schemas) {
      if (expiresAt > now) out[name] = schema;
      else this.broker.schemas.delete(name);
    }
    return out;
  }

  async close(): Promise<void> {}
}

function decodeEvent(entry: StreamEntry): ReceivedEvent {
  let message: Partial<EventMessage> | null;
  try {
    message = decodeJson(entry.payload) as Partial<EventMessage> | null;
  } catch {
    return undecodable('the payload is not JSON');
  }
  if (!message || typeof message.id !== 'string' || typeof message.kwargs !== 'object') {
    return undecodable('not an event message (no string id or no kwargs object)');
  }
  return decoded({ ...(message as EventMessage), nativeId: String(entry.seq), time: entry.time });
}

export const memoryTransport = defineTransport({
  name: 'memory',
  capabilities: memoryCapabilities,
  options: {
    rpc: MemoryRpcOptions,
    result: MemoryBrokerOptions,
    event: MemoryEventOptions,
    schema: MemoryBrokerOptions,
  },
  rpc: (options, context) => new MemoryRpcTransport(options, context),
  result: (options, context) => new MemoryResultTransport(options, context),
  event: (options, context) => new MemoryEventTransport(options, context),
  schema: (options) => new MemorySchemaTransport(options),
});
