import { describe, expect, it } from '@jest/globals';
import { deadlineIn, deadlineOf, isPast, msUntil } from './deadline';

describe('deadlines', () => {
  it('are milliseconds since the epoch, read the same way everywhere', () => {
    expect(deadlineIn(5, 1000)).toBe(6000);
    expect(msUntil(6000, 1000)).toBe(5000);
    expect(msUntil(6000, 7000)).toBe(0);
    expect(isPast(6000, 6001)).toBe(true);
    expect(isPast(6000, 6000)).toBe(false);
    expect(isPast(undefined)).toBe(false);
    expect(deadlineOf({ deadline: 42 }, 5, 1000)).toBe(42);
    expect(deadlineOf({}, 5, 1000)).toBe(6000);
  });
});
