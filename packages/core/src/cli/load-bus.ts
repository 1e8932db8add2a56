/** Finding and loading the bus module for `lightbus run` (TypeScript or JavaScript). */
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { isBus, type Bus } from '../client/bus';
import { BusModuleError, LightbusError } from '../errors';
import { exportOf, importOptional } from '../util/optional';

const EXTENSIONS = ['.ts', '.mts', '.cts', '.js', '.mjs', '.cjs'];

/** The default bus module (`$LIGHTBUS_MODULE` or ./bus) if there is one. */
export function findBusModule(cwd = process.cwd()): string | undefined {
  try {
    return resolveBusModule(undefined, cwd);
  } catch (error) {
    if (error instanceof BusModuleError) return undefined;
    throw error;
  }
}

/** The file for `--bus PATH`, `LIGHTBUS_MODULE`, or `./bus` (trying .ts, .js, ... and index files). */
export function resolveBusModule(given: string | undefined, cwd = process.cwd()): string {
  const request = given ?? (process.env.LIGHTBUS_MODULE || 'bus');
  const base = path.resolve(cwd, request);
  const candidates = [
    base,
    ...EXTENSIONS.map((ext) => base + ext),
    ...EXTENSIONS.map((ext) => path.join(base, `index${ext}`)),
  ];
  const found = candidates.find((file) => existsSync(file) && statSync(file).isFile());
  if (!found) {
    const from = given !== undefined ? '--bus' : process.env.LIGHTBUS_MODULE ? 'LIGHTBUS_MODULE' : 'the default';
    throw new BusModuleError(
      `No bus module at '${base}' (from ${from}; tried ${EXTENSIONS.join(', ')} and index files). ` +
        `Pass --bus path/to/bus.ts, set LIGHTBUS_MODULE, or create ./bus.ts exporting \`bus\`.`,
    );
  }
  return found;
}

let typeScriptRegistered = false;

const TYPESCRIPT = /\.[cm]?ts$/;

/**
 * tsx is an optional peer: a production worker built to JavaScript never loads
 * it; a TypeScript bus module needs it installed beside @lightbus/core.
 */
async function registerTypeScript(file: string): Promise<void> {
  if (typeScriptRegistered) return;
  const neededFor = `Running the TypeScript bus module '${path.basename(file)}'`;
  const cjs = await importOptional<unknown>('tsx/cjs/api', neededFor);
  // The ES module build of tsx's API (its CommonJS build cannot register the ESM hooks).
  const esm = await importOptional<unknown>('tsx/esm/api', neededFor);
  exportOf<() => void>(cjs, 'register')?.();
  exportOf<() => void>(esm, 'register')?.();
  typeScriptRegistered = true;
}

/** Import the module (TypeScript through tsx) and return the bus it exports as `bus` or default. */
export async function loadBusModule(file: string): Promise<Bus> {
  let loaded: Record<string, unknown>;
  try {
    // Register TypeScript support process-wide (CommonJS and ES modules), so the bus
    // module shares this process's module cache: one copy of @lightbus/core.
    if (TYPESCRIPT.test(file)) await registerTypeScript(file);
    loaded = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (error) {
    if (error instanceof LightbusError) throw error;
    throw new BusModuleError(
      `Loading bus module '${file}' failed: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)} (run again with --debug for the stack)`,
      { cause: error },
    );
  }
  const nested = loaded.default as Record<string, unknown> | undefined;
  const candidates = [loaded.bus, nested?.bus, loaded.default, nested?.default];
  const bus = candidates.find(isBus);
  if (!bus) {
    throw new BusModuleError(
      `Bus module '${file}' exports no bus. Export the bus you created: export const bus = lightbus.create();`,
    );
  }
  return bus;
}
