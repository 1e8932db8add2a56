/**
 * The result role: replies go to the calling service's reply topic
 * (`<prefix>reply.<service>`), to the partition the calling process reads,
 * keyed by the process's token; the call id travels in
 * `lightbus-correlation-id`. Each process starts one long-lived reply reader
 * on its first call: it reads its partition directly (no consumer group, so
 * no group join to wait for) from the end as it was then, and routes every
 * reply to the call waiting for it.
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  ReplyMatcher,
  deadlineOf,
  errorText,
  isRetriable,
  retry,
  foreignReturnPath,
  type OutgoingCall,
  type PendingResult,
  type ResultMessage,
  type ResultTransport,
  type RpcMessage,
  type TransportContext,
  type ConnectionHealth,
} from '@lightbus/core/transport';
import type { PartitionReader } from './adapter/partition-reader';
import {
  correlationIdOf,
  decodeResult,
  encodeResult,
  formatReturnPath,
  parseReturnPath,
  type IncomingRecord,
} from './codec';
import { DeadlinePassedError } from './produce-queue';
import type { KafkaResultOptions } from './options';
import { RoleBase } from './role';
import { REQUEST_TOPIC_DEFAULTS } from './rpc';

interface ReplyReader {
  readonly topic: string;
  readonly partition: number;
  readonly reader: PartitionReader;
}

export class KafkaResultTransport implements ResultTransport {
  readonly base: RoleBase;
  /** This process's replies carry this key; it also picks the partition it reads. */
  readonly token: string;
  private reader: Promise<ReplyReader> | undefined;
  private readonly matcher: ReplyMatcher;

  constructor(
    readonly options: KafkaResultOptions,
    readonly context: TransportContext,
  ) {
    this.base = new RoleBase(options, context);
    this.token = `${context.processName}.${randomBytes(4).toString('hex')}`;
    this.matcher = new ReplyMatcher({ name: 'Kafka result transport', logger: context.logger });
  }

  async expectResult(message: OutgoingCall): Promise<PendingResult> {
    const reader = await this.base.unlessClosed('wait for a result', () =>
      this.base.client.failFast(
        this.startReader(),
        `starting the reader of replies for ${message.apiName}.${message.procedureName}`,
      ),
    );
    return this.matcher.expect(
      message,
      formatReturnPath({ topic: reader.topic, partition: reader.partition, token: this.token }),
    );
  }

  async sendResult(call: RpcMessage, result: ResultMessage): Promise<void> {
    const path = parseReturnPath(call.returnPath);
    if (!path) throw foreignReturnPath('kafka', call, 'kafka://<reply topic>/<partition>/<token>');
    const record = encodeResult(result, path.token, path.partition);
    const deadline = deadlineOf(call);
    // Retried until the caller's deadline; after it, the reply is dropped unsent: nobody waits for it.
    await retry(() => this.base.produce(path.topic, record, deadline), {
      what: `Sending the result of ${call.apiName}.${call.procedureName}() (call ${call.id})`,
      deadline,
      retriable: (error) => isRetriable(error) && !(error instanceof DeadlinePassedError) && !this.base.isClosed,
      logger: this.base.logger,
    }).catch((error: unknown) => {
      if (error instanceof DeadlinePassedError) {
        this.base.logger.debug('Result not sent: the caller stopped waiting', { rpcMessageId: call.id });
        return;
      }
      throw error;
    });
  }

  /** The reply reader: started once per process, on the first call. */
  private startReader(): Promise<ReplyReader> {
    this.reader ??= this.createReader().catch((error: unknown) => {
      this.reader = undefined;
      throw error;
    });
    return this.reader;
  }

  private async createReader(): Promise<ReplyReader> {
    const { base, options, context } = this;
    const topic = base.names.reply(context.serviceName);
    await base.ensureTopics([topic], REQUEST_TOPIC_DEFAULTS);
    const marks = await base.client.watermarks(topic);
    base.assertOpen('start the reply reader');
    const hash = createHash('sha256').update(this.token).digest().readUInt32BE(0);
    const { partition, high } = marks[hash % marks.length]!;
    // Replies to calls made from now on are at or after today's end of the partition.
    const reader = await base.startReader(
      {
        topic,
        start: new Map([[partition, high]]),
        maxWaitMs: options.max_wait_ms,
        maxBytesPerPartition: options.max_bytes_per_partition,
        resetTo: 'latest',
        description: `reply reader of ${topic}[${partition}]`,
        onRecords: (records) => this.route(records),
      },
      () => base.assertOpen('start the reply reader'),
    );
    return { topic, partition, reader };
  }

  private route(records: readonly IncomingRecord[]): void {
    for (const record of records) {
      const id = correlationIdOf(record);
      // Not ours: another process sharing the partition, or a call that gave up (decoding it would be wasted).
      if (id === undefined || !this.matcher.has(id)) continue;
      this.matcher.settle(decodeResult(record), id);
    }
  }

  /** The brokers, and whether they answer now (for `bus.health()`). */
  connections(): ConnectionHealth[] {
    return this.base.connections();
  }

  /** Stops the reply reader (also one still starting); calls still waiting fail with BusClosedError. */
  close(): Promise<void> {
    return this.base.close(async () => {
      const reader = await this.reader?.catch(() => undefined);
      if (reader) {
        await this.base.client.stopPartitionReader(reader.reader).catch((error: unknown) => {
          this.base.logger.debug('Stopping the reply reader failed', { error: errorText(error) });
        });
      }
      this.matcher.close();
    });
  }
}
