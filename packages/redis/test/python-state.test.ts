/**
 * internal.state between Python Lightbus 1.3 and TypeScript, on a Redis of the
 * test's own (internal.state's stream and schema keys have fixed names: the
 * shared Redis must not get a test's state events). The Python side is the
 * exact XADD and SET a Python 1.3 worker with the state plugin wrote (captured
 * with redis-cli MONITOR; worker_stopped as its plugin writes it).
 */
import { Redis } from 'ioredis';
import lightbus, { type Bus, type LightbusConfigInput } from '@lightbus/core';
import { Collector, waitFor } from '@lightbus/testing';
import { transport } from '@lightbus/redis';
import { PrivateRedis } from './private-redis';
import { pythonId, quietLogger, uniqueId } from './helpers';

const STREAM = 'internal.state.*:stream';

/** schema:internal.state as Python 1.3 stores it: it declares 7 worker parameters, its plugin sends 11. */
const PYTHON_STATE_SCHEMA = (() => {
  const worker = (event: string) =>
    `{"parameters": {"$schema": "http://json-schema.org/draft-07/schema#", "additionalProperties": false, "properties": {"api_names": {}, "listening_for": {}, "metrics_enabled": {}, "ping_interval": {}, "process_name": {}, "service_name": {}, "timestamp": {}}, "required": ["service_name", "process_name", "metrics_enabled", "api_names", "listening_for", "timestamp", "ping_interval"], "title": "Event internal.state.${event} parameters", "type": "object"}}`;
  const stopped =
    '{"parameters": {"$schema": "http://json-schema.org/draft-07/schema#", "additionalProperties": false, "properties": {"process_name": {}, "timestamp": {}}, "required": ["process_name", "timestamp"], "title": "Event internal.state.worker_stopped parameters", "type": "object"}}';
  return `{"events": {"worker_ping": ${worker('worker_ping')}, "worker_started": ${worker('worker_started')}, "worker_stopped": ${stopped}}, "rpcs": {}}`;
})();

/** The fields of a Python worker_started / worker_ping entry, values as Python wrote them. */
function pythonWorkerFields(event: string): string[] {
  return [
    'id',
    pythonId(),
    'api_name',
    'internal.state',
    'event_name',
    event,
    'version',
    '1',
    ':process_name',
    '"pycap1"',
    ':service_name',
    '"pycap"',
    ':metrics_enabled',
    'false',
    ':api_names',
    '["pycap1791.edge"]',
    ':listening_for',
    '[]',
    ':timestamp',
    '1796677748.042617',
    ':ping_enabled',
    'true',
    ':ping_interval',
    '2',
    ':hostname',
    '"vm"',
    ':pid',
    '13943',
    ':max_memory_use',
    '34312',
  ];
}

let server: PrivateRedis;
let raw: Redis;
const buses: Bus[] = [];

beforeAll(async () => {
  server = await PrivateRedis.start();
  raw = new Redis(server.url(), { protocol: 2 });
});

afterEach(async () => {
  await Promise.all(buses.splice(0).map((bus) => bus.close()));
});

afterAll(async () => {
  await raw.quit();
  await server.stop();
});

function config(extra: LightbusConfigInput = {}): LightbusConfigInput {
  const redis = { redis: { url: server.url() } };
  return {
    service_name: `ts-svc-${uniqueId()}`,
    process_name: `ts-proc-${uniqueId()}`,
    bus: { schema: { transport: redis } },
    apis: { default: { rpc_transport: redis, result_transport: redis, event_transport: redis } },
    ...extra,
  };
}

function make(c: LightbusConfigInput): Bus {
  const bus = lightbus.create({ config: c, logger: quietLogger, transports: [transport] });
  buses.push(bus);
  return bus;
}

