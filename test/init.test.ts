/**
 * `lightbus init` works outside this repository: from the packed packages, scaffold a
 * service as a user would (npx with core's tarball), install, type-check it under the
 * scaffold's strict tsconfig, and run it: on memory (the client serves itself), and on
 * Redis as a worker (`npm start`) and a client (`npm run client`) in two processes.
 * Every transport's scaffolded lightbus.yaml is a valid config for that transport.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import lightbus from '@lightbus/core';
import { transport as amqp } from '@lightbus/amqp';
import { transport as kafka } from '@lightbus/kafka';
import { transport as redis } from '@lightbus/redis';
import { redisUrl, waitFor } from '@lightbus/testing';
import { Redis } from 'ioredis';
import { scaffold } from '../packages/core/src/cli/commands/init';
import { interrupt, killGroup, NPM_INSTALL_FLAGS, packAll, run, sh, start, tarball, userEnv } from './packed-project';

const work = mkdtempSync(path.join(tmpdir(), 'lightbus-init-'));
const packed = path.join(work, 'packed');
const redisDb = 13;

beforeAll(() => packAll(packed), 120_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** What a user types: `npx -p @lightbus/core lightbus init <dir> ...` (core's tarball for its name), then npm install. */
function initAndInstall(dir: string, transport: string): string {
  sh(`npx --yes -p ${tarball(packed, 'core')} lightbus init ${dir} --transport ${transport}`, work);
  const project = path.join(work, dir);
  const manifest = JSON.parse(readFileSync(path.join(project, 'package.json'), 'utf8')) as {
    dependencies: Record<string, string>;
  };
  // Until the packages are published: their tarballs in place of the registry's versions.
  const tarballs = Object.keys(manifest.dependencies).map((name) => tarball(packed, name.replace('@lightbus/', '')));
  sh(`npm install ${tarballs.join(' ')} ${NPM_INSTALL_FLAGS}`, project);
  return project;
}

it('scaffolds a service on memory that type-checks, and whose client runs', async () => {
  const project = initAndInstall('hello', 'memory');
  sh('npm run --silent typecheck', project);
  const output = await run('npm', ['run', '--silent', 'client', '--', 'Ann'], project);
  expect(output).toContain('reply: Hello, Ann!');
  expect(output).toContain('greeted: Hello, Ann!');
  // `npm start` is the worker: it comes up on its own too, and Ctrl-C stops it gracefully.
  const worker = start('npm', ['start'], project, userEnv, true);
  try {
    await waitFor(() => worker.output().includes('Lightbus ready'), {
      timeout: 30_000,
      message: `npm start to be ready:\n${worker.output()}`,
    });
    interrupt(worker);
    await worker.exit;
    await waitFor(() => worker.output().includes('Lightbus stopped'), {
      message: `the worker to stop:\n${worker.output()}`,
    });
  } finally {
    killGroup(worker);
  }
}, 240_000);

it('scaffolds a service on Redis: npm start is the worker, npm run client calls it', async () => {
  const project = initAndInstall('greeter', 'redis');
  sh('npm run --silent typecheck', project);
  const url = redisUrl().replace(/\/\d*$/, '') + `/${redisDb}`;
  const env = { ...userEnv, REDIS_URL: url };
  const worker = start('npm', ['start'], project, env, true);
  const client = new Redis(url);
  try {
    await waitFor(() => worker.output().includes('Lightbus ready'), {
      timeout: 30_000,
      message: `npm start to be ready:\n${worker.output()}`,
    });
    const output = await run('npm', ['run', '--silent', 'client', '--', 'Bob'], project, env);
    expect(output).toContain('reply: Hello, Bob!');
    await waitFor(() => worker.output().includes('greeted: Hello, Bob!'), {
      message: `the worker's listener to print the event:\n${worker.output()}`,
    });
    interrupt(worker);
    await worker.exit;
    await waitFor(() => worker.output().includes('Lightbus stopped'), {
      message: `the worker to stop:\n${worker.output()}`,
    });
    // service_name from the scaffold names the listener's consumer group.
    expect(await client.xinfo('GROUPS', 'greeter.greetings.*:stream')).toEqual(
      expect.arrayContaining([expect.arrayContaining(['greeter-print-greetings'])]),
    );
  } finally {
    killGroup(worker);
    const keys = await client.keys('*greeter.greetings*');
    if (keys.length > 0) await client.del(...keys);
    await client.srem('schemas', 'greeter.greetings').catch(() => undefined);
    client.disconnect();
  }
}, 240_000);

it.each(['memory', 'redis', 'amqp', 'kafka'] as const)('the %s scaffold is a valid config', async (transport) => {
  const dir = path.join(work, `config-${transport}`);
  scaffold(dir, { transport });
  const bus = lightbus.create({ configFile: path.join(dir, 'lightbus.yaml'), transports: [redis, amqp, kafka] });
  expect(bus.client.config.serviceName).toBe(`config-${transport}`);
  await bus.close();
});
