/**
 * The edges of sharing a bus with Python Lightbus 1.3: values Python writes
 * that plain JSON has no room for, its tracebacks, and foreign stream
 * fields. The Python side is played with raw Redis commands carrying the
 * exact bytes a real Python Lightbus 1.3 wrote (captured with redis-cli
 * MONITOR and XRANGE; docs/how-to/share-a-bus-with-python.md says how).
 */
import { Api, EncodingError, RemoteError, type Logger } from '@lightbus/core';
import { UndecodableResultError, type LogFields } from '@lightbus/core/transport';
import { Collector, waitFor } from '@lightbus/testing';
import { pythonId, pythonJson, quietLogger, redisConfig, redisTestKit, uniqueId } from './helpers';

const { raw, keys, buses } = redisTestKit();
let api: string;
let stream: string;
let names: { service: string; process: string };

beforeEach(() => {
  api = `pyedge${uniqueId()}.edge`;
  stream = `${api}.*:stream`;
  keys.api(api);
  keys.add(`schema:${api}`);
  names = { service: `ts-svc-${uniqueId()}`, process: `ts-proc-${uniqueId()}` };
});

afterEach(async () => {
  await raw.srem('schemas', api);
});

class WarningLogger implements Logger {
  readonly warnings: string[] = [];
  readonly errors: string[] = [];
  debug(): void {}
  info(): void {}
  warn(message: string, _fields?: LogFields): void {
    this.warnings.push(message);
  }
  error(message: string, _fields?: LogFields): void {
    this.errors.push(message);
  }
}

/** Store an API schema the way a Python worker does: sorted JSON, draft-07 parameter objects, TTL 60. */
async function pythonSchema(schema: {
  rpcs?: Record<string, { parameters?: Record<string, unknown>; response: Record<string, unknown> }>;
  events?: Record<string, Record<string, unknown>>;
}): Promise<void> {
  const params = (title: string, properties: Record<string, unknown>) => ({
    $schema: 'http://json-schema.org/draft-07/schema#',
    additionalProperties: false,
    properties,
    ...(Object.keys(properties).length ? { required: Object.keys(properties) } : {}),
    title,
    type: 'object',
  });
  const rpcs = Object.fromEntries(
    Object.entries(schema.rpcs ?? {}).map(([name, rpc]) => [
      name,
      {
        parameters: params(`RPC ${api}.${name}() parameters`, rpc.parameters ?? {}),
        response: {
          $schema: 'http://json-schema.org/draft-07/schema#',
          title: `RPC ${api}.${name}() response`,
          ...rpc.response,
        },
      },
    ]),
  );
  const events = Object.fromEntries(
    Object.entries(schema.events ?? {}).map(([name, properties]) => [
      name,
      { parameters: params(`Event ${api}.${name} parameters`, properties) },
    ]),
  );
  await raw.multi().set(`schema:${api}`, pythonJson({ events, rpcs }), 'EX', 60).sadd('schemas', api).exec();
}

/** XADD as Python writes an event: the four metadata fields, then `:<param>` fields holding Python's JSON text. */
async function pythonFires(eventName: string, fields: Array<[string, string]>): Promise<void> {
  const args = ['id', pythonId(), 'api_name', api, 'event_name', eventName, 'version', '1'];
  for (const [name, json] of fields) args.push(`:${name}`, json);
  await raw.xadd(stream, 'MAXLEN', '~', '100000', '*', ...args);
}

