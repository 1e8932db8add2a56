import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError } from '../errors';
import { interpolateEnv } from './env';
import { readConfigFile } from './load';

describe('interpolateEnv', () => {
  const env = { REDIS_URL: 'redis://:s3cret@cache:6379/0', PORT: '6380', EMPTY: '', FLAG: 'true' };

  it('replaces references inside values, with defaults when unset or empty', () => {
    const { data, issues } = interpolateEnv(
      {
        a: '${REDIS_URL}',
        b: 'redis://host:${PORT}/1',
        c: '${MISSING:-fallback}',
        d: '${EMPTY:-used}',
        e: ['x${PORT}'],
      },
      env,
    );
    expect(issues).toEqual([]);
    expect(data).toEqual({ a: env.REDIS_URL, b: 'redis://host:6380/1', c: 'fallback', d: 'used', e: ['x6380'] });
  });

  it('gives a whole-value reference the type of a number or boolean', () => {
    const { data } = interpolateEnv({ port: '${PORT}', on: '${FLAG}', timeout: '${T:-2.5}', name: 'p${PORT}' }, env);
    expect(data).toEqual({ port: 6380, on: true, timeout: 2.5, name: 'p6380' });
  });

  it('keeps $$ as a literal dollar and leaves other values alone', () => {
    const { data } = interpolateEnv({ price: 'costs $$5', n: 3, nothing: null, plain: 'a$b' }, env);
    expect(data).toEqual({ price: 'costs $5', n: 3, nothing: null, plain: 'a$b' });
  });

  it('reports an unset variable without default, naming the key and the variable', () => {
    const { issues } = interpolateEnv({ apis: { default: { event_transport: { redis: { url: '${NOPE}' } } } } }, env);
    expect(issues).toEqual([
      {
        path: 'apis.default.event_transport.redis.url',
        message: expect.stringContaining('environment variable NOPE is not set'),
      },
    ]);
  });

  it('reports a malformed reference', () => {
    const { issues } = interpolateEnv({ x: ['${1BAD}'] }, env);
    expect(issues).toEqual([{ path: 'x[0]', message: expect.stringContaining('not a valid reference') }]);
  });
});

describe('readConfigFile with references', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'lightbus-env-'));

  it('resolves them from process.env before validation', () => {
    const file = path.join(dir, 'lightbus.yaml');
    writeFileSync(file, 'service_name: ${LB_TEST_SERVICE:-billing}\nbus:\n  log_level: ${LB_TEST_LEVEL}\n');
    process.env.LB_TEST_LEVEL = 'debug';
    try {
      expect(readConfigFile(file).data).toEqual({ service_name: 'billing', bus: { log_level: 'debug' } });
    } finally {
      delete process.env.LB_TEST_LEVEL;
    }
  });

  it('throws a ConfigError naming the key and the variable when one is unset', () => {
    const file = path.join(dir, 'missing.json');
    writeFileSync(file, JSON.stringify({ service_name: '${LB_TEST_UNSET_VAR}' }));
    expect(() => readConfigFile(file)).toThrow(ConfigError);
    expect(() => readConfigFile(file)).toThrow(/service_name: environment variable LB_TEST_UNSET_VAR is not set/);
  });
});
