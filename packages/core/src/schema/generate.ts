/**
 * The JSON Schema of a registered API, in Python Lightbus's format:
 * `{rpcs: {name: {parameters, response}}, events: {name: {parameters}}}`,
 * draft-07, parameter schemas as closed objects with `required`.
 */
import type { ApiDefinition } from '../api/api';
import type { EventDefinition } from '../api/event';
import type { ApiSchema, JsonSchema, RpcSchema } from './types';

export const SCHEMA_URI = 'http://json-schema.org/draft-07/schema#';

/** A plain JSON copy (TypeBox's symbol-keyed annotations dropped). */
function plain(schema: object): Record<string, unknown> {
  return JSON.parse(JSON.stringify(schema)) as Record<string, unknown>;
}

function eventParameters(apiName: string, eventName: string, event: EventDefinition): JsonSchema {
  const title = `Event ${apiName}.${eventName} parameters`;
  if (event.schema) {
    return { $schema: SCHEMA_URI, ...plain(event.schema), title, additionalProperties: false };
  }
  const required = event.parameters.filter((p) => p.required).map((p) => p.name);
  return {
    $schema: SCHEMA_URI,
    type: 'object',
    additionalProperties: false,
    properties: Object.fromEntries(event.parameters.map((p) => [p.name, {}])),
    ...(required.length ? { required } : {}),
    title,
  };
}

function rpcSchema(
  apiName: string,
  name: string,
  procedure: ApiDefinition['procedures'] extends ReadonlyMap<string, infer P> ? P : never,
): RpcSchema {
  const parametersTitle = `RPC ${apiName}.${name}() parameters`;
  const responseTitle = `RPC ${apiName}.${name}() response`;
  const parameters: JsonSchema = procedure.parameters
    ? { $schema: SCHEMA_URI, ...plain(procedure.parameters), title: parametersTitle, additionalProperties: false }
    : // A plain method: its parameter names are not known at run time.
      { $schema: SCHEMA_URI, type: 'object', additionalProperties: true, title: parametersTitle };
  const response: JsonSchema = procedure.response
    ? { $schema: SCHEMA_URI, ...plain(procedure.response), title: responseTitle }
    : { $schema: SCHEMA_URI, title: responseTitle };
  return { parameters, response };
}

/** The schema of one API, as stored on the bus and written by dumpschema. */
export function apiSchema(api: ApiDefinition): ApiSchema {
  return {
    rpcs: Object.fromEntries(
      [...api.procedures].map(([name, procedure]) => [name, rpcSchema(api.name, name, procedure)]),
    ),
    events: Object.fromEntries(
      [...api.events].map(([name, event]) => [name, { parameters: eventParameters(api.name, name, event) }]),
    ),
  };
}
