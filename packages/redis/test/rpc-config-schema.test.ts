/** RPC options and failures, config validation, unreachable Redis, schema expiry. */
import path from 'node:path';
import { Api, BrokerConnectionError, ConfigError, EncodingError, Event, LightbusError } from '@lightbus/core';
import { ForeignReturnPathError, newMessageId } from '@lightbus/core/transport';
import { Collector, startNode, waitFor } from '@lightbus/testing';
import {
  RedisResultTransport,
  RedisSchemaTransport,
  context,
  redisConfig,
  redisTestKit,
  resultOptions,
  schemaOptions,
  uniqueId,
} from './helpers';

const { raw, keys, buses } = redisTestKit();
let api: string;
let names: { service: string; process: string };

beforeEach(() => {
  api = `misc${uniqueId()}.demo`;
  keys.api(api);
  names = { service: `svc-${uniqueId()}`, process: 'p' };
});

function gatedApi(name: string, gate: { active: number; max: number; release: Collector<() => void> }) {
  return class GatedApi extends Api {
    static override meta = { name };
    happened = new Event({ parameters: ['value'] });
    async hold() {
      gate.active += 1;
      gate.max = Math.max(gate.max, gate.active);
      await new Promise<void>((resolve) => gate.release.push(resolve));
      gate.active -= 1;
      return 'done';
    }
    echo({ value }: { value: unknown }) {
      return value;
    }
  };
}

describe('rpc', () => {
  it('concurrency: 1 runs calls one at a time', async () => {
    const gate = { active: 0, max: 0, release: new Collector<() => void>() };
    const worker = buses.make(redisConfig(names, { rpc: { concurrency: 1 } }));
    worker.client.registerApi(new (gatedApi(api, gate))());
    await worker.start({ features: ['rpcs'] });
    const caller = buses.make(redisConfig({ ...names, process: 'caller' }));
    const calls = [1, 2, 3].map(() => caller.client.callRpc(api, 'hold'));
    for (let i = 1; i <= 3; i++) {
      await gate.release.waitForCount(i);
      expect(gate.active).toBe(1);
      gate.release.items[i - 1]!();
    }
    expect(await Promise.all(calls)).toEqual(['done', 'done', 'done']);
    expect(gate.max).toBe(1);
  });

  it('sets aside a call that cannot be decoded, in <api>:rpc_queue:dead_letters, and serves the next', async () => {
    const gate = { active: 0, max: 0, release: new Collector<() => void>() };
    const worker = buses.make(redisConfig(names));
    worker.client.registerApi(new (gatedApi(api, gate))());
    await worker.start({ features: ['rpcs'] });
    await raw.rpush(`${api}:rpc_queue`, '{"metadata": {"id": "broken-1"}, "kwargs": {}}');
    const caller = buses.make(redisConfig({ ...names, process: 'caller' }));
    expect(await caller.client.callRpc(api, 'echo', { value: 'still serving' })).toBe('still serving');
    await waitFor(async () => (await raw.xlen(`${api}:rpc_queue:dead_letters`)) === 1, { message: 'the dead letter' });
    const [, fields] = (await raw.xrange(`${api}:rpc_queue:dead_letters`, '-', '+'))[0]!;
    expect(fields).toEqual([
      'reason',
      "Call metadata lacks 'api_name'",
      'queue',
      `${api}:rpc_queue`,
      'payload',
      '{"metadata": {"id": "broken-1"}, "kwargs": {}}',
    ]);
  });

  it('refuses parameters JSON cannot carry before anything is sent', async () => {
    const caller = buses.make(redisConfig(names));
    // bigint, Date, Buffer, Set and Map are converted (see the schema reference); a function cannot be sent.
    await expect(caller.client.callRpc(api, 'echo', { value: () => 10 })).rejects.toBeInstanceOf(EncodingError);
    expect(await raw.llen(`${api}:rpc_queue`)).toBe(0);
  });

  it('a worker told to answer on a return path that is not Redis says what is wrong', async () => {
    const results = new RedisResultTransport(resultOptions(), context(names.service, names.process));
    try {
      const call = { id: 'c1', apiName: api, procedureName: 'echo', kwargs: {}, returnPath: 'amqp://reply-to/abc' };
      const sending = results.sendResult(call, { id: newMessageId(), rpcMessageId: 'c1', result: 1, error: false });
      await expect(sending).rejects.toBeInstanceOf(ForeignReturnPathError);
      await expect(sending).rejects.toThrow(
        /return path "amqp:\/\/reply-to\/abc" with the redis result transport: it is not a redis return path \(redis\+key:\/\/<key>\)/,
      );
    } finally {
      await results.close();
    }
  });
});

