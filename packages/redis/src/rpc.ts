/**
 * RPC on Redis, as Python Lightbus does it.
 * Caller: `SET rpc_expiry_key:<id> 1 PX <ms left>` then `RPUSH <api>:rpc_queue
 * <call>`, in one write. Worker: takes calls on its own connection (see
 * serveQueues), `DEL rpc_expiry_key:<id>` for each (0: the caller gave up, the
 * call is dropped unexecuted), then the handler; several calls run at once
 * (`concurrency`). At most once: a call is popped by one worker only.
 * With key_layout: cluster the keys carry the API in a hash tag (`{<api>}:rpc_queue`,
 * `{<api>}:rpc_expiry_key:<id>`), so a call's two keys share a slot, and on a
 * Redis Cluster a worker serving several APIs blocks once per slot.
 */
import {
  InFlight,
  Semaphore,
  deadlineOf,
  errorText,
  msUntil,
  newMessageId,
  type ConsumeRpcsOptions,
  type Consumer,
  type RpcHandler,
  type OutgoingRpcMessage,
  type RpcMessage,
  type RpcTransport,
  type TransportContext,
} from '@lightbus/core/transport';
import { BLOCK_MS, BlockingReader } from './blocking';
import { isReplyError, type RedisConnection } from './connection';
import { RedisRole, commandFailure } from './common';
import type { RedisRpcOptions } from './options';
import { CLAIM_CALLS, parseClaimed, type ClaimedCall } from './scripts';
import { wireId } from './trace-id';
import { decodeRpcCall, deadLetterKey, encodeRpcCall } from './wire';

/** Entries kept in an RPC queue's dead-letter stream. */
const RPC_DEAD_LETTERS_MAX = 10_000;

export class RedisRpcTransport extends RedisRole implements RpcTransport {
  constructor(
    private readonly options: RedisRpcOptions,
    context: TransportContext,
  ) {
    super(options, context, options.consumption_restart_delay * 1000);
  }

  async callRpc(message: OutgoingRpcMessage): Promise<void> {
    const blob = encodeRpcCall(message); // an EncodingError reaches the caller before anything is sent
    const { deadline } = message;
    const what = `Calling ${message.apiName}.${message.procedureName}()`;
    // Give up a moment before the caller's own timeout, so the caller hears why.
    const outcome = await this.sendAtMostOnce(
      what,
      deadline - 50,
      async (connection) => {
        const ms = Math.max(1, Math.ceil(msUntil(deadline)));
        await connection.pipeline([
          ['SET', this.keys.rpcExpiry(message.apiName, wireId(message.id, message.traceContext)), '1', 'PX', ms],
          ['RPUSH', this.keys.rpcQueue(message.apiName), blob],
        ]);
      },
      this.options.rpc_retry_delay * 1000,
    );
    if (outcome === 'unknown') {
      // Sending it again could run it twice (a worker may already have taken the first copy).
      this.context.logger.warn(
        `${what}: the connection to Redis at ${this.commands().where} dropped while the call was being sent, so it may or ` +
          `may not have reached Redis. It is not sent again (a call runs at most once); its result is awaited until its ` +
          `deadline. If it never comes, the call fails with a timeout: check the Redis connection, and retry the call ` +
          `yourself only if running it twice is harmless.`,
        { id: message.id },
      );
    }
  }

  async consumeRpcs(apiNames: readonly string[], handler: RpcHandler, options?: ConsumeRpcsOptions): Promise<Consumer> {
    const what = `Serving ${apiNames.join(', ')}`;
    this.assertOpen(what);
    const commands = this.commands();
    // One BLPOP over every queue; on a cluster one per slot. Each waiting BLPOP holds a slot: with several,
    // one slot more per extra BLPOP, so none of them waits for another's timeout to get one.
    const groups = this.slotGroups(apiNames, this.keys.rpcQueue);
    const slots = new Semaphore(this.options.concurrency + Math.max(0, groups.length - 1));
    const inFlight = new InFlight();
    const logger = this.context.logger;
    let readers: BlockingReader[] = [];
    // Aborted by stop(): by close(), or by the bus closing while this still waits for Redis.
    const stopped = new AbortController();

    // In the set from the start, so close() stops it while it still waits for Redis.
    return this.consumers.start(
      {
        start: async () => {
          await this.readyToStart(commands, what, stopped.signal);
          readers = groups.map((group) => this.serveQueues(group, handler, commands, slots, inFlight, logger));
        },
        stop: async () => {
          stopped.abort();
          await Promise.all(readers.map((reader) => reader.stop()));
          await inFlight.drain();
        },
      },
      options?.signal,
    );
  }

