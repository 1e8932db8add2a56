import { EncodingError, type OutgoingRpcMessage } from '@lightbus/core/transport';
import {
  decodeCall,
  decodeEvent,
  decodeResult,
  decodeSchema,
  encodeCall,
  encodeEvent,
  encodeResult,
  encodeSchema,
  replyAddressOf,
  returnPathFor,
  type Incoming,
} from './codec';

function incoming(encoded: { content: Buffer; properties: object }, routingKey = 'rk'): Incoming {
  return { content: encoded.content, properties: encoded.properties, fields: { routingKey } };
}

const call: OutgoingRpcMessage = {
  id: 'c1',
  apiName: 'support.case',
  procedureName: 'get',
  kwargs: { id: 7, text: 'héllo' },
  returnPath: 'amqp:amq.rabbitmq.reply-to',
  deadline: 11_500,
};

describe('amqp wire format', () => {
  it('carries a call with its deadline as expiration and header, and the reply address as reply_to', () => {
    const encoded = encodeCall(call, 10_000);
    expect(JSON.parse(encoded.content.toString())).toEqual({
      metadata: { id: 'c1', api_name: 'support.case', procedure_name: 'get' },
      kwargs: { id: 7, text: 'héllo' },
    });
    expect(encoded.properties).toMatchObject({
      messageId: 'c1',
      correlationId: 'c1',
      replyTo: 'amq.rabbitmq.reply-to',
      expiration: '1500',
      type: 'lightbus.rpc',
      contentType: 'application/json',
      persistent: false,
      headers: { 'lightbus-deadline': 11_500 },
    });
    // The worker sees the address the broker rewrote.
    const received = incoming({
      ...encoded,
      properties: { ...encoded.properties, replyTo: 'amq.rabbitmq.reply-to.g1h2.xyz' },
    });
    expect(decodeCall(received)).toEqual({
      ok: true,
      value: { ...call, returnPath: 'amqp:amq.rabbitmq.reply-to.g1h2.xyz' },
    });
    expect(encodeCall({ ...call, deadline: 5 }, 10).properties.expiration).toBe('0');
  });

  it("keeps another transport's return path in a header", () => {
    const encoded = encodeCall({ ...call, returnPath: 'redis+key://x', deadline: 20_000 }, 10_000);
    expect(encoded.properties.replyTo).toBeUndefined();
    expect(encoded.properties.headers).toMatchObject({ 'lightbus-return-path': 'redis+key://x' });
    const decoded = decodeCall(incoming(encoded));
    expect(decoded.ok && decoded.value.returnPath).toBe('redis+key://x');
  });

  it('round-trips results, errors with trace and type', () => {
    const result = {
      id: 'r1',
      rpcMessageId: 'c1',
      result: 'boom',
      error: true,
      trace: 'TypeError: boom\n  at x',
      errorType: 'TypeError',
    };
    const encoded = encodeResult(call, result);
    expect(encoded.properties).toMatchObject({ correlationId: 'c1', messageId: 'r1', type: 'lightbus.result' });
    expect(JSON.parse(encoded.content.toString())).toEqual({
      metadata: {
        id: 'r1',
        rpc_message_id: 'c1',
        error: true,
        trace: 'TypeError: boom\n  at x',
        error_type: 'TypeError',
      },
      kwargs: { result: 'boom' },
    });
    expect(decodeResult(incoming(encoded))).toEqual({ ok: true, value: result });
    const ok = { id: 'r2', rpcMessageId: 'c1', result: null, error: false };
    expect(decodeResult(incoming(encodeResult(call, ok)))).toEqual({ ok: true, value: ok });
  });

  it('round-trips events as persistent messages with the publish time', () => {
    const event = {
      id: 'e1',
      apiName: 'support.case',
      eventName: 'caseCreated',
      version: 2,
      kwargs: { id: 1, tags: ['a'] },
    };
    const encoded = encodeEvent(event, true, 1_700_000_000_123);
    expect(encoded.properties).toMatchObject({
      messageId: 'e1',
      persistent: true,
      type: 'lightbus.event',
      timestamp: 1_700_000_000,
      headers: { 'lightbus-time': 1_700_000_000_123 },
    });
    expect(decodeEvent(incoming(encoded), '42')).toEqual({
      ok: true,
      value: { ...event, nativeId: '42', time: new Date(1_700_000_000_123) },
    });
  });

  it('decodes foreign bodies safely and exactly: __proto__ an own property, NaN, integers beyond 2^53', () => {
    const body =
      '{"metadata":{"id":"x","api_name":"a","event_name":"e","version":1},"kwargs":{"__proto__":{"polluted":true},"n":NaN,"big":9223372036854775809}}';
    const decoded = decodeEvent({ content: Buffer.from(body), properties: {} });
    if (!decoded.ok) throw new Error(decoded.reason);
    const kwargs = decoded.value.kwargs as Record<string, unknown>;
    expect(Object.getPrototypeOf(kwargs)).toBe(Object.prototype);
    expect(Object.keys(kwargs)).toEqual(['__proto__', 'n', 'big']);
    expect(kwargs).toMatchObject({ n: NaN, big: 9223372036854775809n });
    expect(encodeEvent({ ...decoded.value, kwargs: { big: 2n ** 63n } }, true, 0).content.toString()).toContain(
      '"big":9223372036854775808',
    );
  });

  it('says why a message cannot be decoded, never throws', () => {
    const bad = (body: string) => decodeEvent({ content: Buffer.from(body), properties: {} });
    expect(bad('{not json')).toMatchObject({ ok: false, reason: expect.stringMatching(/^body is not JSON/) });
    expect(bad('[1]')).toEqual({ ok: false, reason: 'body is not a JSON object' });
    expect(bad('{}')).toEqual({ ok: false, reason: "body has no 'metadata' object" });
    expect(bad('{"metadata":{"id":"x"},"kwargs":{}}')).toEqual({
      ok: false,
      reason: 'metadata lacks id, api_name or event_name',
    });
    expect(bad('{"metadata":{"id":"x","api_name":"a","event_name":"e","version":"v"},"kwargs":{}}')).toEqual({
      ok: false,
      reason: "metadata 'version' is not an integer",
    });
    expect(bad('{"metadata":{"id":"x","api_name":"a","event_name":"e"},"kwargs":[]}')).toEqual({
      ok: false,
      reason: "'kwargs' is not a JSON object",
    });
    expect(decodeCall({ content: Buffer.from('{"metadata":{}}'), properties: {} }).ok).toBe(false);
    expect(
      decodeResult({
        content: Buffer.from('{"metadata":{"id":"r","rpc_message_id":"c","error":false},"kwargs":{}}'),
        properties: {},
      }),
    ).toEqual({ ok: false, reason: "'kwargs' has no 'result'" });
  });

  it('refuses values JSON cannot carry before sending', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => encodeEvent({ id: 'e', apiName: 'a', eventName: 'b', version: 1, kwargs: cyclic }, true)).toThrow(
      EncodingError,
    );
  });

  it('round-trips schema announcements', () => {
    const schema = { rpcs: {}, events: { e: { parameters: { type: 'object' } } } };
    expect(decodeSchema(incoming(encodeSchema('a.b', schema, 123)))).toEqual({
      ok: true,
      value: { apiName: 'a.b', schema, expiresAt: 123 },
    });
  });

  it('marks AMQP return paths', () => {
    expect(returnPathFor('q1')).toBe('amqp:q1');
    expect(replyAddressOf('amqp:q1')).toBe('q1');
    expect(replyAddressOf('redis+key://q1')).toBeUndefined();
  });
});

