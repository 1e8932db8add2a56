import {
  EncodingError,
  type EventMessage,
  type OutgoingRpcMessage,
  type ResultMessage,
} from '@lightbus/core/transport';
import {
  H,
  correlationIdOf,
  deadLetterOf,
  decodeEvent,
  decodeRequest,
  decodeResult,
  decodeSchema,
  encodeEvent,
  encodeRequest,
  encodeResult,
  encodeSchema,
  eventKey,
  eventTypeOf,
  formatReturnPath,
  originalOf,
  parseReturnPath,
  replayGroupOf,
  replayOf,
  requestDeadline,
  type IncomingRecord,
  type OutgoingRecord,
} from './codec';

/** What a consumer would see for a produced record. */
function received(
  record: OutgoingRecord,
  at = { topic: 't', partition: 2, offset: '41', timestamp: '1700000000123' },
): IncomingRecord {
  const headers: Record<string, Buffer> = {};
  for (const [name, value] of Object.entries(record.headers)) headers[name] = Buffer.from(value);
  return {
    ...at,
    key: record.key === null ? null : Buffer.from(record.key),
    value: record.value === null ? null : Buffer.from(record.value),
    headers,
  };
}

const event: EventMessage = {
  id: 'e-1',
  apiName: 'support.case',
  eventName: 'caseCreated',
  version: 3,
  kwargs: { id: 7, text: 'héllo ✓', nested: { list: [1, null] } },
};

describe('events on the wire (CloudEvents binary mode)', () => {
  it('carries the parameters as the JSON value and the rest as ce_ headers', () => {
    const record = encodeEvent(event, 'support.case', 'lightbus://svc', new Date('2024-01-02T03:04:05.000Z'));
    expect(record.key).toBe('support.case');
    expect(JSON.parse(String(record.value))).toEqual(event.kwargs);
    expect(record.headers).toEqual({
      ce_specversion: '1.0',
      ce_id: 'e-1',
      ce_source: 'lightbus://svc',
      ce_type: 'support.case.caseCreated',
      ce_time: '2024-01-02T03:04:05.000Z',
      ce_apiversion: '3',
      'content-type': 'application/json',
    });
  });

  it('decodes what it encodes, with the position and the broker time', () => {
    const decoded = decodeEvent(received(encodeEvent(event, 'k', 's')));
    expect(decoded).toEqual({
      ok: true,
      value: { ...event, nativeId: 't:2:41', time: new Date(1700000000123) },
    });
  });

  it('decodes foreign values safely and exactly: __proto__ an own property, NaN, integers beyond 2^53', () => {
    const record = received(encodeEvent({ ...event, kwargs: { big: 2n ** 63n + 1n } }, 'k', 's'));
    expect(record.value!.toString()).toContain('"big":9223372036854775809');
    const foreign = {
      ...record,
      value: Buffer.from(record.value!.toString().replace('"big":', '"__proto__":{"polluted":true},"n":NaN,"big":')),
    };
    const decoded = decodeEvent(foreign);
    if (!decoded.ok) throw new Error(decoded.reason);
    const kwargs = decoded.value.kwargs as Record<string, unknown>;
    expect(Object.getPrototypeOf(kwargs)).toBe(Object.prototype);
    expect(Object.keys(kwargs)).toEqual(['__proto__', 'n', 'big']);
    expect(kwargs).toMatchObject({ n: NaN, big: 9223372036854775809n });
  });

  it('tells the API and event from the headers alone (API names have dots, event names none)', () => {
    expect(eventTypeOf(received(encodeEvent(event, 'k', 's')))).toEqual({
      apiName: 'support.case',
      eventName: 'caseCreated',
    });
    expect(eventTypeOf({ headers: {} })).toBeUndefined();
    expect(eventTypeOf({ headers: { ce_type: 'nodot' } })).toBeUndefined();
  });

  it.each([
    ['no headers at all', { ...received(encodeEvent(event, 'k', 's')), headers: {} }, /ce_specversion/],
    [
      'a value that is not JSON',
      { ...received(encodeEvent(event, 'k', 's')), value: Buffer.from('{nope') },
      /not JSON/,
    ],
    [
      'a JSON value that is not an object',
      { ...received(encodeEvent(event, 'k', 's')), value: Buffer.from('[1]') },
      /not a JSON object/,
    ],
    [
      'another content type',
      received({
        ...encodeEvent(event, 'k', 's'),
        headers: { ...encodeEvent(event, 'k', 's').headers, 'content-type': 'application/avro' },
      }),
      /content-type/,
    ],
    ['no value', { ...received(encodeEvent(event, 'k', 's')), value: null }, /no value/],
  ])('refuses %s, saying why', (_name, record, reason) => {
    const decoded = decodeEvent(record as IncomingRecord);
    expect(decoded.ok).toBe(false);
    if (!decoded.ok) expect(decoded.reason).toMatch(reason);
  });

  it('keys events as configured', () => {
    expect(eventKey('api', event)).toBe('support.case');
    expect(eventKey('event', event)).toBe('support.case.caseCreated');
    expect(eventKey('id', event)).toBe('e-1');
    expect(eventKey({ parameter: 'id' }, event)).toBe('7');
    expect(eventKey({ parameter: 'text' }, event)).toBe('héllo ✓');
    expect(eventKey({ parameter: 'nested' }, event)).toBe('{"list":[1,null]}');
    expect(eventKey({ parameter: 'missing' }, event)).toBe('support.case.caseCreated');
  });

  it('says clearly when parameters cannot travel as JSON', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => encodeEvent({ ...event, kwargs: { cyclic } }, 'k', 's')).toThrow(EncodingError);
  });
});

