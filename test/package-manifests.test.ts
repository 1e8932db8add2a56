/**
 * Every published package points at one repository (the same URL in repository,
 * homepage and bugs), and the docs that link to the repository use that URL too.
 * Nothing is on the npm registry yet (docs/how-to/install-from-source.md says so).
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(__dirname, '..');
const REPOSITORY = 'https://github.com/lightbus-ts/lightbus-ts';

interface Manifest {
  name: string;
  private?: boolean;
  homepage?: string;
  repository?: { type: string; url: string; directory: string };
  bugs?: { url: string };
}

const packages = readdirSync(path.join(root, 'packages'), { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name);

it.each(packages)('packages/%s points at the one repository', (dir) => {
  const manifest = JSON.parse(readFileSync(path.join(root, 'packages', dir, 'package.json'), 'utf8')) as Manifest;
  expect(manifest.repository).toEqual({ type: 'git', url: `git+${REPOSITORY}.git`, directory: `packages/${dir}` });
  expect(manifest.homepage).toBe(`${REPOSITORY}/tree/main/packages/${dir}#readme`);
  expect(manifest.bugs).toEqual({ url: `${REPOSITORY}/issues` });
});

it('the docs name the same repository and say nothing is published yet', () => {
  const install = readFileSync(path.join(root, 'docs', 'how-to', 'install-from-source.md'), 'utf8');
  expect(install).toContain(REPOSITORY);
  expect(install).toMatch(/not (yet )?published/);
  const readmes = packages.map((dir) => readFileSync(path.join(root, 'packages', dir, 'README.md'), 'utf8'));
  for (const text of [...readmes, readFileSync(path.join(root, 'README.md'), 'utf8')])
    for (const [url] of text.matchAll(/https:\/\/github\.com\/lightbus[\w-]*\/[\w-]+/g)) expect(url).toBe(REPOSITORY);
});
