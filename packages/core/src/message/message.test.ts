import { EncodingError } from '../errors';
import { castBySchema, toWire } from '../schema/codec';
import { MAX_JSON_DEPTH, decodeJson, encodeJson, errorResultOf, errorTypeFromTrace } from '.';

describe('decodeJson reads what Python json.dumps writes', () => {
  it('reads NaN, Infinity and -Infinity as those numbers', () => {
    expect(decodeJson('{"inf": Infinity, "nan": NaN, "ninf": -Infinity}')).toEqual({
      inf: Infinity,
      nan: NaN,
      ninf: -Infinity,
    });
    expect(decodeJson('[NaN]')).toEqual([NaN]);
  });

  it('reads integers beyond 2^53 exactly, as bigint, and keeps smaller numbers numbers', () => {
    expect(
      decodeJson(
        '{"big": 9223372036854775809, "small": 9007199254740991, "neg": -9223372036854775809, "f": 12345678901234567890.5}',
      ),
    ).toEqual({
      big: 9223372036854775809n,
      small: 9007199254740991,
      neg: -9223372036854775809n,
      // eslint-disable-next-line no-loss-of-precision -- the point: a float that cannot be exact
      f: 12345678901234567890.5,
    });
  });

  it('keeps strings with escapes and long digit runs intact', () => {
    expect(decodeJson('{"s": "a\\"b\\u00e9 1234567890123456789", "n": null, "t": true}')).toEqual({
      s: 'a"bé 1234567890123456789',
      n: null,
      t: true,
    });
  });

  it('makes __proto__ an own property, never the prototype', () => {
    const value = decodeJson('{"__proto__": {"polluted": true}, "big": 12345678901234567890}') as Record<
      string,
      unknown
    >;
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect(Object.keys(value)).toEqual(['__proto__', 'big']);
    expect((value as { polluted?: unknown }).polluted).toBeUndefined();
  });

  it('refuses text that is not JSON, saying where', () => {
    expect(() => decodeJson('{"a": nope}')).toThrow(SyntaxError);
    expect(() => decodeJson('[1, 2')).toThrow(/position/);
    expect(() => decodeJson('12345678901234567890 x')).toThrow(/after the JSON value/);
  });

  it('refuses nesting deeper than Python can write, instead of overflowing the stack', () => {
    const deep = '['.repeat(5000) + 'NaN' + ']'.repeat(5000);
    expect(() => decodeJson(deep)).toThrow(new RegExp(`nested more than ${MAX_JSON_DEPTH} levels`));
  });
});

describe('encodeJson', () => {
  it('writes bigint as an exact integer, and is JSON.stringify otherwise', () => {
    expect(encodeJson({ big: 2n ** 63n + 1n, list: [-5n, 'x'] })).toBe('{"big":9223372036854775809,"list":[-5,"x"]}');
    expect(encodeJson({ a: 1 })).toBe('{"a":1}');
    expect(decodeJson(encodeJson({ big: 2n ** 70n }))).toEqual({ big: 2n ** 70n });
  });
});

describe('errorTypeFromTrace takes the type from the final exception line, whatever its name', () => {
  const frames = [
    'Traceback (most recent call last):',
    '  File "/srv/bus.py", line 28, in declined',
    '    raise PaymentDeclined("card declined")',
  ];
  it.each([
    ['a custom class', [...frames, 'bus.PaymentDeclined: card declined', ''], 'bus.PaymentDeclined'],
    ['an exception with no message', [...frames, 'bus.NotFound', ''], 'bus.NotFound'],
    ['a multi-line message', [...frames, 'ValueError: line one', 'line two', ''], 'ValueError'],
    [
      'a chained exception (the last one raised)',
      [
        'Traceback (most recent call last):',
        '  File "/srv/bus.py", line 35, in chained',
        "KeyError: 'inner'",
        '',
        'The above exception was the direct cause of the following exception:',
        '',
        ...frames,
        'RuntimeError: outer failed',
        '',
      ],
      'RuntimeError',
    ],
    ['a JavaScript stack', ['TypeError: boom', '    at f (/srv/a.js:1:1)'], 'TypeError'],
    ['a JavaScript class name', ['PaymentDeclined: no', '    at f (/srv/a.js:1:1)'], 'PaymentDeclined'],
  ])('%s', (_what, lines, type) => {
    expect(errorTypeFromTrace(lines.join('\n'))).toBe(type);
  });

  it('is undefined for no trace or text that names no type', () => {
    expect(errorTypeFromTrace(undefined)).toBeUndefined();
    expect(errorTypeFromTrace('{"code": 42}')).toBeUndefined();
  });
});

