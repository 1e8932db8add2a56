/**
 * Results on Redis. A worker answers with `LPUSH <return key> <result> ...` (the
 * results for one list finished in one task together) and `EXPIRE <return key>
 * <result_ttl>`, the key being whatever the call named after `redis+key://`
 * (Python callers name one key per call).
 *
 * A caller here names ONE list per process (per result transport), read by ONE
 * blocking reader that routes each result to its waiting call by
 * `rpc_message_id`: no connection per call, and Python workers (which honour
 * any return key) answer into it as well.
 */
import {
  ReplyMatcher,
  deadlineOf,
  deferred,
  errorText,
  foreignReturnPath,
  newMessageId,
  type OutgoingCall,
  type PendingResult,
  type ResultMessage,
  type ResultTransport,
  type RpcMessage,
  type Deferred,
  type TransportContext,
} from '@lightbus/core/transport';
import { BLOCK_MS, BlockingReader } from './blocking';
import { connectionName } from './connection';
import { RedisRole } from './common';
import type { RedisResultOptions } from './options';
import { TAKE_RESULTS } from './scripts';
import { decodeResult, encodeResult, keyOfReturnPath, returnPathFor } from './wire';

interface OutgoingResults {
  readonly blobs: string[];
  deadline: number;
  readonly done: Deferred<void>;
}

/** Reconnection backoff cap of the result reader (Python has no option for it). */
const RESULT_READER_MAX_BACKOFF_MS = 5000;

export class RedisResultTransport extends RedisRole implements ResultTransport {
  /** The list this process's results arrive in. */
  readonly resultKey: string;
  private readonly matcher: ReplyMatcher;
  private reader: BlockingReader | undefined;
  /** Results waiting for the end of the current task, by the list they go to. */
  private readonly outgoing = new Map<string, OutgoingResults>();

  constructor(
    private readonly options: RedisResultOptions,
    context: TransportContext,
  ) {
    super(options, context, RESULT_READER_MAX_BACKOFF_MS);
    this.resultKey = `lightbus:result:${connectionName(context.serviceName, context.processName)}:${newMessageId()}`;
    this.matcher = new ReplyMatcher({ name: 'Redis result transport', logger: context.logger });
  }

  async expectResult(message: OutgoingCall): Promise<PendingResult> {
    this.assertOpen(`Waiting for the result of call ${message.id}`);
    const pending = this.matcher.expect(message, returnPathFor(this.resultKey));
    this.startReader();
    return pending;
  }

  async sendResult(call: RpcMessage, result: ResultMessage): Promise<void> {
    const key = keyOfReturnPath(call.returnPath);
    if (key === undefined) throw foreignReturnPath('redis', call, 'redis+key://<key>');
    const blob = encodeResult(result);
    // Until the call's deadline (a Python caller sends none: rpc_timeout from now); after it nobody waits.
    const deadline = deadlineOf(call, this.options.rpc_timeout);
    let batch = this.outgoing.get(key);
    if (!batch) {
      const created: OutgoingResults = { blobs: [], deadline, done: deferred<void>() };
      created.done.promise.catch(() => undefined);
      this.outgoing.set(key, created);
      // The results for this list finished in this task go out together.
      process.nextTick(() => this.flush(key, created));
      batch = created;
    }
    batch.blobs.push(blob);
    batch.deadline = Math.max(batch.deadline, deadline);
    await batch.done.promise;
  }

  /**
   * One `LPUSH <key> <result> ...` and one `EXPIRE` for the results sent to one list in one task (calls of
   * one caller answered together), instead of a pair per result. Retried as a whole: a result stored twice
   * is ignored by its caller.
   */
  private flush(key: string, batch: OutgoingResults): void {
    if (this.outgoing.get(key) === batch) this.outgoing.delete(key);
    const what = batch.blobs.length === 1 ? 'Sending a result' : `Sending ${batch.blobs.length} results`;
    this.withRetries(`${what} to ${key}`, batch.deadline, (connection) =>
      connection.pipeline([
        ['LPUSH', key, ...batch.blobs],
        ['EXPIRE', key, this.options.result_ttl],
      ]),
    ).then(
      () => batch.done.resolve(),
      (error: unknown) => batch.done.reject(error),
    );
  }

  private startReader(): void {
    if (this.reader) return;
    const reader = new BlockingReader(
      this.connect('result-reader', { blockMs: BLOCK_MS }),
      this.commands(),
      this.context.logger,
      this.resultKey,
    );
    this.reader = reader;
    const logger = this.context.logger;
    const keys = [this.resultKey];
    reader.startLoop({
      command: () => ['BLPOP', this.resultKey, String(BLOCK_MS / 1000)],
      // Several calls wait: behind the BLPOP, take every result already there (TAKE_RESULTS), in the same
      // write, so the results that came together cost one round trip, not a BLPOP each.
      followUp: () => (this.matcher.size > 1 ? [TAKE_RESULTS.command(keys, [])] : []),
      failure:
        `Reading call results from Redis at ${reader.connection.where} failed; retrying with backoff. Results wait in ` +
        `${this.resultKey} meanwhile; a call whose result is not read before its deadline fails with a timeout.`,
      maxBackoffMs: this.maxBackoffMs,
      onReply: async (reply, _release, _signal, followUps) => {
        if (Array.isArray(reply) && reply.length >= 2) this.matcher.settle(decodeResult(String(reply[1])));
        if (followUps.length === 0) return;
        try {
          const rest = await TAKE_RESULTS.reply(followUps[0] ?? null, reader.connection, keys, []);
          if (Array.isArray(rest)) for (const blob of rest) this.matcher.settle(decodeResult(String(blob)));
        } catch (error) {
          logger.debug('Reading more results failed', { key: this.resultKey, error: errorText(error) });
        }
      },
    });
  }

  protected override async stopConsumers(): Promise<void> {
    await super.stopConsumers();
    await this.reader?.stop();
    this.matcher.close();
  }
}
