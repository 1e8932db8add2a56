/** `lightbus inspect` in-process on memory: wildcards, --id, --json-path, --internal and --follow. */
import { Api, Event } from '..';
import { waitFor } from '@lightbus/testing';
import { busFactory, captureIo, memoryConfig, SupportCaseApi } from '../test-helpers';
import { inspect } from './commands/inspect';
import { jsonPathTest } from './event-filter';

const buses = busFactory();
afterEach(() => buses.closeAll());

class OrdersApi extends Api {
  static override meta = { name: 'shop.orders' };
  orderPlaced = new Event({ parameters: ['id', 'address'] });
  orderShipped = new Event({ parameters: ['id'] });
  refunded = new Event({ parameters: ['id'] });
}

class InternalAuditApi extends Api {
  static override meta = { name: 'internal.audit' };
  seen = new Event({ parameters: ['id'] });
}

async function busWithEvents() {
  const bus = buses.make({ config: memoryConfig() });
  bus.client.registerApi(new OrdersApi());
  bus.client.registerApi(new SupportCaseApi());
  bus.client.registerApi(new InternalAuditApi());
  await bus.client.fireEvent('shop.orders', 'orderPlaced', { id: 1, address: { city: 'London', zip: 'N1' } });
  await bus.client.fireEvent('support.case', 'caseCreated', { id: 2, sender: 'ann' });
  await bus.client.fireEvent('shop.orders', 'orderPlaced', { id: 3, address: { city: 'Paris', zip: '75001' } });
  await bus.client.fireEvent('shop.orders', 'orderShipped', { id: 1 });
  await bus.client.fireEvent('internal.audit', 'seen', { id: 9 });
  await bus.client.fireEvent('shop.orders', 'refunded', { id: 3 });
  return bus;
}

/** What inspect printed as JSON lines: `<api>.<event>:<id>` each. */
async function inspected(bus: Awaited<ReturnType<typeof busWithEvents>>, options: Parameters<typeof inspect>[1]) {
  const { io, out } = captureIo();
  await inspect(bus, { format: 'json', ...options }, io);
  return out()
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { api_name: string; event_name: string; kwargs: { id: number } })
    .map((e) => `${e.api_name}.${e.event_name}:${e.kwargs.id}`);
}

describe('lightbus inspect', () => {
  it('reads every API but internal.* newest first, merged, and takes * in --api and --event', async () => {
    const bus = await busWithEvents();
    expect(await inspected(bus, {})).toEqual([
      'shop.orders.refunded:3',
      'shop.orders.orderShipped:1',
      'shop.orders.orderPlaced:3',
      'support.case.caseCreated:2',
      'shop.orders.orderPlaced:1',
    ]);
    expect(await inspected(bus, { internal: true, limit: 2 })).toEqual([
      'shop.orders.refunded:3',
      'internal.audit.seen:9',
    ]);
    expect(await inspected(bus, { api: 'internal.audit' })).toEqual(['internal.audit.seen:9']);
    expect(await inspected(bus, { api: 'shop.*', event: 'order*' })).toEqual([
      'shop.orders.orderShipped:1',
      'shop.orders.orderPlaced:3',
      'shop.orders.orderPlaced:1',
    ]);
    expect(await inspected(bus, { event: '*Created' })).toEqual(['support.case.caseCreated:2']);
    await expect(inspected(bus, { api: 'billing.*' })).rejects.toThrow(
      "No API on this bus matches 'billing.*' (internal.* left out: add --internal). Known APIs: internal.audit, shop.orders, support.case.",
    );
    await expect(inspected(bus, { api: 'billing' })).rejects.toThrow("No API 'billing' on this bus");
  });

  it('finds one event by --id and filters on --json-path', async () => {
    const bus = await busWithEvents();
    const { io, out } = captureIo();
    await inspect(bus, { api: 'shop.orders', event: 'orderPlaced', limit: 1, format: 'json' }, io);
    const newest = JSON.parse(out()) as { id: string };
    expect(await inspected(bus, { id: newest.id })).toEqual(['shop.orders.orderPlaced:3']);
    await expect(inspected(bus, { id: 'no-such-id' })).rejects.toThrow("No event with id 'no-such-id' in the history");

    const london = jsonPathTest('address.city=London');
    expect(await inspected(bus, { jsonPath: london })).toEqual(['shop.orders.orderPlaced:1']);
    expect(await inspected(bus, { jsonPath: jsonPathTest('id=3') })).toEqual([
      'shop.orders.refunded:3',
      'shop.orders.orderPlaced:3',
    ]);
    expect(await inspected(bus, { jsonPath: jsonPathTest('address.zip=N1', london) })).toEqual([
      'shop.orders.orderPlaced:1',
    ]);
    expect(await inspected(bus, { jsonPath: jsonPathTest('address.zip=75001', london) })).toEqual([]);
    expect(() => jsonPathTest('address.city')).toThrow('--json-path must be <dotted path>=<value>');
  });

  it('follows new events oldest first until aborted, with the filters', async () => {
    const bus = await busWithEvents();
    const { io, out, err } = captureIo();
    const stop = new AbortController();
    const following = inspect(bus, { api: 'shop.*', event: 'order*', follow: true, interval: 20 }, io, stop.signal);
    // Nothing from before it started is printed.
    await waitFor(() => err().includes('Following the events of shop.orders (Ctrl-C to stop)'), { timeout: 5000 });
    for (const id of [10, 11]) await bus.client.fireEvent('shop.orders', 'orderPlaced', { id, address: {} });
    await bus.client.fireEvent('shop.orders', 'refunded', { id: 12 });
    await bus.client.fireEvent('shop.orders', 'orderShipped', { id: 10 });
    await waitFor(() => out().includes('orderShipped'), { timeout: 5000, message: 'the shipped event followed' });
    stop.abort();
    await following;
    const lines = out().trim().split('\n');
    expect(lines.filter((line) => /^\S/.test(line)).map((line) => line.split('  ')[1])).toEqual([
      'shop.orders.orderPlaced',
      'shop.orders.orderPlaced',
      'shop.orders.orderShipped',
    ]);
    expect(out()).toContain('{"id":10,"address":{}}');
    expect(out()).not.toContain('"id":12');
    expect(out()).not.toMatch(/"id":[13][,}]/);
  });
});
