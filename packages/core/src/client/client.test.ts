import { Collector, waitFor } from '@lightbus/testing';
import {
  Api,
  ApiNotRegisteredError,
  BusClosedError,
  DuplicateListenerError,
  Event,
  InvalidParametersError,
  RemoteError,
  RpcTimeoutError,
  TransportCapabilityError,
  UnknownEventError,
  UnknownProcedureError,
  WorkerFailedError,
  LightbusMetricsApi,
  deferred,
  memoryTransport,
  type ConsumeSpec,
  type Consumer,
  type EventMessageHandler,
  type EventTransport,
  type RpcMessage,
  type RpcTransport,
  memoryBroker,
  type EventMessage,
} from '..';
import { busFactory, memoryConfig, RecordingLogger } from '../test-helpers';

class SupportCaseApi extends Api {
  static override meta = { name: 'support.case' };
  caseCreated = new Event({ parameters: ['id', 'sender'] });
  caseClosed = new Event({ parameters: ['id'] });

  get({ id }: { id: number }) {
    return { id, subject: `Case ${id}` };
  }
  async slowGet({ id, ms }: { id: number; ms: number }) {
    await new Promise((resolve) => setTimeout(resolve, ms));
    return id;
  }
  nothing() {
    return undefined;
  }
  fail({ message }: { message: string }) {
    throw new TypeError(message);
  }
}

const buses = busFactory();
afterEach(() => buses.closeAll());

/** A worker bus serving SupportCaseApi and a client bus, on one fresh memory broker. */
async function pair(extra = {}) {
  const config = memoryConfig(undefined, extra);
  const worker = buses.make({ config });
  worker.client.registerApi(new SupportCaseApi());
  await worker.start();
  const client = buses.make({ config: { ...config, process_name: 'client-process' } });
  return { worker, client, config };
}

describe('calling procedures', () => {
  it('calls a sync procedure by dynamic path and by typed client', async () => {
    const { client } = await pair();
    expect(await client.support.case.get({ id: 7 })).toEqual({ id: 7, subject: 'Case 7' });
    const typed = client.api(SupportCaseApi);
    const result = await typed.get({ id: 8 });
    expect(result.subject).toBe('Case 8');
    expect(await typed.slowGet({ id: 3, ms: 5 })).toBe(3);
  });

  it('returns null for a procedure that returns nothing', async () => {
    const { client } = await pair();
    expect(await client.support.case.nothing()).toBeNull();
  });

  it('raises RemoteError with the remote message, type and stack', async () => {
    const { client } = await pair();
    const error = await client.support.case.fail({ message: 'no such case' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RemoteError);
    const remote = error as RemoteError;
    expect(remote.remoteMessage).toBe('no such case');
    expect(remote.remoteType).toBe('TypeError');
    expect(remote.remoteStack).toContain('TypeError: no such case');
    expect(remote.message).toContain('support.case.fail() failed in the worker: TypeError: no such case');
    expect(remote.code).toBe('LIGHTBUS_REMOTE_ERROR');
  });

  it('times out naming the API, procedure and timeout', async () => {
    const config = memoryConfig(undefined, { apis: { 'nobody.home': { rpc_timeout: 0.05 } } });
    const client = buses.make({ config });
    const error = await client.nobody.home.ping().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RpcTimeoutError);
    expect((error as Error).message).toMatch(/No result for nobody\.home\.ping\(\) within 0\.05s \(rpc_timeout\)/);
    expect((error as Error).message).toMatch(/not registered in this process/);
  });

  it('takes a timeout per call', async () => {
    const { client } = await pair();
    await expect(client.support.case.slowGet({ id: 1, ms: 500 }, { timeout: 0.05 })).rejects.toThrow(RpcTimeoutError);
  });

  it('refuses an unknown procedure of an API it knows, listing the procedures', async () => {
    const { worker } = await pair();
    await expect(worker.support.case.gett({ id: 1 })).rejects.toThrow(UnknownProcedureError);
    await expect(worker.support.case.gett({ id: 1 })).rejects.toThrow(/has no procedure 'gett'. Its procedures: .*get/);
  });

  it('refuses an unknown procedure of an API whose schema is on the bus', async () => {
    const { client } = await pair();
    await expect(client.support.case.gett({ id: 1 })).rejects.toThrow(UnknownProcedureError);
    await expect(client.support.case.gett({ id: 1 })).rejects.toThrow(/has no procedure 'gett' \(per its schema\)\. Its procedures: get, slowGet/);
  });

  it('returns a clear error from a worker that does not know the procedure', async () => {
    const { client } = await pair({ apis: { default: { validate: false, cast_values: false } } });
    const error = (await client.support.case.gett({ id: 1 }).catch((e: unknown) => e)) as RemoteError;
    expect(error).toBeInstanceOf(RemoteError);
    expect(error.remoteType).toBe('UnknownProcedureError');
    expect(error.message).toMatch(/has no procedure 'gett'/);
  });

  it('refuses parameters that are not one object', async () => {
    const { client } = await pair();
    await expect(client.support.case.get(5 as never)).rejects.toThrow(InvalidParametersError);
    await expect(client.client.callRpc('support.case', 'get', [1])).rejects.toThrow(/must be one object.*an array/);
  });

  it('gives a clear error for a path that is not a procedure', async () => {
    const { client } = await pair();
    await expect(client.support()).rejects.toThrow(/bus\.support\(\) is not a procedure call/);
    await expect(client.client.callRpc('support.case', '_private')).rejects.toThrow(/may not start with '_'/);
  });

  it('is not mistaken for a promise', async () => {
    const { client } = await pair();
    expect((client.support.case as unknown as { then?: unknown }).then).toBeUndefined();
    expect((client as unknown as { then?: unknown }).then).toBeUndefined();
    // Awaiting a path by mistake resolves to the path itself instead of hanging.
    const awaited = await (client.support.case as unknown as Promise<unknown>);
    expect(String(awaited)).toBe('bus.support.case');
  });

  it('serves many calls at once', async () => {
    const { client } = await pair();
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => client.api(SupportCaseApi).slowGet({ id: i, ms: 20 })));
    expect(results).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  it('serves an API registered after start', async () => {
    const config = memoryConfig();
    const worker = buses.make({ config });
    await worker.start();
    worker.client.registerApi(new SupportCaseApi());
    const client = buses.make({ config });
    expect(await client.support.case.get({ id: 1 })).toEqual({ id: 1, subject: 'Case 1' });
  });

  it('serves only when the rpcs feature is on', async () => {
    const config = memoryConfig(undefined, { apis: { default: { rpc_timeout: 0.1 } } });
    const worker = buses.make({ config });
    worker.client.registerApi(new SupportCaseApi());
    await worker.start({ features: ['events'] });
    await expect(buses.make({ config }).support.case.get({ id: 1 })).rejects.toThrow(RpcTimeoutError);
  });
});

