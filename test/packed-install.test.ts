/**
 * What users install, as they install it: the packed tarballs in fresh projects outside this
 * repository.
 * - A production install of core + redis stays under 15 MB (du -sb of node_modules), without
 *   the development tools core can use (tsx, json-schema-to-typescript) or @opentelemetry/api.
 * - Every package and subpath entry loads with require() and with import, and every name
 *   require() gives is a named ESM import too; a .cts and a .mts file importing each entry
 *   type-check under nodenext.
 * - Telemetry: without @opentelemetry/api the bus works (no spans); with it and an SDK
 *   installed, the same script's call is traced.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { NPM_INSTALL_FLAGS, packAll, root, run, sh, tarball } from './packed-project';

const LIMIT_BYTES = 15_000_000;
const work = mkdtempSync(path.join(tmpdir(), 'lightbus-packed-'));
const packed = path.join(work, 'packed');

beforeAll(() => packAll(packed), 180_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

function project(name: string, manifest: Record<string, unknown> = {}): string {
  const dir = path.join(work, name);
  mkdirSync(dir);
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name, version: '1.0.0', private: true, ...manifest }));
  return dir;
}

/** The packages packed (every public one), by name without the scope. */
function packages(): string[] {
  return readdirSync(packed)
    .map((file) => /^lightbus-(\w+)-\d/.exec(file)?.[1])
    .filter((name): name is string => name !== undefined)
    .sort();
}

/** A script that serves and calls an API on the memory transport, and says whether the call was traced. */
const TRACED_CALL = `
const lightbus = require('@lightbus/core');
let spans;
try {
  const { trace } = require('@opentelemetry/api');
  const { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } = require('@opentelemetry/sdk-trace');
  spans = new InMemorySpanExporter();
  trace.setGlobalTracerProvider(new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter: spans })] }));
} catch (error) {
  if (error.code !== 'MODULE_NOT_FOUND') throw error;
}
class TeleApi extends lightbus.Api {
  static meta = { name: 'tele.api' };
  async get({ n }) { return n + 1; }
}
(async () => {
  const bus = lightbus.create({ config: {}, logLevel: 'error' });
  bus.client.registerApi(new TeleApi());
  await bus.start();
  console.log('result', await bus.client.callRpc('tele.api', 'get', { n: 1 }));
  await bus.close();
  console.log('spans', spans ? JSON.stringify(spans.getFinishedSpans().map((s) => s.name).sort()) : 'no sdk');
})();
`;

describe('a production install of core + redis', () => {
  let dir: string;
  beforeAll(() => {
    dir = project('prod');
    sh(`npm install --omit=dev ${tarball(packed, 'core')} ${tarball(packed, 'redis')} ${NPM_INSTALL_FLAGS}`, dir);
  }, 180_000);

  it(`is under ${LIMIT_BYTES / 1e6} MB and holds no development tool`, () => {
    const bytes = Number(sh('du -sb node_modules', dir).split(/\s/)[0]);
    expect(bytes).toBeLessThan(LIMIT_BYTES);
    const installed = readdirSync(path.join(dir, 'node_modules')).flatMap((entry) =>
      entry.startsWith('@') ? readdirSync(path.join(dir, 'node_modules', entry)).map((p) => `${entry}/${p}`) : [entry],
    );
    for (const tool of ['tsx', 'esbuild', 'typescript', 'json-schema-to-typescript', 'prettier', '@opentelemetry/api'])
      expect(installed).not.toContain(tool);
  });

  it('runs a bus without @opentelemetry/api', async () => {
    writeFileSync(path.join(dir, 'call.cjs'), TRACED_CALL);
    const output = await run(process.execPath, ['call.cjs'], dir);
    expect(output).toContain('result 2');
    expect(output).toContain('spans no sdk');
  });
});

