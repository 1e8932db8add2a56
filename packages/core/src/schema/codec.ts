/**
 * Values on the wire. Outgoing values are made JSON-safe ("deformed", as
 * Python Lightbus says): Date -> ISO 8601 text, Buffer/Uint8Array -> base64,
 * bigint -> decimal text, Set -> array, Map -> object, objects with toJSON ->
 * its result. Anything JSON cannot carry (functions, symbols, NaN/Infinity,
 * cycles) is refused with an EncodingError naming where it is. Incoming values
 * are cast back where a schema says so (`format: date-time`, `contentEncoding:
 * base64`, and the `x-lightbus` annotation for bigint, Set and Map).
 */
import { EncodingError } from '../errors';
import { WIRE_KEYWORD } from './declare';
import type { JsonSchema } from './types';

function pathText(path: readonly (string | number)[]): string {
  return path.reduce<string>((text, part) => (typeof part === 'number' ? `${text}[${part}]` : text ? `${text}.${part}` : part), '');
}

/**
 * A JSON-safe version of `value` (the same object when nothing needed
 * converting). `what` names it in errors, e.g. "parameters of support.case.get()".
 */
export function toWire(value: unknown, what: string): unknown {
  const ancestors = new Set<object>();
  const fail = (path: (string | number)[], problem: string): never => {
    throw new EncodingError(
      `Cannot send ${what}: ${path.length ? `'${pathText(path)}'` : 'the value'} ${problem}. Send plain data (objects, arrays, strings, numbers, booleans, null), or Date, Buffer, bigint, Set, Map.`,
    );
  };
  const visit = (v: unknown, path: (string | number)[]): unknown => {
    switch (typeof v) {
      case 'string':
      case 'boolean':
        return v;
      case 'number':
        return Number.isFinite(v) ? v : fail(path, `is ${String(v)}, which JSON cannot carry`);
      case 'bigint':
        return v.toString();
      case 'undefined':
        return v;
      case 'function':
        return fail(path, 'is a function');
      case 'symbol':
        return fail(path, 'is a symbol');
    }
    if (v === null) return v;
    const object = v as object;
    if (object instanceof Date) {
      return Number.isNaN(object.getTime()) ? fail(path, 'is an invalid Date') : object.toISOString();
    }
    if (object instanceof Uint8Array) return Buffer.from(object.buffer, object.byteOffset, object.byteLength).toString('base64');
    if (ancestors.has(object)) return fail(path, 'refers back to itself (a cycle)');
    ancestors.add(object);
    try {
      if (Array.isArray(object)) return mapArray(object, path);
      if (object instanceof Set) return mapArray([...object], path, true);
      if (object instanceof Map) {
        const out: Record<string, unknown> = {};
        for (const [key, item] of object) {
          if (typeof key !== 'string') fail([...path, String(key)], 'is a Map key that is not a string');
          out[key as string] = visit(item, [...path, key as string]);
        }
        return out;
      }
      const toJSON = (object as { toJSON?: unknown }).toJSON;
      if (typeof toJSON === 'function') return visit((toJSON as () => unknown).call(object), path);
      let copy: Record<string, unknown> | undefined;
      for (const key of Object.keys(object)) {
        const item = (object as Record<string, unknown>)[key];
        const converted = visit(item, [...path, key]);
        if (converted !== item && !copy) copy = { ...(object as Record<string, unknown>) };
        if (copy) copy[key] = converted;
      }
      return copy ?? object;
    } finally {
      ancestors.delete(object);
    }
  };
  const mapArray = (items: unknown[], path: (string | number)[], fresh = false): unknown[] => {
    let copy: unknown[] | undefined = fresh ? [...items] : undefined;
    for (let i = 0; i < items.length; i++) {
      const converted = items[i] === undefined ? null : visit(items[i], [...path, i]);
      if (converted !== items[i] && !copy) copy = [...items];
      if (copy) copy[i] = converted;
    }
    return copy ?? items;
  };
  return visit(value, []);
}

function resolveRef(root: JsonSchema, ref: string): JsonSchema | undefined {
  if (!ref.startsWith('#/')) return undefined;
  let node: unknown = root;
  for (const part of ref.slice(2).split('/')) {
    node = (node as Record<string, unknown> | undefined)?.[part.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  return typeof node === 'object' && node !== null ? (node as JsonSchema) : undefined;
}

function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value === 'number' ? (Number.isInteger(value) ? 'integer' : 'number') : typeof value;
}

function typeMatches(schema: JsonSchema, value: unknown): boolean {
  const type = schema.type;
  if (type === undefined) return true;
  const actual = jsonType(value);
  const types = Array.isArray(type) ? (type as string[]) : [type as string];
  return types.includes(actual) || (actual === 'integer' && types.includes('number'));
}

/**
 * Convert JSON values to the types their schema declares (Date, Buffer, bigint,
 * Set, Map), recursively. Values that do not fit are left as they are:
 * validation is a separate step.
 */
export function castBySchema(schema: JsonSchema | undefined, value: unknown, root: JsonSchema | undefined = schema): unknown {
  if (!schema || value === null || value === undefined) return value;
  if (typeof schema.$ref === 'string' && root) return castBySchema(resolveRef(root, schema.$ref), value, root);
  for (const keyword of ['anyOf', 'oneOf'] as const) {
    const options = schema[keyword];
    if (Array.isArray(options)) {
      const fit = (options as JsonSchema[]).find((option) => typeMatches(option, value));
      return fit ? castBySchema(fit, value, root) : value;
    }
  }
  if (typeof value === 'string') {
    if (schema.format === 'date-time') {
      const date = new Date(value);
      return Number.isNaN(date.getTime()) ? value : date;
    }
    if (schema.contentEncoding === 'base64') return Buffer.from(value, 'base64');
    if (schema[WIRE_KEYWORD] === 'bigint' && /^-?[0-9]+$/.test(value)) return BigInt(value);
    return value;
  }
  if (Array.isArray(value)) {
    const items = schema.items;
    const prefix = schema.prefixItems;
    const cast =
      Array.isArray(prefix) || (items && typeof items === 'object')
        ? value.map((item, i) =>
            castBySchema(Array.isArray(prefix) && i < prefix.length ? (prefix[i] as JsonSchema) : Array.isArray(items) ? undefined : (items as JsonSchema), item, root),
          )
        : value;
    return schema[WIRE_KEYWORD] === 'set' ? new Set(cast) : cast;
  }
  if (typeof value === 'object') {
    const properties = (schema.properties ?? {}) as Record<string, JsonSchema>;
    const extra = typeof schema.additionalProperties === 'object' ? (schema.additionalProperties as JsonSchema) : undefined;
    if (!extra && Object.keys(properties).length === 0) return value;
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
      out[key] = castBySchema(properties[key] ?? extra, item, root);
    }
    return schema[WIRE_KEYWORD] === 'map' ? new Map(Object.entries(out)) : out;
  }
  return value;
}
