/**
 * `lightbus codegen`: TypeScript types and a typed client surface for APIs known
 * only by their schema (from the bus or from files, written by TypeScript or
 * Python Lightbus). Use the result as `lightbus.create<LightbusApis>()`.
 */
import type { compile as Compile } from 'json-schema-to-typescript';
import { exportOf, importOptional } from '../util/optional';
import { WIRE_KEYWORD } from './declare';
import type { ApiSchema, JsonSchema } from './types';

function pascal(text: string): string {
  return text
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');
}

function identifier(name: string): string {
  const id = pascal(name) || 'Api';
  return /^[0-9]/.test(id) ? `Api${id}` : id;
}

function property(name: string): string {
  return /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(name) ? name : JSON.stringify(name);
}

/**
 * The schema as TypeScript should see it after Lightbus's conversions
 * (cast_values): date-time strings arrive as Date, base64 as Buffer, and so on.
 * Top-level `title` and `$schema` are dropped so the type takes our name.
 */
function prepare(schema: JsonSchema, top = true): JsonSchema {
  if (typeof schema !== 'object' || schema === null) return schema;
  const copy: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) {
    if (top && (key === 'title' || key === '$schema')) continue;
    if (Array.isArray(value))
      copy[key] = value.map((v) => (typeof v === 'object' && v !== null ? prepare(v as JsonSchema, false) : v));
    else if (typeof value === 'object' && value !== null) {
      copy[key] =
        key === 'properties' || key === 'definitions' || key === '$defs' || key === 'patternProperties'
          ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, prepare(v as JsonSchema, false)]))
          : prepare(value as JsonSchema, false);
    } else copy[key] = value;
  }
  if (schema.format === 'date-time') copy.tsType = 'Date';
  else if (schema.contentEncoding === 'base64') copy.tsType = 'Buffer';
  else if (schema[WIRE_KEYWORD] === 'bigint') copy.tsType = 'bigint';
  else if (schema[WIRE_KEYWORD] === 'set') copy.tsType = 'Set<unknown>';
  else if (schema[WIRE_KEYWORD] === 'map') copy.tsType = 'Map<string, unknown>';
  return copy;
}

function hasRequired(schema: JsonSchema): boolean {
  return Array.isArray(schema.required) && schema.required.length > 0;
}

function indent(text: string, by = '  '): string {
  return text
    .trim()
    .split('\n')
    .map((line) => (line ? by + line : line))
    .join('\n');
}

export interface CodegenOptions {
  /** Said in the header: where the schemas came from. */
  readonly source?: string;
  /** Module to import Lightbus's types from (default '@lightbus/core'). */
  readonly coreModule?: string;
}

/** TypeScript source for the given schemas. */
export async function generateTypes(schemas: Record<string, ApiSchema>, options: CodegenOptions = {}): Promise<string> {
  // An optional peer of @lightbus/core (it brings a formatter and more): loaded only here.
  const loaded = await importOptional<unknown>('json-schema-to-typescript', '`lightbus codegen`');
  const compile = exportOf<typeof Compile>(loaded, 'compile')!;
  const used = new Set<string>();
  const namespaces: Array<{ apiName: string; namespace: string }> = [];
  const blocks: string[] = [];
  for (const apiName of Object.keys(schemas).sort()) {
    const schema = schemas[apiName]!;
    let namespace = identifier(apiName);
    for (let n = 2; used.has(namespace); n++) namespace = `${identifier(apiName)}${n}`;
    used.add(namespace);
    namespaces.push({ apiName, namespace });

    // One compile per API: nested titled types are declared once and share names within the namespace.
    const definitions: Record<string, JsonSchema> = {};
    const members: string[] = [];
    for (const [name, rpc] of Object.entries(schema.rpcs ?? {}).sort(([a], [b]) => a.localeCompare(b))) {
      const base = pascal(name);
      definitions[`${base}Parameters`] = prepare(rpc.parameters);
      definitions[`${base}Response`] = prepare(rpc.response);
      const optional = hasRequired(rpc.parameters) ? '' : '?';
      members.push(
        `/** RPC ${apiName}.${name}() */\n${property(name)}(params${optional}: ${base}Parameters, options?: CallOptions): Promise<${base}Response>;`,
      );
    }
    for (const [name, event] of Object.entries(schema.events ?? {}).sort(([a], [b]) => a.localeCompare(b))) {
      const base = pascal(name);
      definitions[`${base}Parameters`] = prepare(event.parameters);
      members.push(`/** Event ${apiName}.${name} */\nreadonly ${property(name)}: EventClient<${base}Parameters>;`);
    }
    const root = { title: 'Client', type: 'object', additionalProperties: false, properties: {}, definitions } as const;
    let types = await compile(root as unknown as Parameters<typeof Compile>[0], 'Client', {
      bannerComment: '',
      unreachableDefinitions: true,
      additionalProperties: false,
      unknownAny: true,
      strictIndexSignatures: false,
      format: true,
      style: { singleQuote: true, printWidth: 110 },
      declareExternallyReferenced: true,
    });
    types = types
      // Drop the placeholder root interface (our Client replaces it) and the generator's bookkeeping comments.
      .replace(/export interface Client \{\s*\}\s*/, '')
      .replace(
        /\/\*\*\n \* This interface was referenced by `Client`'s JSON-Schema\n \* via the `definition` "[^"]*".\n \*\/\n/g,
        '',
      );
    blocks.push(
      `/** API ${apiName} */\nexport namespace ${namespace} {\n${indent(types)}\n\n  export interface Client {\n${indent(members.join('\n'), '    ')}\n  }\n}`,
    );
  }
  const header = [
    `// Generated by \`lightbus codegen\`${options.source ? ` from ${options.source}` : ''}. Do not edit: run it again.`,
    `// Use: const bus = lightbus.create<LightbusApis>(); await bus.support.case.get({ id: 1 });`,
    '/* eslint-disable */',
    `import type { CallOptions, EventClient } from '${options.coreModule ?? '@lightbus/core'}';`,
  ].join('\n');
  const map = `/** Every API, by name: give it to lightbus.create<LightbusApis>(). */\nexport interface LightbusApis {\n${namespaces
    .map(({ apiName, namespace }) => `  ${JSON.stringify(apiName)}: ${namespace}.Client;`)
    .join('\n')}\n}`;
  return `${header}\n\n${blocks.join('\n\n')}\n\n${map}\n`;
}
