/**
 * Sharing a bus with Python Lightbus, both ways. The Python side is played
 * with raw Redis commands written exactly as Python Lightbus 1.3 writes them
 * (sorted keys, ", " and ": " separators, uuid1 ids, placeholder entries) and
 * read as strictly as it reads (a Python consumer fails on any metadata field
 * it does not know). CI cannot run Python; docs/how-to/share-a-bus-with-python.md
 * records the checks made against a real Python Lightbus.
 */
import { Api, Event, RemoteError } from '@lightbus/core';
import { Collector, waitFor } from '@lightbus/testing';
import { pythonId, pythonJson, redisConfig, redisTestKit, uniqueId } from './helpers';

const { raw, keys, buses } = redisTestKit();
let api: string;
let names: { service: string; process: string };

beforeEach(() => {
  api = `py${uniqueId()}.greeter`;
  keys.api(api);
  names = { service: `ts-svc-${uniqueId()}`, process: `ts-proc-${uniqueId()}` };
});

function greeterApi(name: string) {
  return class GreeterApi extends Api {
    static override meta = { name };
    greeted = new Event({ parameters: ['name', 'tags'] });
    greet({ name: who }: { name: string }) {
      return `Hello, ${who}`;
    }
    refuse({ why }: { why: string }) {
      throw new RangeError(why);
    }
  };
}

/** A call as a Python caller writes it; returns its id and return key. */
async function pythonCall(
  procedure: string,
  kwargs: Record<string, unknown>,
): Promise<{ id: string; returnKey: string }> {
  const id = pythonId();
  const returnKey = `${api}.${procedure}:result:${id}`;
  keys.add(returnKey, `rpc_expiry_key:${id}`);
  const blob = pythonJson({
    kwargs,
    metadata: { api_name: api, id, procedure_name: procedure, return_path: `redis+key://${returnKey}` },
  });
  await raw.multi().set(`rpc_expiry_key:${id}`, '1', 'EX', 5).rpush(`${api}:rpc_queue`, blob).exec();
  return { id, returnKey };
}

/** What a Python caller reads back: waits for the result, checks its expiry, pops it. */
async function pythonReadsResult(
  returnKey: string,
): Promise<{ kwargs: Record<string, unknown>; metadata: Record<string, unknown> }> {
  await waitFor(async () => (await raw.llen(returnKey)) === 1, { message: `a result in ${returnKey}` });
  const ttl = await raw.ttl(returnKey);
  expect(ttl).toBeGreaterThan(0);
  expect(ttl).toBeLessThanOrEqual(60);
  const popped = await raw.blpop(returnKey, 1);
  return JSON.parse(popped![1]) as { kwargs: Record<string, unknown>; metadata: Record<string, unknown> };
}

describe('a Python caller calls a TypeScript worker', () => {
  it('gets the result in its own return key, with exactly the metadata Python reads', async () => {
    const worker = buses.make(redisConfig(names));
    worker.client.registerApi(new (greeterApi(api))());
    await worker.start({ features: ['rpcs'] });

    const call = await pythonCall('greet', { name: 'Ann' });
    const result = await pythonReadsResult(call.returnKey);
    expect(result.kwargs).toEqual({ result: 'Hello, Ann' });
    expect(Object.keys(result.metadata).sort()).toEqual(['error', 'id', 'rpc_message_id']);
    expect(result.metadata).toMatchObject({ error: false, rpc_message_id: call.id });
    expect(typeof result.metadata.id).toBe('string');
  });

  it('gets an error result with the error text and the stack as trace, nothing more', async () => {
    const worker = buses.make(redisConfig(names));
    worker.client.registerApi(new (greeterApi(api))());
    await worker.start({ features: ['rpcs'] });

    const call = await pythonCall('refuse', { why: 'not today' });
    const result = await pythonReadsResult(call.returnKey);
    expect(Object.keys(result.metadata).sort()).toEqual(['error', 'id', 'rpc_message_id', 'trace']);
    expect(result.metadata.error).toBe(true);
    expect(result.kwargs).toEqual({ result: 'not today' });
    expect(result.metadata.trace).toMatch(/^RangeError: not today\n\s+at /);
  });
});

