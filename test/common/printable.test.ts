import { describe, expect, it } from 'vitest';
import { printable, PRINTABLE_MAX_LENGTH } from '../../src/common/printable.ts';

describe('printable', () => {
  it.each([
    ['plain text', 'plain text'],
    ['\x1b[31mred\x1b[0m text', 'red text'],
    ['title \x1b]0;pwned\x07 done', 'title done'],
    ['line one\nline two\r\n\tthree', 'line one line two three'],
    ['nul\x00bell\x07del\x7fc1\x9b', 'nul?bell?del?c1'],
    ['bidi \u202Eevil\u202C', 'bidi ?evil?'],
    ['ünïcödé ✓ stays', 'ünïcödé ✓ stays'],
  ])('%j → %j', (input, expected) => {
    expect(printable(input)).toBe(expected);
  });

  it('bounds the length, marking the cut, without splitting a surrogate pair', () => {
    const long = printable('x'.repeat(5000));
    expect(long.length).toBe(PRINTABLE_MAX_LENGTH);
    expect(long.endsWith('…')).toBe(true);
    const emoji = printable('😀'.repeat(30), 11);
    expect(Array.from(emoji)).toHaveLength(11);
    expect(emoji).toBe(`${'😀'.repeat(10)}…`);
  });

  it('leaves nothing a terminal would interpret in binary garbage', () => {
    const garbage = Buffer.from(Array.from({ length: 256 }, (_, i) => i)).toString('latin1');
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the test looks for control characters
    expect(printable(garbage, 1000)).not.toMatch(/[\x00-\x1f\x7f-\x9f]/);
  });
});
