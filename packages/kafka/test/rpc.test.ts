/**
 * What the Kafka RPC and result transports do beyond the conformance suite: a
 * reply that cannot be read fails its call at once, and a call whose deadline
 * passes while it waits for a worker's concurrency slot is skipped, not run late.
 */
import { UndecodableResultError, newMessageId, type OutgoingRpcMessage } from '@lightbus/core/transport';
import { KafkaResultTransport, KafkaRpcTransport } from '@lightbus/kafka';
import { Collector, untilTime, waitFor } from '@lightbus/testing';
import { cleanupRun, context, rawKafka, resultOptions, rpcOptions, uniquePrefix } from './helpers';

function call(apiName: string, deadline: number, kwargs: Record<string, unknown> = {}): OutgoingRpcMessage {
  return {
    id: newMessageId(),
    apiName,
    procedureName: 'work',
    kwargs,
    returnPath: 'kafka://unused/0/nobody',
    deadline,
  };
}

describe('kafka rpc and results', () => {
  afterAll(() => cleanupRun());

  it('fails a waiting call with UndecodableResultError when its reply cannot be decoded', async () => {
    const prefix = uniquePrefix('undecodable');
    const results = new KafkaResultTransport(resultOptions(prefix), context('caller', 'undecodable-svc'));
    const producer = rawKafka().producer();
    await producer.connect();
    try {
      const message = call('undecodable.api', Date.now() + 30_000);
      const pending = await results.expectResult(message);
      const path = /^kafka:\/\/([^/]+)\/(\d+)\/(.+)$/.exec(pending.returnPath)!;
      await producer.send({
        topic: path[1]!,
        messages: [
          {
            partition: Number(path[2]),
            key: decodeURIComponent(path[3]!),
            value: '{not json',
            headers: { 'lightbus-correlation-id': message.id, 'lightbus-id': newMessageId(), 'lightbus-status': 'ok' },
          },
        ],
      });
      const failure = await pending.result.then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(failure).toBeInstanceOf(UndecodableResultError);
      expect((failure as UndecodableResultError).code).toBe('LIGHTBUS_UNDECODABLE_RESULT');
      expect((failure as Error).message).toContain(message.id);
    } finally {
      await producer.disconnect();
      await results.close();
    }
  });

  it('skips a call whose deadline passed while it waited for a concurrency slot', async () => {
    const prefix = uniquePrefix('slot');
    const api = 'slot.api';
    const rpc = new KafkaRpcTransport(rpcOptions(prefix, { concurrency: 1 }), context('worker'));
    const started = new Collector<string>();
    let lateDeadline = 0;
    try {
      const consumer = await rpc.consumeRpcs([api], async (message) => {
        started.push(String(message.kwargs.name));
        // The only slot stays busy until the second call's deadline has passed.
        if (message.kwargs.name === 'first') {
          await waitFor(() => lateDeadline > 0 && Date.now() > lateDeadline + 50, {
            timeout: 30_000,
            message: "the 'late' call's deadline to pass",
          });
        }
      });
      const long = Date.now() + 60_000;
      await rpc.callRpc(call(api, long, { name: 'first' }));
      await started.waitForCount(1, 20_000);
      // Read by the worker well within its deadline, but the slot frees up only after it.
      lateDeadline = Date.now() + 2000;
      await rpc.callRpc(call(api, lateDeadline, { name: 'late' }));
      await untilTime(lateDeadline + 50);
      // Calls are handled in the order the worker reads them: once 'after' ran, 'late' was decided.
      await rpc.callRpc(call(api, Date.now() + 60_000, { name: 'after' }));
      await started.waitForCount(2, 20_000);
      expect(started.items).toEqual(['first', 'after']);
      await consumer.stop();
    } finally {
      await rpc.close();
    }
  });
});