describe('firing events', () => {
  it('fires only from the process that registered the API', async () => {
    const { client } = await pair();
    await expect(client.support.case.caseCreated.fire({ id: 1, sender: 'Joe' })).rejects.toThrow(ApiNotRegisteredError);
    await expect(client.support.case.caseCreated.fire({ id: 1, sender: 'Joe' })).rejects.toThrow(/registerApi/);
  });

  it('refuses an unknown event, listing the events', async () => {
    const { worker } = await pair();
    await expect(worker.support.case.caseOpened.fire({ id: 1 })).rejects.toThrow(UnknownEventError);
    await expect(worker.support.case.caseOpened.fire({ id: 1 })).rejects.toThrow(/Its events: caseCreated, caseClosed/);
  });

  it('names missing and unknown parameters', async () => {
    const { worker } = await pair();
    const fire = (params: Record<string, unknown>) => worker.support.case.caseCreated.fire(params);
    await expect(fire({ id: 1 })).rejects.toThrow(/missing parameter 'sender'/);
    await expect(fire({ id: 1, sender: 'a', extra: 1, more: 2 })).rejects.toThrow(/unknown parameters 'extra', 'more'/);
    await expect(fire({})).rejects.toThrow(/missing parameters 'id', 'sender'/);
    await expect(worker.client.fireEvent('support.case', 'caseCreated', 'x')).rejects.toThrow(InvalidParametersError);
  });
});

