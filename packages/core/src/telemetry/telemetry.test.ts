import { SpanKind, SpanStatusCode, context, trace } from '@opentelemetry/api';
import { RemoteError, RpcTimeoutError } from '../errors';
import { Telemetry, injectTrace } from '.';
import { registerTestSdk, type TestSdk } from '../../../../test/otel-sdk';

describe('without an SDK', () => {
  it('propagates nothing and runs the operation as is', async () => {
    const telemetry = new Telemetry();
    let carrier: unknown = 'unset';
    const value = await telemetry.call({ apiName: 'a', member: 'b', transport: 'memory' }, async (traceContext) => {
      carrier = traceContext;
      return 42;
    });
    expect(value).toBe(42);
    expect(carrier).toBeUndefined();
    expect(injectTrace()).toBeUndefined();
  });
});

describe('with an SDK', () => {
  let sdk: TestSdk;
  beforeEach(() => {
    sdk = registerTestSdk();
  });
  afterEach(async () => {
    await sdk.shutdown();
  });

  const to = { apiName: 'support.case', member: 'get', transport: 'redis' };

  it('a call, its execution, an event fired inside and its handler make one trace', async () => {
    const telemetry = new Telemetry();
    await telemetry.call(to, async (callContext) => {
      expect(callContext?.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
      // The worker side, as if in another process: only the carrier crosses.
      await context.with(context.active().deleteValue(Symbol.for('none')), () =>
        telemetry.execute(to, { id: 'm1', traceContext: callContext }, async () => {
          await telemetry.fire(
            { apiName: 'support.case', member: 'caseCreated', transport: 'kafka' },
            'e1',
            async (eventContext) => {
              await telemetry.handle(
                {
                  apiName: 'support.case',
                  member: 'caseCreated',
                  transport: 'kafka',
                  listenerName: 'notify',
                  group: 'svc-notify',
                },
                { id: 'e1', traceContext: eventContext },
                async () => undefined,
              );
            },
          );
        }),
      );
    });
    const spans = sdk.finished();
    expect(spans.map((s) => [s.name, s.kind])).toEqual(
      expect.arrayContaining([
        ['support.case/get', SpanKind.CLIENT],
        ['support.case/get', SpanKind.SERVER],
        ['publish support.case.caseCreated', SpanKind.PRODUCER],
        ['process support.case.caseCreated', SpanKind.CONSUMER],
      ]),
    );
    expect(new Set(spans.map((s) => s.spanContext().traceId)).size).toBe(1);
    const byName = (name: string, kind: SpanKind) => spans.find((s) => s.name === name && s.kind === kind)!;
    const client = byName('support.case/get', SpanKind.CLIENT);
    const server = byName('support.case/get', SpanKind.SERVER);
    const producer = byName('publish support.case.caseCreated', SpanKind.PRODUCER);
    const consumer = byName('process support.case.caseCreated', SpanKind.CONSUMER);
    expect(server.parentSpanContext?.spanId).toBe(client.spanContext().spanId);
    expect(producer.parentSpanContext?.spanId).toBe(server.spanContext().spanId);
    expect(consumer.parentSpanContext?.spanId).toBe(producer.spanContext().spanId);
    expect(client.attributes).toMatchObject({
      'rpc.system': 'lightbus',
      'rpc.service': 'support.case',
      'rpc.method': 'get',
      'messaging.system': 'redis',
    });
    expect(consumer.attributes).toMatchObject({
      'messaging.system': 'kafka',
      'messaging.operation': 'process',
      'messaging.destination.name': 'support.case.caseCreated',
      'messaging.message.id': 'e1',
      'messaging.consumer.group.name': 'svc-notify',
      'lightbus.listener': 'notify',
    });
    expect(producer.attributes).toMatchObject({ 'messaging.operation': 'publish', 'messaging.message.id': 'e1' });
  });

  it('marks the caller span with a remote error or a timeout, and counts outcomes', async () => {
    const telemetry = new Telemetry();
    const remote = new RemoteError('support.case', 'get', 'card declined', 'PaymentDeclined', 'Traceback ...');
    await expect(telemetry.call(to, () => Promise.reject(remote))).rejects.toBe(remote);
    await expect(
      telemetry.call(to, () => Promise.reject(new RpcTimeoutError('support.case', 'get', 5, ''))),
    ).rejects.toThrow();
    await telemetry.call(to, async () => 1);
    const [declined, timedOut] = sdk.finished();
    expect(declined?.status.code).toBe(SpanStatusCode.ERROR);
    expect(declined?.attributes['error.type']).toBe('PaymentDeclined');
    expect(timedOut?.attributes['error.type']).toBe('LIGHTBUS_RPC_TIMEOUT');
    const points = await sdk.metric('rpc.client.call.duration');
    const count = (outcome: string) =>
      points
        .filter((p) => p.attributes['lightbus.outcome'] === outcome)
        .reduce((n, p) => n + (p.value as { count: number }).count, 0);
    expect([count('ok'), count('error'), count('timeout')]).toEqual([1, 1, 1]);
  });

  it('counts in-flight work back to zero and handler outcomes', async () => {
    const telemetry = new Telemetry();
    const on = { apiName: 'a', member: 'e', transport: 'memory', listenerName: 'l' };
    await telemetry.handle(on, { id: '1' }, async () => undefined);
    await expect(telemetry.handle(on, { id: '2' }, () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    telemetry.deadLettered('l', { cause: 'rejected', apiName: 'a', eventName: 'e' });
    const handled = await sdk.metric('messaging.process.duration');
    expect(handled.map((p) => [p.attributes['lightbus.outcome'], (p.value as { count: number }).count]).sort()).toEqual(
      [
        ['error', 1],
        ['ok', 1],
      ],
    );
    expect((await sdk.metric('lightbus.in_flight')).map((p) => p.value)).toEqual([0]);
    expect((await sdk.metric('lightbus.events.dead_lettered')).map((p) => p.value)).toEqual([1]);
    expect(trace.getActiveSpan()).toBeUndefined();
  });
});
