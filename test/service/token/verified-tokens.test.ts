import { describe, expect, it } from 'vitest';
import { createVerifiedTokens } from '../../../src/service/token/verified-tokens.ts';

describe('verified tokens', () => {
  it('stays bounded, oldest first, and storing a known token again evicts nothing', () => {
    const verified = createVerifiedTokens<number>(2);
    verified.set('a', 1);
    verified.set('b', 2);
    verified.set('b', 3);
    expect([verified.get('a'), verified.get('b')]).toEqual([1, 3]);
    verified.set('c', 4);
    expect([verified.get('a'), verified.get('b'), verified.get('c')]).toEqual([undefined, 3, 4]);
    verified.delete('b');
    expect(verified.get('b')).toBeUndefined();
  });
});
