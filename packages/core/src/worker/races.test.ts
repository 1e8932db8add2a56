/** Races and resources: close while consumers start, calls that time out, deadlines. */
import { Collector } from '@lightbus/testing';
import { type Params, Api, BusClosedError, RpcTimeoutError, type RpcMessage } from '..';
import {
  deferred,
  memoryTransport,
  type ConsumeSpec,
  type Consumer,
  type EventMessageHandler,
  type EventTransport,
  type RpcTransport,
  memoryBroker,
} from '../transport';
import { busFactory, memoryConfig, RecordingLogger, SupportCaseApi, pairOn } from '../test-helpers';

const buses = busFactory();
afterEach(() => buses.closeAll());
const pair = pairOn(buses);

describe('races and resources', () => {
  /** The memory transport, with its event consumers created by `consume` (given the memory one). */
  function memoryWithConsume(
    name: string,
    consume: (inner: EventTransport, spec: ConsumeSpec, handler: EventMessageHandler) => Promise<Consumer>,
  ) {
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
      config: memoryConfig(name, {
        apis: { default: { event_transport: { gated: { name, max_stream_length: 100 } } } },
      }),
      transports: [gatedMemory(gate.promise, stops, entered) as never],
    });
    const handled = new Collector<unknown>();
    bus.support.case.caseClosed.listen((p: Params) => handled.push(p), { listenerName: 'late' });
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
      config: memoryConfig(name, {
        apis: { default: { event_transport: { waiting: { name, max_stream_length: 100 } } } },
      }),
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
    expect(memoryBroker(name).waitingResults).toBe(0);
  });

  it('counts schema loading and hooks within rpc_timeout', async () => {
    const hanging = {
      name: 'hangingschema',
      capabilities: memoryTransport.capabilities,
      options: {},
      schema: () => ({
        store: async () => undefined,
        load: () => new Promise<never>(() => undefined),
        close: async () => undefined,
      }),
    };
    const config = memoryConfig(undefined, { apis: { default: { rpc_timeout: 0.1 } } });
    const client = buses.make({
      config: { ...config, bus: { schema: { transport: { hangingschema: {} } } } },
      transports: [hanging as never],
    });
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
      result: () => ({
        expectResult: async () => ({
          returnPath: 'x',
          result: new Promise<never>(() => undefined),
          cancel: () => undefined,
        }),
        sendResult: async (_c: unknown, r: unknown) => void sent.push(r),
        close: async () => undefined,
      }),
    };
    const config = memoryConfig();
    const worker = buses.make({
      config: {
        ...config,
        apis: {
          default: { ...config.apis!.default, rpc_transport: { capture: {} }, result_transport: { capture: {} } },
        },
      },
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
    const call = (deadline: number): RpcMessage => ({
      id: String(deadline),
      apiName: 'count',
      procedureName: 'run',
      kwargs: {},
      returnPath: 'x',
      deadline,
    });
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
        events: {
          caseClosed: { parameters: { type: 'object', properties: { id: { type: 'string', pattern: '(?P<n>a)' } } } },
        },
      },
    });
    const got = new Collector<unknown>();
    bus.support.case.caseClosed.listen((p: Params) => got.push(p.id), { listenerName: 'tolerant-schema' });
    await bus.start();
    await worker.support.case.caseClosed.fire({ id: 1 });
    await worker.support.case.caseClosed.fire({ id: 2 });
    expect(await got.waitForCount(2)).toEqual([1, 2]);
    expect(logger.messages('warn').filter((m) => m.includes('cannot be used for validation'))).toHaveLength(1);
  });
});
