/** The README's quickstart: examples/quickstart runs a worker and a client in one process on memory. */
import path from 'node:path';
import { startNode } from '@lightbus/testing';

const root = path.resolve(__dirname, '..');

it('runs the quickstart example end to end on the memory transport', async () => {
  const run = startNode(['--import', 'tsx', 'main.ts'], { cwd: path.join(root, 'examples', 'quickstart'), env: { LIGHTBUS_CONFIG: '' } });
  const { code } = await run.exit;
  const output = run.output();
  expect(code).toBe(0);
  expect(output).toContain("subject: 'I need support please!'");
  expect(output).toContain('[worker] case 124 created: Where is my order?');
  expect(output).toContain('[client] created case 124');
  expect(output).toContain('[quickstart] done');
});