describe('listening', () => {
  it('delivers parameters and the message to a listener', async () => {
    const { worker, client } = await pair();
    const got = new Collector<[Record<string, unknown>, EventMessage]>();
    const listener = client.support.case.caseCreated.listen((params, message) => got.push([params, message]), { listenerName: 'notify' });
    await client.start();
    await listener.ready;
    await worker.api(SupportCaseApi).caseCreated.fire({ id: 1, sender: 'Joe' });
    const [[params, message]] = await got.waitForCount(1);
    expect(params).toEqual({ id: 1, sender: 'Joe' });
    expect(message).toMatchObject({ apiName: 'support.case', eventName: 'caseCreated', version: 1 });
  });

  it('listens to several events with one listener', async () => {
    const { worker, client } = await pair();
    const got = new Collector<string>();
    const typed = client.api(SupportCaseApi);
    client.client.listen([typed.caseCreated, 'support.case.caseClosed'], (_p, m) => got.push(m.eventName), { listenerName: 'both' });
    await client.start();
    await worker.support.case.caseCreated.fire({ id: 1, sender: 'a' });
    await worker.support.case.caseClosed.fire({ id: 1 });
    expect(await got.waitForCount(2)).toEqual(['caseCreated', 'caseClosed']);
  });

  it('shares events between processes of a service, and gives every service all of them', async () => {
    const { worker, config } = await pair();
    const seen = { a1: 0, a2: 0, b: 0 };
    for (const [service, process, key] of [
      ['service-a', 'p1', 'a1'],
      ['service-a', 'p2', 'a2'],
      ['service-b', 'p1', 'b'],
    ] as const) {
      const bus = buses.make({ config: { ...config, service_name: service, process_name: process } });
      bus.support.case.caseClosed.listen(() => void (seen[key] += 1), { listenerName: 'count' });
      await bus.start();
    }
    for (let i = 0; i < 20; i++) await worker.support.case.caseClosed.fire({ id: i });
    await waitFor(() => seen.b === 20 && seen.a1 + seen.a2 === 20);
    expect(seen.a1 + seen.a2).toBe(20);
  });

  it('names the consumer group <service>-<listener>', async () => {
    const { worker, config } = await pair();
    const groups: string[] = [];
    const bus = buses.make({ config: { ...config, service_name: 'billing' } });
    bus.support.case.caseClosed.listen(() => undefined, { listenerName: 'invoice' });
    await bus.start();
    const name = (config.apis!.default!.event_transport as { memory: { name: string } }).memory.name;
    for (const stream of memoryBroker(name).streams.values()) groups.push(...stream.groups.keys());
    expect(groups).toContain('billing-invoice');
    expect(worker).toBeDefined();
  });

  it('refuses a duplicate listener name, a missing name and a bad onError', async () => {
    const { client } = await pair();
    client.support.case.caseClosed.listen(() => undefined, { listenerName: 'x' });
    expect(() => client.support.case.caseCreated.listen(() => undefined, { listenerName: 'x' })).toThrow(DuplicateListenerError);
    expect(() => client.support.case.caseCreated.listen(() => undefined, {} as never)).toThrow(/listenerName/);
    expect(() =>
      client.support.case.caseCreated.listen(() => undefined, { listenerName: 'y', onError: 'ignore' as never }),
    ).toThrow(/onError must be 'shutdown' or 'acknowledge_and_log'/);
    expect(() => client.support.case.caseCreated.listen(() => undefined, { listenerName: 'z', since: 12 as never })).toThrow(/since must be/);
  });

  it('refuses to listen to an unknown event of a registered API', async () => {
    const { worker } = await pair();
    expect(() => worker.support.case.nope.listen(() => undefined, { listenerName: 'n' })).toThrow(UnknownEventError);
  });

  it('replays past events for a new listener with since', async () => {
    const { worker, client } = await pair();
    await worker.support.case.caseClosed.fire({ id: 1 });
    await worker.support.case.caseClosed.fire({ id: 2 });
    const got = new Collector<unknown>();
    client.support.case.caseClosed.listen((p) => got.push(p.id), { listenerName: 'replay', since: 'beginning' });
    await client.start();
    expect(await got.waitForCount(2)).toEqual([1, 2]);
  });

  it("with onError 'acknowledge_and_log', logs a failing handler and goes on", async () => {
    const { worker, config } = await pair();
    const logger = new RecordingLogger();
    const bus = buses.make({ config, logger });
    const got = new Collector<unknown>();
    bus.support.case.caseClosed.listen(
      ({ id }) => {
        if (id === 1) throw new Error('bad case');
        got.push(id);
      },
      { listenerName: 'tolerant', onError: 'acknowledge_and_log' },
    );
    await bus.start();
    await worker.support.case.caseClosed.fire({ id: 1 });
    await worker.support.case.caseClosed.fire({ id: 2 });
    expect(await got.waitForCount(1)).toEqual([2]);
    expect(logger.messages('error').join('\n')).toMatch(/Listener 'tolerant' failed on support\.case\.caseClosed.*acknowledge_and_log/);
  });

  it("with onError 'shutdown' (default), stops the bus with the reason and loses no event", async () => {
    const { worker, config } = await pair();
    const failing = buses.make({ config });
    failing.support.case.caseClosed.listen(
      ({ id }) => {
        if (id === 1) throw new Error('bad case');
      },
      { listenerName: 'strict' },
    );
    await failing.start();
    await worker.support.case.caseClosed.fire({ id: 1 });
    const error = await failing.waitUntilStopped().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WorkerFailedError);
    expect((error as Error).message).toMatch(/Listener 'strict' failed on support\.case\.caseClosed .*bad case.*not acknowledged/);
    await expect(failing.support.case.get({ id: 1 })).rejects.toThrow(BusClosedError);

    // The unacknowledged event goes to the next consumer of the group.
    const replacement = buses.make({ config });
    const got = new Collector<unknown>();
    replacement.support.case.caseClosed.listen((p) => got.push(p.id), { listenerName: 'strict' });
    await replacement.start();
    await worker.support.case.caseClosed.fire({ id: 2 });
    expect(await got.waitForCount(2)).toEqual([1, 2]);
  });

  it('stops one listener', async () => {
    const { worker, client } = await pair();
    const got = new Collector<unknown>();
    const listener = client.support.case.caseClosed.listen((p) => got.push(p.id), { listenerName: 'stoppable' });
    await client.start();
    await worker.support.case.caseClosed.fire({ id: 1 });
    await got.waitForCount(1);
    await listener.stop();
    await worker.support.case.caseClosed.fire({ id: 2 });
    // A second listener on another group proves the event was delivered meanwhile.
    const other = new Collector<unknown>();
    client.support.case.caseClosed.listen((p) => other.push(p.id), { listenerName: 'other', since: 'beginning' });
    await other.waitForCount(2);
    expect(got.items).toEqual([1]);
  });

  it('refuses since on a transport that cannot replay', async () => {
    const config = memoryConfig();
    const noReplay = {
      name: 'noreplay',
      capabilities: { crossProcess: true, durable: true, consumerGroups: true, replay: false, history: false, ordering: 'none' as const },
      options: {},
      event: () => ({
        capabilities: { crossProcess: true, durable: true, consumerGroups: true, replay: false, history: false, ordering: 'none' as const },
        sendEvent: async () => undefined,
        consume: async () => ({ stop: async () => undefined }),
        close: async () => undefined,
      }),
    };
    const bus = buses.make({
      config: { ...config, apis: { ...config.apis, 'support.case': { event_transport: { noreplay: {} } } } },
      transports: [noReplay],
    });
    expect(() => bus.support.case.caseClosed.listen(() => undefined, { listenerName: 'r', since: 'beginning' })).toThrow(
      TransportCapabilityError,
    );
    expect(() => bus.support.case.caseClosed.listen(() => undefined, { listenerName: 'r', since: 'beginning' })).toThrow(
      /cannot replay events/,
    );
  });
});

