#!/usr/bin/env node
// `npm run pack [-- <dir>]`: build, then `npm pack` every package of packages/ into
// <dir> (default: ./packed). Prints one tarball path a line. Install them in any
// project with `npm install <dir>/lightbus-core-<version>.tgz ...`, as
// docs/how-to/install-from-source.md says.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const out = path.resolve(process.argv[2] ?? path.join(root, 'packed'));
mkdirSync(out, { recursive: true });
if (!process.env.LIGHTBUS_PACK_NO_BUILD) buildAlone();
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

/**
 * `npm run build`, one at a time: test files that pack run concurrently, and two
 * builds writing the same dist/ would let one pack half-written files.
 */
function buildAlone() {
  const lock = path.join(root, 'node_modules', '.lightbus-build-lock');
  const deadline = Date.now() + 10 * 60_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch (error) {
      if (error.code !== 'EEXIST') throw error;
      // A lock older than ten minutes was left by a build that died.
      if (Date.now() - statSync(lock, { throwIfNoEntry: false })?.mtimeMs > 10 * 60_000)
        rmSync(lock, { force: true, recursive: true });
      if (Date.now() > deadline) throw new Error(`Waited 10 minutes for another build to finish (${lock}).`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
    }
  }
  try {
    execFileSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit' });
  } finally {
    rmSync(lock, { force: true, recursive: true });
  }
}
