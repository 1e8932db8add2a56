/**
 * Failures a user meets: no broker at the configured address, and a broker that
 * goes away and comes back. The second test runs its own broker (it takes it
 * down), whatever KAFKA_BROKERS says.
 */
import lightbus, { Api, BrokerConnectionError, Event, type EventMessage } from '@lightbus/core';
import { newMessageId } from '@lightbus/core/transport';
import { KafkaEventTransport, KafkaResultTransport, KafkaRpcTransport } from '@lightbus/kafka';
import { Collector, waitFor } from '@lightbus/testing';
import {
  cleanupRun,
  context,
  eventOptions,
  kafkaBrokers,
  resultOptions,
  rpcOptions,
  uniquePrefix,
  startOwnBroker,
} from './helpers';

class FailApi extends Api {
  static override meta = { name: 'fail.bus' };
  tick = new Event({ parameters: ['blob'] });
}

function tick(apiName: string, i: number): EventMessage {
  return { id: newMessageId(), apiName, eventName: 'tick', version: 1, kwargs: { i } };
}

const FAST_RETRY = { retries: 2, initial_retry_time_ms: 100, max_retry_time_ms: 500 };

describe('kafka: failures', () => {
  afterAll(() => cleanupRun());

  it('says which broker it cannot reach, and what to check', async () => {
    const options = { brokers: ['127.0.0.1:1'], connection_timeout_ms: 300, retry: FAST_RETRY };
    const events = new KafkaEventTransport(eventOptions(uniquePrefix('down'), options), context());
    const rpc = new KafkaRpcTransport(rpcOptions(uniquePrefix('down'), options), context());
    const results = new KafkaResultTransport(resultOptions(uniquePrefix('down'), options), context());
    try {
      const fire = events.sendEvent(tick('fail.api', 1), { timeoutSeconds: 5 });
      await expect(fire).rejects.toThrow(BrokerConnectionError);
      await expect(fire).rejects.toThrow(/Cannot reach Kafka at 127\.0\.0\.1:1 .*Check that the brokers are running/);
      await expect(
        events.consume(
          { events: [{ apiName: 'fail.api', eventName: 'tick' }], group: 'g', consumer: 'c' },
          async () => {},
        ),
      ).rejects.toThrow(BrokerConnectionError);
      await expect(rpc.consumeRpcs(['fail.api'], async () => {})).rejects.toThrow(BrokerConnectionError);
      await expect(
        results.expectResult({
          id: newMessageId(),
          apiName: 'fail.api',
          procedureName: 'p',
          kwargs: {},
          deadline: Date.now() + 60_000,
        }),
      ).rejects.toThrow(/127\.0\.0\.1:1/);
    } finally {
      await Promise.all([events.close(), rpc.close(), results.close()]);
    }
  });

  it('fire() on a bus whose brokers do not answer fails with BrokerConnectionError naming them, not with its timeout', async () => {
    // Default connection and retry options: kafkajs would retry for longer than event_fire_timeout.
    const kafka = { brokers: ['127.0.0.1:1', '127.0.0.1:2'], topic_prefix: uniquePrefix('busdown') };
    const bus = lightbus.create({
      config: { service_name: 'fail-svc', apis: { default: { event_fire_timeout: 2, event_transport: { kafka } } } },
      logLevel: 'critical',
    });
    bus.client.registerApi(new FailApi());
    try {
      const fire = bus.api(FailApi).tick.fire({ blob: 'x' });
      await expect(fire).rejects.toThrow(BrokerConnectionError);
      await expect(fire).rejects.toThrow(
        /^Cannot reach Kafka at 127\.0\.0\.1:1,127\.0\.0\.1:2 while firing fail\.bus\.tick .*ECONNREFUSED/,
      );
    } finally {
      await bus.close();
    }
  });

  it('fire() of an event larger than the broker accepts (message.max.bytes) fails with an error that says so', async () => {
    const kafka = { brokers: kafkaBrokers(), topic_prefix: uniquePrefix('big') };
    const bus = lightbus.create({
      config: { service_name: 'big-svc', apis: { default: { event_transport: { kafka } } } },
      logLevel: 'critical',
    });
    bus.client.registerApi(new FailApi());
    try {
      // Kafka's default message.max.bytes is 1 MiB (+ 12 bytes).
      await expect(bus.api(FailApi).tick.fire({ blob: 'x'.repeat(1_200_000) })).rejects.toThrow(
        /MESSAGE_TOO_LARGE: a message is bigger than the broker accepts \(message\.max\.bytes\); lower batch_bytes or send smaller messages/,
      );
      // The transport goes on: a normal event after it is sent.
      await bus.api(FailApi).tick.fire({ blob: 'small' });
    } finally {
      await bus.close();
    }
  });

  it('resumes consuming after the broker went away and came back; handled events are not delivered again', async () => {
    const broker = await startOwnBroker();
    const prefix = uniquePrefix('outage');
    const api = 'outage.api';
    const options = { brokers: [broker.bootstrap], retry: FAST_RETRY, connection_timeout_ms: 500 };
    const events = new KafkaEventTransport(eventOptions(prefix, options), context('p1'));
    const got = new Collector<number>();
    try {
      const consumer = await events.consume(
        { events: [{ apiName: api, eventName: 'tick' }], group: 'outage', consumer: 'c1' },
        async (message) => got.push(Number(message.kwargs.i)),
      );
      await events.sendEvent(tick(api, 0), { timeoutSeconds: 10 });
      await got.waitForCount(1, 15_000);

      await broker.down();
      // While it is down, firing fails with an error that names the broker.
      await expect(events.sendEvent(tick(api, 1), { timeoutSeconds: 10 })).rejects.toThrow(BrokerConnectionError);
      await broker.up();

      // Back: the producer reconnects and the consumer resumes.
      await waitFor(
        async () => {
          await events.sendEvent(tick(api, 2), { timeoutSeconds: 5 });
          return true;
        },
        { timeout: 30_000, interval: 200, message: 'a fire to succeed once the broker is back' },
      );
      await waitFor(() => got.items.includes(2), {
        timeout: 45_000,
        message: `event 2 to arrive (got ${JSON.stringify(got.items)})`,
      });
      // Event 0 was handled and committed before the outage: not delivered again.
      expect(got.items.filter((i) => i === 0)).toHaveLength(1);
      await consumer.stop();
    } finally {
      await events.close();
      await broker.stop();
    }
  }, 150_000); // starts a broker of its own, and starts it again
});