describe('hooks', () => {
  it('runs every hook in order around calls, executions and events', async () => {
    const config = memoryConfig();
    const worker = buses.make({ config });
    const client = buses.make({ config });
    const order: string[] = [];
    for (const bus of [worker, client]) {
      const who = bus === worker ? 'worker' : 'client';
      for (const hook of [
        'onStart',
        'onStop',
        'beforeRpcCall',
        'afterRpcCall',
        'beforeRpcExecution',
        'afterRpcExecution',
        'beforeEventSent',
        'afterEventSent',
        'beforeEventExecution',
        'afterEventExecution',
      ] as const) {
        bus.client.on(hook, () => void order.push(`${who}:${hook}`));
      }
    }
    worker.client.registerApi(new SupportCaseApi());
    const got = new Collector<unknown>();
    client.support.case.caseClosed.listen((p) => got.push(p), { listenerName: 'hooks' });
    await worker.start();
    await client.start();
    await client.support.case.get({ id: 1 });
    await worker.support.case.caseClosed.fire({ id: 1 });
    await got.waitForCount(1);
    await waitFor(() => order.includes('client:afterEventExecution'));
    await client.close();
    expect(order).toEqual([
      'worker:onStart',
      'client:onStart',
      'client:beforeRpcCall',
      'worker:beforeRpcExecution',
      'worker:afterRpcExecution',
      'client:afterRpcCall',
      'worker:beforeEventSent',
      'worker:afterEventSent',
      'client:beforeEventExecution',
      'client:afterEventExecution',
      'client:onStop',
    ]);
  });
});

