/**
 * Test helpers for the amqp transport against the RabbitMQ on this machine
 * (LIGHTBUS_AMQP_URL, default amqp://guest:guest@127.0.0.1:5672/). Other
 * engineers' tests share that broker: every test uses its own prefix, deletes
 * what it declared, and closes only connections it opened itself.
 */
import { execFile } from 'node:child_process';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import * as amqplib from 'amqplib';
import type { Logger } from '@lightbus/core';
import { ConsoleLogger, optionsWithDefaults, type LogFields, type TransportContext } from '@lightbus/core/transport';
import { LogRecorder } from '@lightbus/testing';
import type { TransportSet } from '@lightbus/testing/jest';
import {
  AmqpEventTransport,
  AmqpResultTransport,
  AmqpRpcTransport,
  AmqpSchemaTransport,
  type AmqpEventOptions,
  type AmqpResultOptions,
  type AmqpRpcOptions,
  type AmqpSchemaOptions,
} from '@lightbus/amqp';
import {
  AmqpEventOptions as EventSchema,
  AmqpResultOptions as ResultSchema,
  AmqpRpcOptions as RpcSchema,
  AmqpSchemaOptions as SchemaSchema,
} from '@lightbus/amqp';

export const AMQP_URL = process.env.LIGHTBUS_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672/';

const run = promisify(execFile);

export function uniquePrefix(label = 't'): string {
  return `lbtest-${label}-${randomBytes(4).toString('hex')}`;
}

/** Options with defaults filled in, exactly as core would pass them from a config file. */
export function withDefaults<T>(
  schema: Parameters<typeof optionsWithDefaults>[0],
  options: Record<string, unknown>,
): T {
  return optionsWithDefaults<T>(schema, options);
}

export const rpcOptions = (o: Record<string, unknown>): AmqpRpcOptions =>
  withDefaults(RpcSchema, { url: AMQP_URL, ...o });
export const resultOptions = (o: Record<string, unknown>): AmqpResultOptions =>
  withDefaults(ResultSchema, { url: AMQP_URL, ...o });
export const eventOptions = (o: Record<string, unknown>): AmqpEventOptions =>
  withDefaults(EventSchema, { url: AMQP_URL, ...o });
export const schemaOptions = (o: Record<string, unknown>): AmqpSchemaOptions =>
  withDefaults(SchemaSchema, { url: AMQP_URL, ...o });

export interface RoleOverrides {
  readonly all?: Record<string, unknown>;
  readonly rpc?: Record<string, unknown>;
  readonly result?: Record<string, unknown>;
  readonly event?: Record<string, unknown>;
  readonly schema?: Record<string, unknown>;
}

/**
 * One test's corner of the broker: a unique prefix, a record of everything the
 * transports declared (they log each declaration at debug level), and cleanup.
 */
export class TestNamespace {
  readonly prefix: string;
  readonly queues = new Set<string>();
  readonly exchanges = new Set<string>();
  /** Connection names used, so tests can find (and force-close) their own connections. */
  readonly connectionName: string;
  private readonly opened: Array<{ close(): Promise<void> }> = [];

  constructor(label = 't') {
    this.prefix = uniquePrefix(label);
    this.connectionName = `${this.prefix}-conn`;
  }

  /** A logger that records declarations and forwards to `inner`. */
  recorder(inner: Logger = new ConsoleLogger('critical')): Logger {
    const note = (fields?: LogFields): void => {
      if (typeof fields?.queue === 'string' && fields.queue.startsWith(this.prefix)) this.queues.add(fields.queue);
      if (typeof fields?.exchange === 'string' && fields.exchange.startsWith(this.prefix))
        this.exchanges.add(fields.exchange);
    };
    return {
      debug: (m, f) => {
        note(f);
        inner.debug(m, f);
      },
      info: (m, f) => inner.info(m, f),
      warn: (m, f) => inner.warn(m, f),
      error: (m, f) => inner.error(m, f),
    };
  }

