/**
 * An ephemeral listener's group queue (ListenOptions.ephemeral): classic, not durable,
 * auto-delete; it delivers while consumed and RabbitMQ deletes it, with what waits in it, when
 * its last consumer goes (a connection that dies takes its consumers with it: RabbitMQ's own
 * auto-delete rule). A durable group's queue stays.
 */
import type { EventMessage } from '@lightbus/core';
import { newMessageId } from '@lightbus/core/transport';
import { Collector, waitFor } from '@lightbus/testing';
import { listQueues, namespaces, withChannel, type TestNamespace } from './helpers';

const namespace = namespaces('eph');

const tick = (n: number): EventMessage => ({
  id: newMessageId(),
  apiName: 'svc.api',
  eventName: 'tick',
  version: 1,
  kwargs: { n },
});
const spec = (group: string, consumer: string, ephemeral: boolean) => ({
  events: [{ apiName: 'svc.api', eventName: 'tick' }],
  group,
  consumer,
  ...(ephemeral ? { ephemeral: true } : {}),
});

async function queueExists(name: string): Promise<boolean> {
  return withChannel(async (channel) => {
    channel.on('error', () => undefined); // a missing queue closes the channel: that is the answer
    try {
      await channel.checkQueue(name);
      return true;
    } catch {
      return false;
    }
  });
}

function groupQueue(ns: TestNamespace, group: string): string {
  return `${ns.prefix}.group.${group}`;
}

it('declares an ephemeral group queue auto-delete, and RabbitMQ deletes it when its last consumer stops', async () => {
  const ns = namespace();
  const transport = ns.connect(ns.context()).event;
  const got = new Collector<EventMessage>();
  const first = await transport.consume(spec('svc-tail', 'c1', true), async (m) => got.push(m));
  const second = await ns.connect(ns.context()).event.consume(spec('svc-tail', 'c2', true), async (m) => got.push(m));
  const durable = await transport.consume(spec('svc-keep', 'c1', false), async () => {});
  const queues = await listQueues(ns.prefix);
  expect(queues.find((q) => q.name === groupQueue(ns, 'svc-tail'))).toMatchObject({
    durable: false,
    auto_delete: true,
    exclusive: false,
    arguments: { 'x-queue-type': 'classic', 'x-dead-letter-exchange': `${ns.prefix}.dead-letter` },
  });
  expect(queues.find((q) => q.name === groupQueue(ns, 'svc-keep'))).toMatchObject({ durable: true, type: 'quorum' });

  await transport.sendEvent(tick(1), { timeoutSeconds: 5 });
  await got.waitForCount(1);
  await first.stop();
  expect(await queueExists(groupQueue(ns, 'svc-tail'))).toBe(true); // c2 still consumes it
  await second.stop();
  await waitFor(async () => !(await queueExists(groupQueue(ns, 'svc-tail'))), {
    message: 'the ephemeral group queue deleted',
  });
  await durable.stop();
  expect(await queueExists(groupQueue(ns, 'svc-keep'))).toBe(true);
});
