/**
 * The transport conformance suite against RabbitMQ, unchanged, in two
 * configurations: the defaults plus streams (direct reply-to, quorum group
 * queues, replay and history), and the alternatives (a per-process reply
 * queue, classic group queues, no stream). Each test gets its own prefix and
 * deletes what it declared.
 */
import { transportConformance, type ConformanceNamespace } from '@lightbus/testing/jest';
import { withChannel, TestNamespace, type RoleOverrides } from './helpers';

function target(name: string, given: RoleOverrides & { event?: { stream?: boolean } }): void {
  const overrides = { ...given, event: { ...given.event, delivery_limit: 2 } };
  transportConformance({
    name,
    patience: 10_000,
    // Written out, not eventCapabilities(): the suite checks the transport reports exactly this.
    capabilities: {
      crossProcess: true,
      durable: true,
      consumerGroups: true,
      replay: overrides.event?.stream === true,
      history: overrides.event?.stream === true,
      ordering: 'per-stream',
    },
    canInjectMalformedEvents: true,
    deadLetterStore: true,
    deliveryLimit: 2,
    namespace(): ConformanceNamespace {
      const namespace = new TestNamespace('conf');
      return {
        connect: (context) => namespace.connect(context, overrides),
        cleanup: () => namespace.cleanup(),
        // Each test has its own prefix, so its own dead-letter queue. (A classic queue's counted copy is routed by the
        // queue's name, so routing keys do not tell the events apart.)
        deadLetters: () =>
          withChannel(async (channel) => {
            const letters: Array<{ id?: string; reason: string }> = [];
            for (;;) {
              const message = await channel.get(`${namespace.prefix}.dead-letter`, { noAck: true });
              if (!message) return letters;
              const headers = message.properties.headers ?? {};
              letters.push({
                id: message.properties.messageId as string | undefined,
                reason: String(headers['lightbus-dead-letter-reason'] ?? headers['x-first-death-reason']),
              });
            }
          }),
        injectMalformedEvent: async (apiName, eventName) => {
          await withChannel(async (channel) => {
            channel.publish(`${namespace.prefix}.events`, `${apiName}.${eventName}`, Buffer.from('{not json'), {
              messageId: 'malformed-1',
            });
            await channel.waitForConfirms();
          });
        },
      };
    },
  });
}

target('amqp (direct reply-to, quorum queues, streams)', { event: { stream: true } });
target('amqp (reply queue, classic queues, no stream)', {
  result: { reply_mode: 'queue' },
  event: { queue_type: 'classic' },
});
