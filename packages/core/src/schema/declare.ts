/**
 * Typed declarations. One TypeBox declaration gives both the static type seen
 * by callers and handlers and the JSON Schema shared on the bus; they cannot drift.
 *
 *   caseCreated = new Event({ parameters: Type.Object({ id: Type.Integer(), at: Wire.Date() }) });
 *   get = procedure({ parameters: Type.Object({ id: Type.Integer() }), response: CaseSchema }, async ({ id }) => ...);
 *
 * `Wire` types are values JSON cannot carry: on the bus they travel as JSON
 * (ISO text, base64, ...), and incoming values are converted back (cast_values).
 */
import { Type, type Static, type TObject, type TSchema, type TUnsafe } from '@sinclair/typebox';

const PROCEDURE_BRAND = Symbol.for('lightbus.procedure');

/** The `x-lightbus` annotation naming a conversion JSON Schema alone cannot express. */
export const WIRE_KEYWORD = 'x-lightbus';

/** Types for values JSON cannot carry, converted on the way out and back on the way in. */
export const Wire = {
  /** A Date; on the wire an ISO 8601 text (`format: date-time`, as Python's datetime). */
  Date: (options: { description?: string } = {}): TUnsafe<Date> =>
    Type.Unsafe<Date>({ ...options, type: 'string', format: 'date-time' }),
  /** A Buffer; on the wire base64 text (`contentEncoding: base64`). */
  Bytes: (options: { description?: string } = {}): TUnsafe<Buffer> =>
    Type.Unsafe<Buffer>({ ...options, type: 'string', contentEncoding: 'base64' }),
  /** A bigint; on the wire its decimal text. */
  BigInt: (options: { description?: string } = {}): TUnsafe<bigint> =>
    Type.Unsafe<bigint>({ ...options, type: 'string', pattern: '^-?[0-9]+$', [WIRE_KEYWORD]: 'bigint' }),
  /** A Set; on the wire an array of unique items. */
  Set: <T extends TSchema>(items: T, options: { description?: string } = {}): TUnsafe<Set<Static<T>>> =>
    Type.Unsafe<Set<Static<T>>>({ ...options, type: 'array', uniqueItems: true, items, [WIRE_KEYWORD]: 'set' }),
  /** A Map with string keys; on the wire an object. */
  Map: <T extends TSchema>(values: T, options: { description?: string } = {}): TUnsafe<Map<string, Static<T>>> =>
    Type.Unsafe<Map<string, Static<T>>>({
      ...options,
      type: 'object',
      additionalProperties: values,
      [WIRE_KEYWORD]: 'map',
    }),
} as const;

export interface ProcedureSpec<P extends TObject, R extends TSchema> {
  /** The parameters: an object schema; optional members are Type.Optional(...). */
  readonly parameters: P;
  /** The result. Omit for "any JSON". */
  readonly response?: R;
}

/** A typed procedure: callable like the implementation, carrying its schemas. */
export type Procedure<P extends TObject = TObject, R extends TSchema = TSchema> = ((
  params: Static<P>,
) => Promise<Static<R>>) & {
  readonly [PROCEDURE_BRAND]: { readonly parameters: P; readonly response: R | undefined };
};

/**
 * Declare a typed procedure as a property of an API class. The implementation's
 * parameters and result are typed from the schemas; the schemas are shared on the bus.
 */
export function procedure<P extends TObject, R extends TSchema = TSchema>(
  spec: ProcedureSpec<P, R>,
  implementation: (params: Static<P>) => Static<R> | Promise<Static<R>>,
): Procedure<P, R> {
  const callable = async (params: Static<P>): Promise<Static<R>> => implementation(params);
  Object.defineProperty(callable, PROCEDURE_BRAND, { value: { parameters: spec.parameters, response: spec.response } });
  return callable as Procedure<P, R>;
}

/** The schemas of a typed procedure, or undefined for anything else. */
export function procedureSchemas(value: unknown): { parameters: TObject; response: TSchema | undefined } | undefined {
  if (typeof value !== 'function') return undefined;
  return (value as unknown as Record<symbol, { parameters: TObject; response: TSchema | undefined } | undefined>)[
    PROCEDURE_BRAND
  ];
}

/** True for a TypeBox (or plain JSON Schema) object schema. */
export function isObjectSchema(value: unknown): value is TObject {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    (value as { type?: unknown }).type === 'object' &&
    typeof (value as { properties?: unknown }).properties === 'object'
  );
}
