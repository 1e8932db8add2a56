/**
 * An example transport, written from docs/reference/transports.md and
 * docs/how-to/test-a-transport.md alone, with the kit of
 * `@lightbus/core/transport`: all four roles inside one process, over Node's
 * EventEmitter, with events, consumer groups, dead letters and schemas kept in
 * an append-only JSON-lines file (log.ts), so replay, history and groups work
 * across restarts. It passes both conformance tiers (filelog.test.ts).
 *
 * Config: `{ filelog: { dir: ./var/bus } }` for any role.
 */
import { randomUUID } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import {
  BusClosedError,
  InFlight,
  ReplyMatcher,
  RoleLifecycle,
  Semaphore,
  decodeJson,
  decoded,
  defineTransport,
  deliveryLimitOption,
  encodeForWire,
  foreignReturnPath,
  isPast,
  settleEvent,
  undecodable,
  type ApiSchema,
  type ConsumeSpec,
  type Consumer,
  type Decoded,
  type EventMessage,
  type EventMessageHandler,
  type EventTransport,
  type HistoryQuery,
  type OutgoingCall,
  type OutgoingRpcMessage,
  type PendingResult,
  type ResultMessage,
  type ResultTransport,
  type RpcHandler,
  type RpcMessage,
  type RpcTransport,
  type SchemaTransport,
  type TransportCapabilities,
  type TransportContext,
} from '@lightbus/core/transport';
import { openLog, releaseLog, type FileLog, type GroupState, type LogEntry } from './log';

const Dir = Type.String({ minLength: 1, description: 'The folder of the log file (created if missing).' });
const RpcOptions = Type.Object(
  { dir: Dir, concurrency: Type.Integer({ minimum: 1, default: 10, description: 'Calls a worker runs at once.' }) },
  { additionalProperties: false },
);
const DirOptions = Type.Object({ dir: Dir }, { additionalProperties: false });
const EventOptions = Type.Object({ dir: Dir, delivery_limit: deliveryLimitOption() }, { additionalProperties: false });

export const filelogCapabilities: TransportCapabilities = Object.freeze({
  crossProcess: false,
  durable: true,
  consumerGroups: true,
  replay: true,
  history: true,
  ordering: 'per-stream',
});

/** A role's lifecycle and its lazily opened log: the factory connects to nothing. */
class Role {
  readonly life = new RoleLifecycle(
    (what, cause) => new BusClosedError(`${what}: the filelog ${this.role} transport is closed.`, { cause }),
  );
  private opened: FileLog | undefined;

  constructor(
    private readonly dir: string,
    private readonly role: string,
  ) {}

  get log(): FileLog {
    this.life.assertOpen(`Using the log in ${this.dir}`);
    return (this.opened ??= openLog(this.dir));
  }

  /** Close once: `release` what the role holds on its log, then let the log go. */
  close(release?: (log: FileLog) => Promise<void>): Promise<void> {
    return this.life.close(async () => {
      if (!this.opened) return;
      await release?.(this.opened);
      releaseLog(this.opened);
    });
  }
}

class FileLogRpcTransport implements RpcTransport {
  private readonly role: Role;
  constructor(
    private readonly options: { dir: string; concurrency: number },
    private readonly context: TransportContext,
  ) {
    this.role = new Role(options.dir, 'rpc');
  }

  async callRpc(message: OutgoingRpcMessage): Promise<void> {
    const log = this.role.log;
    log.calls(message.apiName).push(encodeForWire(message, `the call ${message.apiName}.${message.procedureName}()`));
    log.changed();
  }

