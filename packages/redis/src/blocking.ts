/**
 * A loop around one blocking read (BLPOP, XREADGROUP BLOCK) on its own
 * connection, that stops promptly: stop() sends CLIENT UNBLOCK for the blocked
 * connection from the command connection, so the read returns at once (as on
 * a timeout: nothing is popped and lost), and the loop sees the abort. If
 * Redis cannot be told (command connection down), the blocking connection is
 * dropped after a short grace instead. The loop may also send ordinary
 * commands on the connection between reads (acknowledgements, claims).
 */
import { delay, type Logger } from '@lightbus/core';
import { ConnectionClosedError, isReplyError, type Command, type RedisConnection, type Reply } from './connection';

/** Longest server-side block of one read; a stop never waits for it (CLIENT UNBLOCK). */
export const BLOCK_MS = 5000;

/** How long stop() tries CLIENT UNBLOCK before it drops the blocked socket instead. */
const UNBLOCK_GRACE_MS = 1500;

export class BlockingReader {
  private readonly abort = new AbortController();
  private loop: Promise<void> | undefined;
  /** A blocking read is on the wire. */
  private blocked = false;

  constructor(
    readonly connection: RedisConnection,
    private readonly commands: RedisConnection,
    private readonly logger: Logger,
  ) {}

  get signal(): AbortSignal {
    return this.abort.signal;
  }

  get stopping(): boolean {
    return this.abort.signal.aborted;
  }

  /** Run `body` until it returns (it loops until `signal` aborts). Not after stop(). */
  start(body: (signal: AbortSignal) => Promise<void>): void {
    if (this.stopping || this.loop) return;
    this.loop = body(this.abort.signal).catch((error: unknown) => {
      if (error instanceof ConnectionClosedError && this.stopping) return;
      this.logger.error('A Redis read loop stopped on an unexpected error', { error });
    });
  }

  /**
   * Wait for the connection, then send the blocking command. Resolves null on
   * a timeout or when stopped; connection errors reject (the loop backs off).
   */
  async read(command: Command): Promise<Reply> {
    if (!(await this.connection.ready(undefined, this.signal))) return null;
    await this.connection.clientId();
    if (this.stopping) return null;
    this.blocked = true;
    try {
      return await this.connection.send(command);
    } finally {
      this.blocked = false;
    }
  }

  /** Stop the loop promptly (handlers in progress finish), wait for it, close the connection. */
  async stop(): Promise<void> {
    this.abort.abort();
    const loop = this.loop ?? Promise.resolve();
    let finished = false;
    const done = new AbortController();
    void loop.finally(() => {
      finished = true;
      done.abort();
    });
    let blockedSince: number | undefined;
    while (!finished) {
      if (this.blocked) {
        blockedSince ??= Date.now();
        await this.unblock();
        if (!finished && this.blocked && Date.now() - blockedSince > UNBLOCK_GRACE_MS) {
          // Redis cannot be told to unblock us: drop the socket (the read fails, the loop ends).
          await this.connection.close();
        }
      }
      await delay(this.blocked ? 50 : 20, done.signal);
    }
    await this.connection.close();
  }

  private async unblock(): Promise<void> {
    const id = await this.connection.knownClientId();
    if (id === undefined || !this.connection.isReady) return;
    try {
      await this.commands.ready(Date.now() + 500);
      await this.commands.send(['CLIENT', 'UNBLOCK', id]);
    } catch (error) {
      if (isReplyError(error)) this.logger.debug('CLIENT UNBLOCK failed', { error: error.message });
    }
  }
}
