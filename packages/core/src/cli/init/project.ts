/** `lightbus init`'s project files: package.json, tsconfig.json, .gitignore. */
import type { InitTransport } from './transports';
import { TRANSPORTS } from './transports';

/** The scaffold's package.json: ES modules, the worker as `npm start`, core and the transport as dependencies. */
export function packageJson(name: string, transport: InitTransport, lightbusVersion: string): string {
  const range = `^${lightbusVersion}`;
  const dependencies: Record<string, string> = { '@lightbus/core': range };
  const transportPackage = TRANSPORTS[transport].package;
  if (transportPackage) dependencies[transportPackage] = range;
  const manifest = {
    name,
    version: '0.1.0',
    private: true,
    // ES modules: top-level await in scripts; relative imports name the file as it runs (./api.js).
    type: 'module',
    scripts: {
      start: 'lightbus run --bus bus.ts',
      client: 'tsx client.ts',
      typecheck: 'tsc --noEmit',
    },
    dependencies,
    // tsx lets `lightbus run` load bus.ts; a build that runs compiled JavaScript needs neither.
    devDependencies: {
      '@types/node': '^20.19.0',
      tsx: '^4.20.0',
      typescript: '^5.9.0',
    },
  };
  return `${JSON.stringify(manifest, null, 2)}\n`;
}

/** The strict settings `tsc --init` recommends, with Node.js's module resolution. */
export function tsconfigJson(): string {
  const config = {
    compilerOptions: {
      target: 'es2022',
      lib: ['es2022'],
      module: 'nodenext',
      types: ['node'],
      strict: true,
      noUncheckedIndexedAccess: true,
      exactOptionalPropertyTypes: true,
      noImplicitOverride: true,
      verbatimModuleSyntax: true,
      isolatedModules: true,
      skipLibCheck: true,
      noEmit: true,
    },
    include: ['*.ts'],
  };
  return `${JSON.stringify(config, null, 2)}\n`;
}

export const gitignore = 'node_modules/\n';
