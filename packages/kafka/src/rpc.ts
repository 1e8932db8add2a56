/**
 * The RPC role: a call is a record on its API's request topic
 * (`<prefix>rpc.<api>`), read by one consumer group shared by every worker of
 * that API. At most once: a worker commits a call's offset before it starts
 * executing it, and skips (unread) calls whose deadline header has passed,
 * when it reads them and again when a concurrency slot frees up for them.
 */
import {
  InFlight,
  Semaphore,
  errorText,
  type ConsumeRpcsOptions,
  type Consumer,
  type RpcHandler,
  type OutgoingRpcMessage,
  type RpcMessage,
  type RpcTransport,
  type TransportContext,
  type ConnectionHealth,
} from '@lightbus/core/transport';
import type { ConsumedBatch, GroupConsumer } from './adapter/client';
import { decodeRequest, encodeRequest, requestDeadline, type IncomingRecord } from './codec';
import type { KafkaRpcOptions } from './options';
import { RoleBase, stoppedWhileStarting } from './role';

/** Calls are useless after their deadline: topics this role creates keep them an hour unless topic_config says otherwise. */
export const REQUEST_TOPIC_DEFAULTS: Readonly<Record<string, string>> = { 'retention.ms': '3600000' };

export class KafkaRpcTransport implements RpcTransport {
  readonly base: RoleBase;

  constructor(
    readonly options: KafkaRpcOptions,
    context: TransportContext,
  ) {
    this.base = new RoleBase(options, context);
  }

  async callRpc(message: OutgoingRpcMessage): Promise<void> {
    const topic = this.base.names.request(message.apiName);
    const send = async (): Promise<void> => {
      await this.base.ensureTopics([topic], REQUEST_TOPIC_DEFAULTS);
      await this.base.produce(topic, encodeRequest(message), message.deadline);
    };
    await this.base.beforeDeadline(
      send(),
      message.deadline,
      `calling ${message.apiName}.${message.procedureName} on ${topic}`,
    );
  }

  consumeRpcs(apiNames: readonly string[], handler: RpcHandler, options?: ConsumeRpcsOptions): Promise<Consumer> {
    return this.base.startConsumer(new RpcConsumer(this, apiNames, handler), 'serve calls', options?.signal);
  }

  /** The brokers, and whether they answer now (for `bus.health()`). */
  connections(): ConnectionHealth[] {
    return this.base.connections();
  }

  /** Stops the workers' consumers (those still starting too), then closes the connections. */
  close(): Promise<void> {
    return this.base.close();
  }
}

/** A worker's consumers: one group per API (a group is shared by that API's workers only). */
class RpcConsumer {
  private readonly groups: GroupConsumer[] = [];
  private readonly slots: Semaphore;
  private readonly inFlight = new InFlight();
  private stopping = false;
  private starting: Promise<void> | undefined;
  private stopPromise: Promise<void> | undefined;

  constructor(
    private readonly transport: KafkaRpcTransport,
    private readonly apiNames: readonly string[],
    private readonly handler: RpcHandler,
  ) {
    this.slots = new Semaphore(transport.options.concurrency);
  }

  start(): Promise<void> {
    this.starting ??= this.connect();
    return this.starting;
  }

  /** Gives up (rejecting) at the first step after stop() was called: no group is created or left running. */
  private async connect(): Promise<void> {
    const { base, options } = this.transport;
    const topics = this.apiNames.map((api) => base.names.request(api));
    await base.ensureTopics(topics, REQUEST_TOPIC_DEFAULTS);
    if (this.stopping) throw stoppedWhileStarting(`the workers of ${this.apiNames.join(', ')}`);
    for (const apiName of this.apiNames) {
      const topic = base.names.request(apiName);
      const groupId = base.names.workerGroup(apiName);
      const group = base.client.createGroupConsumer({
        groupId,
        topics: [topic],
        // A new API's first workers also serve calls sent just before they started (expired ones are skipped).
        fromBeginning: true,
        autoCommit: true,
        timing: options,
        partitionsConsumedConcurrently: 1,
        description: `workers of ${apiName} (group ${groupId})`,
        handle: (batch) => this.handleBatch(batch, groupId),
      });
      this.groups.push(group);
    }
    await Promise.all(this.groups.map((g) => g.start()));
    if (this.stopping) throw stoppedWhileStarting(`the workers of ${this.apiNames.join(', ')}`);
  }

  private async handleBatch(batch: ConsumedBatch, groupId: string): Promise<void> {
    const { base } = this.transport;
    const ready: RpcMessage[] = [];
    const launch = async (): Promise<void> => {
      if (ready.length === 0) return;
      const calls = ready.splice(0);
      try {
        await batch.commit(); // at most once: committed before executed
      } catch (error) {
        calls.forEach(() => this.slots.release());
        throw error;
      }
      for (const call of calls) {
        void this.inFlight.track(
          this.handler(call)
            .catch((error: unknown) =>
              base.logger.error('RPC handler failed', { id: call.id, api: call.apiName, error: errorText(error) }),
            )
            .finally(() => this.slots.release()),
        );
      }
    };
    const expired = (record: IncomingRecord, deadline: number | undefined, when: string): boolean => {
      if (deadline === undefined || Date.now() <= deadline) return false;
      base.logger.debug(`Skipping a call whose deadline passed ${when}`, {
        at: `${record.topic}:${record.partition}:${record.offset}`,
        late: `${Date.now() - deadline} ms`,
      });
      batch.resolve(record.offset);
      return true;
    };
    for (const record of batch.records) {
      if (this.stopping || !batch.isActive()) break;
      const deadline = requestDeadline(record);
      if (expired(record, deadline, 'before a worker read it')) continue;
      const decoded = decodeRequest(record);
      if (!decoded.ok) {
        try {
          await base.setAside(
            base.names.deadLetter(),
            record,
            `cannot be decoded: ${decoded.reason}`,
            groupId,
            decoded.id,
            'Call',
          );
        } catch (error) {
          base.logger.warn('Could not dead-letter an undecodable call; dropped it', {
            id: decoded.id ?? '(unknown)',
            error: errorText(error),
          });
        }
        batch.resolve(record.offset);
        continue;
      }
      if (this.slots.available === 0) await launch();
      await this.slots.acquire();
      if (this.stopping || !batch.isActive()) {
        this.slots.release();
        break;
      }
      // The wait for a slot may outlast the call's deadline: the caller has given up, so do not run it late.
      if (expired(record, deadline, 'while it waited for a free worker slot (concurrency)')) {
        this.slots.release();
        continue;
      }
      batch.resolve(record.offset);
      ready.push(decoded.value);
    }
    await launch();
  }

  stop(): Promise<void> {
    this.stopPromise ??= (async () => {
      this.stopping = true;
      // A start in progress gives up at its next step; the groups it may have created are stopped below.
      await this.starting?.catch(() => undefined);
      await Promise.all(this.groups.map((g) => g.stop()));
      await this.inFlight.drain();
    })();
    return this.stopPromise;
  }
}
