/**
 * The adapter between the transports and the Redis client library (ioredis):
 * the only module that imports it. A RedisConnection is one TCP connection,
 * either for commands (shared by a transport's operations, pipelined) or for
 * one blocking read (BLPOP, XREADGROUP BLOCK), which holds its connection.
 *
 * Connection policy, the same for every connection:
 * - Connects on first use; reconnects by itself with capped exponential backoff.
 * - No offline queue and no automatic resend: a command either goes out on a
 *   ready connection or fails at once, so nothing is executed late (a call
 *   after its deadline, an event after fire() gave up). Callers wait for
 *   `ready()` with their own deadline and retry what they choose to.
 * - Blocking connections have a socket timeout a little longer than the
 *   longest block, so a dead peer (no RST) is noticed and the socket replaced.
 * - RESP2 (`protocol: 2`): the reply shapes every Redis since 5.0 gives.
 */
import { Redis, type RedisOptions } from 'ioredis';
import { BrokerConnectionError, backoffDelay, redactUrl, type Logger } from '@lightbus/core/transport';
import type { SentinelOption } from './options';

/** A reply as the RESP2 protocol gives it. */
export type Reply = string | number | null | Reply[];
/** One command: its name and arguments. */
export type Command = readonly [name: string, ...args: Array<string | number>];

/** Where a role's Redis is: a url, and the sentinels to ask for its master when it is run by Redis Sentinel. */
export interface RedisTarget {
  readonly url: string;
  readonly sentinel?: SentinelOption;
}