/** Play a Python worker for one call: BLPOP, DEL the expiry key, LPUSH the result blob `answer` makes. */
async function pythonWorkerAnswers(answer: (callId: string) => string): Promise<string> {
  const popped = await raw.blpop(`${api}:rpc_queue`, 5);
  expect(popped).not.toBeNull();
  const blob = popped![1];
  const call = JSON.parse(blob) as { metadata: Record<string, string> };
  expect(await raw.del(`rpc_expiry_key:${call.metadata.id}`)).toBe(1);
  const returnKey = call.metadata.return_path!.replace(/^redis\+key:\/\//, '');
  keys.add(returnKey);
  await raw.multi().lpush(returnKey, answer(call.metadata.id!)).expire(returnKey, 60).exec();
  return blob;
}

/** A success result exactly as Python writes it, `resultJson` being Python's JSON text of the value. */
function pythonResult(callId: string, resultJson: string): string {
  return `{"kwargs": {"result": ${resultJson}}, "metadata": {"error": false, "id": "${pythonId()}", "rpc_message_id": "${callId}"}}`;
}

async function deadLetters(): Promise<Array<Record<string, string>>> {
  const entries = await raw.xrange(`${stream}:dead_letters`, '-', '+');
  return entries.map(([, fields]) =>
    Object.fromEntries(fields.flatMap((f, i) => (i % 2 === 0 ? [[f, fields[i + 1]!]] : []))),
  );
}

describe('1. naive datetimes (datetime.now() / utcnow() have no offset)', () => {
  it('a listener with validation on takes the event and reads the time as UTC', async () => {
    await pythonSchema({ events: { happened: { when: { format: 'date-time', type: 'string' } } } });
    const listener = buses.make(redisConfig(names));
    const got = new Collector<Record<string, unknown>>();
    listener.client.listen([api, 'happened'], (params) => got.push(params as Record<string, unknown>), {
      listenerName: 'naive',
    });
    await listener.start({ features: ['events'] });
    await pythonFires('happened', [['when', '"2026-12-07T21:10:00.123456"']]);
    await got.waitForCount(1);
    expect(got.items[0]!.when).toEqual(new Date('2026-12-07T21:10:00.123Z'));
    expect(await deadLetters()).toEqual([]);
  });

  it('a caller takes a naive datetime result, and delivers with a warning a result that breaks the schema', async () => {
    await pythonSchema({
      rpcs: { naive: { response: { format: 'date-time', type: 'string' } }, count: { response: { type: 'integer' } } },
    });
    const logger = new WarningLogger();
    const client = buses.make(redisConfig(names), logger);
    const naive = client.client.callRpc(api, 'naive', {});
    await pythonWorkerAnswers((id) => pythonResult(id, '"2026-12-07T21:10:00.123456"'));
    await expect(naive).resolves.toEqual(new Date('2026-12-07T21:10:00.123Z'));

    const count = client.client.callRpc(api, 'count', {});
    await pythonWorkerAnswers((id) => pythonResult(id, '"many"'));
    await expect(count).resolves.toBe('many');
    expect(logger.warnings.join('\n')).toMatch(/Invalid result from .*count\(\): must be integer .*already run/);
  });
});

describe('2. integers beyond 2^53', () => {
  it('a Python 2**63+1 arrives exactly, as bigint, in an event and in a result', async () => {
    await pythonSchema({
      events: { happened: { big: { type: 'integer' } } },
      rpcs: { big: { parameters: { n: { type: 'integer' } }, response: { type: 'integer' } } },
    });
    const bus = buses.make(redisConfig(names));
    const got = new Collector<Record<string, unknown>>();
    bus.client.listen([api, 'happened'], (params) => got.push(params as Record<string, unknown>), {
      listenerName: 'big',
    });
    await bus.start({ features: ['events'] });
    await pythonFires('happened', [['big', '9223372036854775809']]);
    await got.waitForCount(1);
    expect(got.items[0]!.big).toBe(9223372036854775809n);

    const call = bus.client.callRpc(api, 'big', { n: 2n ** 63n });
    const blob = await pythonWorkerAnswers((id) => pythonResult(id, '9223372036854775809'));
    // A TypeScript bigint reaches a Python int parameter as an exact JSON integer.
    expect(blob).toContain('"kwargs":{"n":9223372036854775808}');
    await expect(call).resolves.toBe(9223372036854775809n);
  });

  it('a number beyond 2^53 (already rounded) is refused where the schema says integer, before sending', async () => {
    await pythonSchema({ rpcs: { big: { parameters: { n: { type: 'integer' } }, response: { type: 'integer' } } } });
    const client = buses.make(redisConfig(names));
    await expect(client.client.callRpc(api, 'big', { n: 2 ** 63 })).rejects.toThrow(
      /'n' is 9223372036854776000, an integer beyond 2\^53.*bigint/,
    );
    expect(await raw.llen(`${api}:rpc_queue`)).toBe(0);
  });
});

describe('3. remote error types from Python tracebacks and TypeScript throws', () => {
  const frames = [
    'Traceback (most recent call last):',
    '  File "/srv/lightbus/client/subclients/rpc_result.py", line 224, in handle_execute_rpc',
    '    result = await self._call_rpc_local(',
    '             ^^^^^^^^^^^^^^^^^^^^^^^^^^^',
    '  File "/srv/app/bus.py", line 28, in declined',
  ];
  it.each([
    [
      'a custom exception class',
      "PaymentDeclined('card declined')",
      [...frames, '    raise PaymentDeclined("card declined")', 'bus.PaymentDeclined: card declined'],
      'bus.PaymentDeclined',
      'card declined',
    ],
    [
      'an exception with no message',
      'NotFound()',
      [...frames, '    raise NotFound()', 'bus.NotFound'],
      'bus.NotFound',
      '',
    ],
    [
      'a multi-line message',
      "ValueError('line one\\nline two')",
      [...frames, '    raise ValueError("line one\\nline two")', 'ValueError: line one', 'line two'],
      'ValueError',
      'line one\nline two',
    ],
    [
      'a chained exception',
      "GatewayDown('outer failed')",
      [
        'Traceback (most recent call last):',
        '  File "/srv/app/bus.py", line 35, in chained',
        '    raise KeyError("inner")',
        "KeyError: 'inner'",
        '',
        'The above exception was the direct cause of the following exception:',
        '',
        ...frames,
        '    raise GatewayDown("outer failed") from e',
        'bus.GatewayDown: outer failed',
      ],
      'bus.GatewayDown',
      'outer failed',
    ],
  ])('%s', async (_what, text, traceLines, remoteType, remoteMessage) => {
    const client = buses.make(redisConfig(names));
    const calling = client.client.callRpc(api, 'declined', {});
    calling.catch(() => undefined);
    const trace = `${traceLines.join('\n')}\n`;
    await pythonWorkerAnswers(
      (id) =>
        `{"kwargs": {"result": ${JSON.stringify(text)}}, "metadata": {"error": true, "id": "${pythonId()}", "rpc_message_id": "${id}", "trace": ${JSON.stringify(trace)}}}`,
    );
    const error = (await calling.catch((e: unknown) => e)) as RemoteError;
    expect(error).toBeInstanceOf(RemoteError);
    expect(error.remoteType).toBe(remoteType);
    expect(error.remoteMessage).toBe(remoteMessage);
    expect(error.remoteStack).toBe(trace);
  });

  it('a Python caller gets the type of a class that does not set name, the cause, and a thrown object as JSON', async () => {
    class PaymentDeclined extends Error {}
    const worker = buses.make(redisConfig(names));
    const name = api;
    class FailingApi extends Api {
      static override meta = { name };
      declined() {
        throw new PaymentDeclined('card declined', { cause: new TypeError('gateway said no') });
      }
      object() {
        throw { code: 42 };
      }
    }
    worker.client.registerApi(new FailingApi());
    await worker.start({ features: ['rpcs'] });
    const results: Array<{ kwargs: { result: string }; metadata: { trace: string } }> = [];
    for (const procedure of ['declined', 'object']) {
      const id = pythonId();
      const returnKey = `${api}.${procedure}:result:${id}`;
      keys.add(returnKey, `rpc_expiry_key:${id}`);
      const blob = pythonJson({
        kwargs: {},
        metadata: { api_name: api, id, procedure_name: procedure, return_path: `redis+key://${returnKey}` },
      });
      await raw.multi().set(`rpc_expiry_key:${id}`, '1', 'EX', 5).rpush(`${api}:rpc_queue`, blob).exec();
      const popped = await raw.blpop(returnKey, 5);
      results.push(JSON.parse(popped![1]));
    }
    expect(results[0]!.kwargs.result).toBe('card declined');
    expect(results[0]!.metadata.trace).toMatch(
      /^PaymentDeclined: card declined\n[\s\S]*\nCaused by: TypeError: gateway said no\n/,
    );
    expect(results[1]!.kwargs.result).toBe('{"code":42}');
  });
});

describe('4. NaN and Infinity, as Python json writes them', () => {
  it('a listener reads them, and a group listening to another event of the stream sets nothing aside', async () => {
    const bus = buses.make(redisConfig(names));
    const got = new Collector<Record<string, unknown>>();
    const other = new Collector<Record<string, unknown>>();
    bus.client.listen([api, 'happened'], (params) => got.push(params as Record<string, unknown>), {
      listenerName: 'floats',
    });
    bus.client.listen([api, 'other'], (params) => other.push(params as Record<string, unknown>), {
      listenerName: 'others',
    });
    await bus.start({ features: ['events'] });
    await pythonFires('happened', [
      ['nan', 'NaN'],
      ['inf', 'Infinity'],
      ['ninf', '-Infinity'],
    ]);
    await pythonFires('other', [['n', '1']]);
    await got.waitForCount(1);
    await other.waitForCount(1);
    expect(got.items[0]).toEqual({ nan: NaN, inf: Infinity, ninf: -Infinity });
    for (const listener of ['floats', 'others']) {
      await waitFor(async () => ((await raw.xpending(stream, `${names.service}-${listener}`)) as [number])[0] === 0, {
        message: `${listener} to have nothing pending`,
      });
    }
    expect(await deadLetters()).toEqual([]);
  });

  it('a caller reads a NaN result, and a result it cannot decode fails its call at once', async () => {
    const client = buses.make(redisConfig(names));
    const nan = client.client.callRpc(api, 'nan', {});
    await pythonWorkerAnswers((id) => pythonResult(id, 'NaN'));
    await expect(nan).resolves.toBeNaN();

    // A long timeout: the call must fail on the unreadable result, not on its deadline.
    const broken = client.client.callRpc(api, 'broken', {}, { timeout: 60 });
    broken.catch(() => undefined);
    await pythonWorkerAnswers((id) => pythonResult(id, 'nan'));
    await expect(broken).rejects.toThrow(UndecodableResultError);
  });
});

describe('7. a `:__proto__` stream field written by a foreign writer', () => {
  it('with validation off, it is an ordinary parameter: it never becomes the prototype of the parameters', async () => {
    const config = redisConfig(names);
    config.apis!.default!.validate = false;
    config.apis!.default!.cast_values = false;
    const bus = buses.make(config);
    const got = new Collector<Record<string, unknown>>();
    bus.client.listen([api, 'happened'], (params) => got.push(params as Record<string, unknown>), {
      listenerName: 'proto',
    });
    await bus.start({ features: ['events'] });
    await pythonFires('happened', [
      ['__proto__', '{"polluted": true}'],
      ['name', '"Ann"'],
    ]);
    await got.waitForCount(1);
    const params = got.items[0]!;
    expect(Object.getPrototypeOf(params)).toBe(Object.prototype);
    expect((params as { polluted?: unknown }).polluted).toBeUndefined();
    expect(Object.keys(params)).toEqual(['__proto__', 'name']);
  });

  it('with validation on, it is set aside as an undeclared parameter', async () => {
    await pythonSchema({ events: { happened: { name: { type: 'string' } } } });
    const bus = buses.make(redisConfig(names));
    bus.client.listen([api, 'happened'], () => undefined, { listenerName: 'proto' });
    await bus.start({ features: ['events'] });
    await pythonFires('happened', [
      ['__proto__', '{"polluted": true}'],
      ['name', '"Ann"'],
    ]);
    await waitFor(async () => (await deadLetters()).length === 1, { message: 'the event to be set aside' });
    expect((await deadLetters())[0]!.reason).toMatch(/'__proto__' is not a declared parameter/);
  });
});

describe('8. parameters nested too deep', () => {
  it('are refused with an EncodingError naming the path, not a RangeError', async () => {
    const client = buses.make(redisConfig(names), quietLogger);
    const root: Record<string, unknown> = {};
    let node = root;
    for (let i = 0; i < 5000; i++) {
      const next: Record<string, unknown> = {};
      node.child = next;
      node = next;
    }
    const error = await client.client.callRpc(api, 'deep', { tree: root }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EncodingError);
    expect((error as Error).message).toMatch(
      /'tree\.child\.child\.child\.child\.\.\..* is nested more than 900 levels deep/,
    );
    expect(await raw.llen(`${api}:rpc_queue`)).toBe(0);
  });
});