describe('trace context in headers', () => {
  const traceContext = {
    traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
    tracestate: 'vendor=1',
  };

  it('travels as traceparent/tracestate headers on calls, results and events, and is read back', () => {
    const encodedCall = encodeCall({ ...call, traceContext }, 10_000);
    expect(encodedCall.properties.headers).toMatchObject(traceContext);
    const decodedCall = decodeCall(incoming(encodedCall));
    expect(decodedCall.ok && decodedCall.value.traceContext).toEqual(traceContext);
    const result = decodeResult(
      incoming(encodeResult(call, { id: 'r1', rpcMessageId: 'c1', result: 1, error: false, traceContext })),
    );
    expect(result.ok && result.value.traceContext).toEqual(traceContext);
    const event = decodeEvent(
      incoming(encodeEvent({ id: 'e1', apiName: 'a', eventName: 'b', version: 1, kwargs: {}, traceContext }, true)),
    );
    expect(event.ok && event.value.traceContext).toEqual(traceContext);
  });

  it('reads headers that arrive as bytes, and ignores a malformed traceparent', () => {
    const encoded = encodeEvent({ id: 'e1', apiName: 'a', eventName: 'b', version: 1, kwargs: {} }, true);
    expect(encoded.properties.headers).not.toHaveProperty('traceparent');
    const bytes = {
      ...encoded.properties,
      headers: { ...encoded.properties.headers, traceparent: Buffer.from(traceContext.traceparent) },
    };
    const decoded = decodeEvent(incoming({ content: encoded.content, properties: bytes }));
    expect(decoded.ok && decoded.value.traceContext).toEqual({ traceparent: traceContext.traceparent });
    const bad = { ...encoded.properties, headers: { traceparent: 'x' } };
    const ignored = decodeEvent(incoming({ content: encoded.content, properties: bad }));
    expect(ignored.ok && ignored.value.traceContext).toBeUndefined();
  });
});
