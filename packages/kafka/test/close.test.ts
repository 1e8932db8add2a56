/**
 * close() racing with consumers and readers that are starting or running: it
 * must leave no consumer, socket or timer behind (so a process exits by itself),
 * and a consumer still starting must not connect afterwards. "Left behind" is
 * measured with the process's active handles: sockets and timers, compared with
 * what was open before the transport existed.
 */
import { BusClosedError, type EventMessage } from '@lightbus/core';
import { newMessageId } from '@lightbus/core/transport';
import { KafkaEventTransport, KafkaResultTransport, KafkaRpcTransport, KafkaSchemaTransport } from '@lightbus/kafka';
import { waitFor } from '@lightbus/testing';
import type { KafkaClient } from '../src/adapter/client';
import type { PartitionReader } from '../src/adapter/partition-reader';
import { cleanupRun, context, eventOptions, resultOptions, rpcOptions, schemaOptions, uniquePrefix } from './helpers';

type Handles = { sockets: number; timers: number };

function handles(): Handles {
  const info = process.getActiveResourcesInfo();
  return {
    sockets: info.filter((r) => r === 'TCPSocketWrap').length,
    timers: info.filter((r) => r === 'Timeout').length,
  };
}

/** Sockets close a few ticks after destroy(): wait for the count to come back, then compare. */
async function expectNothingLeft(before: Handles, what: string): Promise<void> {
  await waitFor(
    () => {
      const now = handles();
      return now.sockets <= before.sockets && now.timers <= before.timers;
    },
    {
      timeout: 5000,
      message: `${what}: sockets and timers back to ${JSON.stringify(before)} (now ${JSON.stringify(handles())})`,
    },
  ).catch(() => undefined);
  const after = handles();
  expect(after.sockets).toBeLessThanOrEqual(before.sockets);
  expect(after.timers).toBeLessThanOrEqual(before.timers);
}

/** Run `hook` the moment `client[method]` is called (after the call began), e.g. to close mid-start. */
function onCall(client: KafkaClient, method: 'createGroupConsumer' | 'startPartitionReader', hook: () => void): void {
  const target = client as unknown as Record<string, (...args: unknown[]) => unknown>;
  const original = target[method]!.bind(client);
  target[method] = (...args: unknown[]) => {
    const result = original(...args);
    hook();
    return result;
  };
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (error: unknown) => error,
  );
}

function tick(apiName: string, n: number): EventMessage {
  return { id: newMessageId(), apiName, eventName: 'tick', version: 1, kwargs: { n } };
}

