/**
 * The resolved config: file or in-code object, validated against the schema
 * (with the option schemas of the transports it names), defaults applied,
 * frozen. Lookups fall back from an API's own entry to apis.default, key by
 * key, then to the built-in defaults.
 */
import { ConfigError, ConfigFileError, TransportNotFoundError, type ConfigIssue } from '../errors';
import type { LogFormat, LogLevel } from '../log';
import { rolesOf, type AnyTransportDefinition, type TransportRole } from '../transport/interfaces';
import type { TransportRegistry } from '../transport/registry';
import { deepFreeze, isPlainObject } from '../util/async';
import { formatName } from '../util/names';
import { findConfigFile, readConfigFile, type ConfigSource } from './load';
import { dropPythonNulls, ignoredPythonKeys, pythonRefusals } from './python';
import {
  checkRoles,
  ROLE_KEYS,
  withRoleDefaults,
  type ChosenDefault,
  type RoleSelections,
  type TransportSelection,
} from './roles';
import { rootConfigSchema, type ApiConfigInput, type LightbusConfigInput } from './schema';
import { validateAgainst } from './validate';

export type { TransportSelection } from './roles';

export interface ResolvedApiConfig {
  readonly rpcTimeout: number;
  readonly eventFireTimeout: number;
  readonly eventListenerSetupTimeout: number;
  readonly validate: { readonly incoming: boolean; readonly outgoing: boolean };
  readonly strictValidation: boolean;
  readonly castValues: boolean;
  readonly rpcTransport: TransportSelection;
  readonly resultTransport: TransportSelection;
  readonly eventTransport: TransportSelection;
}

export const DEFAULT_TRANSPORT: TransportSelection = Object.freeze({ name: 'memory', options: Object.freeze({}) });

const BUILT_IN = {
  rpc_timeout: 5,
  event_fire_timeout: 5,
  event_listener_setup_timeout: 1,
  strict_validation: false,
  cast_values: true,
} as const;

export interface LoadConfigOptions {
  /** Path of a YAML or JSON config file. */
  readonly configFile?: string;
  /** The config as an object (instead of a file). */
  readonly config?: LightbusConfigInput;
  readonly serviceName?: string;
  readonly processName?: string;
  readonly logLevel?: LogLevel;
  /** 'text' or 'json' log lines from the default logger (default: LIGHTBUS_LOG_FORMAT, else text). */
  readonly logFormat?: LogFormat;
}

const CLI_OVERRIDES = Symbol.for('lightbus.cli-overrides');

/** Set by `lightbus run` before it loads the bus module: command-line flags win over code and files. */
export function setCommandLineOverrides(overrides: LoadConfigOptions): void {
  (globalThis as Record<symbol, unknown>)[CLI_OVERRIDES] = { ...overrides };
}

function commandLineOverrides(): LoadConfigOptions {
  return ((globalThis as Record<symbol, unknown>)[CLI_OVERRIDES] as LoadConfigOptions | undefined) ?? {};
}

export class Config {
  readonly serviceName: string;
  readonly processName: string;
  readonly logLevel: LogLevel;
  readonly logFormat: LogFormat | undefined;
  readonly schemaTtl: number;
  readonly humanReadableSchema: boolean;
  readonly schemaTransport: TransportSelection;
  readonly plugins: {
    readonly internalState: { readonly enabled: boolean; readonly pingInterval: number; readonly pingEnabled: boolean };
    readonly internalMetrics: { readonly enabled: boolean };
  };
  private readonly apiCache = new Map<string, ResolvedApiConfig>();
  private readonly chosenByApi = new Map<string, readonly ChosenDefault[]>();

  constructor(
    /** Where the config came from: a file path, "in-code config" or "defaults". */
    readonly source: string,
    /** The validated config, defaults of transport options filled in, frozen. */
    readonly data: Readonly<LightbusConfigInput>,
    names: { serviceName: string; processName: string; logLevel?: LogLevel; logFormat?: LogFormat },
    /**
     * What deserves a warning at start: Python keys accepted and ignored here, and
     * (for a file whose transports are all Redis) keys or values a Python service would refuse.
     */
    readonly warnings: readonly ConfigIssue[] = [],
    /** The defaults an API's transports choose from its other roles (see roles.ts). */
    private readonly completeRoles: (
      roles: RoleSelections,
      apiPath: string,
    ) => { roles: RoleSelections; chosen: readonly ChosenDefault[] } = (roles) => ({ roles, chosen: [] }),
  ) {
    this.serviceName = names.serviceName;
    this.processName = names.processName;
    this.logLevel = names.logLevel ?? data.bus?.log_level ?? 'info';
    this.logFormat = names.logFormat;
    this.schemaTtl = data.bus?.schema?.ttl ?? 60;
    this.humanReadableSchema = data.bus?.schema?.human_readable ?? true;
    this.schemaTransport = selection(data.bus?.schema?.transport) ?? DEFAULT_TRANSPORT;
    this.plugins = {
      internalState: {
        enabled: data.plugins?.internal_state?.enabled ?? false,
        pingInterval: data.plugins?.internal_state?.ping_interval ?? 60,
        pingEnabled: data.plugins?.internal_state?.ping_enabled ?? true,
      },
      internalMetrics: { enabled: data.plugins?.internal_metrics?.enabled ?? false },
    };
  }