describe('tasks and lifecycle', () => {
  it('runs every() tasks while started, and stops them on close', async () => {
    const bus = buses.make({ config: memoryConfig() });
    let runs = 0;
    bus.client.every({ seconds: 0.01 }, () => void (runs += 1), { alsoRunImmediately: true });
    expect(runs).toBe(0);
    await bus.start();
    await waitFor(() => runs >= 3);
    await bus.close();
    const after = runs;
    // close() waited for the task loop to end: nothing can run it again.
    await new Promise((resolve) => setImmediate(resolve));
    expect(runs).toBe(after);
  });

  it('does not run tasks when the tasks feature is off', async () => {
    const bus = buses.make({ config: memoryConfig() });
    let runs = 0;
    bus.client.every(0.001, () => void (runs += 1), { alsoRunImmediately: true });
    await bus.start({ features: ['rpcs', 'events'] });
    await new Promise((resolve) => setImmediate(resolve));
    expect(runs).toBe(0);
  });

  it('stops with the reason when a task fails', async () => {
    const bus = buses.make({ config: memoryConfig() });
    bus.client.every({ seconds: 0.01 }, function refreshCache() {
      throw new Error('cache down');
    });
    await bus.start();
    await expect(bus.waitUntilStopped()).rejects.toThrow(/every 0.01s refreshCache failed: cache down/);
  });

  it('runs background tasks with a signal that aborts on close', async () => {
    const bus = buses.make({ config: memoryConfig() });
    let aborted = false;
    bus.client.addBackgroundTask(async (signal) => {
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()));
      aborted = true;
    });
    await bus.start();
    await bus.close();
    expect(aborted).toBe(true);
  });

  it('refuses bad intervals', () => {
    const bus = buses.make({ config: memoryConfig() });
    expect(() => bus.client.every({}, () => undefined)).toThrow(/positive duration/);
    expect(() => bus.client.every(-1, () => undefined)).toThrow(InvalidParametersError);
  });

  it('finishes calls in progress before closing', async () => {
    const config = memoryConfig();
    const started = deferred<void>();
    const release = deferred<void>();
    let finished = false;
    class GateApi extends Api {
      static override meta = { name: 'gate' };
      async pass() {
        started.resolve();
        await release.promise;
        finished = true;
        return 'passed';
      }
    }
    const worker = buses.make({ config });
    worker.client.registerApi(new GateApi());
    await worker.start();
    const call = buses.make({ config }).gate.pass();
    await started.promise;
    const closing = worker.close();
    release.resolve();
    await closing;
    // close() resolved only after the procedure finished and its result was sent.
    expect(finished).toBe(true);
    expect(await call).toBe('passed');
  });

  it('ends a call still waiting when its own bus closes', async () => {
    const config = memoryConfig(undefined, { apis: { default: { rpc_timeout: 30 } } });
    const client = buses.make({ config });
    const waiting = client.nobody.home.ping().catch((e: unknown) => e);
    await new Promise((resolve) => setImmediate(resolve));
    await client.close();
    expect(await waiting).toBeInstanceOf(BusClosedError);
  });

  it('refuses use after close, and close is idempotent', async () => {
    const bus = buses.make({ config: memoryConfig() });
    await bus.close();
    await bus.close();
    expect(() => bus.client.registerApi(new SupportCaseApi())).toThrow(BusClosedError);
    await expect(bus.support.case.get({ id: 1 })).rejects.toThrow(/closed.*lightbus.create/);
  });

  it('refuses an API registered twice', () => {
    const bus = buses.make({ config: memoryConfig() });
    bus.client.registerApi(new SupportCaseApi());
    expect(() => bus.client.registerApi(new SupportCaseApi())).toThrow(/already registered/);
  });
});