  context(context: Partial<TransportContext> = {}): TransportContext {
    return {
      serviceName: context.serviceName ?? 'test',
      processName: context.processName ?? 'p1',
      logger: this.recorder(context.logger),
    };
  }

  /** The four transports of one process in this namespace. */
  connect(
    context: TransportContext,
    overrides: RoleOverrides = {},
  ): Required<TransportSet> & {
    rpc: AmqpRpcTransport;
    result: AmqpResultTransport;
    event: AmqpEventTransport;
    schema: AmqpSchemaTransport;
  } {
    const ctx = { ...context, logger: this.recorder(context.logger) };
    const base = { prefix: this.prefix, connection_name: this.connectionName, ...overrides.all };
    const set = {
      rpc: new AmqpRpcTransport(rpcOptions({ ...base, ...overrides.rpc }), ctx),
      result: new AmqpResultTransport(resultOptions({ ...base, ...overrides.result }), ctx),
      event: new AmqpEventTransport(eventOptions({ ...base, ...overrides.event }), ctx),
      schema: new AmqpSchemaTransport(schemaOptions({ ...base, ...overrides.schema }), ctx),
    };
    this.opened.push(set.rpc, set.result, set.event, set.schema);
    return set;
  }

  /** Close what connect() opened (idempotent) and delete every queue and exchange declared under the prefix. */
  async cleanup(): Promise<void> {
    await Promise.all(this.opened.splice(0).map((t) => t.close().catch(() => undefined)));
    await withChannel(async (channel) => {
      for (const queue of this.queues) await channel.deleteQueue(queue);
      for (const exchange of this.exchanges) await channel.deleteExchange(exchange);
    });
  }
}

/** For one test file: a maker of namespaces (label in their prefix), each cleaned up after the test that made it. */
export function namespaces(label: string): () => TestNamespace {
  const made: TestNamespace[] = [];
  afterEach(async () => {
    await Promise.all(made.splice(0).map((n) => n.cleanup()));
  });
  return () => {
    const n = new TestNamespace(label);
    made.push(n);
    return n;
  };
}

/** Run `fn` with a raw amqplib channel on a connection of its own (closed afterwards). */
export async function withChannel<T>(fn: (channel: amqplib.ConfirmChannel) => Promise<T>): Promise<T> {
  const connection = await amqplib.connect(AMQP_URL, { clientProperties: { connection_name: 'lightbus-test-raw' } });
  try {
    const channel = await connection.createConfirmChannel();
    return await fn(channel);
  } finally {
    await connection.close().catch(() => undefined);
  }
}

// ---- rabbitmqctl ------------------------------------------------------------------------------

async function rabbitmqctl(args: string[]): Promise<string> {
  const { stdout } = await run('rabbitmqctl', [...args], { timeout: 30_000 });
  return stdout;
}

async function listJson<T>(args: string[]): Promise<T[]> {
  const out = await rabbitmqctl([...args, '--formatter', 'json', '-q']);
  return JSON.parse(out || '[]') as T[];
}

export interface QueueInfo {
  name: string;
  durable: boolean;
  auto_delete: boolean;
  exclusive: boolean;
  type: string;
  arguments: Record<string, unknown>;
}

/** Queues under a prefix, with what they were declared with (as the broker reports). */
export async function listQueues(prefix: string): Promise<QueueInfo[]> {
  const all = await listJson<QueueInfo>([
    'list_queues',
    'name',
    'durable',
    'auto_delete',
    'exclusive',
    'type',
    'arguments',
  ]);
  return all
    .filter((q) => q.name.startsWith(prefix))
    .map((q) => ({ ...q, arguments: normaliseArguments(q.arguments) }));
}

/** Consumers of each queue under a prefix, as the broker counts them (also for exclusive queues of other connections). */
export async function consumerCounts(prefix: string): Promise<Record<string, number>> {
  const all = await listJson<{ name: string; consumers: number }>(['list_queues', 'name', 'consumers']);
  return Object.fromEntries(all.filter((q) => q.name.startsWith(prefix)).map((q) => [q.name, q.consumers]));
}

export interface ExchangeInfo {
  name: string;
  type: string;
  durable: boolean;
}

