import { validateAgainst } from '@lightbus/core/transport';
import { connectionName } from './connection';
import { groupStartId } from './event';
import { RedisEventOptions, RedisResultOptions, RedisRpcOptions, RedisSchemaOptions, keyLayoutOf } from './options';
import { CLUSTER_KEYS, PYTHON_KEYS, keySlot } from './wire';

describe('options', () => {
  it('fills Python Lightbus defaults', () => {
    const event: Record<string, unknown> = {};
    expect(validateAgainst(RedisEventOptions, event)).toEqual([]);
    expect(event).toEqual({
      url: 'redis://127.0.0.1:6379/0',
      batch_size: 10,
      reclaim_batch_size: null,
      acknowledgement_timeout: 60,
      reclaim_interval: null,
      max_stream_length: 100000,
      stream_use: 'per_api',
      consumption_restart_delay: 5,
      consumer_ttl: 2592000,
      delivery_limit: 10,
      wait_for_replicas: 0,
      replica_timeout: 1,
    });
    const rpc: Record<string, unknown> = {};
    validateAgainst(RedisRpcOptions, rpc);
    expect(rpc).toEqual({
      url: 'redis://127.0.0.1:6379/0',
      rpc_timeout: 5,
      rpc_retry_delay: 1,
      consumption_restart_delay: 5,
      concurrency: 10,
    });
    const result: Record<string, unknown> = {};
    validateAgainst(RedisResultOptions, result);
    expect(result).toEqual({ url: 'redis://127.0.0.1:6379/0', result_ttl: 60, rpc_timeout: 5 });
  });

  it('takes sentinels and a master name for every role', () => {
    const sentinel = { sentinels: ['10.0.0.5:26379', 'sentinel-2.internal:26379'], master_name: 'mymaster' };
    for (const schema of [RedisRpcOptions, RedisResultOptions, RedisEventOptions, RedisSchemaOptions]) {
      expect(validateAgainst(schema, { sentinel: { ...sentinel, password: 'x' } })).toEqual([]);
    }
  });

  it('accepts rediss:// and passwords, and null where Python allows None', () => {
    expect(validateAgainst(RedisSchemaOptions, { url: 'rediss://:s3cret@redis.example.com:6380/2' })).toEqual([]);
    expect(
      validateAgainst(RedisEventOptions, { max_stream_length: null, reclaim_interval: null, stream_use: 'per_event' }),
    ).toEqual([]);
  });

  it('names the key and the problem', () => {
    expect(validateAgainst(RedisEventOptions, { batch_size: 'ten' }, 'apis.default.event_transport.redis')).toEqual([
      { path: 'apis.default.event_transport.redis.batch_size', message: 'must be integer (got "ten")' },
    ]);
    expect(validateAgainst(RedisEventOptions, { stream_use: 'per_stream' }, 'x')).toEqual([
      { path: 'x.stream_use', message: `must be 'per_api' or 'per_event' (got "per_stream")` },
    ]);
    expect(validateAgainst(RedisRpcOptions, { url: 'http://localhost' }, 'x')[0]!.path).toBe('x.url');
    expect(validateAgainst(RedisRpcOptions, { sentinel: { sentinels: ['10.0.0.5'], master_name: 'm' } }, 'x')).toEqual([
      { path: 'x.sentinel.sentinels.0', message: expect.stringContaining('(got "10.0.0.5")') },
    ]);
    expect(validateAgainst(RedisEventOptions, { sentinel: { sentinels: ['10.0.0.5:26379'] } }, 'x')).toEqual([
      { path: 'x.sentinel', message: expect.stringContaining('master_name') },
    ]);
    expect(validateAgainst(RedisResultOptions, { result_tll: 5 }, 'x')).toEqual([
      { path: 'x', message: "unknown key 'result_tll' (did you mean 'result_ttl'?)" },
    ]);
  });
});

