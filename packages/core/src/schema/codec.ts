/**
 * Values on the wire. Outgoing values are made JSON-safe ("deformed", as
 * Python Lightbus says): Date -> ISO 8601 text, Buffer/Uint8Array -> base64,
 * bigint -> decimal text (an exact JSON integer where the schema says
 * integer), Set -> array, Map -> object, objects with toJSON -> its result.
 * Anything JSON cannot carry (functions, symbols, NaN/Infinity, cycles,
 * nesting deeper than Python can read, a number beyond 2^53 where the schema
 * says integer) is refused with an EncodingError naming where it is. Incoming
 * values are cast back where a schema says so (`format: date-time`, read as
 * UTC when it has no offset; `contentEncoding: base64`; the `x-lightbus`
 * annotation for bigint, Set and Map). Integers beyond 2^53 arrive as bigint.
 */
import { EncodingError } from '../errors';
import { MAX_JSON_DEPTH, setOwn } from '../message/json';
import { WIRE_KEYWORD } from './declare';
import type { JsonSchema } from './types';

function pathText(path: readonly (string | number)[]): string {
  return path.reduce<string>(
    (text, part) => (typeof part === 'number' ? `${text}[${part}]` : text ? `${text}.${part}` : part),
    '',
  );
}

/**
 * A JSON-safe version of `value` (the same object when nothing needed
 * converting). `what` names it in errors, e.g. "parameters of support.case.get()".
 */
export function toWire(value: unknown, what: string, schema?: JsonSchema): unknown {
  const ancestors = new Set<object>();
  const fail = (path: (string | number)[], problem: string, advice?: string): never => {
    throw new EncodingError(
      `Cannot send ${what}: ${path.length ? `'${shortPathText(path)}'` : 'the value'} ${problem}. ` +
        (advice ??
          'Send plain data (objects, arrays, strings, numbers, booleans, null), or Date, Buffer, bigint, Set, Map.'),
    );
  };
  const visit = (v: unknown, path: (string | number)[], node: JsonSchema | undefined): unknown => {
    switch (typeof v) {
      case 'string':
      case 'boolean':
        return v;
      case 'number':
        if (!Number.isFinite(v)) return fail(path, `is ${String(v)}, which JSON cannot carry`);
        if (node && !Number.isSafeInteger(v) && Number.isInteger(v) && saysInteger(node, schema)) {
          return fail(
            path,
            `is ${String(v)}, an integer beyond 2^53 that a number cannot hold exactly`,
            'Pass it as a bigint (e.g. 2n ** 63n + 1n): it is sent as an exact JSON integer.',
          );
        }
        return v;
      case 'bigint':
        // An exact JSON integer where the schema says integer (a Python int); elsewhere its decimal text.
        return node && saysInteger(node, schema) ? v : v.toString();
      case 'undefined':
        return v;
      case 'function':
        return fail(path, 'is a function');
      case 'symbol':
        return fail(path, 'is a symbol');
    }
    if (v === null) return v;
    if (path.length >= MAX_JSON_DEPTH) {
      return fail(
        path,
        `is nested more than ${MAX_JSON_DEPTH} levels deep`,
        'Python Lightbus cannot read JSON nested about 1,000 levels deep or more; flatten the data.',
      );
    }
    const object = v as object;
    if (object instanceof Date) {
      return Number.isNaN(object.getTime()) ? fail(path, 'is an invalid Date') : object.toISOString();
    }
    if (object instanceof Uint8Array)
      return Buffer.from(object.buffer, object.byteOffset, object.byteLength).toString('base64');
    if (ancestors.has(object)) return fail(path, 'refers back to itself (a cycle)');
    ancestors.add(object);
    try {
      if (Array.isArray(object)) return mapArray(object, path, node);
      if (object instanceof Set) return mapArray([...object], path, node, true);
      if (object instanceof Map) {
        const out: Record<string, unknown> = {};
        for (const [key, item] of object) {
          if (typeof key !== 'string') fail([...path, String(key)], 'is a Map key that is not a string');
          setOwn(
            out,
            key as string,
            visit(item, [...path, key as string], node && childSchema(node, key as string, schema)),
          );
        }
        return out;
      }
      const toJSON = (object as { toJSON?: unknown }).toJSON;
      if (typeof toJSON === 'function') return visit((toJSON as () => unknown).call(object), path, node);
      let copy: Record<string, unknown> | undefined;
      for (const key of Object.keys(object)) {
        const item = (object as Record<string, unknown>)[key];
        const converted = visit(item, [...path, key], node && childSchema(node, key, schema));
        if (converted !== item && !copy) copy = { ...(object as Record<string, unknown>) };
        if (copy) setOwn(copy, key, converted);
      }
      return copy ?? object;
    } finally {
      ancestors.delete(object);
    }
  };
  const mapArray = (
    items: unknown[],
    path: (string | number)[],
    node: JsonSchema | undefined,
    fresh = false,
  ): unknown[] => {
    let copy: unknown[] | undefined = fresh ? [...items] : undefined;
    for (let i = 0; i < items.length; i++) {
      const converted =
        items[i] === undefined ? null : visit(items[i], [...path, i], node && childSchema(node, i, schema));
      if (converted !== items[i] && !copy) copy = [...items];
      if (copy) copy[i] = converted;
    }
    return copy ?? items;
  };
  return visit(value, [], schema);
}