  /**
   * The read loop of a worker: take calls while slots are free, run each, several at once.
   *
   * One queue on Redis 6.2 or later: `BLMOVE <queue> <private list> LEFT LEFT` and, in the same write, the
   * CLAIM_CALLS script, which Redis runs the moment the BLMOVE returns: it pops the call from the private
   * list, takes as many more as there are free slots from the queue, and DELs each call's expiry key. The
   * worker learns in one round trip which calls are its to run. Several queues (or an older Redis):
   * `BLPOP` over them, then `DEL` of the expiry key (sent with the next read) before running it.
   */
  private serveQueues(
    apiNames: readonly string[],
    handler: RpcHandler,
    commands: RedisConnection,
    slots: Semaphore,
    inFlight: InFlight,
    logger: TransportContext['logger'],
  ): BlockingReader {
    const queues = apiNames.map((name) => this.keys.rpcQueue(name));
    const reader = new BlockingReader(
      this.connect('rpc-consumer', { blockMs: BLOCK_MS }),
      commands,
      logger,
      queues[0] ?? '',
    );
    const timeout = String(BLOCK_MS / 1000);
    const single = queues.length === 1 ? queues[0] : undefined;
    // BLMOVE is Redis 6.2's: on an older Redis the first read says so, and the loop falls back to BLPOP.
    // The claim script names expiry keys as Python does: with key_layout: cluster, BLPOP + DEL of the tagged key.
    let moving = single !== undefined && this.keys.layout === 'python';
    // Empty but for a moment after each read; a call left there (the script failed) is claimed by the next.
    const taking = `${single ?? ''}:taking:${newMessageId()}`;
    const claimArgs = (): [string[], number[]] => [[taking, single ?? ''], [slots.available]];
    const dispatch = (queue: string, blob: string, claimed: ClaimedCall | undefined, done: () => void): void => {
      void inFlight.track(this.take(queue, blob, handler, reader.connection, claimed).finally(done));
    };
    reader.startLoop({
      command: () =>
        moving ? ['BLMOVE', single ?? '', taking, 'LEFT', 'LEFT', timeout] : ['BLPOP', ...queues, timeout],
      followUp: () => (moving ? [CLAIM_CALLS.command(...claimArgs())] : []),
      recover: (error) => {
        if (!moving || !isReplyError(error) || !/unknown command/i.test(error.message)) return false;
        moving = false;
        logger.info(`Redis at ${commands.where} has no BLMOVE (before 6.2): taking calls with BLPOP, then DEL`);
        return true;
      },
      failure:
        `Taking calls for ${apiNames.join(', ')} from Redis at ${commands.where} failed; retrying with backoff (at most ` +
        `consumption_restart_delay apart). Calls wait in the queue meanwhile; those whose deadline passes are dropped unexecuted.`,
      maxBackoffMs: this.maxBackoffMs,
      reserve: async () => {
        await slots.acquire();
        return () => slots.release();
      },
      onReply: async (reply, release, signal, followUps) => {
        if (moving && single !== undefined) {
          const [keys, args] = claimArgs();
          let calls: ClaimedCall[] = [];
          try {
            calls = parseClaimed(await CLAIM_CALLS.reply(followUps[0] ?? null, reader.connection, keys, args));
          } catch (error) {
            logger.warn(`Claiming the calls taken from ${single} failed; they are claimed after the next read`, {
              error: errorText(error),
            });
          }
          for (const [i, call] of calls.entries()) {
            if (i > 0) await slots.acquire(); // free: the script took no more than there were
            dispatch(single, call.blob, call, i === 0 ? release : () => slots.release());
          }
          if (calls.length === 0) release();
          return;
        }
        if (!Array.isArray(reply)) return release();
        const queue = String(reply[0]);
        dispatch(queue, String(reply[1]), undefined, release);
        // Calls waiting behind it in the same queue: take as many as there are free slots, atomically,
        // in one round trip (a busy worker does not pay a BLPOP round trip per call).
        const free = slots.available;
        if (free === 0 || signal.aborted) return;
        let more: string[] = [];
        try {
          const [range] = await reader.connection.transaction([
            ['LRANGE', queue, 0, free - 1],
            ['LTRIM', queue, free, -1],
          ]);
          more = Array.isArray(range) ? range.map(String) : [];
        } catch (error) {
          // Nothing was taken (a transaction happens whole or not at all), or its reply was lost with the connection.
          logger.debug(`Taking more calls from ${queue} failed`, { error: errorText(error) });
        }
        for (const blob of more) {
          await slots.acquire(); // free: returns at once
          dispatch(queue, blob, undefined, () => slots.release());
        }
      },
    });

    return reader;
  }

