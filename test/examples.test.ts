/** The examples run as their READMEs say (memory transport, one process). */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startNode } from '@lightbus/testing';

const root = path.resolve(__dirname, '..');
const BIN = path.join(root, 'packages', 'core', 'bin', 'lightbus.js');

async function runExample(name: string, args: string[]): Promise<string> {
  const run = startNode(args, { cwd: path.join(root, 'examples', name), env: { LIGHTBUS_CONFIG: '' } });
  const { code } = await run.exit;
  if (code !== 0) throw new Error(`example ${name} exited ${code}:\n${run.output()}`);
  return run.output();
}

it('quickstart: a worker and a client on the memory transport', async () => {
  const output = await runExample('quickstart', ['--import', 'tsx', 'main.ts']);
  expect(output).toContain("subject: 'I need support please!'");
  expect(output).toContain('[worker] case 124 created: Where is my order?');
  expect(output).toContain('[client] created case 124');
  expect(output).toContain('[quickstart] done');
});

it('typed-shop: typed declarations, conversions, validation, generated types', async () => {
  const output = await runExample('typed-shop', ['--import', 'tsx', 'main.ts']);
  expect(output).toContain('[client] placed order 1: 12999 cents, placed is a Date: true');
  expect(output).toContain('[client] get -> ann, status open');
  expect(output).toContain(`[client] Invalid parameters for shop.orders.place(): 'customer' must NOT have fewer than 1 characters (got "").`);
  expect(output).toMatch(/\[worker\] order 1 for ann at \d{4}-\d\d-\d\dT.* via web/);
});

it('typed-shop: the committed generated types are what codegen writes today', async () => {
  const out = path.join(mkdtempSync(path.join(tmpdir(), 'lightbus-codegen-')), 'bus-types.ts');
  await runExample('typed-shop', [BIN, 'codegen', '--bus', 'bus.ts', '--out', out]);
  const committed = readFileSync(path.join(root, 'examples', 'typed-shop', 'generated', 'bus-types.ts'), 'utf8');
  expect(readFileSync(out, 'utf8')).toBe(committed);
});
