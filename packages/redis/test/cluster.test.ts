/**
 * Redis Cluster beyond the tiers (cluster-tiers.test.ts), on a cluster of three masters of this
 * file's own: APIs whose keys are on different masters served by one worker and heard by one
 * listener (a read per slot, never a cross-slot command), what the UI reads (groups, lag, dead
 * letters over every master, health), and a config whose key layout a cluster would refuse,
 * refused at create().
 */
import lightbus, { Api, ConfigError, Event, type Bus, type LightbusConfigInput } from '@lightbus/core';
import { Collector, waitFor } from '@lightbus/testing';
import type { Cluster } from 'ioredis';
import { keyNames, transport } from '@lightbus/redis';
import { TouchedKeys, quietLogger, uniqueId } from './helpers';
import { ClusterTopology } from './topologies';

const CLUSTER_KEYS = keyNames('cluster');

let topology: ClusterTopology | undefined;
let raw: Cluster | undefined;
const keys = new TouchedKeys('cluster');
const buses: Bus[] = [];

beforeAll(async () => {
  topology = await ClusterTopology.start();
  raw = topology.client();
}, 60_000);
afterEach(async () => {
  await Promise.all(buses.splice(0).map((bus) => bus.close()));
  if (raw) await keys.cleanup(raw);
});
afterAll(async () => {
  raw?.disconnect();
  await topology?.stop();
});

function cluster(): ClusterTopology {
  if (!topology) throw new Error('The cluster topology did not start (see beforeAll)');
  return topology;
}

function config(service: string, process: string, extra: Record<string, unknown> = {}): LightbusConfigInput {
  const role = (more: Record<string, unknown> = {}) => ({
    redis: { url: cluster().url, cluster: cluster().option, ...extra, ...more },
  });
  return {
    service_name: service,
    process_name: process,
    bus: { schema: { transport: role() } },
    apis: {
      default: {
        rpc_transport: role({ consumption_restart_delay: 0.2 }),
        result_transport: role(),
        event_transport: role({ consumption_restart_delay: 0.2 }),
      },
    },
  };
}

function makeBus(configInput: LightbusConfigInput): Bus {
  const bus = lightbus.create({ config: configInput, logger: quietLogger, transports: [transport] });
  buses.push(bus);
  return bus;
}

/** Three API names whose keys are on three different masters. */
async function apisOnThreeMasters(): Promise<string[]> {
  const byPort = new Map<number, string>();
  for (let i = 0; byPort.size < 3 && i < 200; i += 1) {
    const name = `cl${uniqueId()}.api`;
    const port = await cluster().portOf(CLUSTER_KEYS.rpcQueue(name));
    if (!byPort.has(port)) byPort.set(port, name);
  }
  expect(byPort.size).toBe(3);
  const names = [...byPort.values()];
  for (const name of names) {
    keys.api(name);
    keys.add(CLUSTER_KEYS.schema(name));
    keys.schemaNames.add(name);
  }
  return names;
}

function apiClass(name: string) {
  return class ClusterApi extends Api {
    static override meta = { name };
    happened = new Event({ parameters: ['value'] });
    where() {
      return name;
    }
  };
}

describe('a Redis Cluster of three masters', () => {
  it('one worker serves, and one listener hears, APIs whose keys are on different masters', async () => {
    const apis = await apisOnThreeMasters();
    const service = `cl-${uniqueId()}`;
    const worker = makeBus(config(service, 'worker'));
    for (const name of apis) worker.client.registerApi(new (apiClass(name))());
    const heard = new Collector<string>();
    worker.client.listen(
      apis.map((name) => [name, 'happened'] as const),
      (params, message) => heard.push(`${message.apiName}:${String(params.value)}`),
      { listenerName: 'all' },
    );
    await worker.start();

    const caller = makeBus(config(service, 'caller'));
    // Registered (not started) to fire the events: only the process that registers an API fires them.
    for (const name of apis) caller.client.registerApi(new (apiClass(name))());
    // Each API's calls, results and events on its own master; the worker's BLPOP and XREADGROUP one per slot.
    expect(await Promise.all(apis.map((name) => caller.client.callRpc(name, 'where')))).toEqual(apis);
    for (const name of apis) await caller.client.fireEvent(name, 'happened', { value: 1 });
    for (const name of apis) await caller.client.fireEvent(name, 'happened', { value: 2 });
    await heard.waitForCount(6);
    expect([...heard.items].sort()).toEqual(apis.flatMap((name) => [`${name}:1`, `${name}:2`]).sort());

    // Each API's stream has the group, all acknowledged: read on the master of each (as the UI reads them).
    const events = apis.map((name) => ({ apiName: name, eventName: 'happened' }));
    const eventTransport = worker.client.eventTransport(apis[0]!);
    await waitFor(async () => {
      const lag = await eventTransport.lag!(events, `${service}-all`);
      return lag.length === 3 && lag.every((l) => l.pending === 0 && (l.lag ?? 0) === 0);
    });
    const groups = await eventTransport.groups!(events);
    expect(groups.map((g) => g.destination).sort()).toEqual(apis.map((name) => `{${name}}.*:stream`).sort());
    // The schemas of the three APIs, stored and loaded under {lightbus} (one slot).
    await caller.client.schemas.load();
    for (const name of apis) expect(caller.client.schemas.get(name)).toBeDefined();
    const health = worker.client.health();
    expect(health.connections.length).toBeGreaterThan(0);
    expect(health.connections.every((c) => c.connected && c.broker.startsWith('the Redis Cluster of'))).toBe(true);
  });

  it('finds dead letters on every master', async () => {
    const apis = await apisOnThreeMasters();
    const service = `cl-${uniqueId()}`;
    const worker = makeBus(config(service, 'worker'));
    const { MessageRejectedError } = await import('@lightbus/core');
    worker.client.listen(
      apis.map((name) => [name, 'happened'] as const),
      () => {
        throw new MessageRejectedError('poison');
      },
      { listenerName: 'reject' },
    );
    await worker.start();
    const caller = makeBus(config(service, 'caller'));
    for (const name of apis) caller.client.registerApi(new (apiClass(name))());
    for (const name of apis) await caller.client.fireEvent(name, 'happened', { value: 1 });
    let found: string[] = [];
    await waitFor(async () => {
      const page = await caller.client.deadLetters.list();
      found = page.entries.map((letter) => letter.apiName ?? '').filter((name) => apis.includes(name));
      return found.length === 3;
    });
    expect(found.sort()).toEqual([...apis].sort());
  });

  it('refuses at create() a cluster with key_layout: python, naming the key to set', () => {
    expect(() => makeBus(config(`cl-${uniqueId()}`, 'p', { key_layout: 'python' }))).toThrow(ConfigError);
    try {
      makeBus(config(`cl-${uniqueId()}`, 'p', { key_layout: 'python' }));
    } catch (error) {
      const text = String((error as Error).message);
      expect(text).toContain('apis.default.event_transport.redis');
      expect(text).toContain('bus.schema.transport.redis');
      expect(text).toMatch(/set key_layout: cluster/);
    }
  });
});
