#!/usr/bin/env node
// `npm run pack [-- <dir>]`: build, then `npm pack` every package of packages/ into
// <dir> (default: ./packed). Prints one tarball path a line. Install them in any
// project with `npm install <dir>/lightbus-core-<version>.tgz ...`, as
// docs/how-to/install-from-source.md says.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const out = path.resolve(process.argv[2] ?? path.join(root, 'packed'));
mkdirSync(out, { recursive: true });
if (!process.env.LIGHTBUS_PACK_NO_BUILD)
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit' });
for (const name of readdirSync(path.join(root, 'packages')).sort()) {
  const dir = path.join(root, 'packages', name);
  let manifest;
  try {
    manifest = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'));
  } catch {
    continue;
  }
  if (manifest.private) continue;
  const result = JSON.parse(
    execFileSync('npm', ['pack', '--json', '--pack-destination', out], { cwd: dir, encoding: 'utf8' }),
  );
  for (const { filename } of result) process.stdout.write(`${path.join(out, filename)}\n`);
}
