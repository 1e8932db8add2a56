/** Tasks and lifecycle: every(), background tasks, features, drain on close. */
import { waitFor } from '@lightbus/testing';
import { Api, BusClosedError, InvalidParametersError } from '..';
import { deferred } from '../transport';
import { busFactory, memoryConfig, SupportCaseApi } from '../test-helpers';

const buses = busFactory();
afterEach(() => buses.closeAll());

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
