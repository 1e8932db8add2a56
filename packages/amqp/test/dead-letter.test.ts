/**
 * Poison and undeliverable messages end in the dead-letter queue
 * `<prefix>.dead-letter`, with the reason, and consumption goes on; a handler
 * that keeps failing does not loop forever (delivery_limit), on quorum and on
 * classic group queues.
 */
import { MessageRejectedError, type EventMessage, type ResultMessage } from '@lightbus/core';
import { newMessageId, type OutgoingCall } from '@lightbus/core/transport';
import { Collector, waitFor } from '@lightbus/testing';
import type { AmqpEventTransport } from '@lightbus/amqp';
import { namespaces, withChannel, type TestNamespace } from './helpers';

const namespace = namespaces('dlq');

interface DeadLetter {
  body: string;
  routingKey: string;
  headers: Record<string, unknown>;
  messageId: unknown;
}

/** Take everything in the dead-letter queue. */
async function deadLetters(ns: TestNamespace): Promise<DeadLetter[]> {
  return withChannel(async (channel) => {
    const out: DeadLetter[] = [];
    for (;;) {
      const message = await channel.get(`${ns.prefix}.dead-letter`, { noAck: true });
      if (!message) return out;
      out.push({
        body: message.content.toString(),
        routingKey: message.fields.routingKey,
        headers: message.properties.headers ?? {},
        messageId: message.properties.messageId,
      });
    }
  });
}

const tick = (kwargs: Record<string, unknown> = {}): EventMessage => ({
  id: newMessageId(),
  apiName: 'svc.api',
  eventName: 'tick',
  version: 1,
  kwargs,
});
const spec = (consumer: string) => ({ events: [{ apiName: 'svc.api', eventName: 'tick' }], group: 'svc-l', consumer });

it('sets an undecodable event and a rejected one aside with the reason, and goes on', async () => {
  const ns = namespace();
  const transport = ns.connect(ns.context()).event;
  const got = new Collector<EventMessage>();
  const consumer = await transport.consume(spec('c1'), async (message) => {
    if (message.kwargs.poison) throw new MessageRejectedError("parameter 'n' must be an integer");
    got.push(message);
  });
  await withChannel(async (channel) => {
    channel.publish(`${ns.prefix}.events`, 'svc.api.tick', Buffer.from('{"metadata": {"id": "x"'), {
      messageId: 'broken-1',
      persistent: true,
    });
    await channel.waitForConfirms();
  });
  const poison = tick({ poison: true });
  await transport.sendEvent(poison, { timeoutSeconds: 5 });
  const good = tick({ n: 1 });
  await transport.sendEvent(good, { timeoutSeconds: 5 });
  await got.waitForCount(1);
  expect(got.items.map((m) => m.id)).toEqual([good.id]);

  let letters: DeadLetter[] = [];
  await waitFor(async () => (letters = [...letters, ...(await deadLetters(ns))]).length >= 2, {
    message: 'two dead letters',
  });
  const broken = letters.find((l) => l.messageId === 'broken-1')!;
  expect(broken.body).toBe('{"metadata": {"id": "x"');
  expect(broken.routingKey).toBe('svc.api.tick');
  expect(broken.headers).toMatchObject({
    'lightbus-dead-letter-queue': `${ns.prefix}.group.svc-l`,
    'lightbus-dead-letter-reason': expect.stringMatching(/^cannot be decoded: body is not JSON/),
  });
  const rejected = letters.find((l) => l.messageId === poison.id)!;
  expect(rejected.headers).toMatchObject({
    'lightbus-dead-letter-reason': "rejected by the handler: parameter 'n' must be an integer",
    'lightbus-time': expect.any(Number),
  });
  expect(JSON.parse(rejected.body)).toMatchObject({ metadata: { id: poison.id }, kwargs: { poison: true } });
  await consumer.stop();
});

