/**
 * The tutorial (docs/tutorial/quickstart.md) works verbatim outside this repository:
 * pack every package, make a fresh project in a temporary folder with the
 * tutorial's own commands (package names swapped for the tarballs), write the
 * tutorial's code blocks into it, type-check them with the settings `tsc --init`
 * writes, run the one-process version on memory, worker and client on Redis,
 * and the node:test file that uses BusMocker. Edit the tutorial and this test
 * follows it; break the tutorial and this test fails.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { redisUrl, waitFor } from '@lightbus/testing';
import { Redis } from 'ioredis';
import * as packed from './packed-project';
import { NPM_INSTALL_FLAGS, packAll, root } from './packed-project';

const tutorial = readFileSync(path.join(root, 'docs', 'tutorial', 'quickstart.md'), 'utf8');
const work = mkdtempSync(path.join(tmpdir(), 'lightbus-tutorial-'));
const project = path.join(work, 'support');
const packedDir = path.join(work, 'packed');
// The tutorial's Redis is db 0; this test uses a database of its own on the same server.
const redisDb = Number(process.env.LIGHTBUS_TUTORIAL_REDIS_DB ?? 14);

interface Block {
  readonly lang: string;
  readonly text: string;
}

function blocks(): Block[] {
  return [...tutorial.matchAll(/```(\w+)\n([\s\S]*?)```/g)].map(([, lang, text]) => ({ lang: lang!, text: text! }));
}

/** Code blocks that start with a file name comment (`// api.ts`, `# lightbus.yaml`), by file name. */
function files(): Map<string, string> {
  const out = new Map<string, string>();
  for (const { text } of blocks()) {
    const name = /^(?:\/\/|#) ([\w.-]+\.(?:ts|yaml))\n/.exec(text)?.[1];
    if (name) out.set(name, text);
  }
  return out;
}

/** The shell block that contains `marker`, as its command lines (comments dropped). */
function commands(marker: string): string[] {
  const block = blocks().find((b) => b.lang === 'sh' && b.text.includes(marker));
  if (!block) throw new Error(`The tutorial has no sh block with '${marker}'`);
  return block.text
    .split('\n')
    .map((line) => line.replace(/\s+#.*$/, '').trim())
    .filter(Boolean);
}

const tarball = (name: string): string => packed.tarball(packedDir, name);
const sh = (line: string): string => packed.sh(line, project);
const start = (command: string, args: string[]): packed.Child => packed.start(command, args, project);
const run = (command: string, args: string[]): Promise<string> => packed.run(command, args, project);

/** Run a tutorial command: `@lightbus/x` installs the packed tarball, and npm uses its cache first. */
function runCommand(line: string): void {
  if (/^mkdir support && cd support$/.test(line)) {
    mkdirSync(project);
    return;
  }
  let command = line.replace(/@lightbus\/(\w+)/g, (_, name: string) => tarball(name));
  if (/^npm install\b/.test(command)) command += ` ${NPM_INSTALL_FLAGS}`;
  sh(command);
}

const code = files();

beforeAll(() => {
  packAll(packedDir);
}, 120_000);

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

it('has the files it promises', () => {
  expect([...code.keys()].sort()).toEqual([
    'api.ts',
    'bus.ts',
    'client.test.ts',
    'client.ts',
    'lightbus.yaml',
    'main.ts',
  ]);
});

it('makes a fresh project as it says (type module, tsconfig from tsc --init)', () => {
  for (const line of commands('npm init -y')) runCommand(line);
  const manifest = JSON.parse(readFileSync(path.join(project, 'package.json'), 'utf8')) as Record<
    string,
    Record<string, string>
  >;
  expect(manifest.type).toBe('module');
  expect(Object.keys(manifest.dependencies!)).toEqual(['@lightbus/core']);
  const tsconfig = readFileSync(path.join(project, 'tsconfig.json'), 'utf8');
  expect(tsconfig).toMatch(/"module": "nodenext"/);
  expect(tsconfig).toMatch(/^\s*"noUncheckedIndexedAccess": true/m);
}, 180_000);

it('type-checks every code block under those settings', () => {
  for (const [name, text] of code) if (name.endsWith('.ts')) writeFileSync(path.join(project, name), text);
  sh('npx tsc --noEmit');
});

it('runs worker and client in one process on the memory transport', async () => {
  expect(commands('npx tsx main.ts')).toEqual(['npx tsx main.ts']);
  const output = await run('npx', ['tsx', 'main.ts']);
  expect(output).toContain('found: I need support please!');
  expect(output).toContain('case 124 created: Where is my order?');
});

it('runs the node:test file that uses BusMocker', async () => {
  const line = commands('--test client.test.ts')[0]!;
  const [command, ...args] = line.split(' ');
  const output = await run(command!, args);
  expect(output).toMatch(/# pass 1\b/);
  expect(output).toMatch(/# fail 0\b/);
});

it('runs the worker and the client as two processes on Redis', async () => {
  for (const line of commands('npm install @lightbus/redis')) runCommand(line);
  const url = redisUrl().replace(/\/\d*$/, '') + `/${redisDb}`;
  const yaml = code.get('lightbus.yaml')!;
  expect(yaml).toContain('service_name: support');
  writeFileSync(path.join(project, 'lightbus.yaml'), yaml.replaceAll('redis://127.0.0.1:6379/0', url));

  const [workerLine, clientLine] = commands('npx lightbus run');
  expect(workerLine).toBe('npx lightbus run --bus bus.ts');
  expect(clientLine).toBe('npx tsx client.ts');
  // What `npx lightbus` runs, started directly so SIGTERM reaches the worker itself.
  const worker = start(path.join(project, 'node_modules', '.bin', 'lightbus'), ['run', '--bus', 'bus.ts']);
  const redis = new Redis(url);
  try {
    await waitFor(() => worker.output().includes('Lightbus ready'), {
      timeout: 30_000,
      message: `the worker to be ready:\n${worker.output()}`,
    });
    const output = await run('npx', ['tsx', 'client.ts']);
    expect(output).toContain('found: I need support please!');
    expect(output).toContain('created case 124');
    await waitFor(() => worker.output().includes('case 124 created: Where is my order?'), {
      message: `the worker's listener to print the event:\n${worker.output()}`,
    });
    worker.child.kill('SIGTERM');
    expect(await worker.exit).toBe(0);
  } finally {
    worker.child.kill('SIGKILL');
    // The keys this test made, in its own database.
    const keys = await redis.keys('*support.case*');
    if (keys.length > 0) await redis.del(...keys);
    await redis.srem('schemas', 'support.case').catch(() => undefined);
    redis.disconnect();
  }
}, 90_000);
