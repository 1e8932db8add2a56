/** The memory transport's rpc role: one queue of calls per API in the in-process broker. */
import { decodeJson, encodeJson, type OutgoingRpcMessage, type RpcMessage } from '../../message';
import { InFlight, Semaphore } from '../../util/async';
import type { Consumer, RpcHandler, RpcTransport, TransportContext } from '../interfaces';
import { isPast } from '../kit/deadline';
import { memoryBroker, type MemoryBroker } from './broker';

export class MemoryRpcTransport implements RpcTransport {
  private readonly broker: MemoryBroker;
  constructor(
    private readonly options: { name: string; concurrency: number },
    private readonly context: TransportContext,
  ) {
    this.broker = memoryBroker(options.name);
  }

  async callRpc(message: OutgoingRpcMessage): Promise<void> {
    this.broker.rpcQueue(message.apiName).push(encodeJson(message));
    this.broker.rpcArrived.notify();
  }

  async consumeRpcs(apiNames: readonly string[], handler: RpcHandler): Promise<Consumer> {
    const abort = new AbortController();
    const inFlight = new InFlight();
    const slots = new Semaphore(this.options.concurrency);
    const queues = apiNames.map((name) => this.broker.rpcQueue(name));
    const take = (): string | undefined => {
      for (const queue of queues) if (queue.length > 0) return queue.shift();
      return undefined;
    };
    const loop = async (): Promise<void> => {
      while (!abort.signal.aborted) {
        await slots.acquire();
        const payload = abort.signal.aborted ? undefined : take();
        if (payload === undefined) {
          slots.release();
          if (!abort.signal.aborted) await this.broker.rpcArrived.wait(abort.signal);
          continue;
        }
        const message = decodeJson(payload) as RpcMessage;
        if (isPast(message.deadline)) {
          this.context.logger.debug('Dropping expired call', { id: message.id, api: message.apiName });
          slots.release();
          continue;
        }
        void inFlight.track(
          handler(message)
            .catch((error: unknown) => this.context.logger.error('RPC handler failed', { id: message.id, error }))
            .finally(() => slots.release()),
        );
      }
    };
    const running = loop();
    return {
      stop: async () => {
        abort.abort();
        await running;
        await inFlight.drain();
      },
    };
  }

  async close(): Promise<void> {}
}