describe('a TypeScript caller calls a Python worker', () => {
  /** Play the Python worker for one call: BLPOP, DEL the expiry key, answer the Python way. */
  async function pythonWorkerAnswers(
    answer: (callId: string) => Record<string, unknown>,
  ): Promise<Record<string, unknown>> {
    const popped = await raw.blpop(`${api}:rpc_queue`, 5);
    expect(popped).not.toBeNull();
    const call = JSON.parse(popped![1]) as { kwargs: Record<string, unknown>; metadata: Record<string, string> };
    expect(Object.keys(call.metadata).sort()).toEqual(['api_name', 'id', 'procedure_name', 'return_path']);
    expect(await raw.del(`rpc_expiry_key:${call.metadata.id}`)).toBe(1);
    const returnKey = call.metadata.return_path!.replace(/^redis\+key:\/\//, '');
    keys.add(returnKey);
    await raw
      .multi()
      .lpush(returnKey, pythonJson(answer(call.metadata.id!)))
      .expire(returnKey, 60)
      .exec();
    return call;
  }

  it('receives a Python success result', async () => {
    const client = buses.make(redisConfig(names));
    const calling = client.client.callRpc(api, 'greet', { name: 'Ann' });
    const call = await pythonWorkerAnswers((callId) => ({
      kwargs: { result: 'Hello, Ann' },
      metadata: { error: false, id: pythonId(), rpc_message_id: callId },
    }));
    expect(call).toMatchObject({ kwargs: { name: 'Ann' }, metadata: { api_name: api, procedure_name: 'greet' } });
    await expect(calling).resolves.toBe('Hello, Ann');
  });

  it('raises a remote error with the Python message, type and traceback', async () => {
    const client = buses.make(redisConfig(names));
    const calling = client.client.callRpc(api, 'greet', { name: 'Ann' });
    calling.catch(() => undefined);
    const trace = [
      'Traceback (most recent call last):',
      '  File "/srv/app/lightbus/client/subclients/rpc_result.py", line 164, in _call_rpc_local',
      '    result = await run_user_provided_callable(method, args=[], kwargs=kwargs)',
      '  File "/srv/app/bus.py", line 9, in greet',
      "    raise ValueError('boom')",
      'ValueError: boom',
      '',
    ].join('\n');
    await pythonWorkerAnswers((callId) => ({
      kwargs: { result: "ValueError('boom')" },
      metadata: { error: true, id: pythonId(), rpc_message_id: callId, trace },
    }));
    const error = await calling.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(RemoteError);
    expect(error).toMatchObject({ remoteMessage: 'boom', remoteType: 'ValueError', remoteStack: trace });
    expect((error as Error).message).toContain(`${api}.greet() failed in the worker: ValueError: boom`);
  });

  it('the one result list of a process also takes Python results for concurrent calls', async () => {
    const client = buses.make(redisConfig(names));
    const calls = [1, 2, 3].map((n) => client.client.callRpc(api, 'greet', { name: `n${n}` }));
    const answered: Array<Record<string, unknown>> = [];
    for (let i = 0; i < 3; i++) {
      answered.push(
        await pythonWorkerAnswers((callId) => ({
          kwargs: { result: `answer to ${callId}` },
          metadata: { error: false, id: pythonId(), rpc_message_id: callId },
        })),
      );
    }
    const returnPaths = new Set(answered.map((c) => (c.metadata as Record<string, string>).return_path));
    expect(returnPaths.size).toBe(1);
    const results = await Promise.all(calls);
    expect(results).toEqual(answered.map((c) => `answer to ${(c.metadata as Record<string, string>).id}`));
  });
});

describe('events between Python and TypeScript', () => {
  it('a TypeScript listener reads events written the Python way, skipping placeholders and other events', async () => {
    const stream = `${api}.*:stream`;
    const listener = buses.make(redisConfig(names));
    const got = new Collector<Record<string, unknown>>();
    listener.client.listen([api, 'greeted'], (params) => got.push(params as Record<string, unknown>), {
      listenerName: 'notify',
    });
    await listener.start({ features: ['events'] });

    // A Python consumer that found no stream would have added a placeholder entry.
    await raw.xadd(stream, '*', '', '');
    await raw.xadd(
      stream,
      'MAXLEN',
      '~',
      '100000',
      '*',
      'id',
      pythonId(),
      'api_name',
      api,
      'event_name',
      'waved',
      'version',
      '1',
      ':name',
      '"Bo"',
    );
    await raw.xadd(
      stream,
      'MAXLEN',
      '~',
      '100000',
      '*',
      'id',
      pythonId(),
      'api_name',
      api,
      'event_name',
      'greeted',
      'version',
      '1',
      ':name',
      pythonJson('Ann'),
      ':tags',
      pythonJson({ first: true, list: [1, 2] }),
    );
    await got.waitForCount(1);
    expect(got.items).toEqual([{ name: 'Ann', tags: { first: true, list: [1, 2] } }]);
    // All three entries acknowledged: nothing pending for the group.
    const group = `${names.service}-notify`;
    await waitFor(async () => ((await raw.xpending(stream, group)) as [number])[0] === 0, {
      message: 'the group to have nothing pending',
    });
  });

  it('a TypeScript service writes events a Python reader accepts: only the four metadata fields, then JSON parameters', async () => {
    const worker = buses.make(redisConfig(names));
    worker.client.registerApi(new (greeterApi(api))());
    await worker.client.fireEvent(api, 'greeted', { name: 'Ann', tags: ['x', 'y'] });
    const entries = await raw.xrange(`${api}.*:stream`, '-', '+');
    expect(entries).toHaveLength(1);
    const fields = entries[0]![1];
    const fieldNames = fields.filter((_, i) => i % 2 === 0);
    expect(fieldNames).toEqual(['id', 'api_name', 'event_name', 'version', ':name', ':tags']);
    const values = Object.fromEntries(fieldNames.map((name, i) => [name, fields[i * 2 + 1]!]));
    expect(values).toMatchObject({ api_name: api, event_name: 'greeted', version: '1' });
    expect(values.id).not.toBe('');
    expect(JSON.parse(values[':name']!)).toBe('Ann');
    expect(JSON.parse(values[':tags']!)).toEqual(['x', 'y']);
  });
});
