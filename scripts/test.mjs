#!/usr/bin/env node
// `npm test`: install if this checkout has no node_modules yet, build, type-check
// (including the compile-time type tests), then run every jest test: unit tests and
// integration tests against real brokers (test/global-setup.js starts what is missing,
// and fails the run in CI when a broker cannot be reached). Extra arguments go to jest.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
process.chdir(root);

function run(command, args) {
  const result = spawnSync(command, args, { stdio: 'inherit' });
  if (result.status !== 0) {
    console.error(`\n${command} ${args.join(' ')} failed (exit ${result.status ?? result.signal}).`);
    process.exit(result.status ?? 1);
  }
}

run(process.execPath, [path.join('scripts', 'check-lock.mjs')]);
if (!existsSync(path.join(root, 'node_modules', '.package-lock.json'))) run('npm', ['ci']);
run('npm', ['run', '--silent', 'build']);
run('npm', ['run', '--silent', 'typecheck']);
run('npx', ['jest', ...(process.env.CI ? ['--ci'] : []), ...process.argv.slice(2)]);