  consumeRpcs(apiNames: readonly string[], handler: RpcHandler, options?: { signal?: AbortSignal }): Promise<Consumer> {
    const log = this.role.log;
    const abort = new AbortController();
    const inFlight = new InFlight();
    const slots = new Semaphore(this.options.concurrency);
    const take = (): string | undefined =>
      apiNames
        .map((api) => log.calls(api))
        .find((q) => q.length > 0)
        ?.shift();
    let running: Promise<void> | undefined;
    const loop = async (): Promise<void> => {
      while (!abort.signal.aborted) {
        const payload = take();
        if (payload === undefined) {
          await log.nextChange(abort.signal);
          continue;
        }
        const call = decodeJson(payload) as RpcMessage;
        if (isPast(call.deadline)) {
          this.context.logger.debug('Dropping an expired call', { id: call.id });
          continue;
        }
        await slots.acquire();
        void inFlight.track(
          handler(call)
            .catch((error: unknown) => this.context.logger.error('RPC handler failed', { id: call.id, error }))
            .finally(() => slots.release()),
        );
      }
    };
    return this.role.life.startConsumer(
      {
        start: async () => void (running = loop()),
        stop: async () => {
          abort.abort();
          await running;
          await inFlight.drain();
        },
      },
      `Serving ${apiNames.join(', ')}`,
      options?.signal,
    );
  }

  close(): Promise<void> {
    return this.role.close();
  }
}

const RETURN_PATH = 'filelog:';

class FileLogResultTransport implements ResultTransport {
  private readonly role: Role;
  private readonly matcher: ReplyMatcher;
  private readonly inbox = `result:${randomUUID()}`;
  private listening = false;

  constructor(options: { dir: string }, context: TransportContext) {
    this.role = new Role(options.dir, 'result');
    this.matcher = new ReplyMatcher({ name: 'filelog result transport', logger: context.logger });
  }

  async expectResult(call: OutgoingCall): Promise<PendingResult> {
    const log = this.role.log;
    if (!this.listening) {
      log.emitter.on(this.inbox, (payload: string) => this.matcher.settle(decodeResult(payload)));
      this.listening = true;
    }
    return this.matcher.expect(call, `${RETURN_PATH}${this.inbox}`);
  }

  async sendResult(call: RpcMessage, result: ResultMessage): Promise<void> {
    if (!call.returnPath.startsWith(RETURN_PATH)) throw foreignReturnPath('filelog', call, `${RETURN_PATH}<inbox>`);
    const inbox = call.returnPath.slice(RETURN_PATH.length);
    // No listener: the caller's bus closed, nobody waits for this result any more.
    this.role.log.emitter.emit(inbox, encodeForWire(result, `the result of call ${call.id}`));
  }

  close(): Promise<void> {
    return this.role.close(async (log) => {
      log.emitter.removeAllListeners(this.inbox);
      this.matcher.close();
    });
  }
}

function decodeResult(payload: string): Decoded<ResultMessage> {
  const value = decodeJson(payload) as Partial<ResultMessage> | null;
  if (!value || typeof value.rpcMessageId !== 'string' || typeof value.error !== 'boolean')
    return undecodable('not a result message');
  return decoded(value as ResultMessage);
}

const streamOf = (apiName: string, eventName: string): string => `${apiName}.${eventName}`;

class FileLogEventTransport implements EventTransport {
  readonly capabilities = filelogCapabilities;
  private readonly role: Role;

  constructor(
    private readonly options: { dir: string; delivery_limit: number },
    private readonly context: TransportContext,
  ) {
    this.role = new Role(options.dir, 'event');
  }

  async sendEvent(message: EventMessage): Promise<void> {
    const { id, apiName, eventName, version, kwargs, traceContext } = message;
    const payload = encodeForWire({ id, apiName, eventName, version, kwargs, traceContext }, `event ${id}`);
    this.role.log.append({ type: 'event', stream: streamOf(apiName, eventName), time: Date.now(), payload });
  }

