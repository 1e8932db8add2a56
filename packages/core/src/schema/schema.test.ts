import { Api, EncodingError, Event, Type, ValidationError, Wire, procedure } from '..';
import { describeApi } from '../api/api';
import { apiSchema, assertValid, castBySchema, toWire, validatorFor } from '.';

class OrdersApi extends Api {
  static override meta = { name: 'shop.orders' };

  placed = new Event({ parameters: ['id', 'customer'] });
  shipped = new Event({
    parameters: Type.Object({
      id: Type.Integer({ minimum: 1 }),
      at: Wire.Date(),
      carrier: Type.Union([Type.Literal('ups'), Type.Literal('dhl')]),
      note: Type.Optional(Type.Union([Type.String(), Type.Null()])),
      priority: Type.Optional(Type.Integer({ default: 3 })),
    }),
  });

  get = procedure(
    {
      parameters: Type.Object({ id: Type.Integer(), expand: Type.Optional(Type.Array(Type.String())) }),
      response: Type.Object({
        id: Type.Integer(),
        total: Wire.BigInt(),
        lines: Type.Array(Type.Object({ sku: Type.String() })),
      }),
    },
    async ({ id }) => ({ id, total: 10n, lines: [] }),
  );

  legacy({ id }: { id: number }) {
    return id;
  }
}

