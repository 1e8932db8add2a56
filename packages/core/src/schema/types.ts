/** The schema of an API as shared on the bus (Python Lightbus's format, JSON Schema draft-07). */

/** A JSON Schema document. */
export type JsonSchema = { readonly [keyword: string]: unknown };

export interface RpcSchema {
  readonly parameters: JsonSchema;
  readonly response: JsonSchema;
}

export interface EventSchema {
  readonly parameters: JsonSchema;
}

export interface ApiSchema {
  readonly rpcs: Readonly<Record<string, RpcSchema>>;
  readonly events: Readonly<Record<string, EventSchema>>;
}
