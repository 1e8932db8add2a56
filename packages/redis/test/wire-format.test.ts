/**
 * The exact commands and payloads of the wire format page
 * (docs/explanation/redis.md), as Redis executes them (MONITOR).
 */
import { newMessageId, type OutgoingCall } from '@lightbus/core/transport';
import { Redis } from 'ioredis';
import { Collector, waitFor } from '@lightbus/testing';
import { PrivateRedis } from './private-redis';
import { CommandLog } from './monitor';
import {
  RedisEventTransport,
  RedisResultTransport,
  RedisRpcTransport,
  RedisSchemaTransport,
  TouchedKeys,
  context,
  eventOptions,
  rawRedis,
  resultOptions,
  REDIS_URL,
  rpcOptions,
  schemaOptions,
  uniqueId,
} from './helpers';

const raw = rawRedis();
const keys = new TouchedKeys();
const closeLater: Array<{ close(): Promise<void> }> = [];
let log: CommandLog;
let api: string;

function keep<T extends { close(): Promise<void> }>(transport: T): T {
  closeLater.push(transport);
  return transport;
}

beforeEach(async () => {
  api = `wire${uniqueId()}.demo`;
  keys.api(api);
  log = await CommandLog.start(api);
});

afterEach(async () => {
  await Promise.all(closeLater.splice(0).map((t) => t.close()));
  await log.stop();
  await keys.cleanup(raw);
});

afterAll(async () => {
  await raw.quit();
});

it('calls: SET rpc_expiry_key:<id> 1 PX <ms left>, then RPUSH <api>:rpc_queue <call>; the worker pops it (BLMOVE to its private list, then the claim script LPOPs it and DELs the key), LPUSHes and EXPIREs the result', async () => {
  const ctx = context('wire', `p${uniqueId()}`);
  const caller = {
    rpc: keep(new RedisRpcTransport(rpcOptions(), ctx)),
    result: keep(new RedisResultTransport(resultOptions({ result_ttl: 42 }), ctx)),
  };
  keys.add(caller.result.resultKey);
  const worker = {
    rpc: keep(new RedisRpcTransport(rpcOptions(), ctx)),
    result: keep(new RedisResultTransport(resultOptions({ result_ttl: 42 }), ctx)),
  };
  const consumer = await worker.rpc.consumeRpcs([api], async (message) => {
    await worker.result.sendResult(message, {
      id: 'result-1',
      rpcMessageId: message.id,
      result: { hello: message.kwargs.name },
      error: false,
    });
  });

  const message: OutgoingCall = {
    id: newMessageId(),
    apiName: api,
    procedureName: 'greet',
    kwargs: { name: 'Ann' },
    deadline: Date.now() + 3000,
  };
  keys.add(`rpc_expiry_key:${message.id}`);
  log.watch(message.id);
  log.watch(caller.result.resultKey);
  const pending = await caller.result.expectResult(message);
  await caller.rpc.callRpc({ ...message, returnPath: pending.returnPath });
  const result = await pending.result;
  pending.cancel();
  await consumer.stop();
  expect(result).toEqual({ id: 'result-1', rpcMessageId: message.id, result: { hello: 'Ann' }, error: false });

  const resultKey = caller.result.resultKey;
  await log.waitFor('EXPIRE of the result list', (c) => c[0] === 'EXPIRE' && c[1] === resultKey);
  expect(pending.returnPath).toBe(`redis+key://${resultKey}`);
  const set = log.named('SET').find((c) => c[1] === `rpc_expiry_key:${message.id}`)!;
  expect(set.slice(0, 4)).toEqual(['SET', `rpc_expiry_key:${message.id}`, '1', 'PX']);
  expect(Number(set[4])).toBeGreaterThan(2000);
  expect(Number(set[4])).toBeLessThanOrEqual(3000);

  const rpush = log.named('RPUSH')[0]!;
  expect(rpush.slice(0, 2)).toEqual(['RPUSH', `${api}:rpc_queue`]);
  expect(JSON.parse(rpush[2]!)).toEqual({
    kwargs: { name: 'Ann' },
    metadata: { api_name: api, id: message.id, procedure_name: 'greet', return_path: `redis+key://${resultKey}` },
  });
  expect(log.commands.indexOf(set)).toBeLessThan(log.commands.indexOf(rpush));

  // One queue: BLMOVE to the worker's private list; the claim script, written behind it, pops the call from
  // there and DELs its expiry key as Python's worker does (Redis shows a script's commands in MONITOR too).
  const blmove = log.commands.find((c) => c[0] === 'BLMOVE' && c[1] === `${api}:rpc_queue`)!;
  expect(blmove).toEqual(['BLMOVE', `${api}:rpc_queue`, expect.stringMatching(/:taking:/), 'LEFT', 'LEFT', '5']);
  const taking = blmove[2]!;
  const lpop = log.commands.findIndex((c) => c[0] === 'LPOP' && c[1] === taking);
  const del = log.commands.findIndex((c) => c[0] === 'DEL' && c[1] === `rpc_expiry_key:${message.id}`);
  expect(lpop).toBeGreaterThan(log.commands.indexOf(blmove));
  expect(del).toBeGreaterThan(lpop);
  // The private list is empty again (Redis deletes an empty list).
  expect(await raw.exists(taking)).toBe(0);
  const lpush = log.named('LPUSH').find((c) => c[1] === resultKey)!;
  expect(JSON.parse(lpush[2]!)).toEqual({
    kwargs: { result: { hello: 'Ann' } },
    metadata: { error: false, id: 'result-1', rpc_message_id: message.id },
  });
  expect(log.named('EXPIRE')).toContainEqual(['EXPIRE', resultKey, '42']);
  // The caller reads its one result list; nothing else waits on a per-call key.
  expect(log.commands.filter((c) => c[0] === 'BLPOP' && c[1] === resultKey).length).toBeGreaterThanOrEqual(1);
});

