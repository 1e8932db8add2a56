/**
 * The quickstart across processes on Redis: `lightbus run` serves the unchanged
 * quickstart API in one process, the quickstart client runs in another, and
 * the only difference from the memory quickstart is LIGHTBUS_CONFIG pointing at
 * examples/quickstart/lightbus.redis.yaml.
 */
import path from 'node:path';
import { startNode } from '@lightbus/testing';
import { rawRedis } from './helpers';

const root = path.resolve(__dirname, '..', '..', '..');
const quickstart = path.join(root, 'examples', 'quickstart');
const env = { LIGHTBUS_CONFIG: 'lightbus.redis.yaml' };
const raw = rawRedis();

afterAll(async () => {
  // The quickstart's own keys (its consumer groups go with the stream).
  await raw.del('support.case:rpc_queue', 'support.case.*:stream', 'support.case.*:stream:dead_letters');
  await raw.quit();
});

it('runs the quickstart worker and client in two processes on Redis, API classes unchanged', async () => {
  const worker = startNode([path.join(root, 'packages', 'core', 'bin', 'lightbus.js'), 'run', '--bus', 'bus.ts'], { cwd: quickstart, env });
  try {
    await worker.waitForOutput('Listening for support.case.caseCreated');
    expect(worker.output()).toContain('Serving support.case transport=redis');

    const client = startNode(['--import', 'tsx', 'client.ts'], { cwd: quickstart, env });
    const { code } = await client.exit;
    expect(client.output()).toContain("subject: 'I need support please!'");
    expect(client.output()).toContain('[client] created case 124');
    expect(code).toBe(0);
    await worker.waitForOutput('[worker] case 124 created: Where is my order?');

    worker.kill('SIGTERM');
    expect(await worker.exit).toEqual({ code: 0, signal: null });
  } finally {
    worker.kill('SIGKILL');
  }
});