/** How a target is shown in logs and errors (no password). */
export function describeTarget(target: RedisTarget): string {
  const url = redactUrl(target.url);
  if (!target.sentinel) return url;
  const db = new URL(target.url).pathname.replace(/^\//, '') || '0';
  return `master '${target.sentinel.master_name}' (db ${db}) of the sentinels ${target.sentinel.sentinels.join(', ')}`;
}

/** ioredis's options for the sentinels of a target. */
function sentinelOptions(
  sentinel: SentinelOption | undefined,
  retryDelay: (times: number) => number | null,
): Partial<RedisOptions> {
  if (!sentinel) return {};
  return {
    sentinels: sentinel.sentinels.map((address) => {
      const colon = address.lastIndexOf(':');
      return { host: address.slice(0, colon), port: Number(address.slice(colon + 1)) };
    }),
    name: sentinel.master_name,
    ...(sentinel.password === undefined ? {} : { sentinelPassword: sentinel.password }),
    // When no sentinel named a master that answers, ask them again after the same backoff as reconnections
    // (null, i.e. stop, would end the connection for good).
    sentinelRetryStrategy: retryDelay,
    // No failoverDetector (its subscriptions to the sentinels outlive quit()): a killed master resets the
    // connections, and the sentinels disconnect the clients of a master they demote.
    // A demoted master refuses writes until the sentinels have its clients disconnected: reconnect at once.
    reconnectOnError: (error) => (TRANSIENT_REPLY.test(error.message) ? 1 : false),
  };
}

export interface ConnectionSettings extends RedisTarget {
  /** CLIENT SETNAME of the connection, so operators (and tests) can find it in CLIENT LIST. */
  readonly name: string;
  readonly logger: Logger;
  /** Longest wait between reconnection attempts, in ms. */
  readonly maxBackoffMs: number;
  /** For a blocking connection: the longest block in ms (sets the dead-socket watchdog). */
  readonly blockMs?: number;
}

/** How long past a blocking read's own timeout a silent socket is given before it is replaced. */
const BLOCK_GRACE_MS = 10_000;

/** A name Redis accepts for CLIENT SETNAME (no spaces or newlines). */
export function connectionName(...parts: string[]): string {
  return parts.map((part) => part.replace(/[^\w.:@-]/g, '_')).join(':');
}

/**
 * Replies that say "not here, not now" rather than "no": a replica refusing a write or a master
 * still loading after a failover (READONLY, LOADING, MASTERDOWN), a cluster moving a slot
 * (TRYAGAIN, CLUSTERDOWN). Treated as connection problems: the command did not run, and it
 * runs once the connection reaches the (new) master.
 */
const TRANSIENT_REPLY = /^(READONLY|LOADING|MASTERDOWN|TRYAGAIN|CLUSTERDOWN)\b/;

/** A reply saying the command did not run on this node now (see TRANSIENT_REPLY): safe to send again. */
export function isTransientReply(error: unknown): boolean {
  return error instanceof Error && error.name === 'ReplyError' && TRANSIENT_REPLY.test(error.message);
}

/** True for an error Redis replied with (WRONGTYPE, NOGROUP, ...), as opposed to a connection problem. */
export function isReplyError(error: unknown): error is Error {
  return error instanceof Error && error.name === 'ReplyError' && !TRANSIENT_REPLY.test(error.message);
}

/** A bug, not a connection problem: never retried. */
export function isProgrammingError(error: unknown): boolean {
  return (
    error instanceof TypeError ||
    error instanceof RangeError ||
    error instanceof ReferenceError ||
    error instanceof SyntaxError
  );
}

/** The connection was closed by close(): stop what you are doing. */
export class ConnectionClosedError extends Error {
  constructor(where: string) {
    super(`The Redis connection to ${where} was closed.`);
    this.name = 'ConnectionClosedError';
  }
}

/**
 * A command was refused before anything was written (the connection is not
 * ready): it certainly did not reach Redis, so sending it again cannot
 * duplicate it. Any other connection error after a send leaves it unknown
 * whether Redis executed the command.
 */
export class NotSentError extends Error {
  constructor(where: string, cause: Error | undefined) {
    super(`Not sent: the Redis connection to ${where} is not ready${cause ? ` (${cause.message})` : ''}.`, { cause });
    this.name = 'NotSentError';
  }
}

export class RedisConnection {
  readonly where: string;
  private readonly redis: Redis;
  private started = false;
  private closed = false;
  private down = false;
  private lastError: Error | undefined;
  private clientIdOfEpoch: { epoch: number; id: Promise<string> } | undefined;
  /** Increases every time the connection becomes ready: a new socket, a new client id. */
  private epoch = 0;
  /** Longest wait between reconnection attempts (the smallest any user of the connection asked for). */
  maxBackoffMs: number;
  /** Writes are held until the current task and its microtasks are done. */
  private corked = false;
  private readyGate: Promise<void> | undefined;
  private failureGate: Promise<void> | undefined;
  private closing: Promise<void> | undefined;

  constructor(private readonly settings: ConnectionSettings) {
    this.where = describeTarget(settings);
    this.maxBackoffMs = settings.maxBackoffMs;
    const retryDelay = (times: number): number | null =>
      this.closed ? null : backoffDelay(times - 1, { initialMs: 100, maxMs: this.maxBackoffMs });
    this.redis = new Redis(settings.url, {
      ...sentinelOptions(settings.sentinel, retryDelay),
      lazyConnect: true,
      protocol: 2,
      connectionName: settings.name,
      clientInfoTag: 'lightbus',
      enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false,
      maxRetriesPerRequest: 0,
      connectTimeout: 10_000,
      socketTimeout: settings.blockMs === undefined ? undefined : settings.blockMs + BLOCK_GRACE_MS,
      retryStrategy: retryDelay,
    });
    this.redis.on('error', (error: Error) => this.onError(error));
    this.redis.on('ready', () => this.onReady());
    this.redis.on('close', () => this.onClose());
  }

  get isReady(): boolean {
    return this.redis.status === 'ready';
  }

  /** ioredis's state: wait, connecting, connect, ready, reconnecting, close, end. */
  get status(): string {
    return this.redis.status;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private onError(error: Error): void {
    if (this.closed) return;
    const first = !this.down && this.lastError === undefined;
    this.lastError = error;
    if (first || !this.down) {
      this.settings.logger.warn(
        `Redis connection to ${this.where} failed (${error.message}); reconnecting with backoff. If this persists, check ` +
          `that Redis is running and reachable at that url (host, port, password, TLS).`,
        {
          connection: this.settings.name,
          error: error.message,
        },
      );
    } else {
      this.settings.logger.debug(`Redis connection to ${this.where} still failing`, {
        connection: this.settings.name,
        error: error.message,
      });
    }
    this.down = true;
  }

  private onClose(): void {
    if (this.closed || this.down) return;
    if (this.epoch > 0) {
      this.down = true;
      this.settings.logger.warn(
        `Redis connection to ${this.where} lost (Redis restarted, or the connection was killed or timed out); reconnecting ` +
          `with backoff, nothing to do unless it keeps failing.`,
        { connection: this.settings.name },
      );
    }
  }

  private onReady(): void {
    this.epoch += 1;
    if (this.down) {
      this.settings.logger.info(`Redis connection to ${this.where} restored`, { connection: this.settings.name });
    }
    this.down = false;
    this.lastError = undefined;
  }

  private start(): void {
    if (this.started || this.closed) return;
    this.started = true;
    // Failures are reported through the 'error' event; ioredis keeps retrying by itself.
    this.redis.connect().catch(() => undefined);
  }

  /** The error to throw when Redis cannot be reached in time. */
  unreachable(what?: string, failure?: unknown): BrokerConnectionError {
    const cause = this.lastError ?? (failure instanceof Error ? failure : undefined);
    return new BrokerConnectionError(
      `${what ? `${what}: ` : ''}cannot reach Redis at ${this.where}${cause ? ` (${cause.message})` : ''}. ` +
        `Check that Redis is running and reachable there, and that the url's host, port, database, password and ` +
        `TLS (rediss://) are right.`,
      { cause },
    );
  }

  /**
   * Wait until the connection is ready. Resolves true when ready, false if
   * `signal` aborted first; rejects with BrokerConnectionError at `deadline`
   * (ms since the epoch), or ConnectionClosedError once closed.
   *
   * `failFast` (a caller's call or fire): while the connection has never been
   * ready, its first failed attempt rejects at once with BrokerConnectionError,
   * instead of waiting for the deadline; after a loss it waits, as a restart of
   * Redis takes a moment.
   */
  ready(deadline?: number, signal?: AbortSignal, what?: string, failFast = false): Promise<boolean> {
    if (this.closed) return Promise.reject(new ConnectionClosedError(this.where));
    if (this.redis.status === 'ready') return Promise.resolve(true);
    if (signal?.aborted) return Promise.resolve(false);
    const neverReady = failFast && this.epoch === 0;
    if (neverReady && this.lastError) return Promise.reject(this.unreachable(what));
    this.start();
    const gate = (this.readyGate ??= this.newReadyGate());
    return new Promise<boolean>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      let settled = false;
      const settle = (outcome: () => void): void => {
        if (settled) return;
        settled = true;
        if (timer) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        outcome();
      };
      const onAbort = (): void => settle(() => resolve(false));
      if (neverReady) void this.nextFailure().then(() => settle(() => reject(this.unreachable(what))));
      gate.then(
        () => settle(() => resolve(true)),
        () => settle(() => reject(this.closed ? new ConnectionClosedError(this.where) : this.unreachable(what))),
      );
      signal?.addEventListener('abort', onAbort, { once: true });
      if (deadline !== undefined) {
        timer = setTimeout(() => settle(() => reject(this.unreachable(what))), Math.max(0, deadline - Date.now()));
      }
    });
  }

  /**
   * One promise all fail-fast waiters share: resolves on the next failed attempt. One 'error' listener
   * however many calls wait (a listener each went past Node's limit of 10 with 11 calls in flight).
   * It is registered after the constructor's listener, so lastError already holds the failure.
   */
  private nextFailure(): Promise<void> {
    return (this.failureGate ??= new Promise<void>((resolve) => {
      this.redis.once('error', () => {
        this.failureGate = undefined;
        resolve();
      });
    }));
  }

  /** One promise all waiters share: resolves on the next 'ready', rejects on 'end'. */
  private newReadyGate(): Promise<void> {
    const gate = new Promise<void>((resolve, reject) => {
      const onReady = (): void => {
        this.redis.off('end', onEnd);
        resolve();
      };
      const onEnd = (): void => {
        this.redis.off('ready', onReady);
        reject(new ConnectionClosedError(this.where));
      };
      this.redis.once('ready', onReady);
      this.redis.once('end', onEnd);
    });
    gate.catch(() => undefined);
    const clear = (): void => {
      if (this.readyGate === gate) this.readyGate = undefined;
    };
    gate.then(clear, clear);
    return gate;
  }

  /**
   * Send one command (the connection must be ready, or it fails at once).
   * Commands sent during one task (and the promise callbacks it runs) leave in
   * one write (the socket is corked until then), in the order sent, each
   * answered as soon as its reply arrives: many calls in flight cost few
   * system calls, and nothing waits for a timer.
   */
  send(command: Command): Promise<Reply> {
    if (this.closed) return Promise.reject(new ConnectionClosedError(this.where));
    if (!this.writable) return Promise.reject(new NotSentError(this.where, this.lastError));
    this.cork();
    const [name, ...args] = command;
    return this.redis.call(name, args) as Promise<Reply>;
  }

  /** Send commands back to back (in one write); each reply in order. The first failed command's error is thrown. */
  async pipeline(commands: readonly Command[]): Promise<Reply[]> {
    return Promise.all(commands.map((command) => this.send(command)));
  }

  /** ioredis writes a command to the socket now (it has no offline queue): ready, and the socket takes writes. */
  private get writable(): boolean {
    const socket = this.redis.stream as { writable?: boolean } | undefined;
    return this.redis.status === 'ready' && socket?.writable === true;
  }

  /** Hold writes to the socket until the current task and its microtasks are done. */
  private cork(): void {
    if (this.corked || this.redis.status !== 'ready') return;
    const socket = this.redis.stream;
    if (!socket || typeof socket.cork !== 'function') return;
    socket.cork();
    this.corked = true;
    // After the current task and everything it awaits synchronously (microtasks): one write, no added wait.
    process.nextTick(() => {
      this.corked = false;
      socket.uncork();
    });
  }

  /** Send commands as one MULTI/EXEC transaction: all of them happen, or none. */
  async transaction(commands: readonly Command[]): Promise<Reply[]> {
    if (this.closed) throw new ConnectionClosedError(this.where);
    if (!this.writable) throw new NotSentError(this.where, this.lastError);
    const results = await this.redis.multi(commands.map((c) => ['call', ...c])).exec();
    if (!results) throw new Error('The transaction was aborted');
    return results.map(([error, reply]) => {
      if (error) throw error;
      return reply as Reply;
    });
  }

  /** This connection's CLIENT ID (changes when it reconnects), for CLIENT UNBLOCK. */
  clientId(): Promise<string> {
    if (!this.clientIdOfEpoch || this.clientIdOfEpoch.epoch !== this.epoch) {
      const id = this.send(['CLIENT', 'ID']).then((reply) => String(reply));
      id.catch(() => {
        if (this.clientIdOfEpoch?.id === id) this.clientIdOfEpoch = undefined;
      });
      this.clientIdOfEpoch = { epoch: this.epoch, id };
    }
    return this.clientIdOfEpoch.id;
  }

  /** The client id if known for the current socket (no round trip). */
  async knownClientId(): Promise<string | undefined> {
    if (!this.clientIdOfEpoch || this.clientIdOfEpoch.epoch !== this.epoch) return undefined;
    try {
      return await this.clientIdOfEpoch.id;
    } catch {
      return undefined;
    }
  }

  /** Close the connection: waits for replies still due (briefly), then releases the socket. Idempotent: every caller waits for the end. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.closed = true; // from now on retryStrategy says stop: no reconnection starts
    const redis = this.redis;
    if (redis.status !== 'ready' && redis.status !== 'connect' && redis.status !== 'connecting') {
      // No socket (never started, waiting to reconnect, or ended): nothing to wait for.
      redis.disconnect();
      return;
    }
    let timer: NodeJS.Timeout | undefined;
    const ended = new Promise<void>((resolve) => {
      redis.once('end', () => resolve());
      timer = setTimeout(() => {
        redis.disconnect();
        resolve();
      }, 1000);
    });
    if (redis.status === 'ready') await redis.quit().catch(() => redis.disconnect());
    else redis.disconnect();
    await ended;
    clearTimeout(timer);
  }
}

/**
 * The command connections of a process: the roles of one process on the same
 * Redis share one (named `lightbus:<service>:<process>:commands`), so their
 * commands are written together. Counted: closed when the last role releases it.
 */
const sharedConnections = new Map<string, { connection: RedisConnection; users: number }>();

export interface SharedConnection {
  readonly connection: RedisConnection;
  /** Release this use; the connection closes when nobody uses it any more. */
  release(): Promise<void>;
}

export function acquireSharedConnection(settings: ConnectionSettings): SharedConnection {
  const key = `${settings.url}\u0000${JSON.stringify(settings.sentinel ?? null)}\u0000${settings.name}`;
  let entry = sharedConnections.get(key);
  if (!entry || entry.connection.isClosed) {
    entry = { connection: new RedisConnection(settings), users: 0 };
    sharedConnections.set(key, entry);
  }
  entry.users += 1;
  entry.connection.maxBackoffMs = Math.min(entry.connection.maxBackoffMs, settings.maxBackoffMs);
  const held = entry;
  let released = false;
  return {
    connection: held.connection,
    release: async () => {
      if (released) return;
      released = true;
      held.users -= 1;
      if (held.users > 0) return;
      if (sharedConnections.get(key) === held) sharedConnections.delete(key);
      await held.connection.close();
    },
  };
}