/** Run consumers of the group one after another, each failing on the event and stopping, until `stopAfter` attempts. */
async function failRepeatedly(
  ns: TestNamespace,
  transport: () => AmqpEventTransport,
  attempts: number,
): Promise<number> {
  let seen = 0;
  for (let i = 0; i < attempts; i++) {
    const tried = new Collector<string>();
    const consumer = await transport().consume(spec(`c${i}`), async (message) => {
      tried.push(message.id);
      throw new Error('handler keeps failing');
    });
    await tried.waitForCount(1);
    seen += tried.length;
    await consumer.stop(); // not acknowledged: back to the group
  }
  return seen;
}

for (const queueType of ['quorum', 'classic'] as const) {
  it(`dead-letters an event whose handler failed on delivery_limit + 1 deliveries, with the last error (${queueType} queue)`, async () => {
    const ns = namespace();
    const options = { event: { queue_type: queueType, delivery_limit: 2 } };
    const producer = ns.connect(ns.context(), options).event;
    const transport = () => ns.connect(ns.context(), options).event;
    // Create the group, then fire.
    await (await transport().consume(spec('c'), async () => {})).stop();
    const doomed = tick({ n: 1 });
    await producer.sendEvent(doomed, { timeoutSeconds: 5 });

    // Delivered and given back twice (the limit), delivered a third time: that failure sets it aside.
    expect(await failRepeatedly(ns, transport, 3)).toBe(3);

    // It is not handled again; the next event is.
    const got = new Collector<EventMessage>();
    const consumer = await transport().consume(spec('healthy'), async (m) => got.push(m));
    const next = tick({ n: 2 });
    await producer.sendEvent(next, { timeoutSeconds: 5 });
    await got.waitForCount(1);
    expect(got.items.map((m) => m.id)).toEqual([next.id]);

    let letters: DeadLetter[] = [];
    await waitFor(async () => (letters = [...letters, ...(await deadLetters(ns))]).length >= 1, {
      message: 'the event in the dead-letter queue',
    });
    expect(letters).toHaveLength(1);
    expect(JSON.parse(letters[0]!.body).metadata.id).toBe(doomed.id);
    // The third failure was the last the limit allows: the transport sets it aside with that error (before RabbitMQ would).
    expect(letters[0]!.headers['lightbus-dead-letter-reason']).toBe(
      'the handler failed on 3 deliveries (delivery_limit 2); last error: handler keeps failing',
    );
    await consumer.stop();
  });
}

it('sets aside a call it cannot decode and goes on serving', async () => {
  const ns = namespace();
  const worker = ns.connect(ns.context({ processName: 'worker' }));
  const caller = ns.connect(ns.context({ processName: 'caller' }));
  const consumer = await worker.rpc.consumeRpcs(['svc.api'], async (message) => {
    await worker.result.sendResult(message, {
      id: newMessageId(),
      rpcMessageId: message.id,
      result: 'ok',
      error: false,
    });
  });
  await withChannel(async (channel) => {
    channel.sendToQueue(`${ns.prefix}.rpc.svc.api`, Buffer.from('not json at all'), { messageId: 'bad-call' });
    await channel.waitForConfirms();
  });
  const call: OutgoingCall = {
    id: newMessageId(),
    apiName: 'svc.api',
    procedureName: 'x',
    kwargs: {},
    deadline: Date.now() + 5000,
  };
  const pending = await caller.result.expectResult(call);
  await caller.rpc.callRpc({ ...call, returnPath: pending.returnPath });
  const result: ResultMessage = await pending.result;
  expect(result.result).toBe('ok');
  let letters: DeadLetter[] = [];
  await waitFor(async () => (letters = [...letters, ...(await deadLetters(ns))]).length >= 1, {
    message: 'the call in the dead-letter queue',
  });
  expect(letters[0]).toMatchObject({
    messageId: 'bad-call',
    body: 'not json at all',
    headers: {
      'lightbus-dead-letter-reason': expect.stringMatching(/^cannot be decoded as a call/),
      'lightbus-dead-letter-queue': `${ns.prefix}.rpc.svc.api`,
    },
  });
  await consumer.stop();
});
