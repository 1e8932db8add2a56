#!/usr/bin/env node
// The npm registry this project installs from can lack some platform builds of
// packages with native binaries. `npm install` then leaves them out of
// package-lock.json and `npm ci` (what CI runs) refuses the lock. Detect that
// before CI does: every optional dependency a locked package declares must be
// in the lock. Fix by pinning the package (root "overrides") to a version whose
// platform builds all exist, then `npm install` again.
import { readFileSync } from 'node:fs';

const lock = JSON.parse(readFileSync(new URL('../package-lock.json', import.meta.url), 'utf8'));
const present = new Set(Object.keys(lock.packages).map((key) => key.split('node_modules/').pop()));
const problems = [];
for (const [key, entry] of Object.entries(lock.packages)) {
  for (const dependency of Object.keys(entry.optionalDependencies ?? {})) {
    if (!present.has(dependency))
      problems.push(`${key.split('node_modules/').pop()}@${entry.version} lacks ${dependency}`);
  }
}
if (problems.length > 0) {
  console.error(
    `package-lock.json would make \`npm ci\` fail; optional dependencies missing from the lock:\n  ${problems.join('\n  ')}`,
  );
  console.error(
    'Pin the package named first on each line (package.json "overrides") to a version fully published on this registry.',
  );
  process.exit(1);
}
