/**
 * One lightbus.yaml for Python and TypeScript services. Python Lightbus 1.3
 * validates its config at start and refuses a key it does not know and a
 * fraction where it takes whole numbers; it also takes keys this side has no
 * use for, and writes `null` for "not set". This module:
 * - drops the `null`s Python allows (the key then falls back to its default);
 * - names the Python keys accepted here but ignored, so a warning says so;
 * - when the file could be shared (the transports it names are all Redis, the
 *   only one Python has), names each key or value that would stop a Python
 *   service reading the same file.
 * The table below is Python Lightbus 1.3's config schema (`lightbus dumpconfigschema`).
 */
import type { ConfigIssue } from '../errors';
import { isPlainObject } from '../util/async';

/** A key Python takes; `int`: only as a whole number. */
type PythonKey =
  | 'any'
  | 'int'
  | { readonly [key: string]: PythonKey }
  | { readonly each: PythonKey }
  | { readonly selector: PythonKey };

const REDIS = {
  rpc: {
    url: 'any',
    connection_parameters: 'any',
    batch_size: 'int',
    serializer: 'any',
    deserializer: 'any',
    rpc_timeout: 'int',
    rpc_retry_delay: 'int',
    consumption_restart_delay: 'int',
  },
  result: {
    url: 'any',
    serializer: 'any',
    deserializer: 'any',
    connection_parameters: 'any',
    result_ttl: 'int',
    rpc_timeout: 'int',
  },
  event: {
    service_name: 'any',
    consumer_name: 'any',
    url: 'any',
    connection_parameters: 'any',
    batch_size: 'int',
    reclaim_batch_size: 'int',
    serializer: 'any',
    deserializer: 'any',
    acknowledgement_timeout: 'any',
    reclaim_interval: 'any',
    max_stream_length: 'int',
    stream_use: 'any',
    consumption_restart_delay: 'int',
    consumer_ttl: 'int',
  },
  schema: { url: 'any', connection_parameters: 'any' },
} as const;

const selector = (role: keyof typeof REDIS): PythonKey => ({ selector: { redis: REDIS[role], debug: 'any' } });

const PYTHON_CONFIG: PythonKey = {
  service_name: 'any',
  process_name: 'any',
  bus: { log_level: 'any', schema: { human_readable: 'any', ttl: 'int', transport: selector('schema') } },
  apis: {
    each: {
      rpc_timeout: 'int',
      event_listener_setup_timeout: 'int',
      event_fire_timeout: 'int',
      validate: 'any',
      strict_validation: 'any',
      cast_values: 'any',
      rpc_transport: selector('rpc'),
      result_transport: selector('result'),
      event_transport: selector('event'),
    },
  },
  plugins: {
    internal_state: { enabled: 'any', ping_enabled: 'any', ping_interval: 'int' },
    internal_metrics: { enabled: 'any' },
  },
};

/** Where Python writes `null` for "not set": the key is dropped, so it takes its default. */
const NULLABLE = new Set([
  'apis.*.rpc_transport',
  'apis.*.result_transport',
  'apis.*.event_transport',
  'apis.*.validate',
  'bus.schema.transport',
  'plugins.internal_state',
  'plugins.internal_metrics',
  'apis.*.event_transport.redis.service_name',
  'apis.*.event_transport.redis.consumer_name',
]);

/** Python keys accepted and ignored on this side, with what to do instead. */
const IGNORED: Record<string, string> = {
  serializer: "this side always writes the wire format Python's default serializer writes",
  deserializer: "this side always reads the wire format Python's default deserializer reads",
  connection_parameters: 'give connection settings in the url (redis://user:password@host:port/db, rediss:// for TLS)',
  service_name: 'consumer groups are named from the top-level service_name (or LIGHTBUS_SERVICE_NAME)',
  consumer_name: 'consumers are named from the top-level process_name (or LIGHTBUS_PROCESS_NAME)',
  batch_size: 'a TypeScript worker executes up to `concurrency` calls at once',
};

function pattern(path: readonly string[]): string {
  return path.map((part, i) => (path[i - 1] === 'apis' ? '*' : part)).join('.');
}

/** Remove the `null`s Python allows, in place (on a private copy of the config). */
export function dropPythonNulls(data: Record<string, unknown>, path: string[] = []): void {
  for (const [key, value] of Object.entries(data)) {
    const here = [...path, key];
    if (value === null && NULLABLE.has(pattern(here))) delete data[key];
    else if (isPlainObject(value)) dropPythonNulls(value, here);
  }
}

/** Python-only keys present in the config, each with why it is ignored here. */
export function ignoredPythonKeys(data: Record<string, unknown>): ConfigIssue[] {
  const found: ConfigIssue[] = [];
  const apis = data.apis;
  if (!isPlainObject(apis)) return found;
  for (const [apiName, api] of Object.entries(apis)) {
    if (!isPlainObject(api)) continue;
    for (const role of ['rpc', 'result', 'event'] as const) {
      const options = isPlainObject(api[`${role}_transport`])
        ? (api[`${role}_transport`] as Record<string, unknown>).redis
        : undefined;
      if (!isPlainObject(options)) continue;
      for (const key of Object.keys(options)) {
        const why = IGNORED[key];
        if (why && !(key === 'batch_size' && role !== 'rpc')) {
          found.push({
            path: `apis.${apiName}.${role}_transport.redis.${key}`,
            message: `a Python Lightbus key, ignored here: ${why}`,
          });
        }
      }
    }
  }
  return found;
}

/** Each key or value that would stop a Python Lightbus 1.3 service reading this config. */
export function pythonRefusals(data: unknown): ConfigIssue[] {
  const found: ConfigIssue[] = [];
  const visit = (value: unknown, spec: PythonKey, path: string): void => {
    // Both pass Python's config check, then stop its worker at start (checked with Python Lightbus 1.3.0).
    if (value === null && /^plugins\.[^.]+$/.test(path)) {
      found.push({ path, message: 'a Python worker stops at start on a null plugin section (write {enabled: false})' });
      return;
    }
    if (isPlainObject(value) && path.endsWith('.connection_parameters')) {
      found.push({
        path,
        message:
          'a Python worker stops at start with a mapping here (its transports cannot use a YAML mapping as connection_parameters)',
      });
      return;
    }
    if (spec === 'any') return;
    if (spec === 'int') {
      if (typeof value === 'number' && !Number.isInteger(value)) {
        found.push({
          path,
          message: `Python Lightbus takes only a whole number here and refuses to start with ${value}`,
        });
      }
      return;
    }
    if (!isPlainObject(value)) return;
    if ('each' in spec) {
      for (const [key, item] of Object.entries(value))
        visit(item, spec.each as PythonKey, path ? `${path}.${key}` : key);
      return;
    }
    if ('selector' in spec) {
      const transports = spec.selector as Record<string, PythonKey>;
      for (const [name, options] of Object.entries(value)) {
        const known = transports[name];
        if (known === undefined)
          found.push({
            path: `${path}.${name}`,
            message: `Python Lightbus has no '${name}' transport and refuses to start`,
          });
        else visit(options, known, `${path}.${name}`);
      }
      return;
    }
    for (const [key, item] of Object.entries(value)) {
      const known = (spec as Record<string, PythonKey>)[key];
      const where = path ? `${path}.${key}` : key;
      if (known === undefined)
        found.push({
          path: where,
          message: 'a TypeScript-only key: Python Lightbus refuses to start with a key it does not know',
        });
      else visit(item, known, where);
    }
  };
  visit(data, PYTHON_CONFIG, '');
  return found;
}
