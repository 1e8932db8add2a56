import { EncodingError, type ResultMessage } from '@lightbus/core/transport';
import {
  compareStreamIds,
  decodeEventFields,
  decodeResult,
  decodeRpcCall,
  encodeEventFields,
  encodeResult,
  encodeRpcCall,
  isPlaceholder,
  keyOfReturnPath,
  nextStreamId,
  previousStreamId,
  remoteErrorMessage,
  streamKey,
} from './wire';
import { pythonJson } from '../test/python-json';

const PYTHON_TRACE = [
  'Traceback (most recent call last):',
  '  File "/app/lightbus/client/subclients/rpc_result.py", line 160, in _call_rpc_local',
  '    result = await run_user_provided_callable(method, args=[], kwargs=kwargs)',
  '  File "/app/api.py", line 12, in fail',
  "    raise ValueError('boom')",
  'ValueError: boom',
  '',
].join('\n');

describe('key names', () => {
  it('names streams per API or per event', () => {
    expect(streamKey('support.case', 'created', 'per_api')).toBe('support.case.*:stream');
    expect(streamKey('support.case', 'created', 'per_event')).toBe('support.case.created:stream');
  });

  it('reads any redis+key:// return path', () => {
    expect(keyOfReturnPath('redis+key://support.case.get:result:abc')).toBe('support.case.get:result:abc');
    expect(keyOfReturnPath('amqp://reply')).toBeUndefined();
    expect(keyOfReturnPath('redis+key://')).toBeUndefined();
  });
});

describe('calls', () => {
  const call = {
    id: 'c1',
    apiName: 'demo',
    procedureName: 'greet',
    kwargs: { name: 'Ann', n: [1, 2] },
    returnPath: 'redis+key://r',
    deadline: 123,
  };

  it('writes exactly the four metadata fields Python expects, never the deadline', () => {
    const blob = encodeRpcCall(call);
    expect(JSON.parse(blob)).toEqual({
      kwargs: { name: 'Ann', n: [1, 2] },
      metadata: { api_name: 'demo', id: 'c1', procedure_name: 'greet', return_path: 'redis+key://r' },
    });
    expect(blob).toBe(
      '{"kwargs":{"name":"Ann","n":[1,2]},"metadata":{"api_name":"demo","id":"c1","procedure_name":"greet","return_path":"redis+key://r"}}',
    );
  });

  it('reads a call written the Python way', () => {
    const blob = pythonJson({
      kwargs: { name: 'Ann' },
      metadata: {
        api_name: 'demo',
        id: '9f1c1a2e-2b1d-11ee-be56-0242ac120002',
        procedure_name: 'greet',
        return_path: 'redis+key://demo.greet:result:9f1c',
      },
    });
    expect(blob).toContain('", "');
    expect(decodeRpcCall(blob)).toEqual({
      ok: true,
      value: {
        id: '9f1c1a2e-2b1d-11ee-be56-0242ac120002',
        apiName: 'demo',
        procedureName: 'greet',
        kwargs: { name: 'Ann' },
        returnPath: 'redis+key://demo.greet:result:9f1c',
      },
    });
  });

  it.each([
    ['not JSON', '{oops', /not JSON/],
    ['no metadata', '{"kwargs": {}}', /no "metadata"/],
    [
      'a missing field',
      '{"kwargs": {}, "metadata": {"api_name": "a", "id": "1", "procedure_name": "p"}}',
      /lacks 'return_path'/,
    ],
    [
      'an empty field',
      '{"kwargs": {}, "metadata": {"api_name": "", "id": "1", "procedure_name": "p", "return_path": "redis+key://x"}}',
      /'api_name' must be a non-empty string/,
    ],
    [
      'an extra field',
      '{"kwargs": {}, "metadata": {"api_name": "a", "id": "1", "procedure_name": "p", "return_path": "redis+key://x", "deadline": 5}}',
      /unexpected fields: deadline/,
    ],
    [
      'kwargs not an object',
      '{"kwargs": [1], "metadata": {"api_name": "a", "id": "1", "procedure_name": "p", "return_path": "redis+key://x"}}',
      /not an object/,
    ],
  ])('refuses a call with %s', (_what, blob, reason) => {
    const decoded = decodeRpcCall(blob);
    expect(decoded.ok).toBe(false);
    expect(decoded.ok ? '' : decoded.reason).toMatch(reason);
  });

  it('refuses parameters JSON cannot carry before anything is sent', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => encodeRpcCall({ ...call, kwargs: { cyclic } })).toThrow(EncodingError);
    expect(() => encodeRpcCall({ ...call, kwargs: { cyclic } })).toThrow(/Parameters of demo.greet\(\)/);
  });

  it('writes a bigint as an exact JSON integer, as Python writes its ints', () => {
    expect(encodeRpcCall({ ...call, kwargs: { big: 2n ** 63n + 1n } })).toContain('"big":9223372036854775809');
  });
});

