/**
 * The bus-level tier of @lightbus/testing on RabbitMQ: processes, SIGKILL, SIGTERM drain,
 * a connection cut through the fault proxy, poison messages. Each scenario has a prefix of
 * its own; what it declared under it is deleted afterwards.
 */
import { addressOf } from '@lightbus/testing';
import { busConformance } from '@lightbus/testing/jest';
import { transport } from '@lightbus/amqp';
import { AMQP_URL, TestNamespace, listExchanges, listQueues, withChannel } from './helpers';

busConformance({
  name: 'amqp',
  capabilities: {
    crossProcess: true,
    durable: true,
    consumerGroups: true,
    replay: false,
    history: false,
    ordering: 'per-stream',
  },
  broker: addressOf(AMQP_URL, 5672),
  readsDeadLetters: true,
  // The prefetch (50 by default) is delivered to the consumer: neither queued nor counted by RabbitMQ.
  consumerLag: { inHand: 50 },
  canInjectMalformedEvents: true,
  transports: [transport],
  patience: 15_000,
  namespace() {
    const ns = new TestNamespace('tier');
    const setAside: Array<{ reason: string }> = [];
    return {
      config: ({ via } = {}) => {
        const url = new URL(AMQP_URL);
        if (via) url.host = via;
        const role = {
          amqp: { url: url.toString(), prefix: ns.prefix, reconnect_initial_delay: 0.1, reconnect_max_delay: 0.5 },
        };
        return {
          bus: { schema: { transport: role } },
          apis: { default: { rpc_transport: role, result_transport: role, event_transport: role } },
        };
      },
      injectMalformedEvent: async (apiName, eventName) => {
        await withChannel(async (channel) => {
          channel.publish(`${ns.prefix}.events`, `${apiName}.${eventName}`, Buffer.from('{not json'), {
            messageId: 'malformed-1',
            persistent: true,
          });
          await channel.waitForConfirms();
        });
      },
      // The dead-letter queue, taken as it fills (each message once), with the reason the transport gave.
      deadLetters: async () => {
        await withChannel(async (channel) => {
          for (;;) {
            const message = await channel.get(`${ns.prefix}.dead-letter`, { noAck: true });
            if (!message) return;
            setAside.push({ reason: String(message.properties.headers?.['lightbus-dead-letter-reason'] ?? '') });
          }
        });
        return setAside;
      },
      cleanup: async () => {
        (await listQueues(ns.prefix)).forEach((q) => ns.queues.add(q.name));
        (await listExchanges(ns.prefix)).forEach((e) => ns.exchanges.add(e.name));
        await ns.cleanup();
      },
    };
  },
});
