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
  BusClosedError,
  LightbusError,
  UndecodableResultError,
  deferred,
  errorText,
  newMessageId,
  type Deferred,
  type PendingResult,
  type ResultMessage,
  type ResultTransport,
  type RpcMessage,
  type TransportCallOptions,
  type TransportContext,
} from '@lightbus/core';
import { BLOCK_MS, BlockingReader } from './blocking';
import { connectionName } from './connection';
import { RedisRole } from './common';
import type { RedisResultOptions } from './options';
import { UndecodableMessage, decodeResult, encodeResult, keyOfReturnPath, returnPathFor } from './wire';

/** Reconnection backoff cap of the result reader (Python has no option for it). */
const RESULT_READER_MAX_BACKOFF_MS = 5000;

export class RedisResultTransport extends RedisRole implements ResultTransport {
  /** The list this process's results arrive in. */
  readonly resultKey: string;
  private readonly waiting = new Map<string, Deferred<ResultMessage>>();
  private reader: BlockingReader | undefined;

  constructor(
    private readonly options: RedisResultOptions,
    context: TransportContext,
  ) {
    super(options.url, context, RESULT_READER_MAX_BACKOFF_MS);
    this.resultKey = `lightbus:result:${connectionName(context.serviceName, context.processName)}:${newMessageId()}`;
  }

  async expectResult(message: RpcMessage, _options: TransportCallOptions): Promise<PendingResult> {
    if (this.closed) throw new BusClosedError('The Redis result transport is closed.');
    this.startReader();
    const box = deferred<ResultMessage>();
    box.promise.catch(() => undefined);
    this.waiting.set(message.id, box);
    return {
      returnPath: returnPathFor(this.resultKey),
      result: box.promise,
      cancel: () => {
        this.waiting.delete(message.id);
      },
    };
  }

  async sendResult(call: RpcMessage, result: ResultMessage): Promise<void> {
    const key = keyOfReturnPath(call.returnPath);
    if (key === undefined) {
      throw new LightbusError(
        `Cannot send the result of ${call.apiName}.${call.procedureName}() (call ${call.id}): its return path ` +
          `${JSON.stringify(call.returnPath)} is not a Redis one (redis+key://<key>). The caller uses another result ` +
          `transport; configure the same result_transport for API '${call.apiName}' on both sides.`,
      );
    }
    const blob = encodeResult(result);
    await this.withRetries(
      `Sending the result of ${call.apiName}.${call.procedureName}()`,
      Date.now() + this.options.rpc_timeout * 1000,
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
    );
    this.reader = reader;
    const logger = this.context.logger;
    reader.startLoop({
      command: ['BLPOP', this.resultKey, String(BLOCK_MS / 1000)],
      failure:
        `Reading call results from Redis at ${reader.connection.where} failed; retrying with backoff. Results wait in ` +
        `${this.resultKey} meanwhile; a call whose result is not read before its deadline fails with a timeout.`,
      maxBackoffMs: this.maxBackoffMs,
      onReply: async (reply, _release, signal) => {
        this.route(String(reply[1]));
        // More calls wait: take every result already there in one round trip (atomically), not one BLPOP each.
        if (this.waiting.size === 0 || signal.aborted) return;
        try {
          const [rest] = await reader.connection.transaction([
            ['LRANGE', this.resultKey, 0, -1],
            ['DEL', this.resultKey],
          ]);
          if (Array.isArray(rest)) for (const blob of rest) this.route(String(blob));
        } catch (error) {
          logger.debug('Reading more results failed', { key: this.resultKey, error: errorText(error) });
        }
      },
    });
  }

  /** Hand a result to the call waiting for it. */
  private route(blob: string): void {
    let result: ResultMessage;
    try {
      result = decodeResult(blob);
    } catch (error) {
      const reason = error instanceof UndecodableMessage ? error.reason : errorText(error);
      const callId = error instanceof UndecodableMessage ? error.messageId : undefined;
      const box = callId === undefined ? undefined : this.waiting.get(callId);
      this.context.logger.error(`A result cannot be decoded: ${reason}`, { rpcMessageId: callId, key: this.resultKey });
      if (box && callId !== undefined) {
        this.waiting.delete(callId);
        box.reject(new UndecodableResultError(`The result of call ${callId} cannot be decoded: ${reason}.`));
      }
      return;
    }
    const box = this.waiting.get(result.rpcMessageId);
    if (!box) {
      this.context.logger.debug('A result arrived for a call nobody waits for any more (timed out or cancelled); dropped', {
        rpcMessageId: result.rpcMessageId,
      });
      return;
    }
    this.waiting.delete(result.rpcMessageId);
    box.resolve(result);
  }

  protected override async stopConsumers(): Promise<void> {
    await super.stopConsumers();
    await this.reader?.stop();
    for (const [id, box] of this.waiting) {
      box.reject(new BusClosedError(`The bus was closed while call ${id} waited for its result.`));
    }
    this.waiting.clear();
  }
}