describe('cluster options', () => {
  const cluster = { nodes: ['10.0.0.5:6379', 'redis-2.internal:6379'] };
  const roles = [RedisRpcOptions, RedisResultOptions, RedisEventOptions, RedisSchemaOptions];

  it('takes the nodes of a cluster for every role, the cluster layout by default', () => {
    for (const schema of roles) {
      expect(validateAgainst(schema, { cluster })).toEqual([]);
      expect(validateAgainst(schema, { cluster, key_layout: 'cluster', url: 'rediss://u:p@x/0' })).toEqual([]);
    }
    expect(keyLayoutOf({ cluster })).toBe('cluster');
    expect(keyLayoutOf({})).toBe('python');
    expect(keyLayoutOf({ key_layout: 'cluster' })).toBe('cluster');
  });

  it('refuses the python layout with a cluster, naming key_layout', () => {
    for (const schema of roles) {
      expect(validateAgainst(schema, { cluster, key_layout: 'python' }, 'bus.schema.transport.redis')).toEqual([
        {
          path: 'bus.schema.transport.redis',
          message: expect.stringMatching(/cluster with key_layout: python.*set key_layout: cluster/),
        },
      ]);
    }
  });

  it('refuses sentinel with cluster, a database other than 0, and nodes that are not host:port', () => {
    const sentinel = { sentinels: ['10.0.0.5:26379'], master_name: 'm' };
    expect(validateAgainst(RedisEventOptions, { cluster, sentinel }, 'x')).toEqual([
      { path: 'x', message: expect.stringContaining('sets both sentinel and cluster') },
    ]);
    expect(validateAgainst(RedisRpcOptions, { cluster, url: 'redis://h:6379/3' }, 'x')).toEqual([
      { path: 'x', message: expect.stringContaining('database other than 0') },
    ]);
    expect(validateAgainst(RedisRpcOptions, { url: 'redis://h:6379/3' }, 'x')).toEqual([]);
    expect(validateAgainst(RedisRpcOptions, { cluster: { nodes: ['10.0.0.5'] } }, 'x')).toEqual([
      { path: 'x.cluster.nodes.0', message: expect.stringContaining('(got "10.0.0.5")') },
    ]);
    expect(validateAgainst(RedisRpcOptions, { key_layout: 'sharded' }, 'x')).toEqual([
      { path: 'x.key_layout', message: `must be 'python' or 'cluster' (got "sharded")` },
    ]);
  });
});

describe('key layouts', () => {
  it('python: Python Lightbus names; cluster: the API in a hash tag, schemas under {lightbus}', () => {
    expect(PYTHON_KEYS.rpcQueue('my.api')).toBe('my.api:rpc_queue');
    expect(PYTHON_KEYS.rpcExpiry('my.api', 'id1')).toBe('rpc_expiry_key:id1');
    expect(PYTHON_KEYS.stream('my.api', 'ev', 'per_event')).toBe('my.api.ev:stream');
    expect(PYTHON_KEYS.schema('my.api')).toBe('schema:my.api');
    expect(PYTHON_KEYS.schemasSet).toBe('schemas');
    expect(CLUSTER_KEYS.rpcQueue('my.api')).toBe('{my.api}:rpc_queue');
    expect(CLUSTER_KEYS.rpcExpiry('my.api', 'id1')).toBe('{my.api}:rpc_expiry_key:id1');
    expect(CLUSTER_KEYS.stream('my.api', 'ev', 'per_api')).toBe('{my.api}.*:stream');
    expect(CLUSTER_KEYS.stream('my.api', 'ev', 'per_event')).toBe('{my.api}.ev:stream');
    expect(CLUSTER_KEYS.apiStreams('my*api', ':dead_letters')).toBe('{my\\*api}.*:stream:dead_letters');
    expect(CLUSTER_KEYS.schema('my.api')).toBe('{lightbus}:schema:my.api');
    expect(CLUSTER_KEYS.schemasSet).toBe('{lightbus}:schemas');
  });

  it("computes Redis Cluster's hash slots (as ioredis does), hash tags included", () => {
    // The same function ioredis routes commands with (not a dependency of this package: only compared here).
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const calculateSlot = require('cluster-key-slot') as (key: string) => number;
    for (const key of ['foo', '123456789', 'my.api:rpc_queue', '{my.api}.*:stream', 'a{}b', 'é{ü}', '{a}{b}']) {
      expect(keySlot(key)).toBe(calculateSlot(key));
    }
    expect(keySlot('123456789')).toBe(12739);
    // An empty first tag hashes the whole key (CLUSTER KEYSLOT says 3257; cluster-key-slot reads the next tag).
    expect(keySlot('{}{x}')).toBe(3257);
    const api = 'support.case';
    const keys = [
      CLUSTER_KEYS.rpcQueue(api),
      CLUSTER_KEYS.rpcExpiry(api, 'x'),
      CLUSTER_KEYS.stream(api, 'e', 'per_api'),
      `${CLUSTER_KEYS.stream(api, 'e', 'per_event')}:dead_letters`,
    ];
    expect(new Set(keys.map(keySlot)).size).toBe(1);
    expect(keySlot(CLUSTER_KEYS.schema('a'))).toBe(keySlot(CLUSTER_KEYS.schemasSet));
  });
});

describe('connection details', () => {
  it('makes names Redis accepts for CLIENT SETNAME', () => {
    expect(connectionName('lightbus', 'my service', 'p 1', 'rpc')).toBe('lightbus:my_service:p_1:rpc');
  });
});

describe('groupStartId', () => {
  it('turns since into an XGROUP CREATE id', () => {
    expect(groupStartId(undefined)).toBe('$');
    expect(groupStartId({ kind: 'beginning' })).toBe('0');
    expect(groupStartId({ kind: 'time', time: new Date(1700000000123) })).toBe('1700000000123-0');
    expect(groupStartId({ kind: 'position', position: '1700000000123-7' })).toBe('1700000000123-7');
    expect(() => groupStartId({ kind: 'position', position: 'yesterday' })).toThrow(/not a Redis stream id/);
  });
});