  /**
   * One taken call: decode it; unless the claim script already DELeted its expiry key, DEL it at once on
   * the reading connection (so the DEL leaves in the same write as the next read); then run it unless the
   * key was gone.
   */
  private take(
    queue: string,
    blob: string,
    handler: RpcHandler,
    connection: RedisConnection,
    claimed: ClaimedCall | undefined,
  ): Promise<void> {
    const decoded = decodeRpcCall(blob);
    if (!decoded.ok) return this.setAside(queue, blob, decoded.reason, decoded.id);
    const message = decoded.value;
    if (claimed?.deleted !== undefined && claimed.id === message.id) {
      return this.run(message, Promise.resolve(claimed.deleted), handler);
    }
    const expiryKey = this.keys.rpcExpiry(message.apiName, message.id);
    const deletion = connection
      .send(['DEL', expiryKey])
      .catch(() =>
        this.withRetries(
          `Checking the expiry of call ${message.id}`,
          deadlineOf(message, this.options.rpc_timeout),
          (c) => c.send(['DEL', expiryKey]),
        ),
      );
    return this.run(message, deletion, handler);
  }

  private async run(message: RpcMessage, deletion: Promise<unknown>, handler: RpcHandler): Promise<void> {
    let deleted;
    try {
      deleted = await deletion;
    } catch (error) {
      this.context.logger.error(
        `Dropped call ${message.apiName}.${message.procedureName}() unexecuted: Redis could not be reached to check its expiry key (DEL), ` +
          `and running it unchecked could run it after its caller gave up. Its caller times out.`,
        {
          id: message.id,
          error: errorText(error),
        },
      );
      return;
    }
    if (deleted === 0) {
      this.context.logger.debug(
        `Dropped call ${message.apiName}.${message.procedureName}(): its caller's deadline passed`,
        {
          id: message.id,
        },
      );
      return;
    }
    try {
      await handler(message);
    } catch (error) {
      this.context.logger.error(
        `Serving ${message.apiName}.${message.procedureName}() failed outside the procedure; its caller times out`,
        { id: message.id, error },
      );
    }
  }

  /** A call that cannot be read: log it and keep it in `<queue>:dead_letters` with the reason. */
  private async setAside(queue: string, blob: string, reason: string, id: string | undefined): Promise<void> {
    const target = deadLetterKey(queue);
    this.context.logger.error(`Call set aside (cannot be decoded): ${reason}`, { queue, id, deadLetters: target });
    try {
      await this.withRetries(`Setting aside a call from ${queue}`, Date.now() + 5000, (c: RedisConnection) =>
        c.send([
          'XADD',
          target,
          'MAXLEN',
          '~',
          RPC_DEAD_LETTERS_MAX,
          '*',
          'reason',
          reason,
          'queue',
          queue,
          'payload',
          blob,
        ]),
      );
    } catch (error) {
      this.context.logger.error(
        'Could not write the undecodable call to its dead-letter stream; the call is dropped (it is in this log line only)',
        {
          queue,
          id,
          payload: blob,
          error: isReplyError(error) ? commandFailure(error, 'XADD').message : errorText(error),
        },
      );
    }
  }
}