  /** The options of one API, with apis.default and built-in fallbacks. */
  api(apiName: string): ResolvedApiConfig {
    let resolved = this.apiCache.get(apiName);
    if (!resolved) {
      const own: ApiConfigInput = this.data.apis?.[apiName] ?? {};
      const fallback: ApiConfigInput = this.data.apis?.default ?? {};
      const pick = <K extends keyof ApiConfigInput>(key: K): ApiConfigInput[K] =>
        own[key] !== undefined ? own[key] : fallback[key];
      const validate = pick('validate') ?? true;
      const { roles, chosen } = this.completeRoles(
        {
          rpc: selection(pick('rpc_transport')) ?? DEFAULT_TRANSPORT,
          result: selection(pick('result_transport')) ?? DEFAULT_TRANSPORT,
          event: selection(pick('event_transport')) ?? DEFAULT_TRANSPORT,
        },
        `apis.${apiName}`,
      );
      this.chosenByApi.set(apiName, chosen);
      resolved = Object.freeze({
        rpcTimeout: pick('rpc_timeout') ?? BUILT_IN.rpc_timeout,
        eventFireTimeout: pick('event_fire_timeout') ?? BUILT_IN.event_fire_timeout,
        eventListenerSetupTimeout: pick('event_listener_setup_timeout') ?? BUILT_IN.event_listener_setup_timeout,
        validate: Object.freeze(
          typeof validate === 'boolean'
            ? { incoming: validate, outgoing: validate }
            : { incoming: validate.incoming ?? true, outgoing: validate.outgoing ?? true },
        ),
        strictValidation: pick('strict_validation') ?? BUILT_IN.strict_validation,
        castValues: pick('cast_values') ?? BUILT_IN.cast_values,
        rpcTransport: roles.rpc,
        resultTransport: roles.result,
        eventTransport: roles.event,
      });
      this.apiCache.set(apiName, resolved);
    }
    return resolved;
  }

  /** The APIs the config names (apis.default first): every other API resolves as apis.default does. */
  apiNames(): string[] {
    return ['default', ...Object.keys(this.data.apis ?? {}).filter((name) => name !== 'default')];
  }

  /** The options transports chose from each API's other roles (logged at create()), for the APIs the config names. */
  chosenDefaults(): ChosenDefault[] {
    return this.apiNames().flatMap((apiName) => {
      this.api(apiName);
      return [...(this.chosenByApi.get(apiName) ?? [])];
    });
  }

  /** The transport for one role of one API (the schema role ignores the API). */
  transport(apiName: string, role: TransportRole): TransportSelection {
    if (role === 'schema') return this.schemaTransport;
    const api = this.api(apiName);
    return role === 'rpc' ? api.rpcTransport : role === 'result' ? api.resultTransport : api.eventTransport;
  }
}

function selection(selector: Record<string, Record<string, unknown>> | undefined): TransportSelection | undefined {
  if (!selector) return undefined;
  const [name, options] = Object.entries(selector)[0] ?? [];
  return name === undefined ? undefined : Object.freeze({ name, options: options ?? {} });
}

/** Every transport selector present in raw config data, with its path and role. */
function selectorsIn(data: Record<string, unknown>): Array<{ path: string; role: TransportRole; name: string }> {
  const found: Array<{ path: string; role: TransportRole; name: string }> = [];
  const add = (path: string, role: TransportRole, selector: unknown): void => {
    if (!isPlainObject(selector)) return;
    for (const name of Object.keys(selector)) found.push({ path: `${path}.${name}`, role, name });
  };
  const apis = data.apis;
  if (isPlainObject(apis)) {
    for (const [apiName, apiConfig] of Object.entries(apis)) {
      if (!isPlainObject(apiConfig)) continue;
      for (const [role, key] of Object.entries(ROLE_KEYS) as Array<[TransportRole, string]>) {
        add(`apis.${apiName}.${key}`, role, apiConfig[key]);
      }
    }
  }
  const bus = data.bus;
  if (isPlainObject(bus) && isPlainObject(bus.schema)) add('bus.schema.transport', 'schema', bus.schema.transport);
  return found;
}