/** Serve `apis` (calls of the first are pushed) and push a call whose caller gave up and one whose caller waits. */
async function lateAndFreshCall(
  url: string,
  redis: Redis,
  apis: readonly string[],
  watch: (marker: string) => void = () => undefined,
): Promise<{ executed: string[]; late: string; fresh: string }> {
  const ctx = context('wire', `p${uniqueId()}`);
  const worker = {
    rpc: keep(new RedisRpcTransport(rpcOptions({ url }), ctx)),
    result: keep(new RedisResultTransport(resultOptions({ url }), ctx)),
  };
  const executed = new Collector<string>();
  const consumer = await worker.rpc.consumeRpcs(apis, async (message) => {
    executed.push(message.procedureName);
    await worker.result.sendResult(message, {
      id: newMessageId(),
      rpcMessageId: message.id,
      result: null,
      error: false,
    });
  });
  const late = `late-${uniqueId()}`;
  const fresh = `fresh-${uniqueId()}`;
  keys.add(`rpc_expiry_key:${fresh}`, `${api}.x:result:${late}`, `${api}.x:result:${fresh}`);
  watch(late);
  watch(fresh);
  const call = (id: string, proc: string): string =>
    JSON.stringify({
      kwargs: {},
      metadata: { api_name: api, id, procedure_name: proc, return_path: `redis+key://${api}.x:result:${id}` },
    });
  await redis.rpush(`${api}:rpc_queue`, call(late, 'late')); // no expiry key: its caller gave up
  await redis.set(`rpc_expiry_key:${fresh}`, '1', 'EX', 5);
  await redis.rpush(`${api}:rpc_queue`, call(fresh, 'fresh'));
  await executed.waitForCount(1);
  await waitFor(async () => (await redis.exists(`${api}.x:result:${fresh}`)) === 1, { message: 'the result' });
  await consumer.stop();
  expect(await redis.exists(`${api}.x:result:${late}`)).toBe(0);
  return { executed: executed.items, late, fresh };
}

it.each([
  ['one API (BLMOVE, then the claim script DELs the key)', 1],
  ['several APIs (BLPOP over their queues, then DEL)', 2],
])(
  'a worker of %s drops a call whose expiry key is gone (DEL returned 0), unexecuted and unanswered',
  async (_label, apiCount) => {
    const apis = [api, ...Array.from({ length: apiCount - 1 }, () => `wire${uniqueId()}.other`)];
    apis.slice(1).forEach((other) => keys.api(other));
    const { executed, late, fresh } = await lateAndFreshCall(REDIS_URL, raw, apis, (m) => log.watch(m));
    expect(executed).toEqual(['fresh']);
    await log.waitFor('DEL of both expiry keys', () => log.named('DEL').length >= 2);
    expect(log.named('DEL')).toEqual(
      expect.arrayContaining([
        ['DEL', `rpc_expiry_key:${late}`],
        ['DEL', `rpc_expiry_key:${fresh}`],
      ]),
    );
    if (apiCount === 1) expect(log.named('BLPOP').filter((c) => c.includes(`${api}:rpc_queue`))).toEqual([]);
    else expect(log.named('BLPOP')).toContainEqual(['BLPOP', ...apis.map((a) => `${a}:rpc_queue`), '5']);
  },
);

