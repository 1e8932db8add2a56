// Raw amqplib, the best pattern it allows for the work Lightbus does on RabbitMQ:
// - RPC: direct reply-to. The caller publishes the call on a classic durable queue (the queue
//   type Lightbus uses for calls) with replyTo amq.rabbitmq.reply-to and a correlation id, and
//   consumes the replies without acknowledgements on the same channel; the worker consumes with
//   prefetch 100, publishes the result to replyTo and acknowledges the call.
// - Events: a durable topic exchange, a quorum queue bound to it (the queue type of Lightbus's
//   default consumer groups), persistent messages published on a confirm channel (each fire
//   waits for its confirm), consumed with prefetch 100 and acknowledged after the handler.
// params: { api, url }
import { randomUUID } from 'node:crypto';
import amqp from 'amqplib';
import { deferred, inFlight, sequential } from '../lib/measure.mjs';

const REPLY_TO = 'amq.rabbitmq.reply-to';
const names = (api) => ({
  queue: `${api}.rpc`,
  exchange: `${api}.events`,
  group: `${api}.group.count`,
  routingKey: `${api}.happened`,
});

export async function worker(params, handled) {
  const { queue, exchange, group, routingKey } = names(params.api);
  const connection = await amqp.connect(params.url, { noDelay: true });
  const rpc = await connection.createChannel();
  await rpc.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': 'classic' } });
  await rpc.prefetch(100);
  await rpc.consume(queue, (message) => {
    if (!message) return;
    const call = JSON.parse(message.content.toString());
    rpc.sendToQueue(message.properties.replyTo, Buffer.from(JSON.stringify({ n: call.n, text: call.text })), {
      correlationId: message.properties.correlationId,
    });
    rpc.ack(message);
  });

  const events = await connection.createChannel();
  await events.assertExchange(exchange, 'topic', { durable: true });
  await events.assertQueue(group, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
  await events.bindQueue(group, exchange, routingKey);
  await events.prefetch(100);
  await events.consume(group, (message) => {
    if (!message) return;
    const event = JSON.parse(message.content.toString());
    if (event.n !== undefined) handled();
    events.ack(message);
  });
  return {
    close: async () => {
      await rpc.deleteQueue(queue);
      await events.deleteQueue(group);
      await events.deleteExchange(exchange);
      await connection.close();
    },
  };
}

export async function driver(params) {
  const { queue, exchange, routingKey } = names(params.api);
  const connection = await amqp.connect(params.url, { noDelay: true });
  const rpc = await connection.createChannel();
  await rpc.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': 'classic' } });
  const waiting = new Map();
  await rpc.consume(
    REPLY_TO,
    (message) => {
      if (!message) return;
      const id = message.properties.correlationId;
      waiting.get(id)?.resolve(JSON.parse(message.content.toString()));
      waiting.delete(id);
    },
    { noAck: true },
  );
  const call = (n) => {
    const id = randomUUID();
    const box = deferred();
    waiting.set(id, box);
    rpc.sendToQueue(queue, Buffer.from(JSON.stringify({ n, text: 'hello' })), {
      replyTo: REPLY_TO,
      correlationId: id,
      expiration: 5000,
    });
    return box.promise;
  };

  const confirm = await connection.createConfirmChannel();
  await confirm.assertExchange(exchange, 'topic', { durable: true });
  const fire = (n) =>
    new Promise((resolve, reject) =>
      confirm.publish(
        exchange,
        routingKey,
        Buffer.from(JSON.stringify({ n, text: 'hello' })),
        { persistent: true, contentType: 'application/json', messageId: randomUUID() },
        (error) => (error ? reject(error) : resolve()),
      ),
    );
  return {
    rpcSequential: (count) => sequential(call, count),
    rpcInFlight: (count, n) => inFlight(call, count, n),
    fire: (count, n) => inFlight(fire, count, n),
    close: () => connection.close(),
  };
}