describe('plugins', () => {
  it('internal_state fires worker_started, worker_ping and worker_stopped', async () => {
    const config = memoryConfig(undefined, { plugins: { internal_state: { enabled: true, ping_interval: 0.02 } } });
    const worker = buses.make({ config });
    worker.client.registerApi(new SupportCaseApi());
    worker.support.case.caseClosed.listen(() => undefined, { listenerName: 'watch' });
    const monitor = buses.make({ config: memoryConfig((config.bus!.schema!.transport as { memory: { name: string } }).memory.name) });
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
    expect(typeof started.timestamp).toBe('string');
  });

  it('internal_metrics fires an event for every call, result and event', async () => {
    const config = memoryConfig(undefined, { plugins: { internal_metrics: { enabled: true } } });
    const bus = buses.make({ config });
    bus.client.registerApi(new SupportCaseApi());
    const metrics = new Collector<string>();
    bus.client.listen(
      Object.keys(new LightbusMetricsApi()).filter((k) => k.includes('_')).map((e) => `internal.metrics.${e}`),
      (_p, m) => metrics.push(m.eventName),
      { listenerName: 'metrics' },
    );
    const got = new Collector<unknown>();
    bus.support.case.caseClosed.listen((p) => got.push(p), { listenerName: 'handler' });
    await bus.start();
    await bus.support.case.get({ id: 1 });
    await bus.support.case.caseClosed.fire({ id: 1 });
    await got.waitForCount(1);
    await waitFor(() => metrics.items.includes('event_processed'));
    expect([...new Set(metrics.items)].sort()).toEqual(
      ['event_fired', 'event_processed', 'event_received', 'rpc_call_received', 'rpc_call_sent', 'rpc_response_received', 'rpc_response_sent'],
    );
  });
});