describe('calls and results on the wire', () => {
  const call: OutgoingRpcMessage = {
    id: 'c-1',
    apiName: 'support.case',
    procedureName: 'get',
    kwargs: { id: 1 },
    returnPath: 'kafka://lightbus.reply.svc/3/p1.ab12',
    deadline: 1700000005000,
  };

  it('carries the deadline in a header, readable without parsing the value', () => {
    const record = received(encodeRequest(call));
    expect(requestDeadline(record)).toBe(1700000005000);
    expect(decodeRequest(record)).toEqual({ ok: true, value: call });
    expect(requestDeadline({ headers: {} })).toBeUndefined();
  });

  it('routes results by the call id and carries errors with their trace and type', () => {
    const ok: ResultMessage = { id: 'r-1', rpcMessageId: 'c-1', result: { a: [1] }, error: false };
    const okRecord = encodeResult(ok, 'p1.ab12', 3);
    expect(okRecord).toMatchObject({ key: 'p1.ab12', partition: 3 });
    expect(correlationIdOf(received(okRecord))).toBe('c-1');
    expect(decodeResult(received(okRecord))).toEqual({ ok: true, value: ok });

    const failed: ResultMessage = {
      id: 'r-2',
      rpcMessageId: 'c-1',
      result: 'boom',
      error: true,
      trace: 'TypeError: boom\n  at x',
      errorType: 'TypeError',
    };
    expect(decodeResult(received(encodeResult(failed, 'p', 0)))).toEqual({ ok: true, value: failed });
    expect(
      decodeResult(received(encodeResult({ id: 'r', rpcMessageId: 'c', result: undefined, error: false }, 'p', 0))),
    ).toEqual({
      ok: true,
      value: { id: 'r', rpcMessageId: 'c', result: null, error: false },
    });
  });

  it('formats and parses return paths', () => {
    const path = { topic: 'lightbus.reply.svc', partition: 3, token: 'proc/1 x' };
    expect(parseReturnPath(formatReturnPath(path))).toEqual(path);
    expect(parseReturnPath('redis://somewhere')).toBeUndefined();
    expect(parseReturnPath('kafka://topic/notanumber/token')).toBeUndefined();
  });
});

describe('schemas on the wire', () => {
  it('stores when a schema was stored and for how long, and reads the expiry back', () => {
    const schema = { rpcs: {}, events: {} };
    const record = encodeSchema('support.case', schema, 60, 1_000_000);
    expect(record.key).toBe('support.case');
    expect(JSON.parse(String(record.value))).toEqual({
      api_name: 'support.case',
      schema,
      stored_at: 1_000_000,
      ttl_seconds: 60,
    });
    expect(decodeSchema(received(record))).toEqual({
      ok: true,
      value: { apiName: 'support.case', schema, expiresAt: 1_060_000 },
    });
    expect(decodeSchema({ ...received(record), value: Buffer.from('{"x":1}') }).ok).toBe(false);
  });
});

