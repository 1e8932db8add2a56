/** Tracing and metrics through a whole bus (memory transport): what the client and worker record. */
import { SpanKind } from '@opentelemetry/api';
import { registerTestSdk, type TestSdk } from '../../../../test/otel-sdk';
import lightbus, { Api, Event, MessageRejectedError, type Bus } from '..';

class ShopApi extends Api {
  static override meta = { name: 'otel.shop' };
  readonly #bus: Bus;
  constructor(bus: Bus) {
    super();
    this.#bus = bus;
  }
  placed = new Event({ parameters: ['orderId'] });
  async place({ orderId }: { orderId: number }): Promise<string> {
    await this.#bus.api(ShopApi).placed.fire({ orderId });
    return `order ${orderId}`;
  }
  async fail(): Promise<void> {
    throw new TypeError('no such order');
  }
}

describe('a bus with an OpenTelemetry SDK', () => {
  let sdk: TestSdk;
  let bus: Bus;
  const handled: number[] = [];

  beforeEach(async () => {
    sdk = registerTestSdk();
    bus = lightbus.create({ config: { service_name: 'otel-test' }, logLevel: 'critical' });
    bus.client.registerApi(new ShopApi(bus));
    bus.api(ShopApi).placed.listen(
      ({ orderId }) => {
        if (orderId === 0) throw new MessageRejectedError('order 0 is poison');
        handled.push(orderId as number);
      },
      { listenerName: 'ship' },
    );
    await bus.start();
  });
  afterEach(async () => {
    await bus.close();
    await sdk.shutdown();
  });

  it('records one trace from the call through the event fired inside to the listener', async () => {
    await expect(bus.api(ShopApi).place({ orderId: 7 })).resolves.toBe('order 7');
    await waitForSpan(sdk, 'process otel.shop.placed');
    const spans = sdk.finished();
    const names = spans.map((s) => `${s.name}:${SpanKind[s.kind]}`);
    expect(names).toEqual(
      expect.arrayContaining([
        'otel.shop/place:CLIENT',
        'otel.shop/place:SERVER',
        'publish otel.shop.placed:PRODUCER',
        'process otel.shop.placed:CONSUMER',
      ]),
    );
    expect(new Set(spans.map((s) => s.spanContext().traceId)).size).toBe(1);
    const consumer = spans.find((s) => s.kind === SpanKind.CONSUMER)!;
    expect(consumer.attributes).toMatchObject({
      'messaging.system': 'memory',
      'messaging.consumer.group.name': 'otel-test-ship',
      'lightbus.listener': 'ship',
    });
    const calls = await sdk.metric('rpc.client.call.duration');
    expect(
      calls.map((p) => [
        p.attributes['rpc.method'],
        p.attributes['lightbus.outcome'],
        (p.value as { count: number }).count,
      ]),
    ).toEqual([['place', 'ok', 1]]);
    const sent = await sdk.metric('messaging.client.sent.messages');
    expect(sent.map((p) => [p.attributes['messaging.destination.name'], p.value])).toEqual([['otel.shop.placed', 1]]);
  });

  it('marks a failed execution and the caller, and counts a rejected event as dead-lettered', async () => {
    await expect(bus.api(ShopApi).fail()).rejects.toThrow('no such order');
    const server = sdk.finished().find((s) => s.name === 'otel.shop/fail' && s.kind === SpanKind.SERVER);
    const client = sdk.finished().find((s) => s.name === 'otel.shop/fail' && s.kind === SpanKind.CLIENT);
    expect(server?.attributes['error.type']).toBe('TypeError');
    expect(client?.attributes['error.type']).toBe('TypeError');
    await bus.api(ShopApi).placed.fire({ orderId: 0 });
    let counted: Awaited<ReturnType<TestSdk['metric']>> = [];
    await waitFor(async () => (counted = await sdk.metric('lightbus.events.dead_lettered')).length > 0);
    expect(counted.map((p) => [p.attributes, p.value])).toEqual([
      [
        {
          'lightbus.api': 'otel.shop',
          'lightbus.event': 'placed',
          'lightbus.listener': 'ship',
          'lightbus.dead_letter.reason': 'rejected',
        },
        1,
      ],
    ]);
  });
});

async function waitFor(condition: () => boolean | Promise<boolean>, timeout = 5000): Promise<void> {
  const started = Date.now();
  while (!(await condition())) {
    if (Date.now() - started > timeout) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function waitForSpan(sdk: TestSdk, name: string): Promise<void> {
  return waitFor(() => sdk.finished().some((s) => s.name === name));
}
