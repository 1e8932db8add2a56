#!/usr/bin/env node
// `npm run bench -- [name ...]`: run bench/<name>.ts for each name given (redis, amqp,
// kafka, ...), or every benchmark. Builds first; needs the brokers the benchmark uses.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
process.chdir(root);
const available = readdirSync(path.join(root, 'bench'))
  .filter((f) => f.endsWith('.ts') && f !== 'lib.ts')
  .map((f) => f.slice(0, -3));
const wanted = process.argv.slice(2);
for (const name of wanted) {
  if (!available.includes(name)) {
    console.error(`No benchmark '${name}'. Available: ${available.join(', ') || '(none yet)'}`);
    process.exit(2);
  }
}
const build = spawnSync('npm', ['run', '--silent', 'build'], { stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);
for (const name of wanted.length ? wanted : available) {
  const result = spawnSync(process.execPath, ['--import', 'tsx', path.join('bench', `${name}.ts`)], {
    stdio: 'inherit',
  });
  if (result.status !== 0) process.exit(result.status ?? 1);
}