describe('dead letters', () => {
  it('keep the original key, value and headers, and add why and where from', () => {
    const original: IncomingRecord = {
      topic: 'lightbus.event.a',
      partition: 1,
      offset: '9',
      timestamp: '0',
      key: Buffer.from([0xff, 0x00]),
      value: Buffer.from([0xde, 0xad]),
      headers: { ce_id: Buffer.from('e-9'), multi: [Buffer.from('a'), Buffer.from('b')] },
    };
    const dead = deadLetterOf(
      original,
      'rejected by the handler: bad',
      'lightbus.svc-listener',
      new Date('2024-01-01T00:00:00Z'),
    );
    expect(dead.key).toEqual(Buffer.from([0xff, 0x00]));
    expect(dead.value).toEqual(Buffer.from([0xde, 0xad]));
    expect(dead.headers).toEqual({
      ce_id: Buffer.from('e-9'),
      multi: Buffer.from('b'),
      [H.dlReason]: 'rejected by the handler: bad',
      [H.dlGroup]: 'lightbus.svc-listener',
      [H.dlTopic]: 'lightbus.event.a',
      [H.dlPartition]: '1',
      [H.dlOffset]: '9',
      [H.dlTime]: '2024-01-01T00:00:00.000Z',
    });
  });

  it('gives back the original record of a dead letter, and its replay for one group', () => {
    const original = received(encodeEvent(event, 'support.case', 'lightbus://svc', new Date('2024-01-01T00:00:00Z')), {
      topic: 'lightbus.event.support.case',
      partition: 3,
      offset: '17',
      timestamp: '1704067200000',
    });
    const dead = received(deadLetterOf(original, 'rejected by the handler: bad', 'lightbus.svc-listener'), {
      topic: 'lightbus.dead-letter',
      partition: 0,
      offset: '5',
      timestamp: '1704067260000',
    });
    const back = originalOf(dead);
    expect(back).toMatchObject({
      topic: 'lightbus.event.support.case',
      partition: 3,
      offset: '17',
      timestamp: '1704067200000', // when it was fired (ce_time), not when it was set aside
    });
    expect(Object.keys(back.headers ?? {}).filter((name) => name.startsWith('lightbus-'))).toEqual([]);
    expect(decodeEvent(back)).toMatchObject({ ok: true, value: { id: 'e-1', kwargs: event.kwargs } });

    const replay = replayOf(dead, 'lightbus.svc-listener');
    expect(replay.value).toEqual(original.value);
    expect(replayGroupOf(received(replay))).toBe('lightbus.svc-listener');
    expect(replayGroupOf(original)).toBeUndefined();
    // Set aside again after a replay: the next replay names the group once, afresh.
    const again = received(deadLetterOf(received(replay), 'again', 'lightbus.svc-listener'));
    expect(Object.keys(originalOf(again).headers ?? {})).not.toContain(H.replayGroup);
    expect(replayOf(again, undefined).headers[H.replayGroup]).toBeUndefined();
  });
});

describe('trace context on records', () => {
  const traceContext = {
    traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
    tracestate: 'vendor=1',
  };

  it('travels as traceparent/tracestate headers on events, calls and results, and is read back', () => {
    const eventRecord = encodeEvent({ ...event, traceContext }, 'k', 's');
    expect(eventRecord.headers).toMatchObject(traceContext);
    const decodedEvent = decodeEvent(received(eventRecord));
    expect(decodedEvent.ok && decodedEvent.value.traceContext).toEqual(traceContext);

    const call: OutgoingRpcMessage = {
      id: 'c-1',
      apiName: 'a',
      procedureName: 'p',
      kwargs: {},
      returnPath: formatReturnPath({ topic: 't', partition: 0, token: 'x' }),
      deadline: Date.now() + 1000,
      traceContext,
    };
    const request = decodeRequest(received(encodeRequest(call)));
    expect(request.ok && request.value.traceContext).toEqual(traceContext);
    const result = decodeResult(
      received(
        encodeResult(
          {
            id: 'r',
            rpcMessageId: 'c-1',
            result: 1,
            error: false,
            traceContext: { traceparent: traceContext.traceparent },
          },
          'x',
          0,
        ),
      ),
    );
    expect(result.ok && result.value.traceContext).toEqual({ traceparent: traceContext.traceparent });
  });

  it('adds nothing without a trace context and ignores a malformed traceparent', () => {
    expect(Object.keys(encodeEvent(event, 'k', 's').headers)).not.toContain('traceparent');
    const record = encodeEvent(event, 'k', 's');
    const decoded = decodeEvent(
      received({ ...record, headers: { ...record.headers, traceparent: 'not-a-traceparent' } }),
    );
    expect(decoded.ok && decoded.value.traceContext).toBeUndefined();
  });
});
