import { describe, expect, it } from 'vitest';
import { ConnectionSlots } from './slots.ts';

describe('ConnectionSlots', () => {
  it('caps each session and the node, and frees slots once', () => {
    const slots = new ConnectionSlots(2, 3);
    const a1 = slots.take('a');
    const a2 = slots.take('a');
    expect(slots.take('a')).toBe('session');
    const b1 = slots.take('b');
    expect(slots.take('b')).toBe('node');
    expect([slots.count('a'), slots.count('b'), slots.count()]).toEqual([2, 1, 3]);
    if (typeof a1 !== 'function' || typeof a2 !== 'function' || typeof b1 !== 'function') throw new Error('no slot');
    a1();
    a1();
    expect([slots.count('a'), slots.count()]).toEqual([1, 2]);
    expect(typeof slots.take('b')).toBe('function');
    a2();
    expect(slots.count('a')).toBe(0);
  });
});
