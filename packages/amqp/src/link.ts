/**
 * One AMQP connection of one transport instance, kept open: opened on first
 * use, reopened with backoff when lost (broker restart, forced close, network),
 * closed on close(). Roles ask it for the current connection and for channels;
 * consumers re-create their channels and declarations when it comes back.
 */
import { EventEmitter } from 'node:events';
import {
  BrokerConnectionError,
  BusClosedError,
  deferred,
  errorText,
  redactUrl,
  retry,
  type ConnectionHealth,
  type Deferred,
  type Logger,
} from '@lightbus/core/transport';
import { AmqpDeclarationError } from './errors';
import {
  closeChannel,
  closeConnection,
  isClosedError,
  openConnection,
  replyCode,
  type Channel,
  type ConfirmChannel,
  type Connection,
  type OpenSettings,
} from './adapter';
import type { ExchangeDeclaration, QueueDeclaration } from './topology';

export type Role = 'rpc' | 'result' | 'event' | 'schema';
const DONE: Promise<void> = Promise.resolve();
/** A role's connection for publishing or for consuming (see linkSettings). */
export type Purpose = 'publisher' | 'consumer';

/** A url's broker identity: protocol, user, host, port and vhost (transports with equal keys share a broker). */
export function brokerKeyOf(address: string): string {
  const url = new URL(address);
  const vhost = decodeURIComponent(url.pathname.slice(1)) || '/';
  const port = url.port || (url.protocol === 'amqps:' ? '5671' : '5672');
  return `${url.protocol}//${decodeURIComponent(url.username) || 'guest'}@${url.hostname}:${port}/${vhost}`;
}

export class Link extends EventEmitter {
  private current: Connection | undefined;
  private opening: Promise<Connection> | undefined;
  private everConnected = false;
  private closed = false;
  /** The reconnection loop while it runs: close() ends it and waits for it. */
  private reconnection: Promise<void> | undefined;
  private readonly abort = new AbortController();
  private waiters: Array<Deferred<Connection>> = [];
  /** Declarations done on each connection (declared again on a new one). */
  private declared = new WeakMap<Connection, Map<string, Promise<void>>>();
  private completed = new WeakMap<Connection, Set<string>>();
  private topologyChannel: Promise<Channel> | undefined;
  private topologyOf: Connection | undefined;
  private cachedBrokerKey: string | undefined;

  /** For logs: "event consumer", "rpc publisher", "result", ... */
  private readonly label: string;

  constructor(
    private readonly settings: OpenSettings,
    private readonly role: Role,
    private readonly logger: Logger,
    purpose?: Purpose,
  ) {
    super();
    this.label = purpose ? `${role} ${purpose}` : role;
    this.setMaxListeners(0);
  }

  /** The url without its password. */
  get where(): string {
    return redactUrl(this.settings.options.url);
  }

  /** Normalised url: transports on the same url (and vhost, user) share a broker. */
  get brokerKey(): string {
    return (this.cachedBrokerKey ??= brokerKeyOf(this.settings.options.url));
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Whether this link is in use (opened once) and up now, for `bus.health()`; undefined before its first use. */
  health(): ConnectionHealth | undefined {
    if (this.closed || (!this.everConnected && !this.opening)) return undefined;
    const connected = this.current !== undefined;
    return {
      transport: 'amqp',
      broker: this.where,
      connected,
      ...(connected ? {} : { detail: this.everConnected ? 'reconnecting' : 'connecting' }),
    };
  }

  /**
   * The open connection. The first time, opens it and fails fast with a
   * BrokerConnectionError that says what to check. After a loss, waits until
   * the connection is back (callers bound the wait with their own deadline).
   */
  async connection(signal?: AbortSignal): Promise<Connection> {
    if (this.closed) throw this.closedError();
    if (this.current) return this.current;
    if (this.everConnected) {
      if (signal?.aborted) throw this.closedError();
      const waiter = deferred<Connection>();
      this.waiters.push(waiter);
      // A consumer that stops while the connection is down stops waiting for it.
      const abandon = (): void => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        waiter.reject(this.closedError());
      };
      signal?.addEventListener('abort', abandon, { once: true });
      return waiter.promise.finally(() => signal?.removeEventListener('abort', abandon));
    }
    this.opening ??= this.openFirst().finally(() => (this.opening = undefined));
    return this.opening;
  }