describe('internal.state shared with Python Lightbus', () => {
  it('a TypeScript listener with validation on reads Python state events as they are', async () => {
    // The bus holds Python's copy of the schema, which its own worker_started breaks.
    await raw
      .multi()
      .set('schema:internal.state', PYTHON_STATE_SCHEMA, 'EX', 60)
      .sadd('schemas', 'internal.state')
      .exec();
    const listener = make(config());
    const got = new Collector<{ event: string; params: Record<string, unknown> }>();
    listener.client.listen(
      [
        ['internal.state', 'worker_started'],
        ['internal.state', 'worker_ping'],
        ['internal.state', 'worker_stopped'],
      ],
      (params, message) => got.push({ event: message.eventName, params: params as Record<string, unknown> }),
      { listenerName: 'monitor' },
    );
    await listener.start({ features: ['events'] });
    await raw.xadd(STREAM, 'MAXLEN', '~', '100000', '*', ...pythonWorkerFields('worker_started'));
    await raw.xadd(STREAM, 'MAXLEN', '~', '100000', '*', ...pythonWorkerFields('worker_ping'));
    // Python's plugin sends worker_stopped with process_name and service_name, and no timestamp.
    await raw.xadd(
      STREAM,
      'MAXLEN',
      '~',
      '100000',
      '*',
      'id',
      pythonId(),
      'api_name',
      'internal.state',
      'event_name',
      'worker_stopped',
      'version',
      '1',
      ':process_name',
      '"pycap1"',
      ':service_name',
      '"pycap"',
    );
    await got.waitForCount(3);
    expect(got.items.map((i) => i.event)).toEqual(['worker_started', 'worker_ping', 'worker_stopped']);
    expect(got.items[0]!.params).toMatchObject({
      hostname: 'vm',
      pid: 13943,
      max_memory_use: 34312,
      ping_enabled: true,
      timestamp: 1796677748.042617,
    });
    expect(got.items[2]!.params).toEqual({ process_name: 'pycap1', service_name: 'pycap' });
    expect(await raw.exists(`${STREAM}:dead_letters`)).toBe(0);
  });

  it('a TypeScript worker writes state events a Python listener accepts: the parameters Python declares, epoch float timestamps', async () => {
    const worker = make(config({ plugins: { internal_state: { enabled: true, ping_interval: 0.2 } } }));
    const before = Date.now() / 1000;
    await worker.start({ features: ['tasks'] });
    const fieldsOf = async (event: string): Promise<Record<string, string> | undefined> => {
      const entries = await raw.xrange(STREAM, '-', '+');
      const entry = entries
        .map(([, f]) => f)
        .find((f) => f[5] === event && f.includes(`"${worker.client.processName}"`));
      return entry && Object.fromEntries(entry.flatMap((v, i) => (i % 2 === 0 ? [[v, entry[i + 1]!]] : [])));
    };
    await waitFor(async () => (await fieldsOf('worker_ping')) !== undefined, { message: 'a worker_ping' });
    const started = (await fieldsOf('worker_started'))!;
    // A Python listener validates against its own copy of the schema (PYTHON_STATE_SCHEMA) and stops on any other field.
    expect(Object.keys(started).sort()).toEqual(
      [
        'id',
        'api_name',
        'event_name',
        'version',
        ...[
          'process_name',
          'service_name',
          'metrics_enabled',
          'api_names',
          'listening_for',
          'timestamp',
          'ping_interval',
        ].map((n) => `:${n}`),
      ].sort(),
    );
    const timestamp = JSON.parse(started[':timestamp']!) as unknown;
    expect(typeof timestamp).toBe('number');
    expect(timestamp as number).toBeGreaterThanOrEqual(Math.floor(before));
    await worker.close();
    const stopped = (await fieldsOf('worker_stopped'))!;
    expect(
      Object.keys(stopped)
        .filter((k) => k.startsWith(':'))
        .sort(),
    ).toEqual([':process_name', ':timestamp']);
    expect(typeof JSON.parse(stopped[':timestamp']!)).toBe('number');
  });

  it('sends no pings when ping_enabled is false', async () => {
    const quiet = make(
      config({ plugins: { internal_state: { enabled: true, ping_interval: 0.1, ping_enabled: false } } }),
    );
    // A twin that pings, started after it: once the twin has pinged three times, the quiet one had the time to.
    const twin = make(config({ plugins: { internal_state: { enabled: true, ping_interval: 0.1 } } }));
    const count = async (bus: Bus, event: string) =>
      (await raw.xrange(STREAM, '-', '+')).filter(
        ([, f]) => f[5] === event && f.includes(`"${bus.client.processName}"`),
      ).length;
    await quiet.start({ features: ['tasks'] });
    await twin.start({ features: ['tasks'] });
    await waitFor(async () => (await count(twin, 'worker_ping')) >= 3, { message: 'three pings from the twin' });
    expect(await count(quiet, 'worker_started')).toBe(1);
    expect(await count(quiet, 'worker_ping')).toBe(0);
  });
});
