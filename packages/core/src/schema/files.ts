/**
 * Schema files, in Python Lightbus's layout: one JSON file `{api name: schema}`
 * holding every API, or a directory with one such file per API (`<api>.json`).
 * Files written by either language load in the other.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { SchemaFileError } from '../errors';
import { isPlainObject } from '../util/async';
import type { ApiSchema } from './types';

function parse(file: string): Record<string, ApiSchema> {
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new SchemaFileError(`Cannot read schema file '${file}': ${(error as Error).message}`, { cause: error });
  }
  if (!isPlainObject(data))
    throw new SchemaFileError(
      `Schema file '${file}' must hold an object {"<api name>": {"rpcs": ..., "events": ...}}.`,
    );
  for (const [name, schema] of Object.entries(data)) {
    if (!isPlainObject(schema) || !isPlainObject(schema.rpcs) || !isPlainObject(schema.events)) {
      throw new SchemaFileError(
        `Schema file '${file}': the entry for '${name}' must be {"rpcs": {...}, "events": {...}}.`,
      );
    }
  }
  return data as Record<string, ApiSchema>;
}

/** Read a schema file, or every *.json file of a directory. */
export function readSchemas(source: string): Record<string, ApiSchema> {
  if (!existsSync(source)) throw new SchemaFileError(`Schema file or directory '${source}' does not exist.`);
  if (statSync(source).isDirectory()) {
    const files = readdirSync(source)
      .filter((f) => f.endsWith('.json'))
      .sort();
    return Object.assign({}, ...files.map((f) => parse(path.join(source, f)))) as Record<string, ApiSchema>;
  }
  return parse(source);
}

/** A file-system-safe file name for an API. */
export function schemaFileName(apiName: string): string {
  return `${apiName.replace(/[^A-Za-z0-9._-]/g, '_')}.json`;
}

/**
 * Write schemas: to one file, or (when `destination` is an existing directory or
 * ends with a slash) one file per API. Returns the files written.
 */
export function writeSchemas(
  schemas: Record<string, ApiSchema>,
  destination: string,
  humanReadable: boolean,
): string[] {
  const text = (value: unknown): string => `${JSON.stringify(value, null, humanReadable ? 2 : undefined)}\n`;
  const asDirectory = destination.endsWith('/') || (existsSync(destination) && statSync(destination).isDirectory());
  if (!asDirectory) {
    writeFileSync(destination, text(schemas));
    return [destination];
  }
  mkdirSync(destination, { recursive: true });
  return Object.entries(schemas).map(([name, schema]) => {
    const file = path.join(destination, schemaFileName(name));
    writeFileSync(file, text({ [name]: schema }));
    return file;
  });
}