describe('every entry, from CommonJS and from ES modules', () => {
  let dir: string;
  /** Every entry of every package: `@lightbus/core`, `@lightbus/core/transport`, ... */
  let entries: string[];
  beforeAll(() => {
    dir = project('entries');
    const tarballs = packages().map((name) => tarball(packed, name));
    // The versions this repository builds and tests with (npm's cache has them).
    const versions = (manifest: string, names: string[]): string[] => {
      const { devDependencies } = JSON.parse(readFileSync(path.join(root, manifest), 'utf8')) as {
        devDependencies: Record<string, string>;
      };
      return names.map((name) => `${name}@${devDependencies[name]!}`);
    };
    const tools = [
      ...versions('package.json', ['typescript', '@types/node', '@opentelemetry/sdk-trace', '@jest/globals']),
      ...versions('packages/core/package.json', ['@opentelemetry/api']),
    ];
    sh(`npm install ${tarballs.join(' ')} ${tools.map((t) => `'${t}'`).join(' ')} ${NPM_INSTALL_FLAGS}`, dir);
    entries = packages().flatMap((name) => {
      const manifest = JSON.parse(
        readFileSync(path.join(dir, 'node_modules', '@lightbus', name, 'package.json'), 'utf8'),
      ) as { exports?: Record<string, unknown> };
      expect(manifest.exports).toBeDefined();
      return Object.keys(manifest.exports!)
        .filter((key) => key !== './package.json')
        .map((key) => `@lightbus/${name}${key.slice(1)}`);
    });
  }, 300_000);

  it('every name require() gives is a named import too', async () => {
    // The Jest-bound conformance suite loads only inside Jest: its names are checked by types below.
    const loadable = entries.filter((entry) => entry !== '@lightbus/testing/jest');
    const script = (mode: 'cjs' | 'esm'): string =>
      mode === 'cjs'
        ? `const out = {}; for (const e of ${JSON.stringify(loadable)}) out[e] = Object.keys(require(e)); console.log(JSON.stringify(out));`
        : `const out = {}; for (const e of ${JSON.stringify(loadable)}) out[e] = Object.keys(await import(e)); console.log(JSON.stringify(out));`;
    writeFileSync(path.join(dir, 'names.cjs'), script('cjs'));
    writeFileSync(path.join(dir, 'names.mjs'), script('esm'));
    const cjs = JSON.parse(await run(process.execPath, ['names.cjs'], dir)) as Record<string, string[]>;
    const esm = JSON.parse(await run(process.execPath, ['names.mjs'], dir)) as Record<string, string[]>;
    for (const entry of loadable) {
      const names = cjs[entry]!.filter((name) => name !== '__esModule' && name !== 'default');
      expect(names.length).toBeGreaterThan(0);
      expect({ entry, missing: names.filter((name) => !esm[entry]!.includes(name)) }).toEqual({ entry, missing: [] });
    }
  });

  it('type-checks a .cts and a .mts file importing every entry under nodenext', () => {
    writeFileSync(
      path.join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'nodenext',
          target: 'es2022',
          strict: true,
          noUncheckedIndexedAccess: true,
          skipLibCheck: true,
          noEmit: true,
          types: ['node'],
        },
        include: ['check.cts', 'check.mts'],
      }),
    );
    const imports = entries.map((entry, i) => `import * as e${i} from '${entry}';`).join('\n');
    const use = `export const names = [${entries.map((_, i) => `Object.keys(e${i})`).join(', ')}];\n`;
    // A named import of a value from each side: the entry's types resolve under both conditions.
    const named =
      "import { create, Api } from '@lightbus/core';\nimport { transport } from '@lightbus/redis';\n" +
      'export const used = [create, Api, transport];\n';
    writeFileSync(path.join(dir, 'check.cts'), `${imports}\n${named}${use}`);
    writeFileSync(path.join(dir, 'check.mts'), `${imports}\n${named}${use}`);
    sh('npx tsc -p tsconfig.json', dir);
  });

  it('traces a call once @opentelemetry/api and an SDK are installed', async () => {
    writeFileSync(path.join(dir, 'call.cjs'), TRACED_CALL);
    const output = await run(process.execPath, ['call.cjs'], dir);
    expect(output).toContain('result 2');
    expect(output).toContain('spans ["tele.api/get","tele.api/get"]');
  });
});
