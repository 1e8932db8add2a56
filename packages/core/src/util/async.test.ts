/** isPlainObject: what counts as named parameters. */
import { runInNewContext } from 'node:vm';
import { isPlainObject } from './async';

describe('isPlainObject', () => {
  it('accepts object literals, of this realm or another (node:vm, a REPL), and refuses the rest', () => {
    expect(isPlainObject({ a: 1 })).toBe(true);
    expect(isPlainObject(Object.create(null))).toBe(true);
    expect(isPlainObject(runInNewContext('({ id: 7 })'))).toBe(true);
    expect(isPlainObject(runInNewContext('[1]'))).toBe(false);
    expect(isPlainObject(runInNewContext('new (class Point { constructor() { this.x = 1 } })()'))).toBe(false);
    expect(isPlainObject(new (class Point {})())).toBe(false);
    expect(isPlainObject(new Date())).toBe(false);
    expect(isPlainObject([])).toBe(false);
    expect(isPlainObject(null)).toBe(false);
  });
});
