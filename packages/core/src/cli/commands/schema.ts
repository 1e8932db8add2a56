/** `lightbus dumpschema`, `codegen` and `dumpconfigschema`: the bus's schemas as files and types. */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import { configJsonSchema } from '../../config';
import { SchemaFileError } from '../../errors';
import { memoryTransport } from '../../transport/memory';
import { TransportRegistry } from '../../transport/registry';
import { readSchemas, writeSchemas } from '../../schema/files';
import type { ApiSchema } from '../../schema/types';
import { busSchemas, openBus, withBusOptions, type BusOptions } from '../options';

export function dumpSchemaCommand(): Command {
  const command = new Command('dumpschema')
    .description("Write the schemas of the bus: this service's APIs and every API stored on the bus")
    .option('-o, --out <file|dir>', 'a file, or a directory for one file per API (default: stdout)');
  return withBusOptions(command, false).action(async (options: BusOptions & { out?: string }) => {
    const bus = await openBus(options, false);
    const humanReadable = bus.client.config.humanReadableSchema;
    const schemas = await busSchemas(bus);
    if (options.out) {
      const files = writeSchemas(schemas, options.out, humanReadable);
      process.stderr.write(`Wrote ${Object.keys(schemas).length} API schema(s) to ${files.join(', ')}\n`);
    } else {
      process.stdout.write(`${JSON.stringify(schemas, null, humanReadable ? 2 : undefined)}\n`);
    }
  });
}

export function codegenCommand(): Command {
  const command = new Command('codegen')
    .description('Write TypeScript types and a typed client for every API, from the schemas on the bus or in files')
    .option('-o, --out <file>', 'the .ts file to write (default: stdout)')
    .option('-m, --schema <file|dir>', 'read schemas from a file or directory instead of the bus');
  return withBusOptions(command, false).action(async (options: BusOptions & { out?: string; schema?: string }) => {
    const schemas = options.schema ? readSchemas(options.schema) : await busSchemas(await openBus(options, false));
    if (Object.keys(schemas).length === 0) {
      throw new SchemaFileError(
        options.schema
          ? `No API schemas in '${options.schema}'.`
          : 'No API schemas on the bus: start the workers whose APIs you want (they store their schemas), or pass --schema.',
      );
    }
    const source = options.schema ?? 'the schemas on the bus';
    // Loaded here only: the compiler and formatter behind codegen are heavy and only this command needs them.
    const { generateTypes } = await import('../../schema/codegen.js');
    const text = await generateTypes(schemas, { source });
    const untyped = untypedMembers(schemas);
    if (untyped.length > 0) {
      process.stderr.write(
        `Note: ${untyped.length} procedure(s) have no declared types, so their types are unknown: ${untyped.slice(0, 5).join(', ')}` +
          `${untyped.length > 5 ? ', ...' : ''}. A plain class's method types exist only in TypeScript: in TypeScript code, import the ` +
          `class's type and declare it in BusApis (docs/reference/client.md); to share types on the bus (codegen, Python, validation), ` +
          `declare them with procedure({ parameters, response }, fn) (docs/explanation/typed-declarations.md). Why codegen does not ` +
          `infer them from the source: docs/how-to/codegen.md.\n`,
      );
    }
    if (options.out) {
      mkdirSync(path.dirname(path.resolve(options.out)), { recursive: true });
      writeFileSync(options.out, text);
      process.stderr.write(`Wrote types for ${Object.keys(schemas).length} API(s) to ${options.out}\n`);
    } else {
      process.stdout.write(text);
    }
  });
}

export function dumpConfigSchemaCommand(): Command {
  return new Command('dumpconfigschema')
    .description('Print the JSON Schema of the config file (with the options of installed transports)')
    .option('-o, --out <file>', 'write to this file instead of stdout')
    .action((options: { out?: string }) => {
      const registry = new TransportRegistry([memoryTransport]);
      const text = `${JSON.stringify(configJsonSchema(registry.discover()), null, 2)}\n`;
      if (options.out) {
        mkdirSync(path.dirname(path.resolve(options.out)), { recursive: true });
        writeFileSync(options.out, text);
      } else process.stdout.write(text);
    });
}

/** Procedures whose schema declares neither parameter properties nor a response type (a plain class's). */
function untypedMembers(schemas: Record<string, ApiSchema>): string[] {
  const out: string[] = [];
  for (const [apiName, schema] of Object.entries(schemas)) {
    for (const [name, rpc] of Object.entries(schema.rpcs ?? {})) {
      const params = rpc.parameters as { properties?: unknown };
      const response = rpc.response as Record<string, unknown>;
      const declaresResponse = Object.keys(response).some(
        (key) => key !== '$schema' && key !== 'title' && key !== 'description',
      );
      if (params.properties === undefined && !declaresResponse) out.push(`${apiName}.${name}()`);
    }
  }
  return out;
}
