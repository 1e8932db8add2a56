/**
 * A loop around one blocking read (BLPOP, XREADGROUP BLOCK) on its own
 * connection, that stops promptly: stop() sends CLIENT UNBLOCK for the blocked
 * connection from the command connection, so the read returns at once (as on
 * a timeout: nothing is popped and lost), and the loop sees the abort. If
 * Redis cannot be told (command connection down), the blocking connection is
 * dropped after a short grace instead. The loop may also send ordinary
 * commands on the connection between reads (acknowledgements, claims).
 * On a Redis Cluster the reads of one reader are of keys of one slot (`key`
 * names one of them): its CLIENT ID is asked of, and CLIENT UNBLOCK sent to,
 * the node of that slot.
 */
import { backoffDelay, delay, errorText, type Logger } from '@lightbus/core/transport';
import { ConnectionClosedError, isReplyError, type Command, type RedisConnection, type Reply } from './connection';

/** Longest server-side block of one read; a stop never waits for it (CLIENT UNBLOCK). */
export const BLOCK_MS = 5000;

/** How long stop() tries CLIENT UNBLOCK before it drops the blocked socket instead. */
const UNBLOCK_GRACE_MS = 1500;

/**
 * Failures of a loop in a row: the first is a warning (what happened, what
 * happens next), the rest of the streak debug lines; each gives the backoff
 * before the next attempt.
 */
export class FailureStreak {
  private count = 0;

  constructor(
    private readonly logger: Logger,
    private readonly maxBackoffMs: number,
  ) {}

  /** Log `message` for this failure and wait the backoff (or until `signal` aborts). */
  async failed(message: string, error: unknown, signal: AbortSignal): Promise<void> {
    this.count += 1;
    const log = this.count === 1 ? this.logger.warn.bind(this.logger) : this.logger.debug.bind(this.logger);
    log(message, { error: errorText(error), attempt: this.count });
    await delay(backoffDelay(this.count - 1, { initialMs: 100, maxMs: this.maxBackoffMs }), signal);
  }

  succeeded(): void {
    this.count = 0;
  }
}

/** A loop of one blocking read (BLPOP, BLMOVE) and what to do with each reply. */
export interface BlockingLoop {
  /** The blocking read, built before each read. */
  readonly command: () => Command;
  /**
   * Commands written right behind the blocking read, in the same write, built before each read (after
   * `reserve`): Redis runs them the moment the read returns (a connection's commands run in order), so
   * their replies arrive with the read's and cost no round trip of their own.
   */
  readonly followUp?: () => readonly Command[];
  /** Logged when a read fails: what happened and what happens meanwhile. */
  readonly failure: string;
  readonly maxBackoffMs: number;
  /** A read failed: true when this loop dealt with it (e.g. changed its command), to read again at once. */
  readonly recover?: (error: unknown) => boolean;
  /** Before each read (e.g. wait for a free slot): returns what undoes it if the read brings nothing. */
  readonly reserve?: () => Promise<() => void>;
  /**
   * A reply that is not a timeout, or any reply when there are follow-ups (`followUps`: their replies
   * in order, an Error for one Redis refused). `release` is what `reserve` returned (or nothing):
   * onReply calls it when nothing came to use the reservation for.
   */
  readonly onReply: (
    reply: Reply,
    release: () => void,
    signal: AbortSignal,
    followUps: ReadonlyArray<Reply | Error>,
  ) => Promise<void> | void;
}

export class BlockingReader {
  private readonly abort = new AbortController();
  private loop: Promise<void> | undefined;
  /** A blocking read is on the wire. */
  private blocked = false;

  constructor(
    readonly connection: RedisConnection,
    private readonly commands: RedisConnection,
    private readonly logger: Logger,
    /** A key every read is about (on a cluster: where the reads block). */
    private readonly key: string,
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
      this.logger.error(
        'A Redis read loop stopped on an unexpected error (a bug): this consumer takes no more work until the bus is restarted. Please report it.',
        { error },
      );
    });
  }

  /**
   * Run `loop` until stopped: reserve, read, hand a reply over; a failed read
   * backs off (capped at `maxBackoffMs`) and tries again.
   */
  startLoop(loop: BlockingLoop): void {
    const failures = new FailureStreak(this.logger, loop.maxBackoffMs);
    const nothing = (): void => undefined;
    this.start(async (signal) => {
      while (!signal.aborted) {
        const release = loop.reserve ? await loop.reserve() : nothing;
        if (signal.aborted) {
          release();
          break;
        }
        let reply: Reply;
        let followUps: ReadonlyArray<Reply | Error>;
        try {
          [reply, followUps] = await this.readWith(loop.command(), loop.followUp?.() ?? []);
          failures.succeeded();
        } catch (error) {
          release();
          if (signal.aborted) break;
          if (loop.recover?.(error)) continue;
          await failures.failed(loop.failure, error, signal);
          continue;
        }
        if (followUps.length === 0 && (reply === null || (Array.isArray(reply) && reply.length < 2))) {
          release(); // timed out, or stopped
          continue;
        }
        await loop.onReply(reply, release, signal, followUps);
      }
    });
  }

  /**
   * Wait for the connection, then send the blocking command. Resolves null on
   * a timeout or when stopped; connection errors reject (the loop backs off).
   */
  async read(command: Command): Promise<Reply> {
    const [reply] = await this.readWith(command, []);
    return reply;
  }

  /**
   * As read(), with `followUp` written in the same write behind the blocking command: their replies (an
   * Error for a refused one) come with its reply. A failed blocking command rejects (its follow-ups still ran).
   */
  async readWith(command: Command, followUp: readonly Command[]): Promise<[Reply, Array<Reply | Error>]> {
    if (!(await this.connection.ready(undefined, this.signal))) return [null, []];
    await this.connection.blockedClient(this.key);
    if (this.stopping) return [null, []];
    this.blocked = true;
    try {
      const read = this.connection.send(command);
      const after = followUp.map((c) =>
        this.connection.send(c).catch((error: unknown) => (error instanceof Error ? error : new Error(String(error)))),
      );
      const reply = await read.finally(() => {
        this.blocked = false;
      });
      return [reply, await Promise.all(after)];
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
    const client = await this.connection.knownBlockedClient(this.key);
    if (client === undefined || !this.connection.isReady) return;
    try {
      await this.commands.ready(Date.now() + 500);
      await this.commands.sendToNode(client.node, ['CLIENT', 'UNBLOCK', client.id]);
    } catch (error) {
      if (isReplyError(error)) this.logger.debug('CLIENT UNBLOCK failed', { error: error.message });
    }
  }
}
