/**
 * The metrics scenarios of the bus-level tier, in the test process with an
 * OpenTelemetry metrics SDK (in-memory exporter) registered before the bus is
 * created: consumer lag rising while a listener's handler is held and falling
 * to zero once it handles the events.
 */
import { expect } from '@jest/globals';
import type { Bus } from '@lightbus/core';
import { waitFor } from '../wait';
import type { World } from './world';

interface Point {
  readonly attributes: Record<string, unknown>;
  readonly value: unknown;
}

/** Whether the OpenTelemetry metrics SDK the scenarios load is installed (an optional peer of @lightbus/testing). */
export function metricsSdkInstalled(): boolean {
  try {
    require.resolve('@opentelemetry/sdk-metrics');
    require.resolve('@opentelemetry/api');
    return true;
  } catch {
    return false;
  }
}

/** A global MeterProvider with an in-memory exporter; `metric()` collects and returns one instrument's points. */
export async function registerMetricsSdk(): Promise<{
  metric(name: string): Promise<Point[]>;
  shutdown(): Promise<void>;
}> {
  const sdk = await import('@opentelemetry/sdk-metrics');
  const { metrics } = await import('@opentelemetry/api');
  const exporter = new sdk.InMemoryMetricExporter(sdk.AggregationTemporality.CUMULATIVE);
  const reader = new sdk.PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
  const provider = new sdk.MeterProvider({ readers: [reader] });
  metrics.disable();
  metrics.setGlobalMeterProvider(provider);
  return {
    async metric(name) {
      await reader.forceFlush();
      const points: Point[] = [];
      for (const resource of exporter.getMetrics())
        for (const scope of resource.scopeMetrics)
          for (const metric of scope.metrics)
            if (metric.descriptor.name === name)
              for (const point of metric.dataPoints)
                points.push({ attributes: { ...point.attributes }, value: point.value });
      exporter.reset();
      return points;
    },
    async shutdown() {
      await provider.shutdown();
      metrics.disable();
    },
  };
}

/** Sum of the points whose attributes include `where`. */
export function total(points: readonly Point[], where: Record<string, unknown> = {}): number {
  return points
    .filter((p) => Object.entries(where).every(([key, value]) => p.attributes[key] === value))
    .reduce(
      (sum, p) => sum + (typeof p.value === 'number' ? p.value : Number((p.value as { count?: number }).count)),
      0,
    );
}

/**
 * A listener's handler holds the first event it gets while `inHand + 20` are fired: the
 * transport's lag and pending (summed over its streams) reach 20, then fall to 0 once released.
 */
export async function consumerLagRisesAndFalls(world: World, inHand: number): Promise<void> {
  const sdk = await registerMetricsSdk();
  world.onClose(() => sdk.shutdown());
  const bus: Bus = world.bus('lagging');
  bus.client.registerApi(new (world.apiClass())());
  let release: () => void = () => undefined;
  const held = new Promise<void>((resolve) => (release = resolve));
  let handled = 0;
  bus.client.listen(
    [world.apiName, 'tick'],
    async () => {
      await held;
      handled += 1;
    },
    { listenerName: 'slow' },
  );
  await bus.start({ features: ['events'] });
  const fired = inHand + 20;
  for (let i = 0; i < fired; i++) await bus.client.fireEvent(world.apiName, 'tick', { i });

  const ours = { 'lightbus.listener': 'slow' };
  const waiting = async (): Promise<number> =>
    total(await sdk.metric('messaging.consumer.lag'), ours) +
    total(await sdk.metric('messaging.consumer.pending'), ours);
  let last = -1;
  await waitFor(async () => (last = await waiting()) === 20, {
    timeout: world.patience,
    message: () => `lag + pending of listener 'slow' to reach 20 while its handler is held; last: ${last}`,
  });
  const point = (await sdk.metric('messaging.consumer.lag')).find((p) => p.attributes['lightbus.listener'] === 'slow');
  expect(point?.attributes).toMatchObject({
    'messaging.system': expect.any(String),
    'messaging.destination.name': expect.any(String),
    'messaging.consumer.group.name': `${world.service}-slow`,
  });

  release();
  await waitFor(async () => handled === fired && (last = await waiting()) === 0, {
    timeout: world.patience,
    message: () => `every event handled (${handled} of ${fired}) and lag + pending back to 0; last: ${last}`,
  });
}

/**
 * A known workload on one process's buses (a worker serving and listening, a caller calling
 * and firing) gives exactly its counts in the OpenTelemetry metrics: calls made and executed
 * by outcome, events fired and handled, and nothing left in flight.
 */
export async function workloadMetrics(
  world: World,
  handlerLog: (i: number) => void,
  handled: () => number,
): Promise<void> {
  const sdk = await registerMetricsSdk();
  world.onClose(() => sdk.shutdown());
  const worker: Bus = world.bus('worker');
  worker.client.registerApi(new (world.apiClass())());
  worker.client.listen([world.apiName, 'tick'], async (params) => handlerLog(Number(params.i)), {
    listenerName: 'counted',
  });
  await worker.start();
  const caller: Bus = world.bus('caller');
  caller.client.registerApi(new (world.apiClass())());

  const calls = 5;
  const fires = 4;
  for (let i = 0; i < calls; i++) {
    expect(await caller.client.callRpc(world.apiName, 'echo', { text: `call ${i}` })).toBe(`call ${i}`);
  }
  for (let i = 0; i < fires; i++) await caller.client.fireEvent(world.apiName, 'tick', { i });
  await waitFor(() => handled() === fires, {
    timeout: world.patience,
    message: () => `the ${fires} events fired to be handled (${handled()} so far)`,
  });

  const echo = { 'rpc.service': world.apiName, 'rpc.method': 'echo' };
  const ok = { 'lightbus.outcome': 'ok' };
  const tick = { 'lightbus.api': world.apiName, 'lightbus.event': 'tick' };
  // Handled events are counted when their handler returns: wait for the last one to be recorded.
  let counts: Record<string, number> = {};
  await waitFor(
    async () => {
      counts = {
        callsMade: total(await sdk.metric('rpc.client.call.duration'), { ...echo, ...ok }),
        callsExecuted: total(await sdk.metric('rpc.server.call.duration'), { ...echo, ...ok }),
        eventsFired: total(await sdk.metric('messaging.client.sent.messages'), { ...tick, ...ok }),
        eventsHandled: total(await sdk.metric('messaging.process.duration'), {
          ...tick,
          ...ok,
          'lightbus.listener': 'counted',
        }),
        inFlight: total(await sdk.metric('lightbus.in_flight'), { 'lightbus.api': world.apiName }),
      };
      return counts.eventsHandled === fires && counts.inFlight === 0;
    },
    { timeout: world.patience, message: () => `the handled events to be counted; counts: ${JSON.stringify(counts)}` },
  );
  expect(counts).toEqual({
    callsMade: calls,
    callsExecuted: calls,
    eventsFired: fires,
    eventsHandled: fires,
    inFlight: 0,
  });
}
