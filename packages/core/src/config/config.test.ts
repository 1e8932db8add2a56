import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError, ConfigFileError } from '../errors';
import { memoryTransport, TransportRegistry, defineTransport } from '../transport';
import { configJsonSchema, loadConfig, type LightbusConfigInput } from '.';
import { Type } from '@sinclair/typebox';
import { setCommandLineOverrides } from './config';

const fakeRedis = defineTransport({
  name: 'fakeredis',
  capabilities: {
    crossProcess: true,
    durable: true,
    consumerGroups: true,
    replay: true,
    history: true,
    ordering: 'per-stream',
  },
  options: {
    event: Type.Object(
      {
        url: Type.String({ default: 'redis://127.0.0.1:6379/0' }),
        batch_size: Type.Integer({ minimum: 1, default: 10 }),
      },
      { additionalProperties: false },
    ),
  },
  event: () => {
    throw new Error('not used');
  },
});

function registry(): TransportRegistry {
  return new TransportRegistry([memoryTransport, fakeRedis], { resolveFrom: tmpdir() });
}

function load(config: LightbusConfigInput) {
  return loadConfig({ config }, registry());
}

function issuesOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError) return error.issues.map((i) => `${i.path}: ${i.message}`);
    throw error;
  }
  throw new Error('expected a ConfigError');
}

function tempDir(): string {
  return mkdtempSync(path.join(tmpdir(), 'lightbus-config-'));
}

afterEach(() => {
  delete process.env.LIGHTBUS_CONFIG;
  delete process.env.LIGHTBUS_SERVICE_NAME;
  delete process.env.LIGHTBUS_PROCESS_NAME;
  setCommandLineOverrides({});
});

describe('defaults', () => {
  it('puts every role on memory when nothing is configured', () => {
    const config = loadConfig({}, new TransportRegistry([memoryTransport], { resolveFrom: tempDir() }));
    expect(config.api('any.api').rpcTransport.name).toBe('memory');
    expect(config.api('any.api').eventTransport.name).toBe('memory');
    expect(config.schemaTransport.name).toBe('memory');
    expect(config.api('any.api').rpcTimeout).toBe(5);
    expect(config.api('any.api').eventFireTimeout).toBe(5);
    expect(config.api('any.api').validate).toEqual({ incoming: true, outgoing: true });
    expect(config.schemaTtl).toBe(60);
    expect(config.logLevel).toBe('info');
  });

  it('fills transport option defaults from the transport schema', () => {
    const config = load({ apis: { default: { event_transport: { fakeredis: {} } } } });
    expect(config.api('x').eventTransport.options).toEqual({ url: 'redis://127.0.0.1:6379/0', batch_size: 10 });
  });
});

describe('fallback to apis.default', () => {
  it('falls back role by role and key by key', () => {
    const config = load({
      apis: {
        default: { rpc_timeout: 9, event_transport: { fakeredis: { batch_size: 50 } } },
        'support.case': { rpc_timeout: 2, validate: { incoming: false } },
        'billing.invoice': { event_transport: { memory: { name: 'billing' } } },
      },
    });
    expect(config.api('support.case').rpcTimeout).toBe(2);
    expect(config.api('support.case').validate).toEqual({ incoming: false, outgoing: true });
    expect(config.api('support.case').eventTransport).toEqual({
      name: 'fakeredis',
      options: { url: 'redis://127.0.0.1:6379/0', batch_size: 50 },
    });
    expect(config.api('billing.invoice').rpcTimeout).toBe(9);
    expect(config.api('billing.invoice').eventTransport.name).toBe('memory');
    expect(config.api('other').rpcTransport.name).toBe('memory');
  });

  it('keeps YAML anchors from sharing defaults between roles', () => {
    const dir = tempDir();
    writeFileSync(
      path.join(dir, 'lightbus.yaml'),
      'apis:\n  default:\n    rpc_transport: &mem {memory: {name: shared}}\n    result_transport: *mem\n    event_transport: *mem\n',
    );
    const config = loadConfig({ configFile: path.join(dir, 'lightbus.yaml') }, registry());
    expect(config.api('a').rpcTransport.options).toEqual({ name: 'shared', concurrency: 10 });
    expect(config.api('a').resultTransport.options).toEqual({ name: 'shared' });
  });
});

