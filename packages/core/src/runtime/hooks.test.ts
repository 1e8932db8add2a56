/** Hooks around calls, executions and events. */
import { Collector, waitFor } from '@lightbus/testing';
import { type Params } from '..';
import { busFactory, memoryConfig, SupportCaseApi } from '../test-helpers';

const buses = busFactory();
afterEach(() => buses.closeAll());

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
    client.support.case.caseClosed.listen((p: Params) => got.push(p), { listenerName: 'hooks' });
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
