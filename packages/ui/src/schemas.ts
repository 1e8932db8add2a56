/**
 * The APIs in the schema store, cached: loaded in the background every few seconds (and at
 * start), so a page of the APIs list is a slice of a sorted array, whatever the number of APIs.
 * Parameters are validated here, against the schema the bus shares, before anything is sent.
 */
import Ajv, { type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import type { Bus } from '@lightbus/core';
import type { ApiSchema, JsonSchema } from '@lightbus/core/transport';

export interface ApiSummary {
  readonly name: string;
  readonly procedures: number;
  readonly events: number;
}

export interface Page<T> {
  readonly total: number;
  readonly offset: number;
  readonly items: readonly T[];
}

export interface ParameterProblem {
  /** The parameter's path (`/id`, `/address/street`), empty for the whole object. */
  readonly path: string;
  readonly message: string;
}

export class SchemaCache {
  private schemas: Record<string, ApiSchema> = {};
  private names: string[] = [];
  private loaded: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly ajv = new Ajv({ strict: false, allErrors: true });
  private readonly validators = new Map<string, { schema: JsonSchema; validate: ValidateFunction }>();

  constructor(
    private readonly bus: Bus,
    private readonly refreshMs = 5_000,
  ) {
    addFormats(this.ajv);
  }

  /** Load now and every refreshMs; resolves after the first load. */
  start(): Promise<void> {
    this.timer = setInterval(() => void this.refresh().catch(() => undefined), this.refreshMs);
    this.timer.unref();
    return this.refresh();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** Load again (at most one load at a time). */
  refresh(): Promise<void> {
    this.loaded ??= (async () => {
      try {
        await this.bus.client.schemas.load();
        this.schemas = { ...this.bus.client.schemas.all() };
        this.names = Object.keys(this.schemas).sort();
      } finally {
        this.loaded = undefined;
      }
    })();
    return this.loaded;
  }

  all(): Readonly<Record<string, ApiSchema>> {
    return this.schemas;
  }

  get(apiName: string): ApiSchema | undefined {
    return Object.prototype.hasOwnProperty.call(this.schemas, apiName) ? this.schemas[apiName] : undefined;
  }

  /** API names containing `query` (case-insensitive), sorted, `limit` from `offset`. */
  page(query: string, offset: number, limit: number, internal = false): Page<ApiSummary> {
    const q = query.toLowerCase();
    const names = this.names.filter((n) => (internal || !n.startsWith('internal.')) && n.toLowerCase().includes(q));
    const items = names.slice(offset, offset + limit).map((name) => {
      const schema = this.schemas[name]!;
      return { name, procedures: Object.keys(schema.rpcs).length, events: Object.keys(schema.events).length };
    });
    return { total: names.length, offset, items };
  }

  /** What is wrong with these parameters of a procedure or event, by its schema (empty: nothing). */
  check(apiName: string, kind: 'rpcs' | 'events', member: string, params: unknown): ParameterProblem[] {
    const schema = this.get(apiName)?.[kind][member]?.parameters;
    if (!schema) return [];
    const key = `${apiName}\u0000${kind}\u0000${member}`;
    let entry = this.validators.get(key);
    if (!entry || entry.schema !== schema) {
      const { $schema: _ignored, ...body } = schema as Record<string, unknown>;
      entry = { schema, validate: this.ajv.compile(body) };
      this.validators.set(key, entry);
    }
    if (entry.validate(params)) return [];
    return (entry.validate.errors ?? []).map((e) => ({
      path: e.instancePath,
      message:
        e.keyword === 'required'
          ? `missing required parameter '${String((e.params as { missingProperty?: unknown }).missingProperty)}'`
          : e.keyword === 'additionalProperties'
            ? `unknown parameter '${String((e.params as { additionalProperty?: unknown }).additionalProperty)}'`
            : `${e.instancePath ? `${e.instancePath.slice(1)} ` : ''}${e.message ?? 'is invalid'}`,
    }));
  }
}