  private async openFirst(): Promise<Connection> {
    let connection: Connection;
    try {
      connection = await openConnection(this.settings, this.abort.signal);
    } catch (error) {
      if (this.closed) throw this.closedError();
      throw this.connectionError(error);
    }
    if (this.closed) {
      await closeConnection(connection);
      throw this.closedError();
    }
    this.adopt(connection);
    return connection;
  }

  private adopt(connection: Connection): void {
    this.current = connection;
    this.everConnected = true;
    connection.on('error', (error: Error) => {
      this.logger.debug('AMQP connection error', { role: this.label, url: this.where, error: errorText(error) });
    });
    connection.on('blocked', (reason: string) => {
      this.logger.warn(
        `RabbitMQ blocked the ${this.label} connection (${reason}); publishing waits until it unblocks`,
        { url: this.where },
      );
    });
    connection.on('unblocked', () =>
      this.logger.info(`RabbitMQ unblocked the ${this.label} connection`, { url: this.where }),
    );
    connection.once('close', (error?: Error) => this.lost(connection, error));
    const waiters = this.waiters;
    this.waiters = [];
    waiters.forEach((w) => w.resolve(connection));
    this.emit('connected', connection);
  }

  private lost(connection: Connection, error: Error | undefined): void {
    if (this.current !== connection) return;
    this.current = undefined;
    this.topologyChannel = undefined;
    this.topologyOf = undefined;
    if (this.closed) return;
    this.logger.warn(`Lost the ${this.label} connection to RabbitMQ; reconnecting`, {
      url: this.where,
      reason: error ? errorText(error) : 'closed',
    });
    this.reconnection ??= this.reconnect().finally(() => (this.reconnection = undefined));
  }

  /** The reconnection loop; lost() starts it only while none runs (this.reconnection). */
  private async reconnect(): Promise<void> {
    const backoff = {
      initialMs: this.settings.options.reconnect_initial_delay * 1000,
      maxMs: this.settings.options.reconnect_max_delay * 1000,
    };
    let connection: Connection;
    let attempts = 0;
    try {
      connection = await retry(
        (attempt) => {
          attempts = attempt + 1;
          // close() aborts the attempt: its socket and timer go at once (a silent broker would hold them for connection_timeout).
          return openConnection(this.settings, this.abort.signal);
        },
        {
          what: `Reconnecting the ${this.label} connection to RabbitMQ`,
          delayFirst: true,
          backoff,
          signal: this.abort.signal,
          // Until it works or the link is closed.
          retriable: () => !this.closed,
          onRetry: (error, attempt) =>
            this.logger.warn(`Reconnecting to RabbitMQ failed; trying again`, {
              role: this.label,
              url: this.where,
              attempt,
              error: errorText(error),
            }),
        },
      );
    } catch {
      return; // closed meanwhile
    }
    if (this.closed) {
      await closeConnection(connection);
      return;
    }
    this.logger.info(`Reconnected the ${this.label} connection to RabbitMQ`, { url: this.where, attempts });
    this.adopt(connection);
  }

  /** A new channel on the current connection, with an error listener (channel errors also reject the failing call). */
  async channel(signal?: AbortSignal): Promise<Channel> {
    const connection = await this.connection(signal);
    const channel = await connection.createChannel();
    this.watch(channel);
    return channel;
  }

  async confirmChannel(signal?: AbortSignal): Promise<ConfirmChannel> {
    const connection = await this.connection(signal);
    const channel = await connection.createConfirmChannel();
    this.watch(channel);
    return channel;
  }

  private watch(channel: Channel): void {
    channel.on('error', (error: Error) => {
      this.logger.debug('AMQP channel closed with an error', { role: this.label, error: errorText(error) });
      // NOT_FOUND: something declared earlier was deleted (by an operator?): declare again on next use.
      if (replyCode(error) === 404) this.forgetDeclarations();
    });
  }

  // ---- declarations -----------------------------------------------------------------------

  /** Declare a queue once per connection (again after a reconnection). */
  declareQueue(queue: QueueDeclaration, signal?: AbortSignal): Promise<void> {
    const key = `q:${queue.name}`;
    if (this.isDeclared(key)) return DONE;
    return this.declareOnce(key, (channel) => assertQueue(channel, queue, this.logger), signal);
  }

