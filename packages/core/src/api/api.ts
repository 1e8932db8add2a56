import { InvalidApiError } from '../errors';
import { assertApiName, assertMemberName } from './names';
import type { TObject, TSchema } from '@sinclair/typebox';
import { EventDefinition } from './event';
import { procedureSchemas } from '../schema/declare';

const API_BRAND = Symbol.for('lightbus.api');

/** Options of an API, set as `static meta = { name: 'support.case' }` on the class. */
export interface ApiMeta {
  /** Name on the bus; dots allowed (`marketing.website.stats`). Required. */
  readonly name: string;
  /** Sent with every event of this API. Positive integer, default 1. */
  readonly version?: number;
  /** Internal APIs (Lightbus's own) are hidden from listings such as dumpschema. */
  readonly internal?: boolean;
}

/**
 * Base class of every API. Subclass it, set `static meta`, declare events as
 * properties and procedures as methods. Methods whose name starts with `_` and
 * `#private` methods are not procedures. (TypeScript's `private` keyword is
 * erased at run time: such methods would be served; use `#name` or `_name`.)
 */
/** A type-only mark of API instances: it tells an API class from a generated client interface. */
declare const API_INSTANCE: unique symbol;

export abstract class Api {
  static meta: ApiMeta;
  /** Marks API instances, also across several copies of @lightbus/core in one program. */
  static readonly [API_BRAND] = true;
  /** Type-only (no run-time property): see API_INSTANCE. */
  declare readonly [API_INSTANCE]: true;
}

/** True for instances of Api subclasses (from any copy of @lightbus/core). */
export function isApiInstance(value: unknown): value is Api {
  if (typeof value !== 'object' || value === null) return false;
  const ctor = (value as { constructor?: unknown }).constructor as Record<symbol, unknown> | undefined;
  return typeof ctor === 'function' && ctor[API_BRAND] === true;
}

/** A class that extends Api and carries its meta. */
export type ApiClass<A extends Api = Api> = (abstract new (...args: never[]) => A) & { meta: ApiMeta };

/** One procedure of a registered API. */
export interface ProcedureDefinition {
  readonly name: string;
  readonly invoke: (params: Record<string, unknown>) => unknown;
  /** Declared by `procedure({ parameters, response }, ...)`; absent for plain methods. */
  readonly parameters?: TObject;
  readonly response?: TSchema;
}

/** What Lightbus knows about a registered API instance. */
export interface ApiDefinition {
  readonly name: string;
  readonly version: number;
  readonly internal: boolean;
  readonly instance: Api;
  readonly procedures: ReadonlyMap<string, ProcedureDefinition>;
  readonly events: ReadonlyMap<string, EventDefinition>;
}

const BASE_MEMBERS = new Set(Object.getOwnPropertyNames(Api.prototype));

/** Validate the meta of an API class; returns it normalised. */
export function readMeta(ctor: unknown, where: string): Required<ApiMeta> {
  const meta = (ctor as { meta?: unknown } | undefined)?.meta;
  const className = (ctor as { name?: string } | undefined)?.name || 'anonymous class';
  if (!meta || typeof meta !== 'object') {
    throw new InvalidApiError(
      `${where}: API class ${className} has no meta. Add static meta = { name: 'my.api' } to the class.`,
    );
  }
  const { name, version = 1, internal = false } = meta as Partial<ApiMeta>;
  assertApiName(name);
  if (!Number.isInteger(version) || version < 1) {
    throw new InvalidApiError(
      `API '${name}': meta.version must be a positive integer (got ${JSON.stringify(version)}).`,
    );
  }
  if (typeof internal !== 'boolean') {
    throw new InvalidApiError(`API '${name}': meta.internal must be true or false.`);
  }
  return { name, version, internal };
}

/** Inspect an API instance: its meta, procedures (methods) and events (Event properties). */
export function describeApi(instance: unknown): ApiDefinition {
  if (!isApiInstance(instance)) {
    const hint =
      typeof instance === 'function'
        ? ' Pass an instance: registerApi(new MyApi()), not the class.'
        : ' API classes must extend Api from @lightbus/core.';
    throw new InvalidApiError(`registerApi() needs an instance of an Api subclass.${hint}`);
  }
  const meta = readMeta(instance.constructor, 'registerApi()');

  const procedures = new Map<string, ProcedureDefinition>();
  // Walk up to the Api base class (whichever copy of it this instance extends).
  const isBase = (proto: object): boolean =>
    Object.prototype.hasOwnProperty.call((proto as { constructor: object }).constructor, API_BRAND);
  for (
    let proto: object | null = Object.getPrototypeOf(instance);
    proto && !isBase(proto);
    proto = Object.getPrototypeOf(proto)
  ) {
    for (const key of Object.getOwnPropertyNames(proto)) {
      if (key === 'constructor' || key.startsWith('_') || procedures.has(key)) continue;
      const descriptor = Object.getOwnPropertyDescriptor(proto, key);
      if (!descriptor || typeof descriptor.value !== 'function') continue;
      if (BASE_MEMBERS.has(key)) {
        throw new InvalidApiError(
          `API '${meta.name}': '${key}' is a member of the Api base class and cannot be a procedure.`,
        );
      }
      assertMemberName(meta.name, 'procedure', key);
      const method = descriptor.value as (params: Record<string, unknown>) => unknown;
      procedures.set(key, { name: key, invoke: (params) => method.call(instance, params) });
    }
  }

  const events = new Map<string, EventDefinition>();
  for (const key of Object.keys(instance)) {
    const value = (instance as unknown as Record<string, unknown>)[key];
    const typed = procedureSchemas(value);
    if (typed) {
      if (key.startsWith('_')) continue;
      assertMemberName(meta.name, 'procedure', key);
      const invoke = value as (params: Record<string, unknown>) => unknown;
      procedures.set(key, { name: key, invoke, parameters: typed.parameters, response: typed.response });
      continue;
    }
    if (!EventDefinition.isEvent(value)) continue;
    assertMemberName(meta.name, 'event', key);
    for (const parameter of value.parameters) assertMemberName(meta.name, 'parameter', parameter.name);
    if (procedures.has(key)) {
      throw new InvalidApiError(`API '${meta.name}': '${key}' is both an event and a procedure.`);
    }
    events.set(key, value);
  }

  return { ...meta, instance, procedures, events };
}
