/** What every role shares: its command connection, names, retries, errors. */
import {
  BrokerConnectionError,
  BusClosedError,
  LightbusError,
  RoleLifecycle,
  retry,
  type ConnectionHealth,
  type LightbusErrorOptions,
  type TransportContext,
} from '@lightbus/core/transport';
import {
  ConnectionClosedError,
  NotSentError,
  RedisConnection,
  acquireSharedConnection,
  connectionName,
  isProgrammingError,
  isReplyError,
  isTransientReply,
  type ConnectionSettings,
  type RedisTarget,
  type SharedConnection,
} from './connection';
import { keyLayoutOf, type ClusterOption, type KeyLayout, type SentinelOption } from './options';
import { keyNames, keySlot, type KeyNames } from './wire';

/** How long a worker or listener waits for Redis when it starts, before it fails with a clear error. */
export const STARTUP_WAIT_MS = 10_000;

/** Redis refused a command (WRONGTYPE, NOPERM, ...): not a connection problem, retrying will not help. */
export class RedisCommandError extends LightbusError {
  override readonly code = 'LIGHTBUS_REDIS_COMMAND_FAILED';
  constructor(message: string, options?: LightbusErrorOptions) {
    super(message, options);
  }
}

/**
 * An event reached the master, but fewer replicas than `wait_for_replicas` confirmed it in time:
 * whether it survives a failover is unknown. Not retried (sending again would add it twice).
 */
export class ReplicationError extends LightbusError {
  override readonly code = 'LIGHTBUS_REDIS_NOT_REPLICATED';
  constructor(message: string, options?: LightbusErrorOptions) {
    super(message, options);
  }
}

/** Turn an error from a command into what the user should see. */
export function commandFailure(error: unknown, what: string): Error {
  if (isReplyError(error)) return new RedisCommandError(`Redis refused ${what}: ${error.message}`, { cause: error });
  return error instanceof Error ? error : new Error(String(error));
}

/**
 * Base of the four roles: the process's command connection to this Redis
 * (shared by the roles, opened on first use), released with the transport.
 * close() stops the role's consumers (also those still starting), then
 * releases the command connection; it resolves once nothing is left open.
 */
export abstract class RedisRole extends RoleLifecycle {
  private commandConnection: SharedConnection | undefined;
  /** The url, and the sentinels when Redis Sentinel runs it, or the nodes of a Redis Cluster. */
  protected readonly target: RedisTarget;
  /** The names of the keys (option key_layout). */
  protected readonly keys: KeyNames;

  protected constructor(
    options: {
      readonly url: string;
      readonly sentinel?: SentinelOption;
      readonly cluster?: ClusterOption;
      readonly key_layout?: KeyLayout;
    },
    protected readonly context: TransportContext,
    protected readonly maxBackoffMs: number,
  ) {
    super(
      (what, cause) =>
        new BusClosedError(
          `${what}: the Redis transport was closed (the bus is closing or closed).`,
          cause === undefined ? undefined : { cause },
        ),
    );
    const { url, sentinel, cluster } = options;
    this.target = { url, ...(sentinel ? { sentinel } : {}), ...(cluster ? { cluster } : {}) };
    this.keys = keyNames(keyLayoutOf(options));
  }

  /**
   * `items` in groups whose keys (`keyOf`) can go in one command: on a Redis Cluster, one group per hash slot
   * (a multi-key command must not span two); otherwise all in one group.
   */
  protected slotGroups<T>(items: readonly T[], keyOf: (item: T) => string): T[][] {
    if (!this.target.cluster) return items.length === 0 ? [] : [[...items]];
    const groups = new Map<number, T[]>();
    for (const item of items) {
      const slot = keySlot(keyOf(item));
      const group = groups.get(slot);
      if (group) group.push(item);
      else groups.set(slot, [item]);
    }
    return [...groups.values()];
  }

  /** The command connection, once opened, and whether it is up (for `bus.health()`). */
  connections(): ConnectionHealth[] {
    if (!this.commandConnection || this.isClosed) return [];
    const connection = this.commandConnection.connection;
    return [
      {
        transport: 'redis',
        broker: connection.where,
        connected: connection.isReady,
        ...(connection.isReady ? {} : { detail: connection.status }),
      },
    ];
  }

  /** The connection for ordinary commands (written together; never blocked). */
  protected commands(): RedisConnection {
    if (!this.commandConnection) {
      this.assertOpen('Using Redis');
      this.commandConnection = acquireSharedConnection({
        ...this.target,
        name: connectionName('lightbus', this.context.serviceName, this.context.processName, 'commands'),
        logger: this.context.logger,
        maxBackoffMs: this.maxBackoffMs,
      });
    }
    return this.commandConnection.connection;
  }