/** A result blob that must decode. */
function resultOf(blob: string): ResultMessage {
  const decoded = decodeResult(blob);
  if (!decoded.ok) throw new Error(decoded.reason);
  return decoded.value;
}

describe('results', () => {
  it('writes a success with error false and no trace', () => {
    const blob = encodeResult({ id: 'r1', rpcMessageId: 'c1', result: { ok: true }, error: false });
    expect(blob).toBe('{"kwargs":{"result":{"ok":true}},"metadata":{"error":false,"id":"r1","rpc_message_id":"c1"}}');
  });

  it('writes an error as text and the stack as trace, nothing else', () => {
    const error = new TypeError('bad id');
    const blob = encodeResult({
      id: 'r1',
      rpcMessageId: 'c1',
      result: error.message,
      error: true,
      trace: error.stack,
      errorType: 'TypeError',
    });
    const parsed = JSON.parse(blob) as { kwargs: Record<string, unknown>; metadata: Record<string, unknown> };
    expect(parsed.kwargs).toEqual({ result: 'bad id' });
    expect(Object.keys(parsed.metadata).sort()).toEqual(['error', 'id', 'rpc_message_id', 'trace']);
    expect(parsed.metadata.error).toBe(true);
    expect(parsed.metadata.trace).toBe(error.stack);
  });

  it('puts the error type first in the trace when the stack does not name it', () => {
    const blob = encodeResult({
      id: 'r1',
      rpcMessageId: 'c1',
      result: 'nope',
      error: true,
      trace: '    at x (y.ts:1:1)',
      errorType: 'QuotaError',
    });
    const decoded = resultOf(blob);
    expect(decoded.trace).toBe('QuotaError: nope\n    at x (y.ts:1:1)');
    expect(decoded.errorType).toBe('QuotaError');
    expect(decoded.result).toBe('nope');
  });

  it('reads a TypeScript error result back with its type', () => {
    const error = new RangeError('too far');
    const decoded = resultOf(
      encodeResult({
        id: 'r',
        rpcMessageId: 'c',
        result: 'too far',
        error: true,
        trace: error.stack,
        errorType: 'RangeError',
      }),
    );
    expect(decoded).toMatchObject({ error: true, result: 'too far', errorType: 'RangeError' });
    expect(decoded.trace).toContain('RangeError: too far');
  });

  it('reads a Python success result', () => {
    const blob = pythonJson({
      kwargs: { result: 'Hello, Ann' },
      metadata: { error: false, id: 'r9', rpc_message_id: 'c9' },
    });
    expect(resultOf(blob)).toEqual({ id: 'r9', rpcMessageId: 'c9', result: 'Hello, Ann', error: false });
  });

  it('reads a Python error result: message from the traceback, type, and the whole trace', () => {
    const blob = pythonJson({
      kwargs: { result: "ValueError('boom')" },
      metadata: { error: true, id: 'r9', rpc_message_id: 'c9', trace: PYTHON_TRACE },
    });
    expect(resultOf(blob)).toEqual({
      id: 'r9',
      rpcMessageId: 'c9',
      result: 'boom',
      error: true,
      trace: PYTHON_TRACE,
      errorType: 'ValueError',
    });
  });

  it('reads a result without an error flag as a success (Python allows it)', () => {
    expect(resultOf('{"kwargs": {"result": 1}, "metadata": {"id": "r", "rpc_message_id": "c"}}')).toMatchObject({
      error: false,
      result: 1,
    });
  });

  it('refuses a result with an extra metadata field, naming the call', () => {
    const decoded = decodeResult(
      '{"kwargs": {"result": 1}, "metadata": {"id": "r", "rpc_message_id": "c7", "error": false, "native_id": "x"}}',
    );
    expect(decoded).toEqual({ ok: false, id: 'c7', reason: expect.stringMatching(/unexpected fields: native_id/) });
  });
});

