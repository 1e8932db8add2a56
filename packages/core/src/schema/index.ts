/** Schemas: typed declarations, generation, sharing on the bus, validation, conversions, files, codegen. */
export { Wire, procedure, procedureSchemas, WIRE_KEYWORD } from './declare';
export type { Procedure, ProcedureSpec } from './declare';
export { apiSchema, SCHEMA_URI } from './generate';
export { toWire, castBySchema } from './codec';
export { assertValid, validatorFor } from './validator';
export { SchemaRegistry } from './registry';
export { readSchemas, writeSchemas, schemaFileName } from './files';
export type { ApiSchema, EventSchema, JsonSchema, RpcSchema } from './types';
// codegen.ts is loaded by the `lightbus codegen` command only: its dependencies (a JSON Schema
// to TypeScript compiler and a formatter) are too heavy to load with every bus.