it('reads YAML merge keys, as PyYAML does', () => {
  const dir = tempDir();
  writeFileSync(
    path.join(dir, 'lightbus.yaml'),
    'apis:\n  default:\n    event_transport: {memory: &memory {name: merged}}\n    rpc_transport: {memory: {<<: *memory, concurrency: 3}}\n',
  );
  const config = loadConfig({ configFile: path.join(dir, 'lightbus.yaml') }, registry());
  expect(config.api('a').rpcTransport.options).toEqual({ name: 'merged', concurrency: 3 });
  expect(config.api('a').eventTransport.options).toEqual({
    name: 'merged',
    max_stream_length: 10000,
    delivery_limit: 10,
  });
});

describe('errors name the key and the problem', () => {
  it('names unknown keys and suggests the right one', () => {
    expect(issuesOf(() => load({ servce_name: 'x' } as never))).toEqual([
      ": unknown key 'servce_name' (did you mean 'service_name'?)",
    ]);
    expect(issuesOf(() => load({ apis: { default: { rpc_timout: 1 } as never } }))).toEqual([
      "apis.default: unknown key 'rpc_timout' (did you mean 'rpc_timeout'?)",
    ]);
  });

  it('names a bad option of a transport at its full path', () => {
    expect(
      issuesOf(() => load({ apis: { 'support.case': { event_transport: { fakeredis: { batch_size: 'ten' } } } } })),
    ).toEqual(['apis.support.case.event_transport.fakeredis.batch_size: must be integer (got "ten")']);
    expect(issuesOf(() => load({ apis: { default: { event_transport: { fakeredis: { batch_sise: 5 } } } } }))).toEqual([
      "apis.default.event_transport.fakeredis: unknown key 'batch_sise' (did you mean 'batch_size'?)",
    ]);
  });

  it('reports every problem at once', () => {
    const issues = issuesOf(() =>
      load({
        service_name: '',
        apis: { default: { rpc_timeout: -1, validate: 'yes' as never } },
        bus: { log_level: 'loud' as never },
      }),
    );
    expect(issues).toEqual(
      expect.arrayContaining([
        'service_name: must NOT have fewer than 1 characters (got "")',
        'apis.default.rpc_timeout: must be > 0 (got -1)',
        'apis.default.validate: must be true, false, or {incoming: bool, outgoing: bool} (got "yes")',
        'bus.log_level: must be one of: debug, info, warning, error, critical (got "loud")',
      ]),
    );
    expect(issues).toHaveLength(4);
  });

  it('says which package to install for a transport that is not installed', () => {
    // A name no workspace package provides (kafka, redis and amqp are packages of this repository).
    expect(issuesOf(() => load({ apis: { default: { event_transport: { nosuchtransport: {} } } } }))).toEqual([
      expect.stringMatching(
        /^apis\.default\.event_transport\.nosuchtransport: Transport 'nosuchtransport' is not installed or known\. If it is a transport package, install it: npm install @lightbus\/nosuchtransport\./,
      ),
    ]);
  });

  it('says when a transport lacks the role it is configured for', () => {
    expect(issuesOf(() => load({ apis: { default: { rpc_transport: { fakeredis: {} } } } }))).toEqual([
      "apis.default.rpc_transport.fakeredis: transport 'fakeredis' has no rpc role (it provides: event); choose another transport for this role",
    ]);
  });

  it('refuses a selector naming no transport or two', () => {
    const issues = issuesOf(() =>
      load({ apis: { default: { rpc_transport: {}, event_transport: { memory: {}, fakeredis: {} } } } }),
    );
    expect(issues).toEqual([
      'apis.default.rpc_transport: must name exactly one transport (available for rpc: memory), e.g. {memory: {}}',
      'apis.default.event_transport: must name exactly one transport (available for event: memory, fakeredis), e.g. {memory: {}}',
    ]);
  });
});