describe('remoteErrorMessage', () => {
  it('takes a Python exception message from the end of its traceback', () => {
    expect(remoteErrorMessage("ValueError('boom')", PYTHON_TRACE, 'ValueError')).toBe('boom');
  });

  it('keeps multi-line messages and module-qualified names', () => {
    const trace =
      'Traceback (most recent call last):\n  File "x.py", line 1, in f\napp.errors.QuotaError: over quota\nlimit is 10\n';
    expect(remoteErrorMessage("QuotaError('over quota\\nlimit is 10')", trace, undefined)).toBe(
      'over quota\nlimit is 10',
    );
  });

  it('gives an empty message for an exception raised without one', () => {
    expect(remoteErrorMessage('KeyError()', 'Traceback (most recent call last):\nKeyError\n', 'KeyError')).toBe('');
  });

  it('leaves other text alone', () => {
    expect(remoteErrorMessage('plain text', PYTHON_TRACE, 'ValueError')).toBe('plain text');
    expect(remoteErrorMessage('Thing(1)', 'Error: Thing(1)\n    at f (x.js:1:1)', 'Error')).toBe('Thing(1)');
    expect(remoteErrorMessage("ValueError('x')", undefined, undefined)).toBe("ValueError('x')");
  });
});

describe('events', () => {
  const event = {
    id: 'e1',
    apiName: 'support.case',
    eventName: 'created',
    version: 2,
    kwargs: { id: 5, body: { lines: ['a'] }, skipped: undefined },
  };

  it('writes the four metadata fields first, then one JSON field per parameter', () => {
    expect(encodeEventFields(event)).toEqual([
      'id',
      'e1',
      'api_name',
      'support.case',
      'event_name',
      'created',
      'version',
      '2',
      ':id',
      '5',
      ':body',
      '{"lines":["a"]}',
    ]);
  });

  it('reads the fields back, with the stream id as native id and time', () => {
    const fields = [
      ['id', 'e1'],
      ['api_name', 'support.case'],
      ['event_name', 'created'],
      ['version', '2'],
      [':id', '5'],
      [':body', '{"lines": ["a"]}'],
    ] as const;
    expect(decodeEventFields(fields, '1700000000123-4')).toEqual({
      id: 'e1',
      apiName: 'support.case',
      eventName: 'created',
      version: 2,
      kwargs: { id: 5, body: { lines: ['a'] } },
      nativeId: '1700000000123-4',
      time: new Date(1700000000123),
    });
  });

  it('recognises placeholder and deleted entries', () => {
    expect(isPlaceholder([['', '']])).toBe(true);
    expect(isPlaceholder(null)).toBe(true);
    expect(isPlaceholder([['id', 'x']])).toBe(false);
  });

  it.each([
    [
      'a missing field',
      [
        ['id', 'e'],
        ['api_name', 'a'],
        ['event_name', 'x'],
      ],
      /lacks metadata field 'version'/,
    ],
    [
      'an empty field',
      [
        ['id', ''],
        ['api_name', 'a'],
        ['event_name', 'x'],
        ['version', '1'],
      ],
      /empty 'id'/,
    ],
    [
      'an extra field',
      [
        ['id', 'e'],
        ['api_name', 'a'],
        ['event_name', 'x'],
        ['version', '1'],
        ['native_id', '1-1'],
      ],
      /unexpected metadata fields: native_id/,
    ],
    [
      'a bad version',
      [
        ['id', 'e'],
        ['api_name', 'a'],
        ['event_name', 'x'],
        ['version', 'one'],
      ],
      /version that is not an integer/,
    ],
    [
      'a parameter that is not JSON',
      [
        ['id', 'e'],
        ['api_name', 'a'],
        ['event_name', 'x'],
        ['version', '1'],
        [':n', '{no'],
      ],
      /parameter 'n' is not JSON/,
    ],
  ] as Array<[string, Array<[string, string]>, RegExp]>)('refuses an entry with %s', (_what, fields, reason) => {
    expect(() => decodeEventFields(fields, '1-1')).toThrow(reason);
  });
});