describe('errorResultOf', () => {
  it('names a class that does not set name by its constructor, in the type and the stack', () => {
    class PaymentDeclined extends Error {}
    const result = errorResultOf({ id: 'c1' }, new PaymentDeclined('card declined'));
    expect(result).toMatchObject({
      rpcMessageId: 'c1',
      error: true,
      result: 'card declined',
      errorType: 'PaymentDeclined',
    });
    expect(result.trace).toMatch(/^PaymentDeclined: card declined\n\s+at /);
  });

  it('keeps the cause in the trace', () => {
    const result = errorResultOf({ id: 'c1' }, new Error('outer', { cause: new TypeError('inner') }));
    expect(result.trace).toMatch(/^Error: outer\n[\s\S]*\nCaused by: TypeError: inner\n/);
  });

  it('sends a thrown non-Error as its JSON', () => {
    const result = errorResultOf({ id: 'c1' }, { code: 42 });
    expect(result).toMatchObject({ result: '{"code":42}', error: true });
    expect(result.errorType).toBeUndefined();
    expect(errorResultOf({ id: 'c1' }, 'plain text')).toMatchObject({ result: 'plain text' });
  });
});

describe('values on the wire at the edges', () => {
  const schema = {
    type: 'object',
    properties: {
      when: { type: 'string', format: 'date-time' },
      n: { type: 'integer' },
      maybe: { anyOf: [{ type: 'integer' }, { type: 'null' }] },
      text: { type: 'string' },
    },
  };

  it('reads a date-time without an offset (Python datetime.now()) as UTC', () => {
    const cast = castBySchema(schema, { when: '2026-12-07T21:10:00.123456' }) as { when: Date };
    expect(cast.when).toEqual(new Date('2026-12-07T21:10:00.123Z'));
    expect((castBySchema(schema, { when: '2026-12-07T21:10:00+01:00' }) as { when: Date }).when).toEqual(
      new Date('2026-12-07T20:10:00Z'),
    );
  });

  it('sends a bigint as an exact integer where the schema says integer, as text elsewhere', () => {
    expect(toWire({ n: 2n ** 63n + 1n, maybe: 5n, text: 7n }, 'x', schema)).toEqual({
      n: 2n ** 63n + 1n,
      maybe: 5n,
      text: '7',
    });
    expect(toWire({ n: 1n }, 'x')).toEqual({ n: '1' });
  });

  it('refuses a number beyond 2^53 where the schema says integer: it was rounded already', () => {
    expect(() => toWire({ n: 2 ** 63 }, 'the parameters of a.b()', schema)).toThrow(
      /'n' is 9223372036854776000, an integer beyond 2\^53.*bigint/,
    );
  });

  it('refuses nesting deeper than Python reads with an EncodingError naming the path, not a RangeError', () => {
    const root: Record<string, unknown> = {};
    let node = root;
    for (let i = 0; i < 5000; i++) {
      const next: Record<string, unknown> = {};
      node.a = next;
      node = next;
    }
    expect(() => toWire({ deep: root }, 'the parameters of a.b()')).toThrow(EncodingError);
    expect(() => toWire({ deep: root }, 'the parameters of a.b()')).toThrow(
      /'deep\.a\.a\.a\.a\.\.\..*\(900 levels\)' is nested more than 900 levels deep/,
    );
  });

  it('casts into own properties: __proto__ never becomes a prototype', () => {
    const value = decodeJson('{"__proto__": {"x": 1}, "when": "2026-12-07T21:10:00"}');
    const cast = castBySchema(
      { type: 'object', additionalProperties: {}, properties: { when: { type: 'string', format: 'date-time' } } },
      value,
    ) as Record<string, unknown>;
    expect(Object.getPrototypeOf(cast)).toBe(Object.prototype);
    expect(Object.keys(cast)).toEqual(['__proto__', 'when']);
  });
});
