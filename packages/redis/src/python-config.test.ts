/**
 * One lightbus.yaml read by Python Lightbus 1.3 and by TypeScript: every key
 * Python takes is accepted here (honoured, or ignored with a warning), and a
 * key or value that would stop a Python service reading the same file is
 * warned about. (Python's verdicts below were checked with its Config.load_dict.)
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import lightbus from '@lightbus/core';
import type { LogFields, Logger } from '@lightbus/core/transport';
import { transport } from '../src';

class Recorder implements Logger {
  readonly warnings: string[] = [];
  debug(): void {}
  info(): void {}
  warn(message: string, _fields?: LogFields): void {
    this.warnings.push(message);
  }
  error(): void {}
}

function configFile(yaml: string): string {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'lightbus-pyconfig-')), 'lightbus.yaml');
  writeFileSync(file, yaml);
  return file;
}

/** A config as a Python service writes it: every Python key, nulls for "not set", Python-only keys. */
const PYTHON_CONFIG = `
service_name: billing
process_name: "{random4}"
bus:
  log_level: warning
  schema:
    human_readable: true
    ttl: 60
    transport:
      redis: {url: "redis://127.0.0.1:6379/0", connection_parameters: {maxsize: 100}}
apis:
  default:
    rpc_timeout: 5
    event_listener_setup_timeout: 1
    event_fire_timeout: 5
    validate: {incoming: true, outgoing: true}
    strict_validation: false
    cast_values: true
    rpc_transport:
      redis:
        url: "redis://127.0.0.1:6379/0"
        batch_size: 10
        serializer: lightbus.serializers.BlobMessageSerializer
        deserializer: lightbus.serializers.BlobMessageDeserializer
        connection_parameters: {maxsize: 100}
        rpc_timeout: 5
        rpc_retry_delay: 1
        consumption_restart_delay: 5
    result_transport:
      redis: {url: "redis://127.0.0.1:6379/0", result_ttl: 60, rpc_timeout: 5}
    event_transport:
      redis:
        url: "redis://127.0.0.1:6379/0"
        service_name: null
        consumer_name: null
        batch_size: 10
        reclaim_batch_size: null
        acknowledgement_timeout: 60
        reclaim_interval: null
        max_stream_length: 100000
        stream_use: per_api
        consumption_restart_delay: 5
        consumer_ttl: 2592000
  reports:
    rpc_transport: null
    validate: null
plugins:
  internal_state: {enabled: true, ping_enabled: false, ping_interval: 30}
  internal_metrics: null
`;

describe('a lightbus.yaml shared with Python Lightbus', () => {
  it('accepts every key Python takes, honours ping_enabled and nulls, and names the Python-only keys it ignores', () => {
    const logger = new Recorder();
    const bus = lightbus.create({ configFile: configFile(PYTHON_CONFIG), transports: [transport], logger });
    const config = bus.client.config;
    expect(config.plugins.internalState).toEqual({ enabled: true, pingInterval: 30, pingEnabled: false });
    expect(config.plugins.internalMetrics.enabled).toBe(false);
    // rpc_transport: null takes apis.default's.
    expect(config.api('reports').rpcTransport.name).toBe('redis');
    expect(config.api('reports').validate).toEqual({ incoming: true, outgoing: true });
    const warnings = logger.warnings.join('\n');
    for (const key of ['batch_size', 'serializer', 'deserializer', 'connection_parameters']) {
      expect(warnings).toContain(`apis.default.rpc_transport.redis.${key}: a Python Lightbus key, ignored here`);
    }
    // Python's config check accepts this file; two things in it still stop a Python worker at start.
    expect(warnings).not.toMatch(/refuses to start/);
    expect(warnings).toContain('plugins.internal_metrics: a Python worker stops at start on a null plugin section');
    expect(warnings).toMatch(
      /apis\.default\.rpc_transport\.redis\.connection_parameters: a Python worker stops at start with a mapping here/,
    );
    return bus.close();
  });

  it('warns, naming the key, about each value that would stop a Python service reading the same file', () => {
    const logger = new Recorder();
    const yaml = `
apis:
  default:
    rpc_timeout: 0.5
    event_fire_timeout: 2.5
    event_listener_setup_timeout: 0.2
    rpc_transport: {redis: {rpc_retry_delay: 0.5, consumption_restart_delay: 0.5, concurrency: 4}}
    event_transport: {redis: {consumption_restart_delay: 1.5}}
plugins:
  internal_state: {enabled: true, ping_interval: 0.5}
`;
    const bus = lightbus.create({ configFile: configFile(yaml), transports: [transport], logger });
    const warnings = logger.warnings.join('\n');
    for (const key of [
      'apis.default.rpc_timeout',
      'apis.default.event_fire_timeout',
      'apis.default.event_listener_setup_timeout',
      'apis.default.rpc_transport.redis.rpc_retry_delay',
      'apis.default.rpc_transport.redis.consumption_restart_delay',
      'apis.default.event_transport.redis.consumption_restart_delay',
      'plugins.internal_state.ping_interval',
    ]) {
      expect(warnings).toMatch(
        new RegExp(`${key.replace(/\./g, '\\.')}: Python Lightbus takes only a whole number here`),
      );
    }
    expect(warnings).toContain(
      'apis.default.rpc_transport.redis.concurrency: a TypeScript-only key: Python Lightbus refuses to start',
    );
    // TypeScript honours the fractions.
    expect(bus.client.config.api('x').rpcTimeout).toBe(0.5);
    return bus.close();
  });

  it('says nothing about Python for an in-code config, or a file naming a transport Python lacks', () => {
    const logger = new Recorder();
    const bus = lightbus.create({
      config: { apis: { default: { rpc_timeout: 0.5 } } },
      transports: [transport],
      logger,
    });
    const mixed = lightbus.create({
      configFile: configFile(
        'apis:\n  default:\n    rpc_timeout: 0.5\n    rpc_transport: {redis: {}}\n    event_transport: {memory: {}}\n',
      ),
      transports: [transport],
      logger,
    });
    expect(logger.warnings).toEqual([]);
    return Promise.all([bus.close(), mixed.close()]);
  });
});
