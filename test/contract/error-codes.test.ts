import { describe, expect, it } from 'vitest';
import { CodedError } from '../../src/common/errors.ts';
import { isHostNotConfigured, isRefused, isServiceUnreachable } from '../../src/contract/error-codes.ts';

const coded = (code: string) => new CodedError(code, 'a message that no decision reads: unreachable refused forbidden');

describe('down or refused: decided by code', () => {
  it('the service could not answer: not reached, slow, untrusted, off-contract, 429/500/503', () => {
    for (const code of ['unreachable', 'timeout', 'tls', 'bad_response', 'rate_limited', 'unavailable', 'internal']) {
      expect([isServiceUnreachable(coded(code)), isRefused(coded(code))], code).toEqual([true, false]);
    }
  });

  it('the service refused this host: its token (every token_* code), its project, its request', () => {
    for (const code of [
      'token_missing',
      'token_invalid',
      'token_expired',
      'token_revoked',
      'token_malformed',
      'forbidden',
      'bad_request',
      'payload_too_large',
    ]) {
      expect([isRefused(coded(code)), isServiceUnreachable(coded(code))], code).toEqual([true, false]);
    }
  });

  it('neither, for anything else, and never from a message', () => {
    for (const code of ['not_found', 'usage', 'upstream_unreachable', 'credential_refused']) {
      expect(
        [isRefused(coded(code)), isServiceUnreachable(coded(code)), isHostNotConfigured(coded(code))],
        code,
      ).toEqual([false, false, false]);
    }
    const plain = Object.assign(new Error('unreachable'), { code: 'unreachable' });
    expect([isServiceUnreachable(plain), isRefused('forbidden'), isServiceUnreachable(undefined)]).toEqual([
      false,
      false,
      false,
    ]);
    for (const code of ['not_configured', 'config_invalid', 'config_unreadable'])
      expect(isHostNotConfigured(coded(code))).toBe(true);
  });
});