  consume(spec: ConsumeSpec, handler: EventMessageHandler): Promise<Consumer> {
    const log = this.role.log;
    const streams = new Map<string, GroupState>();
    for (const { apiName, eventName } of spec.events) {
      const stream = streamOf(apiName, eventName);
      streams.set(stream, log.joinGroup(spec.group, stream, spec.since));
    }
    // The oldest entry of our streams this group has neither settled nor handed to a consumer.
    const next = (): { entry: LogEntry; group: GroupState } | undefined => {
      for (const entry of log.entries) {
        const group = streams.get(entry.stream);
        if (group && entry.seq >= group.start && !group.settled.has(entry.seq) && !group.taken.has(entry.seq))
          return { entry, group };
      }
      return undefined;
    };
    const abort = new AbortController();
    const mine: Array<{ entry: LogEntry; group: GroupState }> = [];
    const loop = async (): Promise<void> => {
      while (!abort.signal.aborted) {
        const item = next();
        if (!item) {
          await log.nextChange(abort.signal);
          continue;
        }
        const { entry, group } = item;
        const where = { group: spec.group, stream: entry.stream, seq: entry.seq };
        group.taken.set(entry.seq, spec.consumer);
        mine.push(item);
        log.append({ type: 'delivery', ...where });
        await settleEvent(
          decodeEvent(entry),
          handler,
          {
            deliveryLimit: this.options.delivery_limit,
            deliveries: () => group.deliveries.get(entry.seq) ?? 1,
            onDeadLetter: spec.onDeadLetter,
          },
          {
            ack: () => void log.append({ type: 'ack', ...where }),
            deadLetter: (reason, id) => {
              log.append({ type: 'dead', ...where, id, reason });
              this.context.logger.warn('Event set aside (dead letter)', { id, group: spec.group, reason });
            },
            // Not acknowledged: it stays taken by this consumer until it stops, then goes back to the group.
          },
        );
      }
    };
    let running: Promise<void> | undefined;
    return this.role.life.startConsumer(
      {
        start: async () => void (running = loop()),
        stop: async () => {
          abort.abort();
          await running;
          for (const { entry, group } of mine.splice(0))
            if (group.taken.get(entry.seq) === spec.consumer) group.taken.delete(entry.seq);
          log.changed();
        },
      },
      `Consuming ${[...streams.keys()].join(', ')}`,
      spec.signal,
    );
  }

  async *history(query: HistoryQuery): AsyncIterable<EventMessage> {
    const wanted = (stream: string): boolean =>
      query.eventName ? stream === streamOf(query.apiName, query.eventName) : stream.startsWith(`${query.apiName}.`);
    const entries = this.role.log.entries.filter(
      (e) =>
        wanted(e.stream) &&
        (!query.start || e.time >= query.start.getTime()) &&
        (!query.stop || e.time <= query.stop.getTime()),
    );
    let count = 0;
    for (const entry of entries.reverse()) {
      const event = decodeEvent(entry);
      if (!event.ok) continue;
      if (query.limit !== undefined && count++ >= query.limit) return;
      yield event.value;
    }
  }

  close(): Promise<void> {
    return this.role.close();
  }
}

function decodeEvent(entry: LogEntry): Decoded<EventMessage> {
  let value: Partial<EventMessage> | null;
  try {
    value = decodeJson(entry.payload) as Partial<EventMessage> | null;
  } catch {
    return undecodable('the payload is not JSON');
  }
  if (!value || typeof value.id !== 'string' || typeof value.kwargs !== 'object' || value.kwargs === null)
    return undecodable('not an event message (no string id or no kwargs object)');
  return decoded({ ...(value as EventMessage), nativeId: String(entry.seq), time: new Date(entry.time) });
}

class FileLogSchemaTransport implements SchemaTransport {
  private readonly role: Role;
  constructor(options: { dir: string }) {
    this.role = new Role(options.dir, 'schema');
  }

  async store(api: string, schema: ApiSchema, ttlSeconds: number): Promise<void> {
    this.role.log.append({ type: 'schema', api, schema, expiresAt: Date.now() + ttlSeconds * 1000 });
  }

  async load(): Promise<Record<string, ApiSchema>> {
    const now = Date.now();
    const live = [...this.role.log.schemas].filter(([, { expiresAt }]) => expiresAt > now);
    return Object.fromEntries(live.map(([api, { schema }]) => [api, schema]));
  }

  close(): Promise<void> {
    return this.role.close();
  }
}

export const transport = defineTransport({
  name: 'filelog',
  capabilities: filelogCapabilities,
  options: { rpc: RpcOptions, result: DirOptions, event: EventOptions, schema: DirOptions },
  rpc: (options, context) => new FileLogRpcTransport(options, context),
  result: (options, context) => new FileLogResultTransport(options, context),
  event: (options, context) => new FileLogEventTransport(options, context),
  schema: (options) => new FileLogSchemaTransport(options),
});