/** Load, validate and freeze the config; throws ConfigError naming every bad key. */
export function loadConfig(options: LoadConfigOptions, registry: TransportRegistry): Config {
  const cli = commandLineOverrides();
  if (options.config !== undefined && options.configFile !== undefined) {
    throw new ConfigFileError('Give either configFile or config to lightbus.create(), not both.');
  }
  let raw: ConfigSource;
  if (cli.configFile === undefined && options.config !== undefined) {
    if (!isPlainObject(options.config)) {
      throw new ConfigError('in-code config', [{ path: '', message: 'config must be an object' }]);
    }
    raw = { source: 'in-code config', data: options.config as Record<string, unknown> };
  } else {
    const file = findConfigFile(cli.configFile ?? options.configFile);
    raw = file ? readConfigFile(file) : { source: 'defaults (no config file)', data: {} };
  }
  // Validation fills defaults in place: work on a copy with no shared objects (YAML anchors share them,
  // and one role's defaults must not leak into another role's options).
  raw = { source: raw.source, data: JSON.parse(JSON.stringify(raw.data)) as Record<string, unknown> };
  // Only a file can be read by a Python service too, and only one whose transports Python has too
  // (transport definitions say so: pythonCompatible); a file naming another is not meant for Python.
  const named = selectorsIn(raw.data).map((s) => s.name);
  const forPython = (name: string): boolean => {
    try {
      return registry.resolve(name).pythonCompatible === true;
    } catch {
      return false; // an unknown transport is reported below
    }
  };
  const refusals =
    raw.source !== 'in-code config' && named.length > 0 && named.every(forPython)
      ? pythonRefusals(raw.data).map((w) => ({
          path: w.path,
          message: `${w.message} (if a Python service reads this file)`,
        }))
      : [];
  dropPythonNulls(raw.data);
  const warnings = [...ignoredPythonKeys(raw.data), ...refusals];

  const issues: ConfigIssue[] = [];
  const used = new Map<string, AnyTransportDefinition>();
  /** Selectors already reported: the schema's complaints about them would only repeat it. */
  const reported = new Set<string>();
  for (const { path, role, name } of selectorsIn(raw.data)) {
    let definition: AnyTransportDefinition;
    try {
      definition = registry.resolve(name);
    } catch (error) {
      if (!(error instanceof TransportNotFoundError)) throw error;
      issues.push({ path, message: error.message });
      reported.add(path.slice(0, path.length - name.length - 1));
      continue;
    }
    if (!rolesOf(definition).includes(role)) {
      reported.add(path.slice(0, path.length - name.length - 1));
      issues.push({
        path,
        message: `transport '${name}' has no ${role} role (it provides: ${rolesOf(definition).join(', ')}); choose another transport for this role`,
      });
      continue;
    }
    used.set(definition.name, definition);
  }
  if (registry.has('memory')) used.set('memory', registry.resolve('memory'));

  issues.push(...validateAgainst(rootConfigSchema([...used.values()]), raw.data).filter((i) => !reported.has(i.path)));
  if (issues.length > 0) throw new ConfigError(raw.source, issues);

  const data = deepFreeze(raw.data as LightbusConfigInput);
  const env = process.env;
  const serviceTemplate =
    cli.serviceName ?? options.serviceName ?? data.service_name ?? env.LIGHTBUS_SERVICE_NAME ?? '{friendly}';
  const processTemplate =
    cli.processName ?? options.processName ?? data.process_name ?? env.LIGHTBUS_PROCESS_NAME ?? '{random4}';
  const config = new Config(
    raw.source,
    data,
    {
      serviceName: formatName(serviceTemplate),
      processName: formatName(processTemplate),
      logLevel: cli.logLevel ?? options.logLevel,
      logFormat: cli.logFormat ?? options.logFormat,
    },
    warnings,
    (roles, apiPath) => withRoleDefaults(roles, registry, apiPath),
  );
  const roleIssues = new Map<string, ConfigIssue>();
  for (const apiName of config.apiNames()) {
    const { rpcTransport: rpc, resultTransport: result, eventTransport: event } = config.api(apiName);
    for (const issue of checkRoles({ rpc, result, event }, registry, `apis.${apiName}`)) {
      roleIssues.set(`${issue.path}|${issue.message}`, issue);
    }
  }
  if (roleIssues.size > 0) throw new ConfigError(raw.source, [...roleIssues.values()]);
  return config;
}

/** The config's JSON Schema with the given transports' options (for `lightbus dumpconfigschema`). */
export function configJsonSchema(transports: readonly AnyTransportDefinition[]): Record<string, unknown> {
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    ...JSON.parse(JSON.stringify(rootConfigSchema(transports))),
  };
}
