/**
 * `${VAR}` and `${VAR:-default}` in config file values, resolved from the
 * environment before the config is validated, so broker URLs and secrets stay
 * out of the file. `$$` is a literal `$`. A value that is exactly one reference
 * and resolves to a number or `true`/`false` takes that type, so
 * `port: ${REDIS_PORT:-6379}` is an integer.
 */
import type { ConfigIssue } from '../errors';
import { isPlainObject } from '../util/async';

const REFERENCE = /\$\$|\$\{([^}:]*)(?::-([^}]*))?\}/g;
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const WHOLE = /^\$\{[^}]*\}$/;
const NUMBER = /^-?(0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?$/;

export interface Interpolated {
  readonly data: unknown;
  readonly issues: readonly ConfigIssue[];
}

/** A copy of `data` with every reference in its string values replaced; problems are issues naming the key. */
export function interpolateEnv(data: unknown, env: NodeJS.ProcessEnv = process.env): Interpolated {
  const issues: ConfigIssue[] = [];
  const walk = (value: unknown, path: string): unknown => {
    if (typeof value === 'string') return resolveString(value, path, env, issues);
    if (Array.isArray(value)) return value.map((item, index) => walk(item, `${path}[${index}]`));
    if (isPlainObject(value)) {
      const out: Record<string, unknown> = {};
      for (const [key, item] of Object.entries(value)) out[key] = walk(item, path ? `${path}.${key}` : key);
      return out;
    }
    return value;
  };
  return { data: walk(data, ''), issues };
}

function resolveString(text: string, path: string, env: NodeJS.ProcessEnv, issues: ConfigIssue[]): unknown {
  if (!text.includes('$')) return text;
  let failed = false;
  const resolved = text.replace(REFERENCE, (whole, name: string | undefined, fallback: string | undefined) => {
    if (whole === '$$') return '$';
    if (name === undefined || !NAME.test(name)) {
      failed = true;
      issues.push({
        path,
        message: `'${whole}' is not a valid reference: write \${NAME} or \${NAME:-default} (NAME: letters, digits, _)`,
      });
      return whole;
    }
    const set = env[name];
    if (set !== undefined && set !== '') return set;
    if (fallback !== undefined) return fallback;
    failed = true;
    issues.push({
      path,
      message: `environment variable ${name} is not set (referenced as ${whole}); set it, or give a default: \${${name}:-value}`,
    });
    return whole;
  });
  if (failed || !WHOLE.test(text)) return resolved;
  if (NUMBER.test(resolved)) return Number(resolved);
  if (resolved === 'true' || resolved === 'false') return resolved === 'true';
  return resolved;
}