/** A path for a message: a very deep one shows its start and its end. */
function shortPathText(path: readonly (string | number)[]): string {
  if (path.length <= 12) return pathText(path);
  return `${pathText(path.slice(0, 5))}...${pathText(path.slice(-5)).replace(/^(?!\[)/, '.')} (${path.length} levels)`;
}

/** The schema of the member `key` (property name or array index) of values of `schema`. */
function childSchema(schema: JsonSchema, key: string | number, root: JsonSchema | undefined): JsonSchema | undefined {
  const node = typeof schema.$ref === 'string' && root ? resolveRef(root, schema.$ref) : schema;
  if (!node) return undefined;
  for (const keyword of ['anyOf', 'oneOf', 'allOf'] as const) {
    const options = node[keyword];
    if (Array.isArray(options)) {
      for (const option of options as JsonSchema[]) {
        const child = childSchema(option, key, root);
        if (child) return child;
      }
    }
  }
  if (typeof key === 'number') {
    const prefix = node.prefixItems;
    if (Array.isArray(prefix) && key < prefix.length) return prefix[key] as JsonSchema;
    const items = node.items;
    if (Array.isArray(items)) return items[key] as JsonSchema | undefined;
    return items && typeof items === 'object' ? (items as JsonSchema) : undefined;
  }
  const properties = node.properties as Record<string, JsonSchema> | undefined;
  if (properties && Object.prototype.hasOwnProperty.call(properties, key)) return properties[key];
  return typeof node.additionalProperties === 'object' ? (node.additionalProperties as JsonSchema) : undefined;
}

/** Whether the schema takes an integer here (`type: integer`, also as an anyOf/oneOf option), not the bigint-as-text annotation. */
function saysInteger(schema: JsonSchema, root: JsonSchema | undefined, depth = 0): boolean {
  const node = typeof schema.$ref === 'string' && root ? resolveRef(root, schema.$ref) : schema;
  if (!node || node[WIRE_KEYWORD] === 'bigint' || depth > 20) return false;
  const type = node.type;
  if (type === 'integer' || (Array.isArray(type) && type.includes('integer'))) return true;
  return (['anyOf', 'oneOf', 'allOf'] as const).some(
    (keyword) =>
      Array.isArray(node[keyword]) &&
      (node[keyword] as JsonSchema[]).some((option) => saysInteger(option, root, depth + 1)),
  );
}

/**
 * A date-time as Python writes it: with or without a UTC offset
 * (`datetime.now().isoformat()` has none), microseconds, `T` or a space.
 * A time without an offset is read as UTC.
 */
function parseDateTime(text: string): Date | undefined {
  const match = /^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)(Z|z|[+-]\d{2}:?\d{2})?$/.exec(text);
  if (!match) return undefined;
  const offset =
    match[3] === undefined ? 'Z' : match[3].length === 5 ? `${match[3].slice(0, 3)}:${match[3].slice(3)}` : match[3];
  const date = new Date(`${match[1]}T${match[2]}${offset.toUpperCase()}`);
  return Number.isNaN(date.getTime()) ? undefined : date;
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
  if (typeof value === 'bigint') return 'integer';
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
export function castBySchema(
  schema: JsonSchema | undefined,
  value: unknown,
  root: JsonSchema | undefined = schema,
): unknown {
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
    if (schema.format === 'date-time') return parseDateTime(value) ?? value;
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
            castBySchema(
              Array.isArray(prefix) && i < prefix.length
                ? (prefix[i] as JsonSchema)
                : Array.isArray(items)
                  ? undefined
                  : (items as JsonSchema),
              item,
              root,
            ),
          )
        : value;
    return schema[WIRE_KEYWORD] === 'set' ? new Set(cast) : cast;
  }
  if (typeof value === 'number' && schema[WIRE_KEYWORD] === 'bigint' && Number.isSafeInteger(value))
    return BigInt(value);
  if (typeof value === 'object') {
    const properties = (schema.properties ?? {}) as Record<string, JsonSchema>;
    const extra =
      typeof schema.additionalProperties === 'object' ? (schema.additionalProperties as JsonSchema) : undefined;
    if (!extra && Object.keys(properties).length === 0) return value;
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
      const own = Object.prototype.hasOwnProperty.call(properties, key) ? properties[key] : undefined;
      setOwn(out, key, castBySchema(own ?? extra, item, root));
    }
    return schema[WIRE_KEYWORD] === 'map' ? new Map(Object.entries(out)) : out;
  }
  return value;
}
