import { describe, expect, it } from 'vitest';
import { formatDuration, MAX_SHORT_LIFETIME_SECONDS, parseDuration } from '../../src/common/duration.ts';
import { isCodedError } from '../../src/common/errors.ts';

describe('parseDuration', () => {
  it.each([
    ['90s', 90],
    ['10m', 600],
    ['12h', 43_200],
    ['30d', 2_592_000],
    ['45', 45],
    [' 5M ', 300],
  ])('%s is %i seconds', (text, seconds) => {
    expect(parseDuration(text, 'X')).toBe(seconds);
  });

  it.each(['', '0s', '-5m', '10w', '1.5h', 'ten minutes', '99999999999d'])('rejects %j naming the setting', (text) => {
    let thrown: unknown;
    try {
      parseDuration(text, 'DSTACK_REGISTRY_AUTH_CREDENTIAL_TTL');
    } catch (error) {
      thrown = error;
    }
    expect(isCodedError(thrown, 'config_invalid')).toBe(true);
    expect((thrown as Error).message).toContain('DSTACK_REGISTRY_AUTH_CREDENTIAL_TTL');
  });

  it('holds a lifetime to its upper bound, naming the setting and the bound', () => {
    expect(parseDuration('1d', 'X_TTL', MAX_SHORT_LIFETIME_SECONDS)).toBe(86_400);
    expect(() => parseDuration('86401', 'X_TTL', MAX_SHORT_LIFETIME_SECONDS)).toThrow(
      /^X_TTL: 86401s is longer than the 1d this lifetime allows/,
    );
  });

  it('formats back to the shortest exact unit', () => {
    expect([formatDuration(90), formatDuration(600), formatDuration(86_400 * 30), formatDuration(3601)]).toEqual([
      '90s',
      '10m',
      '30d',
      '3601s',
    ]);
  });
});
