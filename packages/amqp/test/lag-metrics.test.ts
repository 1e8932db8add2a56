/**
 * Consumer lag through the OpenTelemetry metrics API on RabbitMQ: the group
 * queue's ready messages while the listener's handler is held, down to zero
 * once it handles them.
 */
import lightbus, { Api, Event, type Bus } from '@lightbus/core';
import { transport } from '@lightbus/amqp';
import { waitFor } from '@lightbus/testing';
import { registerTestSdk } from '../../../test/otel-sdk';
import { AMQP_URL, TestNamespace, listExchanges, listQueues } from './helpers';

const ns = new TestNamespace('lag');

afterAll(async () => {
  (await listQueues(ns.prefix)).forEach((q) => ns.queues.add(q.name));
  (await listExchanges(ns.prefix)).forEach((e) => ns.exchanges.add(e.name));
  await ns.cleanup();
});

it('reports the group queue depth of a listener and sees it rise and fall', async () => {
  const sdk = registerTestSdk();
  const apiName = `${ns.prefix.replace(/[^a-z0-9]/gi, '')}.api`;
  class LagApi extends Api {
    static override meta = { name: apiName };
    happened = new Event({ parameters: ['i'] });
  }
  const role = { amqp: { url: AMQP_URL, prefix: ns.prefix, prefetch: 2 } };
  const bus: Bus = lightbus.create({
    config: {
      service_name: 'lag',
      bus: { schema: { transport: { amqp: { url: AMQP_URL, prefix: ns.prefix } } } },
      apis: { default: { event_transport: role } },
    },
    transports: [transport],
    logLevel: 'critical',
  });
  try {
    bus.client.registerApi(new LagApi());
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    let handled = 0;
    bus.client.listen(
      [apiName, 'happened'],
      async () => {
        await held;
        handled += 1;
      },
      { listenerName: 'slow' },
    );
    await bus.start({ features: ['events'] });
    for (let i = 0; i < 20; i++) await bus.client.fireEvent(apiName, 'happened', { i });
    const lag = async (): Promise<number | undefined> => {
      const point = (await sdk.metric('messaging.consumer.lag')).find(
        (p) => p.attributes['lightbus.listener'] === 'slow',
      );
      return point === undefined ? undefined : Number(point.value);
    };
    // Prefetch 2: two are with the held handler, the rest wait in the queue.
    await waitFor(async () => (await lag()) === 18, {
      timeout: 10_000,
      message: 'a lag of 18 while the handler is held',
    });
    const point = (await sdk.metric('messaging.consumer.lag')).find(
      (p) => p.attributes['lightbus.listener'] === 'slow',
    );
    expect(point?.attributes).toMatchObject({
      'messaging.system': 'amqp',
      'messaging.consumer.group.name': 'lag-slow',
    });
    release();
    await waitFor(async () => handled === 20 && (await lag()) === 0, {
      timeout: 10_000,
      message: 'the lag to fall to 0',
    });
  } finally {
    await bus.close();
    await sdk.shutdown();
  }
});