export async function listExchanges(prefix: string): Promise<ExchangeInfo[]> {
  const all = await listJson<ExchangeInfo>(['list_exchanges', 'name', 'type', 'durable']);
  return all.filter((e) => e.name.startsWith(prefix));
}

export interface BindingInfo {
  source_name: string;
  destination_name: string;
  routing_key: string;
}

export async function listBindings(prefix: string): Promise<BindingInfo[]> {
  const all = await listJson<BindingInfo>(['list_bindings', 'source_name', 'destination_name', 'routing_key']);
  return all.filter((b) => b.source_name.startsWith(prefix) && b.destination_name.startsWith(prefix));
}

/** rabbitmqctl prints arguments as a list of [key, value] pairs (or an object): make it an object. */
function normaliseArguments(value: unknown): Record<string, unknown> {
  if (Array.isArray(value)) {
    const out: Record<string, unknown> = {};
    for (const entry of value) {
      if (Array.isArray(entry) && entry.length >= 2) out[String(entry[0])] = entry[entry.length - 1];
    }
    return out;
  }
  return (value as Record<string, unknown>) ?? {};
}

/**
 * Broker-side ids (pids) of the connections whose connection_name client property starts with `prefix`.
 * The table output is used: close_connection wants the pid as it prints there (<rabbit@host.x.y.z>).
 */
export async function connectionsNamed(prefix: string): Promise<string[]> {
  const out = await rabbitmqctl(['list_connections', 'pid', 'client_properties', '-q', '--no-table-headers']);
  const pids: string[] = [];
  for (const line of out.split('\n')) {
    const [pid, properties] = line.split('\t');
    const name = /\{"connection_name","((?:[^"\\]|\\.)*)"\}/.exec(properties ?? '')?.[1];
    if (pid && name?.startsWith(prefix)) pids.push(pid.trim());
  }
  return pids;
}

export interface ConnectionDetails {
  readonly connectionName: string;
  readonly heartbeat: number;
  readonly clientProperties: string;
}

/** Connections whose connection_name starts with `prefix`: name, negotiated heartbeat, raw client properties. */
export async function connectionDetails(prefix: string): Promise<ConnectionDetails[]> {
  const out = await rabbitmqctl(['list_connections', 'timeout', 'client_properties', '-q', '--no-table-headers']);
  const found: ConnectionDetails[] = [];
  for (const line of out.split('\n')) {
    const [timeout, properties] = line.split('\t');
    const name = /\{"connection_name","((?:[^"\\]|\\.)*)"\}/.exec(properties ?? '')?.[1];
    if (name?.startsWith(prefix))
      found.push({ connectionName: name, heartbeat: Number(timeout), clientProperties: properties ?? '' });
  }
  return found;
}

/** Force-close (from the broker's side) only the connections whose connection_name starts with `prefix`. */
export async function closeConnections(prefix: string): Promise<number> {
  const pids = await connectionsNamed(prefix);
  for (const pid of pids) await rabbitmqctl(['close_connection', pid, 'lightbus test: forced close']);
  return pids.length;
}

// ---- a TCP proxy in front of the broker: an outage this test alone sees ----------------------

/** Forwards 127.0.0.1:<port> to the broker; stop() is a broker outage for its clients only. */
export class TcpProxy {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  private trigger: { match: (chunk: Buffer) => boolean; cut: () => void } | undefined;
  private muteTrigger: { find: (chunk: Buffer) => number | undefined; muted: () => void } | undefined;
  private silent = false;
  /** Sockets accepted while silent, still open (the client has not closed them). */
  readonly silentSockets = new Set<net.Socket>();
  port = 0;

  /**
   * The first time a client sends bytes in which `find` finds a channel number, mute that channel:
   * from then on the broker's frames on it are dropped (consume-ok, deliveries, ...), while the
   * connection's other channels and its connection-level frames (close-ok, heartbeats) still pass,
   * so that channel waits forever but the client can close cleanly. Resolves once muted.
   * Broker-to-client bytes are forwarded frame by frame for this.
   */
  muteChannelWhenClientSends(find: (chunk: Buffer) => number | undefined): Promise<void> {
    return new Promise<void>((resolve) => {
      this.muteTrigger = { find, muted: resolve };
    });
  }