it('a worker on a Redis without BLMOVE (before 6.2) takes calls with BLPOP and DEL instead, and still drops late ones', async () => {
  const server = await PrivateRedis.start({ args: ['--rename-command', 'BLMOVE', ''] });
  const redis = new Redis(server.url());
  try {
    const { executed } = await lateAndFreshCall(server.url(), redis, [api]);
    expect(executed).toEqual(['fresh']);
  } finally {
    await Promise.all(closeLater.splice(0).map((t) => t.close()));
    redis.disconnect();
    await server.stop();
  }
});

it('events: XADD <api>.*:stream MAXLEN ~ <n> * with the four metadata fields, then :<param> JSON; consumers create the group, read own pending, read new, XACK', async () => {
  const events = keep(
    new RedisEventTransport(eventOptions({ max_stream_length: 500, batch_size: 7 }), context('wire', `p${uniqueId()}`)),
  );
  const stream = `${api}.*:stream`;
  const got = new Collector<string>();
  const consumer = await events.consume(
    { events: [{ apiName: api, eventName: 'created' }], group: 'wire-svc-notify', consumer: 'proc-a' },
    async (m) => got.push(m.id),
  );
  const id = newMessageId();
  await events.sendEvent(
    { id, apiName: api, eventName: 'created', version: 3, kwargs: { n: 1, tags: ['a', 'b'], who: { name: 'Ann' } } },
    { timeoutSeconds: 5 },
  );
  await got.waitForCount(1);
  await log.waitFor('XACK', (c) => c[0] === 'XACK');
  await consumer.stop();

  const xadd = log.named('XADD')[0]!;
  expect(xadd).toEqual([
    'XADD',
    stream,
    'MAXLEN',
    '~',
    '500',
    '*',
    'id',
    id,
    'api_name',
    api,
    'event_name',
    'created',
    'version',
    '3',
    ':n',
    '1',
    ':tags',
    '["a","b"]',
    ':who',
    '{"name":"Ann"}',
  ]);
  expect(log.named('XGROUP')[0]).toEqual(['XGROUP', 'CREATE', stream, 'wire-svc-notify', '$', 'MKSTREAM']);
  const reads = log.named('XREADGROUP');
  expect(reads[0]).toEqual(['XREADGROUP', 'GROUP', 'wire-svc-notify', 'proc-a', 'COUNT', '7', 'STREAMS', stream, '0']);
  const blocking = reads.find((c) => c.includes('>'))!;
  expect(blocking.slice(0, 6)).toEqual(['XREADGROUP', 'GROUP', 'wire-svc-notify', 'proc-a', 'COUNT', '7']);
  expect(blocking[6]).toBe('BLOCK');
  expect(blocking.slice(8)).toEqual(['STREAMS', stream, '>']);
  const [entry] = await raw.xrange(stream, '-', '+');
  expect(log.named('XACK')).toContainEqual(['XACK', stream, 'wire-svc-notify', entry![0]]);
  expect(log.named('XPENDING')[0]).toEqual(['XPENDING', stream, 'wire-svc-notify', '-', '+', '70']);
});

it('history: XREVRANGE <stream> + - COUNT 100', async () => {
  const events = keep(new RedisEventTransport(eventOptions(), context('wire', `p${uniqueId()}`)));
  await events.sendEvent(
    { id: 'h1', apiName: api, eventName: 'created', version: 1, kwargs: {} },
    { timeoutSeconds: 5 },
  );
  const seen: string[] = [];
  for await (const message of events.history({ apiName: api })) seen.push(message.id);
  expect(seen).toEqual(['h1']);
  await log.waitFor('XREVRANGE', (c) => c[0] === 'XREVRANGE');
  expect(log.named('XREVRANGE')[0]).toEqual(['XREVRANGE', `${api}.*:stream`, '+', '-', 'COUNT', '100']);
});

it('schemas: SET schema:<api> <json> EX <ttl> and SADD schemas <api>; load is SMEMBERS then MGET', async () => {
  const schemas = keep(new RedisSchemaTransport(schemaOptions(), context('wire', `p${uniqueId()}`)));
  keys.add(`schema:${api}`);
  keys.schemaNames.add(api);
  const schema = {
    rpcs: {
      greet: {
        parameters: { type: 'object', properties: {}, required: [], additionalProperties: false },
        response: {},
      },
    },
    events: {},
  };
  await schemas.store(api, schema, 60);
  const loaded = await schemas.load();
  expect(loaded[api]).toEqual(schema);
  await log.waitFor('MGET', (c) => c[0] === 'MGET');
  expect(log.named('SET')).toContainEqual(['SET', `schema:${api}`, JSON.stringify(schema), 'EX', '60']);
  expect(log.named('SADD')).toContainEqual(['SADD', 'schemas', api]);
  const mget = log.named('MGET')[0]!;
  expect(mget).toContain(`schema:${api}`);
});
