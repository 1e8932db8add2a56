/**
 * Validation of parameters and results against API schemas (Ajv, draft-07,
 * formats). Validators are compiled once per schema and cached. Errors name
 * the API, the procedure or event, the parameter path and the rule broken.
 */
import Ajv, { type ErrorObject, type Format, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { ValidationError } from '../errors';
import { MAX_JSON_DEPTH, setOwn } from '../message/json';
import { WIRE_KEYWORD } from './declare';
import type { JsonSchema } from './types';

let ajv: Ajv | undefined;

function instance(): Ajv {
  if (!ajv) {
    // Schemas come from any peer (Python Lightbus, other tools): tolerate unknown keywords.
    ajv = new Ajv({ allErrors: true, strict: false, validateSchema: false, verbose: true });
    addFormats(ajv);
    // Python writes datetime.now()/utcnow() and time values without a UTC offset, and its own validation
    // accepts them: so do we (casting reads such a time as UTC, see castBySchema).
    const formats = ajv.formats as Record<string, Format | undefined>;
    ajv.addFormat('date-time', formats['iso-date-time']!);
    ajv.addFormat('time', formats['iso-time']!);
    ajv.addVocabulary([WIRE_KEYWORD]);
  }
  return ajv;
}

/** A compiled schema, or why it cannot be compiled (a peer's keyword or pattern this validator lacks). */
type Compiled = { readonly validate: ValidateFunction } | { readonly unusable: Error };

const byObject = new WeakMap<object, Compiled>();
const byText = new Map<string, Compiled>();

/**
 * The compiled validator of a schema (cached by object, and by content for
 * reloaded schemas). A schema that cannot be compiled is tried once: later calls
 * throw the same error object again, at no cost.
 */
export function validatorFor(schema: JsonSchema): ValidateFunction {
  let compiled = byObject.get(schema);
  if (!compiled) {
    const { $schema: _ignored, $id: _id, ...body } = schema as Record<string, unknown>;
    const text = JSON.stringify(body);
    compiled = byText.get(text);
    if (!compiled) {
      try {
        compiled = { validate: instance().compile(body) };
      } catch (error) {
        compiled = { unusable: error instanceof Error ? error : new Error(String(error)) };
      }
      byText.set(text, compiled);
    }
    byObject.set(schema, compiled);
  }
  if ('unusable' in compiled) throw compiled.unusable;
  return compiled.validate;
}

function where(error: ErrorObject): string {
  const parts = error.instancePath
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (error.keyword === 'required') parts.push((error.params as { missingProperty: string }).missingProperty);
  if (error.keyword === 'additionalProperties')
    parts.push((error.params as { additionalProperty: string }).additionalProperty);
  return parts.map((p, i) => (/^\d+$/.test(p) ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

function describe(value: unknown): string {
  const text = JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function rule(error: ErrorObject): string {
  switch (error.keyword) {
    case 'required':
      return 'is required but missing';
    case 'additionalProperties':
      return 'is not a declared parameter';
    case 'type':
      return `must be ${(error.params as { type: string }).type} (got ${describe(error.data)})`;
    case 'enum':
      return `must be one of ${(error.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')} (got ${describe(error.data)})`;
    default:
      return `${error.message ?? 'is invalid'} (got ${describe(error.data)})`;
  }
}

/**
 * The value as JSON Schema sees it: an exact integer held as a bigint (one
 * beyond 2^53 read from the wire, or one sent where the schema says integer)
 * is an integer of the same size. Copies only what holds a bigint.
 */
function withoutBigInts(value: unknown, depth = 0): unknown {
  if (typeof value === 'bigint') return Number(value);
  if (value === null || typeof value !== 'object' || depth > MAX_JSON_DEPTH) return value;
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    value.forEach((item, i) => {
      const seen = withoutBigInts(item, depth + 1);
      if (seen !== item) (copy ??= [...value])[i] = seen;
    });
    return copy ?? value;
  }
  if (Object.getPrototypeOf(value) !== Object.prototype && Object.getPrototypeOf(value) !== null) return value;
  let copy: Record<string, unknown> | undefined;
  for (const key of Object.keys(value)) {
    const item = (value as Record<string, unknown>)[key];
    const seen = withoutBigInts(item, depth + 1);
    if (seen !== item) setOwn((copy ??= { ...(value as Record<string, unknown>) }), key, seen);
  }
  return copy ?? value;
}

/**
 * Check `value` against `schema`; throws ValidationError saying what is wrong.
 * `what` is e.g. "support.case.get() parameters" or "event support.case.caseCreated".
 */
export function assertValid(schema: JsonSchema, value: unknown, what: string): void {
  const validate = validatorFor(schema);
  if (validate(withoutBigInts(value))) return;
  const problems = (validate.errors ?? [])
    .filter((e) => e.keyword !== 'anyOf' && e.keyword !== 'oneOf' && e.keyword !== 'if')
    .slice(0, 5)
    .map((e) => {
      const path = where(e);
      return path ? `'${path}' ${rule(e)}` : rule(e);
    });
  throw new ValidationError(`Invalid ${what}: ${[...new Set(problems)].join('; ') || 'does not match its schema'}.`);
}
