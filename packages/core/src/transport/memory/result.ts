/** The memory transport's result role: a reply endpoint per bus in the in-process broker. */
import {
  decodeJson,
  encodeJson,
  newMessageId,
  type OutgoingCall,
  type ResultMessage,
  type RpcMessage,
} from '../../message';
import type { PendingResult, ResultTransport, TransportContext } from '../interfaces';
import { decoded, undecodable, type Decoded } from '../kit/codec';
import { ReplyMatcher, foreignReturnPath } from '../kit/reply';
import { memoryBroker, type MemoryBroker } from './broker';

const MEMORY_RETURN_PATH = 'memory://result/';

export class MemoryResultTransport implements ResultTransport {
  private readonly broker: MemoryBroker;
  private readonly matcher: ReplyMatcher;
  /** Results for this transport's callers come back along this path. */
  private readonly returnPath = `${MEMORY_RETURN_PATH}${newMessageId()}`;

  constructor(
    options: { name: string },
    private readonly context: TransportContext,
  ) {
    this.broker = memoryBroker(options.name);
    this.matcher = new ReplyMatcher({ name: 'memory result transport', logger: context.logger });
    this.broker.replyEndpoints.set(this.returnPath, this.matcher);
  }

  async expectResult(message: OutgoingCall): Promise<PendingResult> {
    return this.matcher.expect(message, this.returnPath);
  }

  async sendResult(call: RpcMessage, result: ResultMessage): Promise<void> {
    if (!call.returnPath.startsWith(MEMORY_RETURN_PATH))
      throw foreignReturnPath('memory', call, `${MEMORY_RETURN_PATH}<endpoint>`);
    const endpoint = this.broker.replyEndpoints.get(call.returnPath);
    if (!endpoint) {
      this.context.logger.debug('The calling bus was closed: no caller waits for this result any more; dropped', {
        rpcMessageId: call.id,
      });
      return;
    }
    // As JSON text, as over a broker.
    endpoint.settle(decodeResult(encodeJson(result)));
  }

  async close(): Promise<void> {
    this.matcher.close();
    this.broker.replyEndpoints.delete(this.returnPath);
  }
}

function decodeResult(payload: string): Decoded<ResultMessage> {
  const value = decodeJson(payload) as Partial<ResultMessage> | null;
  if (!value || typeof value.rpcMessageId !== 'string' || typeof value.error !== 'boolean')
    return undecodable('not a result message');
  return decoded(value as ResultMessage);
}