describe('kafka: close() racing with consumers and readers', () => {
  afterAll(() => cleanupRun());

  it('close() right after consume(): the listener never connects; nothing is left open', async () => {
    const before = handles();
    const transport = new KafkaEventTransport(eventOptions(uniquePrefix('close-listen')), context());
    const consuming = transport.consume(
      { events: [{ apiName: 'close.api', eventName: 'tick' }], group: 'svc-close', consumer: 'c1' },
      async () => {},
    );
    await transport.close();
    expect(await failure(consuming)).toBeInstanceOf(BusClosedError);
    await expectNothingLeft(before, 'a listener closed while it started');
  });

  it('close() while the listener group connects: the group is stopped once connected; nothing is left open', async () => {
    const before = handles();
    const transport = new KafkaEventTransport(eventOptions(uniquePrefix('close-group')), context());
    let closing: Promise<void> | undefined;
    onCall(transport.base.client, 'createGroupConsumer', () => (closing = transport.close()));
    const consuming = transport.consume(
      { events: [{ apiName: 'close.api', eventName: 'tick' }], group: 'svc-close', consumer: 'c1' },
      async () => {},
    );
    expect(await failure(consuming)).toBeInstanceOf(BusClosedError);
    expect(closing).toBeDefined();
    await closing;
    await expectNothingLeft(before, 'a listener group closed while it connected');
  });

  it('close() while RPC workers start, at each step: nothing is left open', async () => {
    for (const when of ['at once', 'while the group connects'] as const) {
      const before = handles();
      const rpc = new KafkaRpcTransport(rpcOptions(uniquePrefix('close-rpc')), context());
      let closing: Promise<void> | undefined;
      if (when === 'while the group connects')
        onCall(rpc.base.client, 'createGroupConsumer', () => (closing ??= rpc.close()));
      const serving = rpc.consumeRpcs(['close.rpc'], async () => {});
      if (when === 'at once') closing = rpc.close();
      expect(await failure(serving)).toBeInstanceOf(BusClosedError);
      await closing;
      await expectNothingLeft(before, `workers closed ${when}`);
    }
  });

  it('close() while the reply reader starts: the waiting call fails with BusClosedError and nothing is left open', async () => {
    for (const when of ['at once', 'while the reader connects'] as const) {
      const before = handles();
      const results = new KafkaResultTransport(resultOptions(uniquePrefix('close-reply')), context());
      let closing: Promise<void> | undefined;
      if (when === 'while the reader connects')
        onCall(results.base.client, 'startPartitionReader', () => (closing ??= results.close()));
      const message = {
        id: newMessageId(),
        apiName: 'close.api',
        procedureName: 'p',
        kwargs: {},
        deadline: Date.now() + 60_000,
      };
      const expecting = results.expectResult(message);
      if (when === 'at once') closing = results.close();
      expect(await failure(expecting)).toBeInstanceOf(BusClosedError);
      await closing;
      await expect(results.expectResult(message)).rejects.toThrow(BusClosedError);
      await expectNothingLeft(before, `reply reader closed ${when}`);
    }
  });

  it('close() while a call waits for its reply: the call fails with BusClosedError and the reader stops', async () => {
    const before = handles();
    const results = new KafkaResultTransport(resultOptions(uniquePrefix('close-wait')), context());
    const pending = await results.expectResult({
      id: newMessageId(),
      apiName: 'close.api',
      procedureName: 'p',
      kwargs: {},
      deadline: Date.now() + 60_000,
    });
    await results.close();
    expect(await failure(pending.result)).toBeInstanceOf(BusClosedError);
    await expectNothingLeft(before, 'a reply reader closed while a call waited');
  });

  it('close() while load() reads the schema topic: load fails with BusClosedError, no reader or load timer is left', async () => {
    const prefix = uniquePrefix('close-schema');
    const writer = new KafkaSchemaTransport(schemaOptions(prefix), context('writer'));
    await writer.store('close.api', { rpcs: {}, events: {} }, 60);
    await writer.close();
    for (const when of ['at once', 'while the reader connects'] as const) {
      const before = handles();
      const schemas = new KafkaSchemaTransport(schemaOptions(prefix, { load_timeout_ms: 60_000 }), context('reader'));
      let closing: Promise<void> | undefined;
      if (when === 'while the reader connects')
        onCall(schemas.base.client, 'startPartitionReader', () => (closing ??= schemas.close()));
      const loading = schemas.load();
      if (when === 'at once') closing = schemas.close();
      expect(await failure(loading)).toBeInstanceOf(BusClosedError);
      await closing;
      await expectNothingLeft(before, `schema reader closed ${when}`);
    }
  });

  it('close() while history is read: the query fails with BusClosedError and its readers stop', async () => {
    const prefix = uniquePrefix('close-history');
    const api = 'close.hist';
    const transport = new KafkaEventTransport(eventOptions(prefix), context());
    const before = handles();
    for (let n = 0; n < 3; n++) await transport.sendEvent(tick(api, n), { timeoutSeconds: 10 });
    let closing: Promise<void> | undefined;
    onCall(transport.base.client, 'startPartitionReader', () => (closing ??= transport.close()));
    const reading = (async () => {
      for await (const _message of transport.history({ apiName: api })) {
        // read everything
      }
    })();
    expect(await failure(reading)).toBeInstanceOf(BusClosedError);
    await closing;
    await expectNothingLeft(before, 'history closed while reading');
  });
});

describe('kafka: partition readers', () => {
  it('an idle reader keeps no wake-up per sleep, and leaves no timer or socket once stopped', async () => {
    const before = handles();
    const transport = new KafkaEventTransport(eventOptions(uniquePrefix('idle')), context());
    const { client } = transport.base;
    const topic = transport.topicOf('idle.api', 'tick');
    await transport.sendEvent(tick('idle.api', 1), { timeoutSeconds: 10 }); // the topic exists
    // No partition to read: the reader sleeps max_wait_ms (100 ms here) again and again.
    const reader: PartitionReader = await client.startPartitionReader({
      topic,
      start: new Map(),
      maxWaitMs: 10,
      maxBytesPerPartition: 1 << 20,
      description: 'idle test reader',
      onRecords: () => undefined,
    });
    const internals = reader as unknown as { sleep(ms: number): Promise<void> };
    let sleeps = 0;
    const sleep = internals.sleep.bind(reader);
    internals.sleep = (ms: number) => {
      sleeps += 1;
      return sleep(ms);
    };
    await waitFor(() => sleeps >= 20, { timeout: 10_000, message: 'the idle reader to sleep 20 times' });
    expect(reader.pendingWakeups).toBeLessThanOrEqual(1);
    await client.stopPartitionReader(reader);
    expect(reader.pendingWakeups).toBe(0);
    await transport.close();
    await expectNothingLeft(before, 'an idle reader, stopped');
  });
});
