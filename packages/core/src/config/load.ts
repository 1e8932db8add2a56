/** Finding and parsing the config file: option, then LIGHTBUS_CONFIG, then ./lightbus.yaml. */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type * as Yaml from 'yaml';
import { ConfigError, ConfigFileError } from '../errors';
import { interpolateEnv } from './env';
import { isPlainObject } from '../util/async';

let yaml: typeof Yaml | undefined;

/** The YAML parser, loaded on the first YAML file read: a service configured in code or JSON never loads it. */
function yamlModule(): typeof Yaml {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on first use, synchronously like the read it serves
  return (yaml ??= require('yaml') as typeof Yaml);
}

export const DEFAULT_CONFIG_FILES = ['lightbus.yaml', 'lightbus.yml', 'lightbus.json'];

export interface ConfigSource {
  /** For messages: the file path, "in-code config" or "defaults". */
  readonly source: string;
  readonly data: Record<string, unknown>;
}

/** Which file to read, or undefined when none is given and none is in the working directory. */
export function findConfigFile(explicit: string | undefined, cwd = process.cwd()): string | undefined {
  const chosen = explicit ?? (process.env.LIGHTBUS_CONFIG || undefined);
  if (chosen !== undefined) {
    if (/^https?:\/\//.test(chosen)) {
      throw new ConfigFileError(
        `Config '${chosen}' is a URL; Lightbus for TypeScript reads config files only. Download it and point LIGHTBUS_CONFIG at the file.`,
      );
    }
    const resolved = path.resolve(cwd, chosen);
    if (!existsSync(resolved)) {
      const from = explicit !== undefined ? 'the configFile option / --config' : 'LIGHTBUS_CONFIG';
      throw new ConfigFileError(`Config file '${resolved}' (from ${from}) does not exist.`);
    }
    return resolved;
  }
  for (const name of DEFAULT_CONFIG_FILES) {
    const candidate = path.join(cwd, name);
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

/** Read and parse a YAML or JSON config file (by extension; YAML otherwise), with `${VAR}` references resolved. */
export function readConfigFile(file: string): ConfigSource {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigFileError(`Cannot read config file '${file}': ${(error as Error).message}`, { cause: error });
  }
  let data: unknown;
  try {
    // merge: `<<: *defaults` keys, as PyYAML reads them, so one file means the same to Python services.
    data = file.endsWith('.json') ? JSON.parse(text) : yamlModule().parse(text, { merge: true });
  } catch (error) {
    const where =
      yaml && error instanceof yaml.YAMLParseError && error.linePos ? ` at line ${error.linePos[0].line}` : '';
    throw new ConfigError(file, [{ path: '', message: `cannot be parsed${where}: ${(error as Error).message}` }], {
      cause: error,
    });
  }
  if (data === null || data === undefined) data = {};
  if (!isPlainObject(data)) {
    throw new ConfigError(file, [
      { path: '', message: 'the top level must be a mapping of keys (service_name, bus, apis, plugins)' },
    ]);
  }
  const { data: resolved, issues } = interpolateEnv(data);
  if (issues.length > 0) throw new ConfigError(file, issues);
  return { source: file, data: resolved as Record<string, unknown> };
}
