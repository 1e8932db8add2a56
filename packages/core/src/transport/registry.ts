/**
 * Finds transports by the name a config uses (`redis`, `amqp`, `memory`, ...).
 * `memory` is built in; any other name N is loaded from the package
 * `@lightbus/N`, or else from a package called N, which must export
 * `transport` (a TransportDefinition). Core names no transport package itself.
 */
import { createRequire } from 'node:module';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { TransportNotFoundError } from '../errors';
import { closest } from '../util/suggest';
import type { AnyTransportDefinition } from './interfaces';

/** The transports this project publishes (suggested when a name is close to one). */
const OFFICIAL_TRANSPORTS = ['memory', 'redis', 'amqp', 'kafka'];

export interface TransportRegistryOptions {
  /** Where packages are resolved from first (default: the working directory). */
  readonly resolveFrom?: string;
}

function isDefinition(value: unknown): value is AnyTransportDefinition {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { name?: unknown }).name === 'string' &&
    typeof (value as { options?: unknown }).options === 'object' &&
    typeof (value as { capabilities?: unknown }).capabilities === 'object'
  );
}

function isModuleNotFound(error: unknown, request: string): boolean {
  const e = error as NodeJS.ErrnoException | undefined;
  return e?.code === 'MODULE_NOT_FOUND' && typeof e.message === 'string' && e.message.includes(`'${request}'`);
}

export class TransportRegistry {
  private readonly definitions = new Map<string, AnyTransportDefinition>();
  private readonly requireFromCwd: NodeJS.Require;

  constructor(builtIn: readonly AnyTransportDefinition[] = [], options: TransportRegistryOptions = {}) {
    for (const definition of builtIn) this.register(definition);
    this.requireFromCwd = createRequire(path.join(options.resolveFrom ?? process.cwd(), 'lightbus-resolve.js'));
  }

  /** Register a transport under its name (replacing any of that name). */
  register(definition: AnyTransportDefinition): void {
    this.definitions.set(definition.name, definition);
  }

  has(name: string): boolean {
    return this.definitions.has(name);
  }

  /** The definition for a config name; loads its package on first use. */
  resolve(name: string): AnyTransportDefinition {
    const known = this.definitions.get(name);
    if (known) return known;
    const candidates = name.startsWith('@') || name.includes('/') ? [name] : [`@lightbus/${name}`, name];
    for (const request of candidates) {
      const loaded = this.tryLoad(request);
      if (loaded === undefined) continue;
      const definition = this.definitionFrom(loaded, request);
      if (definition.name !== name && !name.includes('/')) {
        // A package may be named differently from its transport; register under both.
        this.definitions.set(definition.name, definition);
      }
      this.definitions.set(name, definition);
      return definition;
    }
    const installed = this.discoverNames();
    const names = [...new Set([...this.definitions.keys(), ...installed, ...OFFICIAL_TRANSPORTS])];
    const suggestion = closest(name, names);
    const hint = suggestion
      ? `Did you mean '${suggestion}'?${this.definitions.has(suggestion) || installed.includes(suggestion) ? '' : ` (install it: npm install @lightbus/${suggestion})`}`
      : `If it is a transport package, install it: npm install ${candidates[0]}.`;
    throw new TransportNotFoundError(
      `Transport '${name}' is not installed or known. ${hint} ` +
        `Installed: ${[...new Set([...this.definitions.keys(), ...installed])].join(', ')}; ` +
        `official transports: ${OFFICIAL_TRANSPORTS.join(', ')}.`,
    );
  }

  /** Registered transports plus installed @lightbus/* transport packages (for dumpconfigschema). */
  discover(): AnyTransportDefinition[] {
    for (const dir of this.lightbusPackageDirs()) {
      const name = path.basename(dir);
      if (this.definitions.has(name)) continue;
      try {
        const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as {
          lightbus?: { transport?: boolean };
        };
        if (pkg.lightbus?.transport) this.resolve(name);
      } catch {
        // Not a transport package, or broken: dumpconfigschema lists what loads.
      }
    }
    return [...new Set(this.definitions.values())];
  }

  /** Names of the installed @lightbus/* packages that say they are transports (not loaded). */
  private discoverNames(): string[] {
    const names: string[] = [];
    for (const dir of this.lightbusPackageDirs()) {
      try {
        const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as {
          lightbus?: { transport?: boolean };
        };
        if (pkg.lightbus?.transport) names.push(path.basename(dir));
      } catch {
        // Not a package: skip.
      }
    }
    return names;
  }

  private lightbusPackageDirs(): string[] {
    const dirs: string[] = [];
    for (const base of this.requireFromCwd.resolve.paths('@lightbus/x') ?? []) {
      const scope = path.join(base, '@lightbus');
      if (!existsSync(scope)) continue;
      for (const entry of readdirSync(scope)) dirs.push(path.join(scope, entry));
    }
    return dirs;
  }

  private tryLoad(request: string): unknown {
    for (const load of [this.requireFromCwd, require]) {
      try {
        return load(request);
      } catch (error) {
        if (isModuleNotFound(error, request)) continue;
        throw new TransportNotFoundError(`Transport package '${request}' failed to load: ${(error as Error).message}`, {
          cause: error,
        });
      }
    }
    return undefined;
  }

  private definitionFrom(loaded: unknown, request: string): AnyTransportDefinition {
    const exports = loaded as { transport?: unknown; default?: unknown };
    const candidate =
      exports.transport ?? (exports.default as { transport?: unknown } | undefined)?.transport ?? exports.default;
    if (!isDefinition(candidate)) {
      throw new TransportNotFoundError(
        `Package '${request}' does not export a Lightbus transport (expected: export const transport = defineTransport({...})).`,
      );
    }
    return candidate;
  }
}