describe('schema generation', () => {
  const schema = apiSchema(describeApi(new OrdersApi()));

  it('writes an untyped event as Python Lightbus does: names, all required, closed', () => {
    expect(schema.events.placed!.parameters).toEqual({
      $schema: 'http://json-schema.org/draft-07/schema#',
      type: 'object',
      additionalProperties: false,
      properties: { id: {}, customer: {} },
      required: ['id', 'customer'],
      title: 'Event shop.orders.placed parameters',
    });
  });

  it('writes a typed event with types, optional members, defaults and wire types', () => {
    expect(schema.events.shipped!.parameters).toEqual({
      $schema: 'http://json-schema.org/draft-07/schema#',
      type: 'object',
      title: 'Event shop.orders.shipped parameters',
      additionalProperties: false,
      properties: {
        id: { type: 'integer', minimum: 1 },
        at: { type: 'string', format: 'date-time' },
        carrier: {
          anyOf: [
            { const: 'ups', type: 'string' },
            { const: 'dhl', type: 'string' },
          ],
        },
        note: { anyOf: [{ type: 'string' }, { type: 'null' }] },
        priority: { type: 'integer', default: 3 },
      },
      required: ['id', 'at', 'carrier'],
    });
  });

  it('writes a typed procedure with its parameters and response', () => {
    expect(schema.rpcs.get).toEqual({
      parameters: {
        $schema: 'http://json-schema.org/draft-07/schema#',
        title: 'RPC shop.orders.get() parameters',
        type: 'object',
        additionalProperties: false,
        properties: { id: { type: 'integer' }, expand: { type: 'array', items: { type: 'string' } } },
        required: ['id'],
      },
      response: {
        $schema: 'http://json-schema.org/draft-07/schema#',
        title: 'RPC shop.orders.get() response',
        type: 'object',
        properties: {
          id: { type: 'integer' },
          total: { type: 'string', pattern: '^-?[0-9]+$', 'x-lightbus': 'bigint' },
          lines: {
            type: 'array',
            items: { type: 'object', properties: { sku: { type: 'string' } }, required: ['sku'] },
          },
        },
        required: ['id', 'total', 'lines'],
      },
    });
  });

  it('writes a plain method as what is known: an object of parameters, any response', () => {
    expect(schema.rpcs.legacy).toEqual({
      parameters: {
        $schema: 'http://json-schema.org/draft-07/schema#',
        type: 'object',
        additionalProperties: true,
        title: 'RPC shop.orders.legacy() parameters',
      },
      response: { $schema: 'http://json-schema.org/draft-07/schema#', title: 'RPC shop.orders.legacy() response' },
    });
  });

  it('writes every wire type', () => {
    const wire = JSON.parse(
      JSON.stringify(
        Type.Object({
          d: Wire.Date(),
          b: Wire.Bytes(),
          n: Wire.BigInt(),
          s: Wire.Set(Type.Integer()),
          m: Wire.Map(Type.Boolean()),
        }),
      ),
    ) as { properties: Record<string, unknown> };
    expect(wire.properties).toEqual({
      d: { type: 'string', format: 'date-time' },
      b: { type: 'string', contentEncoding: 'base64' },
      n: { type: 'string', pattern: '^-?[0-9]+$', 'x-lightbus': 'bigint' },
      s: { type: 'array', uniqueItems: true, items: { type: 'integer' }, 'x-lightbus': 'set' },
      m: { type: 'object', additionalProperties: { type: 'boolean' }, 'x-lightbus': 'map' },
    });
  });

  it('serves a typed procedure and calls it with this bound', async () => {
    class Counter extends Api {
      static override meta = { name: 'counter' };
      #n = 1;
      next = procedure(
        { parameters: Type.Object({ by: Type.Integer() }), response: Type.Integer() },
        ({ by }) => (this.#n += by),
      );
    }
    const api = describeApi(new Counter());
    expect(await api.procedures.get('next')!.invoke({ by: 2 })).toBe(3);
  });
});

describe('toWire', () => {
  it('leaves plain JSON untouched (same object)', () => {
    const value = { a: 1, b: ['x', { c: null, d: true }] };
    expect(toWire(value, 'x')).toBe(value);
  });

  it('converts what JSON cannot carry, leaving the input alone', () => {
    const when = new Date('2026-11-23T10:00:00.000Z');
    const input = {
      when,
      bytes: Buffer.from('hi'),
      big: 12345678901234567890n,
      set: new Set([1, 2]),
      map: new Map([['a', when]]),
      nested: [{ when }],
      custom: { toJSON: () => 'custom' },
      gone: undefined,
    };
    expect(toWire(input, 'x')).toEqual({
      when: '2026-11-23T10:00:00.000Z',
      bytes: 'aGk=',
      big: '12345678901234567890',
      set: [1, 2],
      map: { a: '2026-11-23T10:00:00.000Z' },
      nested: [{ when: '2026-11-23T10:00:00.000Z' }],
      custom: 'custom',
      gone: undefined,
    });
    expect(input.when).toBe(when);
  });

  it.each([
    [{ cb: () => 1 }, /'cb' is a function/],
    [{ list: [1, Symbol('s')] }, /'list\[1\]' is a symbol/],
    [{ n: Number.NaN }, /'n' is NaN/],
    [{ n: Infinity }, /'n' is Infinity/],
    [{ d: new Date('nope') }, /'d' is an invalid Date/],
    [{ m: new Map([[1, 'a']]) }, /'m.1' is a Map key that is not a string/],
  ])('refuses %p naming where', (value, message) => {
    expect(() => toWire(value, 'the parameters of a.b()')).toThrow(EncodingError);
    expect(() => toWire(value, 'the parameters of a.b()')).toThrow(message);
  });

  it('refuses cycles but accepts shared objects', () => {
    const shared = { x: 1 };
    expect(toWire({ a: shared, b: shared }, 'x')).toEqual({ a: { x: 1 }, b: { x: 1 } });
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    expect(() => toWire(cyclic, 'the result of a.b()')).toThrow(
      /Cannot send the result of a\.b\(\): 'self' refers back to itself/,
    );
  });
});

describe('castBySchema', () => {
  it('turns wire values back into the declared types', () => {
    const schema = JSON.parse(
      JSON.stringify(
        Type.Object({
          d: Wire.Date(),
          b: Wire.Bytes(),
          n: Wire.BigInt(),
          s: Wire.Set(Wire.Date()),
          m: Wire.Map(Wire.BigInt()),
          list: Type.Array(Type.Object({ at: Wire.Date() })),
          maybe: Type.Union([Wire.Date(), Type.Null()]),
          plain: Type.String(),
        }),
      ),
    );
    const cast = castBySchema(schema, {
      d: '2026-01-02T03:04:05.000Z',
      b: 'aGk=',
      n: '-42',
      s: ['2026-01-01T00:00:00.000Z'],
      m: { a: '7' },
      list: [{ at: '2026-01-01T00:00:00.000Z' }],
      maybe: null,
      plain: '2026-01-02T03:04:05.000Z',
    }) as Record<string, unknown>;
    expect(cast.d).toEqual(new Date('2026-01-02T03:04:05.000Z'));
    expect(cast.b).toEqual(Buffer.from('hi'));
    expect(cast.n).toBe(-42n);
    expect(cast.s).toEqual(new Set([new Date('2026-01-01T00:00:00.000Z')]));
    expect(cast.m).toEqual(new Map([['a', 7n]]));
    expect((cast.list as Array<{ at: unknown }>)[0]!.at).toEqual(new Date('2026-01-01T00:00:00.000Z'));
    expect(cast.maybe).toBeNull();
    expect(cast.plain).toBe('2026-01-02T03:04:05.000Z');
  });

  it("follows $ref and Python's date-time strings", () => {
    const schema = {
      type: 'object',
      properties: { order: { $ref: '#/definitions/Order' } },
      definitions: { Order: { type: 'object', properties: { placed: { type: 'string', format: 'date-time' } } } },
    };
    const cast = castBySchema(schema, { order: { placed: '2026-05-01T12:00:00+00:00' } }) as {
      order: { placed: Date };
    };
    expect(cast.order.placed).toEqual(new Date('2026-05-01T12:00:00Z'));
  });

  it('leaves values that do not fit alone', () => {
    expect(castBySchema({ type: 'string', format: 'date-time' }, 'not a date')).toBe('not a date');
    expect(castBySchema({ type: 'string', format: 'date-time' }, 5)).toBe(5);
  });
});

describe('validation', () => {
  const schema = apiSchema(describeApi(new OrdersApi()));

  it('names the API, procedure, parameter path and rule', () => {
    expect(() => assertValid(schema.rpcs.get!.parameters, { id: '1' }, 'parameters for shop.orders.get()')).toThrow(
      `Invalid parameters for shop.orders.get(): 'id' must be integer (got "1").`,
    );
    expect(() =>
      assertValid(schema.rpcs.get!.parameters, { id: 1, expand: ['a', 2] }, 'parameters for shop.orders.get()'),
    ).toThrow(`'expand[1]' must be string (got 2)`);
    expect(() => assertValid(schema.rpcs.get!.parameters, {}, 'parameters for shop.orders.get()')).toThrow(
      `'id' is required but missing`,
    );
    expect(() => assertValid(schema.rpcs.get!.parameters, { id: 1, sort: 'x' }, 'x')).toThrow(
      `'sort' is not a declared parameter`,
    );
  });

  it('checks formats and constraints of events', () => {
    const shipped = schema.events.shipped!.parameters;
    const valid = { id: 1, at: '2026-01-01T00:00:00Z', carrier: 'ups' };
    expect(() => assertValid(shipped, valid, 'event')).not.toThrow();
    expect(() =>
      assertValid(shipped, { ...valid, at: 'yesterday' }, 'parameters for event shop.orders.shipped'),
    ).toThrow(/Invalid parameters for event shop\.orders\.shipped: 'at' must match format "date-time"/);
    expect(() => assertValid(shipped, { ...valid, id: 0 }, 'e')).toThrow(/'id' must be >= 1 \(got 0\)/);
    expect(() => assertValid(shipped, { ...valid, carrier: 'fedex' }, 'e')).toThrow(ValidationError);
  });

  it('compiles each schema once', () => {
    const parameters = schema.rpcs.get!.parameters;
    expect(validatorFor(parameters)).toBe(validatorFor(parameters));
    expect(validatorFor(JSON.parse(JSON.stringify(parameters)))).toBe(validatorFor(parameters));
  });
});