  declareExchange(exchange: ExchangeDeclaration, signal?: AbortSignal): Promise<void> {
    const key = `x:${exchange.name}`;
    if (this.isDeclared(key)) return DONE;
    return this.declareOnce(key, (channel) => assertExchange(channel, exchange, this.logger), signal);
  }

  /** Declared on the open connection already (checked on every call and every event, so kept synchronous). */
  private isDeclared(key: string): boolean {
    return this.current !== undefined && this.completed.get(this.current)?.has(key) === true;
  }

  async bind(queue: string, exchange: string, routingKey: string, signal?: AbortSignal): Promise<void> {
    await this.declareOnce(
      `b:${queue}|${exchange}|${routingKey}`,
      async (channel) => {
        await channel.bindQueue(queue, exchange, routingKey);
      },
      signal,
    );
  }

  get log(): Logger {
    return this.logger;
  }

  /** Forget what was declared (for instance after someone deleted a queue). */
  forgetDeclarations(): void {
    if (this.current) {
      this.declared.set(this.current, new Map());
      this.completed.set(this.current, new Set());
    }
  }

  /** `signal` ends the wait for a lost connection (the caller's deadline), not a declaration under way. */
  private async declareOnce(
    key: string,
    declare: (channel: Channel) => Promise<void>,
    signal?: AbortSignal,
  ): Promise<void> {
    if (this.isDeclared(key)) return;
    const connection = await this.connection(signal);
    let done = this.declared.get(connection);
    if (!done) {
      done = new Map();
      this.declared.set(connection, done);
    }
    let declaring = done.get(key);
    if (!declaring) {
      // Concurrent callers share one declaration; a failed one is tried again next time.
      declaring = this.topology(connection).then(async (channel) => {
        try {
          await declare(channel);
          let completed = this.completed.get(connection);
          if (!completed) this.completed.set(connection, (completed = new Set()));
          completed.add(key);
        } catch (error) {
          if (this.topologyOf === connection) this.topologyChannel = undefined; // a refused declaration closes the channel
          throw this.explain(error);
        }
      });
      const mine = declaring;
      done.set(key, mine);
      mine.catch(() => {
        if (done.get(key) === mine) done.delete(key);
      });
    }
    await declaring;
  }

  /** The channel used for declarations: one per connection, replaced when an error closes it. */
  private topology(connection: Connection): Promise<Channel> {
    if (!this.topologyChannel || this.topologyOf !== connection) {
      this.topologyOf = connection;
      const opening = connection.createChannel().then((channel) => {
        this.watch(channel);
        channel.once('close', () => {
          if (this.topologyChannel === opening) this.topologyChannel = undefined;
        });
        return channel;
      });
      opening.catch(() => {
        if (this.topologyChannel === opening) this.topologyChannel = undefined;
      });
      this.topologyChannel = opening;
    }
    return this.topologyChannel;
  }

  /**
   * Does this queue exist, and how many consumers does it have? A passive
   * declare on a throwaway channel (a missing queue closes the channel it was
   * asked on, and must not close a channel anyone else uses). undefined: no such queue.
   */
  async inspectQueue(name: string): Promise<{ readonly messages: number; readonly consumers: number } | undefined> {
    try {
      return await this.onOwnChannel(async (channel) => {
        const { messageCount, consumerCount } = await channel.checkQueue(name);
        return { messages: messageCount, consumers: consumerCount };
      });
    } catch (error) {
      if (replyCode(error) === 404) return undefined;
      throw error;
    }
  }

  async queueExists(name: string): Promise<boolean> {
    return (await this.inspectQueue(name)) !== undefined;
  }

  /** Remove a binding, on a throwaway channel (a refusal closes that channel only). */
  async unbind(queue: string, exchange: string, routingKey: string): Promise<void> {
    await this.onOwnChannel((channel) => channel.unbindQueue(queue, exchange, routingKey));
  }

  /** A queue's ready messages and consumers (passive declare); rejects when the queue does not exist. */
  async checkQueue(queue: string): Promise<{ messageCount: number; consumerCount: number }> {
    return this.onOwnChannel((channel) => channel.checkQueue(queue));
  }

  /** Run `use` on a channel of its own, closed afterwards; what RabbitMQ refuses is explained. */
  private async onOwnChannel<T>(use: (channel: Channel) => Promise<T>): Promise<T> {
    const channel = await this.channel();
    try {
      return await use(channel);
    } catch (error) {
      throw this.explain(error);
    } finally {
      await closeChannel(channel);
    }
  }

