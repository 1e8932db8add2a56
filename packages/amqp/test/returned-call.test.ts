/**
 * Calls are published with `mandatory`: when the API's queue was deleted after
 * the caller declared it (an operator, a script), RabbitMQ returns the call
 * instead of dropping it, and the caller fails at once with
 * RpcQueueMissingError rather than waiting for its timeout. The next call
 * declares the queue again.
 */
import type { ResultMessage } from '@lightbus/core';
import { newMessageId, type OutgoingCall } from '@lightbus/core/transport';
import { RpcQueueMissingError, type AmqpResultTransport, type AmqpRpcTransport } from '@lightbus/amqp';
import { namespaces, withChannel } from './helpers';

const namespace = namespaces('ret');

type Caller = { rpc: AmqpRpcTransport; result: AmqpResultTransport };

function callMessage(apiName: string, timeoutSeconds: number): OutgoingCall {
  return {
    id: newMessageId(),
    apiName,
    procedureName: 'echo',
    kwargs: { n: 1 },
    deadline: Date.now() + timeoutSeconds * 1000,
  };
}

/** As core calls: expectResult, then callRpc; resolves with the pending result once the call is sent. */
async function send(
  caller: Caller,
  message: OutgoingCall,
): Promise<{ result: Promise<ResultMessage>; cancel(): void }> {
  const pending = await caller.result.expectResult(message);
  try {
    await caller.rpc.callRpc({ ...message, returnPath: pending.returnPath });
  } catch (error) {
    pending.cancel();
    throw error;
  }
  return pending;
}

for (const mode of ['direct', 'queue'] as const) {
  it(`a call whose RPC queue was deleted fails at once with RpcQueueMissingError, and the next call declares it again (reply_mode ${mode})`, async () => {
    const ns = namespace();
    const caller = ns.connect(ns.context({ processName: 'caller' }), { result: { reply_mode: mode } });
    const worker = ns.connect(ns.context({ processName: 'worker' }));
    const serve = () =>
      worker.rpc.consumeRpcs(['svc.api'], async (message) => {
        await worker.result.sendResult(message, {
          id: newMessageId(),
          rpcMessageId: message.id,
          result: message.kwargs,
          error: false,
        });
      });
    const queue = `${ns.prefix}.rpc.svc.api`;

    // A first call declares the queue (caller and worker) and gets its result.
    const consumer = await serve();
    const first = await send(caller, callMessage('svc.api', 30));
    expect((await first.result).result).toEqual({ n: 1 });
    first.cancel();
    await consumer.stop();

    // Someone deletes the queue; the caller still believes it declared.
    await withChannel(async (channel) => {
      await channel.deleteQueue(queue);
    });

    // The call is returned (and still confirmed): callRpc fails at once, long before the call's 30 s timeout.
    const error = await send(caller, callMessage('svc.api', 30)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(RpcQueueMissingError);
    expect((error as RpcQueueMissingError).retriable).toBe(true);
    expect((error as Error).message).toContain(`API 'svc.api'`);
    expect((error as Error).message).toContain(queue);
    expect((error as Error).message).toContain('calling again is safe');

    // The next call declares the queue again: it is routed (callRpc resolves) and waits there for a worker.
    const next = await send(caller, callMessage('svc.api', 30));
    expect(await withChannel(async (channel) => (await channel.checkQueue(queue)).messageCount)).toBe(1);
    const again = await serve();
    expect((await next.result).result).toEqual({ n: 1 });
    next.cancel();
    await again.stop();
  });
}
