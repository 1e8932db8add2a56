/** Validation of config (and transport options) against JSON Schema, with errors that name the key. */
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import type { TSchema } from '@sinclair/typebox';
import type { ConfigIssue } from '../errors';
import { closest } from '../util/suggest';

let shared: Ajv | undefined;

/** The Ajv instance for config: all errors, defaults filled in, our `errorHint` keyword known. */
export function configAjv(): Ajv {
  if (!shared) {
    shared = new Ajv({ allErrors: true, useDefaults: true, verbose: true, strict: true, strictTypes: false });
    shared.addVocabulary(['errorHint']);
  }
  return shared;
}

const compiled = new WeakMap<object, ValidateFunction>();

function compile(schema: TSchema): ValidateFunction {
  let validate = compiled.get(schema);
  if (!validate) {
    const { $id: _ignored, ...withoutId } = schema as TSchema & { $id?: string };
    validate = configAjv().compile(withoutId);
    compiled.set(schema, validate);
  }
  return validate;
}

/**
 * Validate `data` (which gets its defaults filled in: pass a copy) and return
 * the issues, each with a dotted path under `basePath`.
 */
export function validateAgainst(schema: TSchema, data: unknown, basePath = ''): ConfigIssue[] {
  const validate = compile(schema);
  if (validate(data)) return [];
  return formatErrors(validate.errors ?? [], basePath);
}

export function pointerToPath(pointer: string, basePath = ''): string {
  const parts = pointer
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  return [basePath, ...parts].filter(Boolean).join('.');
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  const text = JSON.stringify(value);
  return text && text.length > 40 ? `${text.slice(0, 37)}...` : String(text);
}

function message(error: ErrorObject): string {
  const parent = error.parentSchema as { properties?: Record<string, unknown>; errorHint?: string } | undefined;
  switch (error.keyword) {
    case 'additionalProperties': {
      const key = String((error.params as { additionalProperty: string }).additionalProperty);
      const known = Object.keys(parent?.properties ?? {});
      const suggestion = closest(key, known);
      return (
        `unknown key '${key}'` +
        (suggestion ? ` (did you mean '${suggestion}'?)` : known.length ? ` (known keys: ${known.join(', ')})` : '')
      );
    }
    case 'type':
      return `must be ${(error.params as { type: string }).type} (got ${describe(error.data)})`;
    case 'minProperties':
    case 'maxProperties':
      return parent?.errorHint ?? error.message ?? 'is invalid';
    default:
      return `${error.message ?? 'is invalid'}${error.keyword === 'enum' || error.keyword === 'const' ? '' : ` (got ${describe(error.data)})`}`;
  }
}

/** Turn Ajv errors into one issue per problem, collapsing unions into their hint. */
export function formatErrors(errors: readonly ErrorObject[], basePath = ''): ConfigIssue[] {
  const hinted = errors.filter(
    (e) =>
      (e.keyword === 'anyOf' || e.keyword === 'oneOf') &&
      (e.parentSchema as { errorHint?: string } | undefined)?.errorHint,
  );
  const issues: ConfigIssue[] = [];
  const seen = new Set<string>();
  for (const error of errors) {
    const hint = hinted.find(
      (h) =>
        error.schemaPath.startsWith(h.schemaPath.replace(/\/(anyOf|oneOf)$/, '')) &&
        error.instancePath.startsWith(h.instancePath),
    );
    const issue: ConfigIssue = hint
      ? {
          path: pointerToPath(hint.instancePath, basePath),
          message: `${(hint.parentSchema as { errorHint: string }).errorHint} (got ${describe(hint.data)})`,
        }
      : { path: pointerToPath(error.instancePath, basePath), message: message(error) };
    const key = `${issue.path}|${issue.message}`;
    if (!seen.has(key)) {
      seen.add(key);
      issues.push(issue);
    }
  }
  return issues;
}
