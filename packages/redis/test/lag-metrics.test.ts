/**
 * Consumer lag through the OpenTelemetry metrics API on Redis: a listener whose
 * handler is held shows its events waiting (XINFO GROUPS lag and pending), and
 * both fall to zero once it handles them.
 */
import lightbus, { Api, Event, type Bus } from '@lightbus/core';
import { transport } from '@lightbus/redis';
import { waitFor } from '@lightbus/testing';
import { registerTestSdk, type TestSdk } from '../../../test/otel-sdk';
import { REDIS_URL, TouchedKeys, rawRedis, uniqueId } from './helpers';

const raw = rawRedis();
const keys = new TouchedKeys();
let sdk: TestSdk;
let bus: Bus;

afterAll(async () => {
  await keys.cleanup(raw);
  await raw.quit();
});

afterEach(async () => {
  await bus.close();
  await sdk.shutdown();
});

it('reports the lag and pending count of a listener and sees them rise and fall', async () => {
  sdk = registerTestSdk();
  const apiName = `lag${uniqueId()}.api`;
  keys.api(apiName);
  keys.add(`schema:${apiName}`);
  keys.schemaNames.add(apiName);
  class LagApi extends Api {
    static override meta = { name: apiName };
    happened = new Event({ parameters: ['i'] });
  }
  const role = { redis: { url: REDIS_URL } };
  bus = lightbus.create({
    config: {
      service_name: `lag-${apiName}`,
      bus: { schema: { transport: role } },
      apis: { default: { event_transport: role, rpc_transport: role, result_transport: role } },
    },
    transports: [transport],
    logLevel: 'critical',
  });
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
  await bus.start();
  for (let i = 0; i < 20; i++) await bus.client.fireEvent(apiName, 'happened', { i });

  const waiting = async (): Promise<{ lag: number; pending: number }> => {
    const lag = await sdk.metric('messaging.consumer.lag');
    const pending = await sdk.metric('messaging.consumer.pending');
    const ours = (points: typeof lag) =>
      points.filter((p) => p.attributes['lightbus.listener'] === 'slow').reduce((n, p) => n + Number(p.value), 0);
    return { lag: ours(lag), pending: ours(pending) };
  };
  const risen = await waitFor(
    async () => {
      const now = await waiting();
      return now.lag + now.pending === 20 && now.pending > 0 ? now : undefined;
    },
    { timeout: 10_000, message: 'the 20 events to show as lag and pending' },
  );
  expect(risen.lag + risen.pending).toBe(20);
  const points = await sdk.metric('messaging.consumer.lag');
  expect(points.find((p) => p.attributes['lightbus.listener'] === 'slow')?.attributes).toMatchObject({
    'messaging.system': 'redis',
    'messaging.destination.name': `${apiName}.*:stream`,
    'messaging.consumer.group.name': `lag-${apiName}-slow`,
  });

  release();
  await waitFor(async () => handled === 20 && (await waiting()).lag === 0 && (await waiting()).pending === 0, {
    timeout: 10_000,
    message: 'lag and pending to fall to 0',
  });
});
