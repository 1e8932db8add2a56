#!/usr/bin/env node
// `npm run bench -- [name ...] [--quick] [--rounds N] [--profile DIR] [--only=raw,lightbus,otel]`:
// run bench/<name>.mjs (or bench/<name>.ts through tsx) for each name given (redis, amqp, kafka,
// kafka-delivery, kafka-failover), or redis, amqp and kafka. Builds first; needs the brokers the benchmark uses.
// Flags go to each benchmark: --quick runs smaller counts (about a minute per transport).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
process.chdir(root);
const available = readdirSync(path.join(root, 'bench'))
  .filter((f) => /\.(mjs|ts)$/.test(f) && f !== 'kafka-broker.ts')
  .map((f) => f.replace(/\.(mjs|ts)$/, ''));
const args = process.argv.slice(2);
const flags = [];
const wanted = [];
for (let i = 0; i < args.length; i++) {
  const arg = args[i];
  if (arg.startsWith('--')) {
    flags.push(arg);
    if ((arg === '--rounds' || arg === '--profile') && args[i + 1] !== undefined) flags.push(args[++i]);
  } else wanted.push(arg);
}
for (const name of wanted) {
  if (!available.includes(name)) {
    console.error(`No benchmark '${name}'. Available: ${available.join(', ') || '(none yet)'}`);
    process.exit(2);
  }
}
const build = spawnSync('npm', ['run', '--silent', 'build'], { stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);
for (const name of wanted.length ? wanted : ['redis', 'amqp', 'kafka']) {
  const js = path.join('bench', `${name}.mjs`);
  const command = existsSync(js) ? [js, ...flags] : ['--import', 'tsx', path.join('bench', `${name}.ts`), ...flags];
  const result = spawnSync(process.execPath, command, { stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
}
