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
 *
 * On a Redis Cluster (`cluster` option), a RedisConnection is an ioredis Cluster: a connection per master,
 * each command sent to the master of its key's slot (the key layout keeps every command in one slot).
 * A blocking connection then holds one node's connection; its CLIENT ID and CLIENT UNBLOCK go to that
 * node (clientId(key), sendToNode).
 */
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import { BrokerConnectionError, backoffDelay, redactUrl, type Logger } from '@lightbus/core/transport';
import type { ClusterOption, SentinelOption } from './options';
import { keySlot } from './wire';

/** A reply as the RESP2 protocol gives it. */
export type Reply = string | number | null | Reply[];
/** One command: its name and arguments. */
export type Command = readonly [name: string, ...args: Array<string | number>];

/**
 * Where a role's Redis is: a url, and the sentinels to ask for its master when it is run by Redis Sentinel,
 * or the nodes of a Redis Cluster.
 */
export interface RedisTarget {
  readonly url: string;
  readonly sentinel?: SentinelOption;
  readonly cluster?: ClusterOption;
}

/** How a target is shown in logs and errors (no password). */
export function describeTarget(target: RedisTarget): string {
  const url = redactUrl(target.url);
  if (target.cluster) return `the Redis Cluster of ${target.cluster.nodes.join(', ')}`;
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

/** ioredis's `host:port` of a node of a cluster. */
function nodeAddress(node: Redis): string {
  return `${node.options.host ?? ''}:${node.options.port ?? ''}`;
}

/** The user, password and TLS of a url, for the nodes of a cluster (which take no url). */
function urlCredentials(url: string): Partial<RedisOptions> {
  const parsed = new URL(url);
  return {
    ...(parsed.username ? { username: decodeURIComponent(parsed.username) } : {}),
    ...(parsed.password ? { password: decodeURIComponent(parsed.password) } : {}),
    ...(parsed.protocol === 'rediss:' ? { tls: {} } : {}),
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
  private readonly redis: Redis | Cluster;
  private started = false;
  /** On a cluster: the CLIENT ID of each node connection asked (a node's connection never reconnects: a new one replaces it). */
  private readonly nodeClientIds = new WeakMap<Redis, Promise<string>>();
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
    const common = {
      protocol: 2,
      connectionName: settings.name,
      clientInfoTag: 'lightbus',
      autoResendUnfulfilledCommands: false,
      maxRetriesPerRequest: 0,
      connectTimeout: 10_000,
      socketTimeout: settings.blockMs === undefined ? undefined : settings.blockMs + BLOCK_GRACE_MS,
    } satisfies Partial<RedisOptions>;
    this.redis = settings.cluster
      ? new Cluster(
          settings.cluster.nodes.map((address) => {
            const colon = address.lastIndexOf(':');
            return { host: address.slice(0, colon), port: Number(address.slice(colon + 1)) };
          }),
          {
            lazyConnect: true,
            // Not an offline queue of the cluster (send() refuses while the cluster is not ready): what lets a
            // command wait while the connection to its node opens (node connections open on first use). With
            // false, ioredis refuses a command to a node still connecting ('Connection is closed.'), which
            // says nothing of whether it ran.
            enableOfflineQueue: true,
            clusterRetryStrategy: retryDelay,
            // A command whose node connection closed may have run: ioredis must not send it again (a call runs at
            // most once; the roles retry what may run twice). MOVED, ASK, TRYAGAIN and CLUSTERDOWN (it did not run)
            // are still followed.
            retryDelayOnFailover: 0,
            // Find a promoted replica soon after a failover.
            slotsRefreshInterval: 2000,
            redisOptions: { ...urlCredentials(settings.url), ...common },
          } satisfies ClusterOptions,
        )
      : new Redis(settings.url, {
          ...sentinelOptions(settings.sentinel, retryDelay),
          ...common,
          lazyConnect: true,
          enableOfflineQueue: false,
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

  /**
   * ioredis writes a command to the socket now (it has no offline queue): ready, and the socket takes writes.
   * (A cluster routes each command to a node connection of its own: ready is all that is known here.)
   */
  private get writable(): boolean {
    if (this.redis instanceof Cluster) return this.redis.status === 'ready';
    const socket = this.redis.stream as { writable?: boolean } | undefined;
    return this.redis.status === 'ready' && socket?.writable === true;
  }

  /** Hold writes to the socket until the current task and its microtasks are done (one socket: not on a cluster). */
  private cork(): void {
    if (this.corked || this.redis.status !== 'ready' || this.redis instanceof Cluster) return;
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

  /** True on a Redis Cluster: keys of different slots may be on different nodes. */
  get clustered(): boolean {
    return this.redis instanceof Cluster;
  }

  /** On a cluster: the connection to the master of `key`'s slot, as far as this client knows (after ready). */
  private nodeOf(key: string): Redis | undefined {
    if (!(this.redis instanceof Cluster)) return undefined;
    const address = this.redis.slots[keySlot(key)]?.[0];
    return address === undefined ? undefined : this.redis.nodes('master').find((node) => nodeAddress(node) === address);
  }

  /**
   * Send a command that names no key (WAIT, CLIENT ...) on the connection that carries `key`'s commands: on a
   * cluster, the connection to the master of its slot (sent right after a command on `key`, it follows it on the
   * same socket); otherwise this connection.
   */
  sendBeside(key: string, command: Command): Promise<Reply> {
    if (!(this.redis instanceof Cluster)) return this.send(command);
    if (this.closed) return Promise.reject(new ConnectionClosedError(this.where));
    const node = this.nodeOf(key);
    if (!node || !this.writable) return Promise.reject(new NotSentError(this.where, this.lastError));
    const [name, ...args] = command;
    return node.call(name, args) as Promise<Reply>;
  }

  /**
   * Send a command to the node at `address` (`host:port`, from `blockedClient`), or to this connection when
   * no address is given (not a cluster). Resolves undefined when this connection knows no such node.
   */
  async sendToNode(address: string | undefined, command: Command): Promise<Reply | undefined> {
    if (address === undefined || !(this.redis instanceof Cluster)) return this.send(command);
    const node = this.redis.nodes('master').find((n) => nodeAddress(n) === address);
    if (!node || this.closed) return undefined;
    const [name, ...args] = command;
    return (await node.call(name, args)) as Reply;
  }

  /**
   * SCAN MATCH `pattern` (TYPE `type`) over the whole keyspace: every master of a cluster, or this Redis.
   * The keys found, sorted, each once.
   */
  async scan(pattern: string, type?: string): Promise<string[]> {
    const found = new Set<string>();
    const nodes: Array<(command: Command) => Promise<Reply>> =
      this.redis instanceof Cluster
        ? this.redis
            .nodes('master')
            .map((node) => (command) => node.call(command[0], command.slice(1)) as Promise<Reply>)
        : [(command) => this.send(command)];
    for (const send of nodes) {
      let cursor = '0';
      do {
        const reply = await send(['SCAN', cursor, 'MATCH', pattern, 'COUNT', 1000, ...(type ? ['TYPE', type] : [])]);
        const [next, keys] = Array.isArray(reply) ? reply : ['0', []];
        cursor = String(next);
        if (Array.isArray(keys)) for (const key of keys) found.add(String(key));
      } while (cursor !== '0');
    }
    return [...found].sort();
  }

  /**
   * The CLIENT ID of the connection that carries `key`'s commands (on a cluster, its node's connection;
   * otherwise this one; it changes when the connection is replaced), for CLIENT UNBLOCK.
   */
  async blockedClient(key: string): Promise<{ id: string; node?: string }> {
    if (!(this.redis instanceof Cluster)) return { id: await this.clientId() };
    const node = this.nodeOf(key);
    if (!node) throw new NotSentError(this.where, this.lastError);
    let id = this.nodeClientIds.get(node);
    if (!id) {
      id = (node.call('CLIENT', ['ID']) as Promise<Reply>).then((reply) => String(reply));
      const asked = id;
      asked.catch(() => {
        if (this.nodeClientIds.get(node) === asked) this.nodeClientIds.delete(node);
      });
      this.nodeClientIds.set(node, asked);
    }
    return { id: await id, node: nodeAddress(node) };
  }

  /** The client of `blockedClient(key)` if known for the current connection (no round trip). */
  async knownBlockedClient(key: string): Promise<{ id: string; node?: string } | undefined> {
    if (!(this.redis instanceof Cluster)) {
      const id = await this.knownClientId();
      return id === undefined ? undefined : { id };
    }
    const node = this.nodeOf(key);
    const id = node && this.nodeClientIds.get(node);
    if (!node || !id) return undefined;
    try {
      return { id: await id, node: nodeAddress(node) };
    } catch {
      return undefined;
    }
  }

  /** This connection's CLIENT ID (changes when it reconnects), for CLIENT UNBLOCK. */
  private clientId(): Promise<string> {
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
  private async knownClientId(): Promise<string | undefined> {
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
  const key = [
    settings.url,
    JSON.stringify(settings.sentinel ?? null),
    JSON.stringify(settings.cluster ?? null),
    settings.name,
  ].join('\u0000');
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
