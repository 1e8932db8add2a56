/** What every role shares: its command connection, names, retries, errors. */
import { LightbusError, delay, type LightbusErrorOptions, type TransportContext } from '@lightbus/core';
import {
  ConnectionClosedError,
  NotSentError,
  RedisConnection,
  acquireSharedConnection,
  connectionName,
  isProgrammingError,
  isReplyError,
  type ConnectionSettings,
  type SharedConnection,
} from './connection';

/** How long a worker or listener waits for Redis when it starts, before it fails with a clear error. */
export const STARTUP_WAIT_MS = 10_000;

/** Redis refused a command (WRONGTYPE, NOPERM, ...): not a connection problem, retrying will not help. */
export class RedisCommandError extends LightbusError {
  override readonly code = 'LIGHTBUS_REDIS_COMMAND_FAILED';
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
 */
export abstract class RedisRole {
  private commandConnection: SharedConnection | undefined;
  protected closed = false;

  protected constructor(
    protected readonly url: string,
    protected readonly context: TransportContext,
    protected readonly maxBackoffMs: number,
  ) {}

  /** The connection for ordinary commands (written together; never blocked). */
  protected commands(): RedisConnection {
    this.commandConnection ??= acquireSharedConnection({
      url: this.url,
      name: connectionName('lightbus', this.context.serviceName, this.context.processName, 'commands'),
      logger: this.context.logger,
      maxBackoffMs: this.maxBackoffMs,
    });
    return this.commandConnection.connection;
  }

  /** A new connection named `lightbus:<service>:<process>:<purpose>`. */
  protected connect(purpose: string, extra: Partial<ConnectionSettings> = {}): RedisConnection {
    return new RedisConnection({
      url: this.url,
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
  ): Promise<T> {
    return this.retrying(what, deadline, attempt, retryDelayMs, () => true);
  }

  /**
   * As withRetries, for commands that must not run twice (a call): they are
   * sent again only when they certainly did not reach Redis (NotSentError).
   * Resolves 'sent', or 'unknown' when the connection failed after they were
   * written: Redis may or may not have executed them, and they are not sent
   * again (sending again could run them twice).
   */
  protected async sendAtMostOnce(
    what: string,
    deadline: number,
    attempt: (connection: RedisConnection) => Promise<unknown>,
    retryDelayMs: number,
  ): Promise<'sent' | 'unknown'> {
    try {
      await this.retrying(what, deadline, attempt, retryDelayMs, (error) => error instanceof NotSentError);
      return 'sent';
    } catch (error) {
      if (error instanceof LightbusError || error instanceof ConnectionClosedError || isProgrammingError(error)) throw error;
      return 'unknown';
    }
  }

  private async retrying<T>(
    what: string,
    deadline: number,
    attempt: (connection: RedisConnection) => Promise<T>,
    retryDelayMs: number,
    mayRetry: (error: unknown) => boolean,
  ): Promise<T> {
    const connection = this.commands();
    for (;;) {
      await connection.ready(deadline, undefined, what);
      try {
        return await attempt(connection);
      } catch (error) {
        if (isReplyError(error) || error instanceof LightbusError) throw commandFailure(error, what);
        if (connection.isClosed || isProgrammingError(error) || !mayRetry(error)) throw error;
        if (Date.now() + retryDelayMs >= deadline) {
          throw connection.unreachable(what, error);
        }
        this.context.logger.debug(`${what} failed; retrying`, { error: (error as Error).message });
        await delay(retryDelayMs);
      }
    }
  }

  /** Release the command connection. Subclasses stop their consumers first. */
  protected async closeCommands(): Promise<void> {
    this.closed = true;
    await this.commandConnection?.release();
  }
}