describe('races and resources', () => {
  /** The memory transport, with event consumers that start only when the test says so. */
  /** The memory transport, with its event consumers created by `consume` (given the memory one). */
  function memoryWithConsume(name: string, consume: (inner: EventTransport, spec: ConsumeSpec, handler: EventMessageHandler) => Promise<Consumer>) {
    return {
      ...memoryTransport,
      name,
      event: (options: never, context: never): EventTransport => {
        const inner = (memoryTransport.event as (o: unknown, c: unknown) => EventTransport)(options, context);
        return {
          capabilities: inner.capabilities,
          sendEvent: (m, o) => inner.sendEvent(m, o),
          consume: (spec, handler) => consume(inner, spec, handler),
          close: () => inner.close(),
        };
      },
    };
  }

  function gatedMemory(gate: Promise<void>, stops: string[], entered = deferred<void>()) {
    return memoryWithConsume('gated', async (inner, spec, handler) => {
      entered.resolve();
      await gate;
      const consumer = await inner.consume(spec, handler);
      return {
        stop: async () => {
          stops.push(spec.group);
          await consumer.stop();
        },
      } satisfies Consumer;
    });
  }

  it('stops a listener whose consumer was still starting when the bus closed', async () => {
    const name = `race-${Date.now()}`;
    const gate = deferred<void>();
    const entered = deferred<void>();
    const stops: string[] = [];
    const bus = buses.make({
      config: memoryConfig(name, { apis: { default: { event_transport: { gated: { name, max_stream_length: 100 } } } } }),
      transports: [gatedMemory(gate.promise, stops, entered) as never],
    });
    const handled = new Collector<unknown>();
    bus.support.case.caseClosed.listen((p) => handled.push(p), { listenerName: 'late' });
    const starting = bus.start();
    await entered.promise; // the transport is creating the consumer...
    const closing = bus.close(); // ...when the bus closes
    gate.resolve();
    await closing;
    await starting.catch(() => undefined);
    expect(stops).toEqual(['test-service-late']);
    // Nothing consumes for the closed bus any more: an event fired now waits for the group.
    const other = buses.make({ config: memoryConfig(name) });
    other.client.registerApi(new SupportCaseApi());
    await other.support.case.caseClosed.fire({ id: 1 });
    const group = memoryBroker(name).streams.get('support.case.caseClosed')!.groups.get('test-service-late')!;
    expect(group.pending.size).toBe(0);
    expect(handled.items).toEqual([]);
  });

  it('cuts short a consumer still waiting for its broker when the bus closes, without failing the worker', async () => {
    const name = `unreachable-${Date.now()}`;
    const entered = deferred<void>();
    const aborted: string[] = [];
    // Like a transport whose broker is down at start: consume() waits until the bus says stop.
    const waiting = memoryWithConsume(
      'waiting',
      (_inner, spec) =>
        new Promise<Consumer>((_, reject) => {
          entered.resolve();
          spec.signal?.addEventListener('abort', () => {
            aborted.push(spec.group);
            reject(new BusClosedError('stopped while waiting for the broker'));
          });
        }),
    );
    const bus = buses.make({
      config: memoryConfig(name, { apis: { default: { event_transport: { waiting: { name, max_stream_length: 100 } } } } }),
      transports: [waiting as never],
    });
    bus.support.case.caseClosed.listen(() => undefined, { listenerName: 'down' });
    const starting = bus.start();
    await entered.promise;
    await bus.close();
    expect(aborted).toEqual(['test-service-down']);
    await expect(bus.client.waitUntilStopped()).resolves.toBeUndefined();
    await starting.catch(() => undefined);
  });

  it('releases what a call held when it times out', async () => {
    const name = `timeouts-${Date.now()}`;
    const client = buses.make({ config: memoryConfig(name, { apis: { default: { rpc_timeout: 0.05 } } }) });
    for (let i = 0; i < 20; i++) await expect(client.nobody.home.ping()).rejects.toThrow(RpcTimeoutError);
    expect(memoryBroker(name).mailboxes.size).toBe(0);
  });

  it('counts schema loading and hooks within rpc_timeout', async () => {
    const hanging = {
      name: 'hangingschema',
      capabilities: memoryTransport.capabilities,
      options: {},
      schema: () => ({ store: async () => undefined, load: () => new Promise<never>(() => undefined), close: async () => undefined }),
    };
    const config = memoryConfig(undefined, { apis: { default: { rpc_timeout: 0.1 } } });
    const client = buses.make({ config: { ...config, bus: { schema: { transport: { hangingschema: {} } } } }, transports: [hanging as never] });
    await expect(client.nobody.home.ping()).rejects.toThrow(RpcTimeoutError);
  });

  it('drops a call whose deadline passed before it could run, on any transport', async () => {
    let deliver!: (message: RpcMessage) => Promise<void>;
    const sent: unknown[] = [];
    const capture = {
      name: 'capture',
      capabilities: memoryTransport.capabilities,
      options: {},
      rpc: (): RpcTransport => ({
        callRpc: async () => undefined,
        consumeRpcs: async (_apis, handler) => {
          deliver = handler;
          return { stop: async () => undefined };
        },
        close: async () => undefined,
      }),
      result: () => ({ expectResult: async () => ({ returnPath: 'x', result: new Promise<never>(() => undefined), cancel: () => undefined }), sendResult: async (_c: unknown, r: unknown) => void sent.push(r), close: async () => undefined }),
    };
    const config = memoryConfig();
    const worker = buses.make({
      config: { ...config, apis: { default: { ...config.apis!.default, rpc_transport: { capture: {} }, result_transport: { capture: {} } } } },
      transports: [capture as never],
    });
    let runs = 0;
    class CountApi extends Api {
      static override meta = { name: 'count' };
      run() {
        runs += 1;
        return runs;
      }
    }
    worker.client.registerApi(new CountApi());
    await worker.start();
    const call = (deadline: number): RpcMessage => ({ id: String(deadline), apiName: 'count', procedureName: 'run', kwargs: {}, returnPath: 'x', deadline });
    await deliver(call(Date.now() - 1));
    expect(runs).toBe(0);
    expect(sent).toEqual([]);
    await deliver(call(Date.now() + 10_000));
    expect(runs).toBe(1);
    expect(sent).toHaveLength(1);
  });

  it('skips, with one warning, a schema it cannot compile, and still delivers', async () => {
    const { worker, config } = await pair();
    const logger = new RecordingLogger();
    const bus = buses.make({ config, logger });
    bus.client.schemas.addFromFiles({
      'support.case': {
        rpcs: {},
        events: { caseClosed: { parameters: { type: 'object', properties: { id: { type: 'string', pattern: '(?P<n>a)' } } } } },
      },
    });
    const got = new Collector<unknown>();
    bus.support.case.caseClosed.listen((p) => got.push(p.id), { listenerName: 'tolerant-schema' });
    await bus.start();
    await worker.support.case.caseClosed.fire({ id: 1 });
    await worker.support.case.caseClosed.fire({ id: 2 });
    expect(await got.waitForCount(2)).toEqual([1, 2]);
    expect(logger.messages('warn').filter((m) => m.includes('cannot be used for validation'))).toHaveLength(1);
  });
});