  /**
   * A broker that silently drops packets: cut the open connections, then accept new ones and
   * never answer (nor close them). Resolves once a client has connected and sent its first bytes
   * (the AMQP protocol header).
   */
  async goSilent(): Promise<void> {
    this.silent = true;
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => (this.heard = resolve));
  }
  private heard: (() => void) | undefined;

  /** Cut the connection the first time its client sends bytes that `match`; resolves when it did. */
  cutOnceWhenClientSends(match: (chunk: Buffer) => boolean): Promise<void> {
    return new Promise<void>((resolve) => {
      this.trigger = { match, cut: resolve };
    });
  }

  get url(): string {
    const target = new URL(AMQP_URL);
    target.hostname = '127.0.0.1';
    target.port = String(this.port);
    return target.toString();
  }

  async start(): Promise<void> {
    const target = new URL(AMQP_URL);
    const server = net.createServer((client) => {
      if (this.silent) {
        this.silentSockets.add(client);
        client.on('error', () => undefined);
        client.on('close', () => this.silentSockets.delete(client));
        client.once('data', () => this.heard?.());
        return;
      }
      const upstream = net.connect({ host: target.hostname, port: Number(target.port) || 5672 });
      let muted: number | undefined;
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('close', () => this.sockets.delete(socket));
        socket.on('error', () => undefined);
      }
      client.on('data', (chunk: Buffer) => {
        const trigger = this.trigger;
        if (trigger && trigger.match(chunk)) {
          this.trigger = undefined;
          client.destroy();
          upstream.destroy();
          trigger.cut();
          return;
        }
        const mute = this.muteTrigger;
        const found = mute?.find(chunk);
        if (mute && found !== undefined) {
          this.muteTrigger = undefined;
          muted = found;
          mute.muted();
        }
        if (!upstream.write(chunk)) client.pause();
      });
      upstream.on('drain', () => client.resume());
      // Broker to client, whole frames at a time (type 1 byte, channel 2, size 4, payload, end 0xCE).
      let pending: Buffer = Buffer.alloc(0);
      upstream.on('data', (chunk: Buffer) => {
        pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
        let start = 0;
        const out: Buffer[] = [];
        while (pending.length - start >= 7) {
          const end = start + 7 + pending.readUInt32BE(start + 3) + 1;
          if (end > pending.length) break;
          if (muted === undefined || pending.readUInt16BE(start + 1) !== muted) out.push(pending.subarray(start, end));
          start = end;
        }
        pending = pending.subarray(start);
        if (out.length > 0 && !client.write(Buffer.concat(out))) upstream.pause();
      });
      client.on('drain', () => upstream.resume());
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as net.AddressInfo).port;
    this.server = server;
  }

  /** Refuse new connections and cut the open ones (both ends). */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    for (const socket of this.silentSockets) socket.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** Whether `chunk` holds the AMQP method frame basic.consume (class 60, method 20). */
export function holdsBasicConsume(chunk: Buffer): boolean {
  return basicConsumeChannel(chunk) !== undefined;
}

/** The channel of the AMQP method frame basic.consume in `chunk`, if it holds one. */
export function basicConsumeChannel(chunk: Buffer): number | undefined {
  for (let i = 0; i + 11 <= chunk.length; i++) {
    if (chunk[i] === 1 && chunk.readUInt16BE(i + 7) === 60 && chunk.readUInt16BE(i + 9) === 20)
      return chunk.readUInt16BE(i + 1);
  }
  return undefined;
}

/** A logger that keeps every line (and forwards nothing); DEBUG_LOGS prints them, but for reconnections and declarations. */
export class LogCollector extends LogRecorder {
  constructor() {
    super({ echo: process.env.DEBUG_LOGS ? (line) => !/^\w+ (Reconnecting|Declared)/.test(line) : undefined });
  }
}
