import { spawnSync } from 'node:child_process';
import path from 'node:path';

/**
 * In a fresh node (this process's young generation has long grown): the new space's size before, after
 * an allocation burst while held, and after another burst once released.
 */
function newSpaceSizes(execArgv: string[] = []): { before: number; held: number; released: number } {
  const module = path.join(__dirname, 'young-generation.ts');
  const code = `
    const v8 = require('node:v8');
    const { holdYoungGeneration, releaseYoungGeneration } = require(${JSON.stringify(module)});
    const size = () => v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size;
    // Objects kept alive across scavenges: what makes V8 grow the young generation.
    const burst = () => { const kept = []; for (let i = 0; i < 300000; i++) kept.push({ i, s: 'x' + i }); return kept.length; };
    const before = size();
    holdYoungGeneration();
    burst();
    const held = size();
    releaseYoungGeneration();
    burst();
    process.stdout.write(JSON.stringify({ before, held, released: size() }));
  `;
  const child = spawnSync(process.execPath, [...execArgv, '--import', 'tsx', '-e', code], { encoding: 'utf8' });
  if (child.status !== 0) throw new Error(`node failed: ${child.stderr}`);
  return JSON.parse(child.stdout) as { before: number; held: number; released: number };
}

it('holding keeps the young generation at its size through an allocation burst; releasing lets it grow again', () => {
  const { before, held, released } = newSpaceSizes();
  expect(held).toBe(before);
  expect(released).toBeGreaterThan(held);
});

it('does nothing when the user set the young generation on the node command line', () => {
  const { before, held } = newSpaceSizes(['--semi-space-growth-factor=2']);
  expect(held).toBeGreaterThan(before);
});