describe('stream ids', () => {
  it('steps and compares ids, sequence numbers up to 2^64-1', () => {
    expect(previousStreamId('5-3')).toBe('5-2');
    expect(previousStreamId('5-0')).toBe('4-18446744073709551615');
    expect(previousStreamId('0-0')).toBeUndefined();
    expect(nextStreamId('5-3')).toBe('5-4');
    expect(nextStreamId('5-18446744073709551615')).toBe('6-0');
    expect(compareStreamIds('10-1', '9-5')).toBe(1);
    expect(compareStreamIds('9-5', '9-10')).toBe(-1);
    expect(compareStreamIds('9-5', '9-5')).toBe(0);
  });
});

describe('trace context in ids', () => {
  const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

  it('rides at the end of a call id, which a worker keeps whole and a result echoes', () => {
    const blob = encodeRpcCall({
      id: 'c1',
      apiName: 'a',
      procedureName: 'p',
      kwargs: {},
      returnPath: 'redis+key://r',
      deadline: Date.now() + 1000,
      traceContext: { traceparent, tracestate: 'x=1' },
    });
    expect(JSON.parse(blob).metadata.id).toBe(`c1;tp=${traceparent}`);
    const call = decodeRpcCall(blob);
    expect(call.ok && call.value).toMatchObject({ id: `c1;tp=${traceparent}`, traceContext: { traceparent } });
    // Python echoes the id it got as rpc_message_id: the caller matches it to its own id 'c1'.
    const result = decodeResult(
      `{"kwargs": {"result": 1}, "metadata": {"error": false, "id": "r1", "rpc_message_id": "c1;tp=${traceparent}"}}`,
    );
    expect(result.ok && result.value).toEqual({ id: 'r1', rpcMessageId: 'c1', result: 1, error: false });
  });

  it('rides in a result id and an event id, and is read back', () => {
    const blob = encodeResult({
      id: 'r2',
      rpcMessageId: 'c2',
      result: 'ok',
      error: false,
      traceContext: { traceparent },
    });
    const result = decodeResult(blob);
    expect(result.ok && result.value).toMatchObject({ id: 'r2', rpcMessageId: 'c2', traceContext: { traceparent } });
    const fields = encodeEventFields({
      id: 'e1',
      apiName: 'a',
      eventName: 'b',
      version: 1,
      kwargs: { n: 1 },
      traceContext: { traceparent },
    });
    expect(fields.slice(0, 2)).toEqual(['id', `e1;tp=${traceparent}`]);
    const pairs: Array<[string, string]> = [];
    for (let i = 0; i < fields.length; i += 2) pairs.push([fields[i]!, fields[i + 1]!]);
    expect(decodeEventFields(pairs, '1-0')).toMatchObject({ id: 'e1', traceContext: { traceparent } });
  });

  it('leaves ids without a well-formed mark as they are', () => {
    const pairs: Array<[string, string]> = [
      ['id', 'e2;tp=garbage'],
      ['api_name', 'a'],
      ['event_name', 'b'],
      ['version', '1'],
    ];
    const event = decodeEventFields(pairs, '1-0');
    expect(event.id).toBe('e2;tp=garbage');
    expect(event.traceContext).toBeUndefined();
    const fields = encodeEventFields({ id: 'e3', apiName: 'a', eventName: 'b', version: 1, kwargs: {} });
    expect(fields[1]).toBe('e3');
  });
});