describe('config and connection errors', () => {
  it('validates options with the transport schema, naming the key', () => {
    expect(() => buses.make(redisConfig(names, { event: { batch_size: 'ten' } }))).toThrow(ConfigError);
    expect(() => buses.make(redisConfig(names, { event: { batch_size: 'ten' } }))).toThrow(
      'apis.default.event_transport.redis.batch_size: must be integer (got "ten")',
    );
    expect(() => buses.make(redisConfig(names, { result: { result_tll: 5 } }))).toThrow(
      "apis.default.result_transport.redis: unknown key 'result_tll' (did you mean 'result_ttl'?)",
    );
    expect(() => buses.make(redisConfig(names, { schema: { url: 'http://localhost:6379' } }))).toThrow(
      /bus\.schema\.transport\.redis\.url/,
    );
  });

  it('Redis unreachable: calls and fires fail with a BrokerConnectionError naming the url without its password', async () => {
    const url = 'redis://:hunter2@127.0.0.1:1/0';
    const bus = buses.make({
      service_name: names.service,
      process_name: names.process,
      apis: {
        default: {
          rpc_timeout: 1,
          event_fire_timeout: 1,
          rpc_transport: { redis: { url } },
          result_transport: { redis: { url } },
          event_transport: { redis: { url } },
        },
      },
    });
    class Local extends Api {
      static override meta = { name: api };
      happened = new Event({ parameters: [] });
    }
    bus.client.registerApi(new Local());
    for (const attempt of [
      () => bus.client.callRpc('elsewhere.api', 'ping'),
      () => bus.client.fireEvent(api, 'happened', {}),
    ]) {
      const error = await attempt().then(
        () => undefined,
        (e: unknown) => e as LightbusError,
      );
      expect(error).toBeInstanceOf(BrokerConnectionError);
      expect(error!.message).toContain(
        'cannot reach Redis at redis://:***@127.0.0.1:1/0 (connect ECONNREFUSED 127.0.0.1:1)',
      );
      expect(error!.message).toContain('Check that Redis is running');
      expect(error!.message).not.toContain('hunter2');
    }
  });

  it('lightbus dumpconfigschema includes every Redis option with its default and meaning', async () => {
    const root = path.resolve(__dirname, '..', '..', '..');
    const run = startNode([path.join(root, 'packages', 'core', 'bin', 'lightbus.js'), 'dumpconfigschema'], {
      cwd: root,
    });
    const { code } = await run.exit;
    expect(code).toBe(0);
    const schema = JSON.parse(run.output()) as Record<string, unknown>;
    const text = JSON.stringify(schema);
    for (const option of [
      'batch_size',
      'acknowledgement_timeout',
      'reclaim_interval',
      'max_stream_length',
      'stream_use',
      'consumption_restart_delay',
      'result_ttl',
      'rpc_timeout',
      'rpc_retry_delay',
      'consumer_ttl',
      'concurrency',
    ]) {
      expect(text).toContain(`"${option}"`);
    }
    expect(text).toContain('"default":"redis://127.0.0.1:6379/0"');
  });
});

describe('schemas', () => {
  it('an expired schema is left out and its name removed from the schemas set', async () => {
    const writer = new RedisSchemaTransport(schemaOptions(), context(names.service, 'w'));
    keys.add(`schema:${api}`);
    keys.schemaNames.add(api);
    try {
      await writer.store(api, { rpcs: {}, events: {} }, 1);
      expect(await raw.sismember('schemas', api)).toBe(1);
      expect(await raw.ttl(`schema:${api}`)).toBeGreaterThan(0);
      await waitFor(async () => (await writer.load())[api] === undefined, {
        timeout: 5000,
        interval: 100,
        message: 'the schema to expire',
      });
      expect(await raw.sismember('schemas', api)).toBe(0);
    } finally {
      await writer.close();
    }
  });
});