describe('finding the file', () => {
  it('reads YAML from ./lightbus.yaml, and JSON by extension', () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'lightbus.yaml'), 'service_name: from-yaml\n');
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      expect(loadConfig({}, registry()).serviceName).toBe('from-yaml');
    } finally {
      process.chdir(cwd);
    }
    writeFileSync(path.join(dir, 'other.json'), JSON.stringify({ service_name: 'from-json' }));
    expect(loadConfig({ configFile: path.join(dir, 'other.json') }, registry()).serviceName).toBe('from-json');
  });

  it('prefers the option over LIGHTBUS_CONFIG over ./lightbus.yaml', () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'a.yaml'), 'service_name: a\n');
    writeFileSync(path.join(dir, 'b.yaml'), 'service_name: b\n');
    process.env.LIGHTBUS_CONFIG = path.join(dir, 'b.yaml');
    expect(loadConfig({}, registry()).serviceName).toBe('b');
    expect(loadConfig({ configFile: path.join(dir, 'a.yaml') }, registry()).serviceName).toBe('a');
  });

  it('says which setting named a file that does not exist', () => {
    process.env.LIGHTBUS_CONFIG = '/nonexistent/lightbus.yaml';
    expect(() => loadConfig({}, registry())).toThrow(ConfigFileError);
    expect(() => loadConfig({}, registry())).toThrow(
      /\/nonexistent\/lightbus.yaml' \(from LIGHTBUS_CONFIG\) does not exist/,
    );
  });

  it('reports a YAML syntax error with its line', () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'broken.yaml'), 'service_name: ok\napis:\n  default: [unclosed\n');
    expect(() => loadConfig({ configFile: path.join(dir, 'broken.yaml') }, registry())).toThrow(
      /cannot be parsed at line \d/,
    );
  });

  it('refuses a file whose top level is not a mapping', () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'list.yaml'), '- a\n- b\n');
    expect(() => loadConfig({ configFile: path.join(dir, 'list.yaml') }, registry())).toThrow(
      /top level must be a mapping/,
    );
  });

  it('refuses both a file and an object', () => {
    expect(() => loadConfig({ configFile: 'x.yaml', config: {} }, registry())).toThrow(/either configFile or config/);
  });
});

describe('service and process names', () => {
  it('expands placeholders', () => {
    const config = load({ service_name: 'svc-{hostname}-{pid}', process_name: '{random4}-{random8}' });
    expect(config.serviceName).toBe(`svc-${hostname().toLowerCase()}-${process.pid}`);
    expect(config.processName).toMatch(/^([a-z0-9]{4})-\1[a-z0-9]{4}$/);
    expect(load({ service_name: '{friendly}' }).serviceName).toMatch(/^[a-z]+-[a-z]+-\d\d$/);
  });

  it('takes command line over code over file over environment', () => {
    process.env.LIGHTBUS_SERVICE_NAME = 'from-env';
    expect(load({}).serviceName).toBe('from-env');
    expect(load({ service_name: 'from-file' }).serviceName).toBe('from-file');
    expect(
      loadConfig({ config: { service_name: 'from-file' }, serviceName: 'from-code' }, registry()).serviceName,
    ).toBe('from-code');
    setCommandLineOverrides({ serviceName: 'from-cli', processName: 'p-cli' });
    const config = loadConfig({ config: { service_name: 'from-file' }, serviceName: 'from-code' }, registry());
    expect(config.serviceName).toBe('from-cli');
    expect(config.processName).toBe('p-cli');
  });
});

describe('the config JSON Schema', () => {
  it('lists the options of each transport under each role', () => {
    type Selector = { properties: Record<string, unknown> };
    const schema = configJsonSchema([memoryTransport, fakeRedis]) as {
      $schema: string;
      properties: {
        apis: {
          patternProperties: Record<string, { properties: { event_transport: Selector; rpc_transport: Selector } }>;
        };
      };
    };
    expect(schema.$schema).toBe('http://json-schema.org/draft-07/schema#');
    const api = Object.values(schema.properties.apis.patternProperties)[0]!.properties;
    expect(Object.keys(api.event_transport.properties)).toEqual(['memory', 'fakeredis']);
    expect(Object.keys(api.rpc_transport.properties)).toEqual(['memory']);
  });
});

describe('the transport registry', () => {
  it('loads a transport package by name from the working directory', () => {
    const dir = tempDir();
    const pkg = path.join(dir, 'node_modules', 'my-transport');
    mkdirSync(pkg, { recursive: true });
    writeFileSync(path.join(pkg, 'package.json'), JSON.stringify({ name: 'my-transport', main: 'index.js' }));
    writeFileSync(
      path.join(pkg, 'index.js'),
      `exports.transport = { name: 'my-transport', capabilities: {}, options: {}, event: () => ({}) };`,
    );
    const found = new TransportRegistry([memoryTransport], { resolveFrom: dir }).resolve('my-transport');
    expect(found.name).toBe('my-transport');
  });

  it('refuses a package that exports no transport', () => {
    const dir = tempDir();
    const pkg = path.join(dir, 'node_modules', 'not-a-transport');
    mkdirSync(pkg, { recursive: true });
    writeFileSync(path.join(pkg, 'package.json'), JSON.stringify({ name: 'not-a-transport', main: 'index.js' }));
    writeFileSync(path.join(pkg, 'index.js'), 'exports.something = 1;');
    expect(() => new TransportRegistry([], { resolveFrom: dir }).resolve('not-a-transport')).toThrow(
      /does not export a Lightbus transport/,
    );
  });
});
