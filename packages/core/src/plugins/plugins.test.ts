/** The internal_state and internal_metrics plugins. */
import { Collector, waitFor } from '@lightbus/testing';
import { LightbusMetricsApi } from '.';
import type { Params } from '../api/event';
import { busFactory, memoryConfig, SupportCaseApi } from '../test-helpers';

const buses = busFactory();
afterEach(() => buses.closeAll());

describe('plugins', () => {
  it('internal_state fires worker_started, worker_ping and worker_stopped', async () => {
    const config = memoryConfig(undefined, { plugins: { internal_state: { enabled: true, ping_interval: 0.02 } } });
    const worker = buses.make({ config });
    worker.client.registerApi(new SupportCaseApi());
    worker.support.case.caseClosed.listen(() => undefined, { listenerName: 'watch' });
    const monitor = buses.make({
      config: memoryConfig((config.bus!.schema!.transport as { memory: { name: string } }).memory.name),
    });
    const seen = new Collector<[string, Record<string, unknown>]>();
    monitor.client.listen(
      ['internal.state.worker_started', 'internal.state.worker_ping', 'internal.state.worker_stopped'],
      (params, message) => seen.push([message.eventName, params]),
      { listenerName: 'monitor' },
    );
    await monitor.start();
    await worker.start();
    await waitFor(() => seen.items.some(([name]) => name === 'worker_ping'));
    await worker.close();
    await waitFor(() => seen.items.some(([name]) => name === 'worker_stopped'));
    const [, started] = seen.items.find(([name]) => name === 'worker_started')!;
    expect(started).toMatchObject({
      service_name: 'test-service',
      process_name: 'test-process',
      metrics_enabled: false,
      api_names: ['support.case'],
      listening_for: ['support.case.caseClosed'],
      ping_interval: 0.02,
    });
    expect(typeof started.timestamp).toBe('number'); // seconds since the epoch, as Python writes it
  });

  it('internal_metrics fires an event for every call, result and event', async () => {
    const config = memoryConfig(undefined, { plugins: { internal_metrics: { enabled: true } } });
    const bus = buses.make({ config });
    bus.client.registerApi(new SupportCaseApi());
    const metrics = new Collector<string>();
    bus.client.listen(
      Object.keys(new LightbusMetricsApi())
        .filter((k) => k.includes('_'))
        .map((e) => `internal.metrics.${e}`),
      (_p, m) => metrics.push(m.eventName),
      { listenerName: 'metrics' },
    );
    const got = new Collector<unknown>();
    bus.support.case.caseClosed.listen((p: Params) => got.push(p), { listenerName: 'handler' });
    await bus.start();
    await bus.support.case.get({ id: 1 });
    await bus.support.case.caseClosed.fire({ id: 1 });
    await got.waitForCount(1);
    await waitFor(() => metrics.items.includes('event_processed'));
    expect([...new Set(metrics.items)].sort()).toEqual([
      'event_fired',
      'event_processed',
      'event_received',
      'rpc_call_received',
      'rpc_call_sent',
      'rpc_response_received',
      'rpc_response_sent',
    ]);
  });
});
