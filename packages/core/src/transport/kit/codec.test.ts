import { describe, expect, it } from '@jest/globals';
import { EncodingError } from '../../errors';
import { decoded, encodeForWire, undecodable } from './codec';

describe('the codec result type', () => {
  it('says ok with the value, or why not with the id it could read', () => {
    expect(decoded(1)).toEqual({ ok: true, value: 1 });
    expect(undecodable('body is not JSON', 'c1')).toEqual({ ok: false, reason: 'body is not JSON', id: 'c1' });
    expect(undecodable('no id')).toEqual({ ok: false, reason: 'no id' });
  });
});

describe('encodeForWire', () => {
  it('writes JSON, bigints exact', () => {
    expect(encodeForWire({ n: 12345678901234567890n }, 'x')).toBe('{"n":12345678901234567890}');
  });

  it('refuses what JSON cannot carry, naming it, before anything is sent', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => encodeForWire(cyclic, 'the parameters of a.b()')).toThrow(EncodingError);
    expect(() => encodeForWire(cyclic, 'the parameters of a.b()')).toThrow(
      /^The parameters of a\.b\(\) cannot be sent as JSON/,
    );
    expect(() => encodeForWire(() => 1, 'a result')).toThrow(/A result cannot be sent as JSON \(got function\)/);
  });
});
