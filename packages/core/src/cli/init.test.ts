import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { scaffold, serviceName } from './commands/init';
import { errorReport } from './main';

const made: string[] = [];
function temp(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'lightbus-init-unit-'));
  made.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

it('writes a project named after its folder, with ES modules, scripts and the transport', () => {
  const dir = path.join(temp(), 'Order History');
  expect(scaffold(dir, { transport: 'kafka' }).sort()).toEqual(
    ['.gitignore', 'api.ts', 'bus.ts', 'client.ts', 'lightbus.yaml', 'package.json', 'tsconfig.json'].sort(),
  );
  const manifest = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as Record<string, unknown>;
  expect(manifest).toMatchObject({
    name: 'order-history',
    type: 'module',
    scripts: { start: 'lightbus run --bus bus.ts', client: 'tsx client.ts' },
    dependencies: {
      '@lightbus/core': expect.stringMatching(/^\^\d/),
      '@lightbus/kafka': expect.stringMatching(/^\^\d/),
    },
  });
  const tsconfig = JSON.parse(readFileSync(path.join(dir, 'tsconfig.json'), 'utf8')) as {
    compilerOptions: Record<string, unknown>;
  };
  expect(tsconfig.compilerOptions).toMatchObject({ module: 'nodenext', strict: true, noUncheckedIndexedAccess: true });
  const config = parse(readFileSync(path.join(dir, 'lightbus.yaml'), 'utf8')) as Record<string, unknown>;
  expect(config.service_name).toBe('order-history');
  expect(readFileSync(path.join(dir, 'api.ts'), 'utf8')).toContain(
    "static override meta = { name: 'order-history.greetings' }",
  );
  expect(readFileSync(path.join(dir, 'api.ts'), 'utf8')).toContain('export class OrderHistoryGreetingsApi extends Api');
});

it('on memory, depends on core alone', () => {
  const dir = temp();
  scaffold(dir);
  const manifest = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as {
    dependencies: Record<string, string>;
  };
  expect(Object.keys(manifest.dependencies)).toEqual(['@lightbus/core']);
});

it('refuses a folder that is not empty, saying what to do; --force writes anyway', () => {
  const dir = temp();
  writeFileSync(path.join(dir, 'notes.txt'), 'mine');
  let error: unknown;
  try {
    scaffold(dir);
  } catch (e) {
    error = e;
  }
  expect(errorReport(error, false)).toBe(
    `${dir} is not empty (notes.txt): lightbus init writes a new project into an empty folder. Name a new folder ` +
      '(lightbus init my-service), or pass --force to overwrite package.json, tsconfig.json, lightbus.yaml, api.ts, bus.ts and client.ts there.',
  );
  expect(scaffold(dir, { force: true })).toContain('api.ts');
  expect(readFileSync(path.join(dir, 'notes.txt'), 'utf8')).toBe('mine');
});

it('refuses a --name that cannot name a service', () => {
  expect(() => scaffold(temp(), { name: 'Bad Name' })).toThrow("--name 'Bad Name' cannot name a service");
});

it.each([
  ['/x/support', 'support'],
  ['/x/My Shop!', 'my-shop'],
  ['/x/__', 'my-service'],
])('names the service of folder %s %s', (dir, name) => {
  expect(serviceName(dir)).toBe(name);
});
