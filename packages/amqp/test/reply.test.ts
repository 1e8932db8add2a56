/**
 * The caller's side of results (reply endpoint), in both reply modes: a reply
 * whose body cannot be read fails its call at once, by its correlation id,
 * instead of leaving the caller to its timeout.
 */
import type { ResultMessage } from '@lightbus/core';
import { UndecodableResultError, newMessageId, type OutgoingCall } from '@lightbus/core/transport';
import { waitFor } from '@lightbus/testing';
import { namespaces, withChannel } from './helpers';

const namespace = namespaces('reply');

/** The outcome of a promise once it settles, for waitFor. */
function outcome<T>(promise: Promise<T>): () => { value?: T; error?: unknown } | undefined {
  let settled: { value?: T; error?: unknown } | undefined;
  promise.then(
    (value) => (settled = { value }),
    (error: unknown) => (settled = { error }),
  );
  return () => settled;
}

for (const mode of ['direct', 'queue'] as const) {
  it(`fails a call at once with UndecodableResultError when its reply cannot be decoded (reply_mode ${mode})`, async () => {
    const ns = namespace();
    const caller = ns.connect(ns.context({ processName: 'caller' }), { result: { reply_mode: mode } });
    const call: OutgoingCall = {
      id: newMessageId(),
      apiName: 'svc.api',
      procedureName: 'x',
      kwargs: {},
      deadline: Date.now() + 30_000,
    };
    const other: OutgoingCall = { ...call, id: newMessageId() };
    const pending = await caller.result.expectResult(call);
    const bystander = await caller.result.expectResult(other);
    await caller.rpc.callRpc({ ...call, returnPath: pending.returnPath });
    // A worker that answers with something that is not a result, with the call's correlation id.
    await withChannel(async (channel) => {
      const received = await waitFor(
        async () => (await channel.get(`${ns.prefix}.rpc.svc.api`, { noAck: true })) || undefined,
        { message: 'the call in its queue' },
      );
      const replyTo = String(received.properties.replyTo);
      channel.sendToQueue(replyTo, Buffer.from('{"metadata": {"id": "r1"'), { correlationId: call.id });
      channel.sendToQueue(replyTo, Buffer.from('garbage'), { correlationId: 'nobody-waits-for-this' });
      await channel.waitForConfirms();
    });
    const settled = outcome<ResultMessage>(pending.result);
    const bystanderOutcome = outcome<ResultMessage>(bystander.result);
    const result = await waitFor(settled, { message: 'the call to fail (long before its 30 s deadline)' });
    expect(result.error).toBeInstanceOf(UndecodableResultError);
    expect((result.error as UndecodableResultError).code).toBe('LIGHTBUS_UNDECODABLE_RESULT');
    expect((result.error as Error).message).toContain(
      `The result of call ${call.id} cannot be decoded: body is not JSON`,
    );
    // Another call waiting on the same endpoint is not affected.
    expect(bystanderOutcome()).toBeUndefined();
    pending.cancel();
    bystander.cancel();
  });
}
