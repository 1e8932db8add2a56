/**
 * Schemas shared on the bus across processes (Redis): a worker stores its API's
 * schema; another process's dumpschema and codegen read it, without the class.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { startNode } from '@lightbus/testing';

const ROOT = path.resolve(__dirname, '..');
const QUICKSTART = path.join(ROOT, 'examples', 'quickstart');
const BIN = path.join(ROOT, 'packages', 'core', 'bin', 'lightbus.js');
// A database of this test's own on the shared Redis.
const REDIS_URL = 'redis://127.0.0.1:6379/7';
const redis = new Redis(REDIS_URL, { lazyConnect: true });

afterAll(async () => {
  const keys = [
    ...(await redis.keys('support.case*')),
    ...(await redis.keys('lightbus:result:*')),
    'schema:support.case',
  ];
  await redis.del(...keys);
  await redis.srem('schemas', 'support.case');
  redis.disconnect();
});

it('dumpschema and codegen read the schemas a worker in another process stored', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'lightbus-schemas-'));
  const config = path.join(dir, 'lightbus.json');
  const redisRole = { redis: { url: REDIS_URL } };
  writeFileSync(
    config,
    JSON.stringify({
      bus: { schema: { transport: redisRole } },
      apis: { default: { rpc_transport: redisRole, result_transport: redisRole, event_transport: redisRole } },
    }),
  );
  const env = { LIGHTBUS_CONFIG: config };
  const worker = startNode([BIN, 'run', '--bus', 'bus.ts'], { cwd: QUICKSTART, env });
  try {
    await worker.waitForOutput('Listening for support.case.caseCreated', 30_000);

    // From a directory without any bus module: only the bus knows the API.
    const dump = startNode([BIN, 'dumpschema'], { cwd: dir, env });
    expect((await dump.exit).code).toBe(0);
    const schemas = JSON.parse(dump.output()) as Record<string, { rpcs: object; events: object }>;
    expect(Object.keys(schemas['support.case']!.rpcs).sort()).toEqual(['create', 'get']);
    expect(Object.keys(schemas['support.case']!.events)).toEqual(['caseCreated']);

    const out = path.join(dir, 'bus-types.ts');
    const codegen = startNode([BIN, 'codegen', '--out', out], { cwd: dir, env });
    expect((await codegen.exit).code).toBe(0);
    const types = readFileSync(out, 'utf8');
    expect(types).toContain('export namespace SupportCase {');
    expect(types).toMatch(/get\(params\?: GetParameters, options\?: CallOptions\): Promise<GetResponse>;/);
    expect(types).toContain('readonly caseCreated: EventClient<CaseCreatedParameters>;');
    expect(types).toContain('"support.case": SupportCase.Client;');

    worker.kill('SIGTERM');
    expect((await worker.exit).code).toBe(0);
  } finally {
    worker.kill('SIGKILL');
  }
});
