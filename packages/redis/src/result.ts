/**
 * Results on Redis. A worker answers with `LPUSH <return key> <result>` and
 * `EXPIRE <return key> <result_ttl>`, the key being whatever the call named
 * after `redis+key://` (Python callers name one key per call).
 *
 * A caller here names ONE list per process (per result transport), read by ONE
 * blocking reader that routes each result to its waiting call by
 * `rpc_message_id`: no connection per call, and Python workers (which honour
 * any return key) answer into it as well.
 */
import {
  ReplyMatcher,
  deadlineOf,
  errorText,
  foreignReturnPath,
  newMessageId,
  type OutgoingCall,
  type PendingResult,
  type ResultMessage,
  type ResultTransport,
  type RpcMessage,
  type TransportContext,
} from '@lightbus/core/transport';
import { BLOCK_MS, BlockingReader } from './blocking';
import { connectionName } from './connection';
import { RedisRole } from './common';
import type { RedisResultOptions } from './options';
import { TAKE_RESULTS } from './scripts';
import { decodeResult, encodeResult, keyOfReturnPath, returnPathFor } from './wire';

/** Reconnection backoff cap of the result reader (Python has no option for it). */
const RESULT_READER_MAX_BACKOFF_MS = 5000;

export class RedisResultTransport extends RedisRole implements ResultTransport {
  /** The list this process's results arrive in. */
  readonly resultKey: string;
  private readonly matcher: ReplyMatcher;
  private reader: BlockingReader | undefined;

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
    await this.withRetries(
      `Sending the result of ${call.apiName}.${call.procedureName}()`,
      deadlineOf(call, this.options.rpc_timeout),
      (connection) =>
        connection.pipeline([
          ['LPUSH', key, blob],
          ['EXPIRE', key, this.options.result_ttl],
        ]),
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