  // ---- errors -----------------------------------------------------------------------------

  /** The error for a failed connection attempt: what failed, where, and what to check. */
  connectionError(error: unknown): BrokerConnectionError {
    const text = errorText(error);
    let hint = `Check that RabbitMQ is running and reachable there, and the url of the amqp ${this.role} transport.`;
    if (/ACCESS.REFUSED|403/.test(text))
      hint = 'Check the user name and password in the url, and that the user may use this vhost.';
    else if (/NOT.ALLOWED|530|vhost|ConnectionOpenOk/i.test(text))
      hint =
        'The broker refused to open the vhost: check the vhost in the url (the path; "/" is %2F or an empty path), that it exists and that the user may use it.';
    else if (/tls\.|certificate|self.signed|SSL|TLS/i.test(text))
      hint = 'Check the tls options (ca_file, cert_file, key_file, servername) and the broker certificate.';
    return new BrokerConnectionError(`Cannot connect to RabbitMQ at ${this.where}: ${text}. ${hint}`, { cause: error });
  }

  /** A clearer error for what RabbitMQ refused (arguments differ, permissions, exclusive queue), else the error itself. */
  explain(error: unknown): Error {
    if (!(error instanceof Error) || (isClosedError(error) && replyCode(error) === undefined)) return error as Error;
    const code = replyCode(error);
    const text = errorText(error);
    if (code === 406) {
      return new AmqpDeclarationError(
        `RabbitMQ refused a declaration: ${text}. The queue or exchange already exists with other arguments: every process must use the ` +
          `same options that shape it (prefix, durable, queue_type, delivery_limit, message_ttl, max_length, dead_letter, stream_*), ` +
          `or delete the old queue (rabbitmqctl delete_queue <name>) so it is declared anew.`,
        { cause: error },
      );
    }
    if (code === 403) {
      return new AmqpDeclarationError(
        `RabbitMQ refused a declaration: ${text}. Give the user configure, write and read permissions on names starting with the prefix.`,
        {
          cause: error,
        },
      );
    }
    if (code === 405) {
      return new AmqpDeclarationError(
        `RabbitMQ refused a declaration: ${text}. Another connection holds this exclusive queue.`,
        { cause: error, retriable: true },
      );
    }
    return error;
  }

  closedError(): BusClosedError {
    return new BusClosedError(`The amqp ${this.role} transport is closed.`);
  }

  /** Close the connection; pending waits reject. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.abort.abort();
    const waiters = this.waiters;
    this.waiters = [];
    waiters.forEach((w) => w.reject(this.closedError()));
    const opening = this.opening;
    if (opening) await opening.catch(() => undefined);
    // A reconnection attempt in progress was aborted above: wait until it let go of its socket.
    await this.reconnection;
    const connection = this.current;
    this.current = undefined;
    if (connection) {
      await closeConnection(connection);
    }
    this.removeAllListeners();
  }
}

/** Declare a queue (idempotent when the arguments match); logged at debug level with its arguments. */
export async function assertQueue(channel: Channel, queue: QueueDeclaration, logger?: Logger): Promise<void> {
  await channel.assertQueue(queue.name, {
    durable: queue.durable,
    exclusive: queue.exclusive ?? false,
    autoDelete: queue.autoDelete ?? false,
    arguments: queue.arguments,
  });
  logger?.debug('Declared queue', { queue: queue.name, durable: queue.durable, arguments: queue.arguments });
}

export async function assertExchange(channel: Channel, exchange: ExchangeDeclaration, logger?: Logger): Promise<void> {
  await channel.assertExchange(exchange.name, exchange.type, {
    durable: exchange.durable,
    autoDelete: false,
    internal: false,
  });
  logger?.debug('Declared exchange', { exchange: exchange.name, type: exchange.type });
}

/** Wait until a channel's write buffer drains (publish() returned false), or it closes. */
export function drained(channel: Channel): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = (): void => {
      channel.off('drain', done);
      channel.off('close', done);
      resolve();
    };
    channel.on('drain', done);
    channel.on('close', done);
  });
}

/** Connection name a transport announces by default: "lightbus <role>[ <purpose>] <service>/<process>". */
export function defaultConnectionName(role: Role, serviceName: string, processName: string, purpose?: Purpose): string {
  return `lightbus ${role}${purpose ? ` ${purpose}` : ''} ${serviceName}/${processName}`;
}