  /**
   * At start-up (a worker, a listener): wait up to STARTUP_WAIT_MS for
   * `connection`, or until `signal` (the consumer stopping) ends the wait. Throws
   * BrokerConnectionError (naming the url, password hidden) when Redis cannot
   * be reached in time, BusClosedError when closed meanwhile.
   */
  protected async readyToStart(connection: RedisConnection, what: string, signal: AbortSignal): Promise<void> {
    let ready: boolean;
    try {
      ready = await connection.ready(Date.now() + STARTUP_WAIT_MS, signal, what);
    } catch (error) {
      if (error instanceof ConnectionClosedError) throw this.closedError(what);
      throw error;
    }
    if (!ready || this.isClosed || signal.aborted) throw this.closedError(what);
  }

  /** A new connection named `lightbus:<service>:<process>:<purpose>`. */
  protected connect(purpose: string, extra: Partial<ConnectionSettings> = {}): RedisConnection {
    return new RedisConnection({
      ...this.target,
      name: connectionName('lightbus', this.context.serviceName, this.context.processName, purpose),
      logger: this.context.logger,
      maxBackoffMs: this.maxBackoffMs,
      ...extra,
    });
  }

  /**
   * Run `attempt` on the command connection until it succeeds or `deadline`
   * (ms since the epoch) passes: waits for the connection, and after a
   * connection failure waits `retryDelayMs` and tries again. Redis's own
   * refusals are not retried. For commands that may run twice (an event is
   * at least once; a result or a schema stored twice is harmless).
   */
  protected withRetries<T>(
    what: string,
    deadline: number,
    attempt: (connection: RedisConnection) => Promise<T>,
    retryDelayMs = 100,
    failFast = false,
  ): Promise<T> {
    return this.retrying(what, deadline, attempt, retryDelayMs, () => true, failFast);
  }

  /**
   * As withRetries, for commands that must not run twice (a call): they are
   * sent again only when they certainly did not reach Redis (NotSentError).
   * Resolves 'sent', or 'unknown' when the connection failed after they were
   * written: Redis may or may not have executed them, and they are not sent
   * again (sending again could run them twice). Fails fast (see
   * RedisConnection.ready) while Redis has never been reached.
   */
  protected async sendAtMostOnce(
    what: string,
    deadline: number,
    attempt: (connection: RedisConnection) => Promise<unknown>,
    retryDelayMs: number,
  ): Promise<'sent' | 'unknown'> {
    try {
      // A replica's or a loading master's refusal (after a failover) also says the command did not run.
      await this.retrying(
        what,
        deadline,
        attempt,
        retryDelayMs,
        (error) => error instanceof NotSentError || isTransientReply(error),
        true,
      );
      return 'sent';
    } catch (error) {
      if (error instanceof LightbusError || error instanceof ConnectionClosedError || isProgrammingError(error))
        throw error;
      return 'unknown';
    }
  }

  private retrying<T>(
    what: string,
    deadline: number,
    attempt: (connection: RedisConnection) => Promise<T>,
    retryDelayMs: number,
    mayRetry: (error: unknown) => boolean,
    failFast: boolean,
  ): Promise<T> {
    const connection = this.commands();
    return retry(
      async () => {
        await connection.ready(deadline, undefined, what, failFast);
        try {
          return await attempt(connection);
        } catch (error) {
          // Redis's own refusal: not a connection problem, trying again will not help.
          throw isReplyError(error) || error instanceof LightbusError ? commandFailure(error, what) : error;
        }
      },
      {
        what,
        deadline: deadline - retryDelayMs,
        backoff: { initialMs: retryDelayMs, maxMs: retryDelayMs },
        // The connection's errors carry no `retriable`: a failure of the connection itself is worth another try.
        retriable: (error) =>
          !(error instanceof LightbusError) && !connection.isClosed && !isProgrammingError(error) && mayRetry(error),
        giveUp: (error) => connection.unreachable(what, error),
        logger: this.context.logger,
      },
    );
  }

  /** Stop the role's consumers (workers, listeners), those still starting included. */
  protected stopConsumers(): Promise<void> {
    return this.consumers.stopAll();
  }

  /** Stop the consumers, then release the command connection. Idempotent: every caller waits for the end. */
  override close(): Promise<void> {
    return super.close(async () => {
      await this.stopConsumers();
      await this.commandConnection?.release();
    });
  }
}

/** A connection error seen while starting (creating groups...): the error naming the url, or Redis's refusal. */
export function startFailure(error: unknown, what: string, connection: RedisConnection): Error {
  if (isReplyError(error) || error instanceof LightbusError || isProgrammingError(error))
    return commandFailure(error, what);
  return error instanceof BrokerConnectionError ? error : connection.unreachable(what, error);
}
