import { validateAgainst } from '@lightbus/core/transport';
import { connectionName } from './connection';
import { groupStartId } from './event';
import { RedisEventOptions, RedisResultOptions, RedisRpcOptions, RedisSchemaOptions } from './options';

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
