import type { Static, TObject } from '@sinclair/typebox';
import { InvalidNameError } from '../errors';
import { isObjectSchema } from '../schema/declare';

const EVENT_BRAND = Symbol.for('lightbus.event');

/** Parameters of an event or a call: one object keyed by parameter name. */
export type Params = Record<string, unknown>;

/** How one event parameter is declared. */
export interface ParameterSpec {
  readonly name: string;
  /** False when the parameter has a default or an optional type. */
  readonly required: boolean;
}

export interface EventOptions<N extends readonly string[]> {
  /** The parameter names, as in Python Lightbus: `new Event({ parameters: ['id', 'sender'] })`. */
  parameters: N;
}

/**
 * An event an API fires. Declare it as a property of the API class:
 * `caseCreated = new Event({ parameters: ['id', 'sender'] })`.
 * `P` is the static type of its parameters, inferred from the declaration.
 */
export class EventDefinition<P extends Params = Params> {
  readonly [EVENT_BRAND] = true;
  readonly parameters: readonly ParameterSpec[];
  /** The parameters' schema, for a typed declaration. */
  readonly schema: TObject | undefined;
  /** Phantom member carrying the parameter type; never set at run time. */
  declare readonly __params?: P;

  constructor(options: { parameters: readonly (string | ParameterSpec)[] | TObject }) {
    if (options && isObjectSchema(options.parameters)) {
      const schema = options.parameters;
      const required = new Set(schema.required ?? []);
      this.schema = schema;
      this.parameters = Object.freeze(
        Object.keys(schema.properties).map((name) => Object.freeze({ name, required: required.has(name) })),
      );
      return;
    }
    if (!options || !Array.isArray(options.parameters)) {
      throw new InvalidNameError(
        `new Event() needs { parameters: [...] } (names) or { parameters: Type.Object({...}) } (typed), ` +
          `e.g. new Event({ parameters: ['id', 'sender'] }).`,
      );
    }
    this.schema = undefined;
    const seen = new Set<string>();
    this.parameters = Object.freeze(
      (options.parameters as readonly (string | ParameterSpec)[]).map((p) => {
        const spec: ParameterSpec = typeof p === 'string' ? { name: p, required: true } : { ...p };
        if (seen.has(spec.name)) throw new InvalidNameError(`Event parameter '${spec.name}' is declared twice.`);
        seen.add(spec.name);
        return Object.freeze(spec);
      }),
    );
  }

  /** Names of the parameters, in declaration order. */
  get parameterNames(): string[] {
    return this.parameters.map((p) => p.name);
  }

  static isEvent(value: unknown): value is EventDefinition {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[EVENT_BRAND] === true;
  }
}

/** Parameters type of an untyped event: every declared name, value type unknown. */
export type NamedParams<N extends readonly string[]> = { [K in N[number]]: unknown };

export interface EventConstructor {
  /** Untyped form: parameter names only; every name is required. */
  new <const N extends readonly string[]>(options: EventOptions<N>): EventDefinition<NamedParams<N>>;
  /** Typed form: a TypeBox object schema; optional members are Type.Optional(...). */
  new <S extends TObject>(options: { parameters: S }): EventDefinition<Static<S>>;
  isEvent(value: unknown): value is EventDefinition;
}

/** `new Event({ parameters: ['id', 'sender'] })`; see EventDefinition. */
export const Event = EventDefinition as unknown as EventConstructor;
export type Event<P extends Params = Params> = EventDefinition<P>;

/** The parameters type of an event declaration. */
export type EventParams<E> = E extends EventDefinition<infer P> ? P : never;
