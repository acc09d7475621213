import { describe, expect, it } from 'vitest';
import { errorFromResponse } from '../../../src/host/client/service-errors.ts';
import { backoffMs, parseRetryAfter } from '../../../src/host/client/retry-policy.ts';

describe('errorFromResponse', () => {
  const context = {
    server: 'https://d.example',
    tokenFile: '/etc/docker-credential-dstack/token',
    registryKey: 'r.example',
  };
  it('names the cause, the server and what to do', () => {
    expect(errorFromResponse(401, '{"error":"token_revoked","message":"instance i-1 revoked"}', context).message).toBe(
      'instance token revoked by https://d.example: ask the dstack server for a new instance token and write it to /etc/docker-credential-dstack/token',
    );
    expect(errorFromResponse(401, '{"error":"token_expired"}', context).code).toBe('token_expired');
    expect(errorFromResponse(403, '{"error":"forbidden","message":"no"}', context).message).toBe(
      "registry r.example is not allowed for this instance's project by https://d.example: no",
    );
    expect(errorFromResponse(404, '{"error":"not_found"}', context).code).toBe('not_found');
    expect(errorFromResponse(404, '<html>', context).code).toBe('bad_response');
    expect(errorFromResponse(502, 'Bad Gateway', { ...context, attempts: 3 }).message).toBe(
      'dstack server https://d.example failed with HTTP 502 (internal error after 3 attempts)',
    );
  });

  it('keeps the server message to one short line and ignores unknown codes', () => {
    const error = errorFromResponse(
      400,
      JSON.stringify({ error: 'weird', message: `a\nb${'x'.repeat(500)}` }),
      context,
    );
    expect(error.code).toBe('bad_request');
    expect(error.message).not.toContain('\n');
    expect(error.message.length).toBeLessThan(320);
  });
});

describe('retry policy', () => {
  it('backs off exponentially with full jitter, capped', () => {
    expect(backoffMs(1, () => 0)).toBe(0);
    expect(backoffMs(3, () => 0.5)).toBe(200);
    expect(backoffMs(1, () => 1)).toBe(100);
    expect(backoffMs(3, () => 1)).toBe(400);
    expect(backoffMs(10, () => 1)).toBe(2000);
  });
  it('reads Retry-After in seconds or as a date', () => {
    expect(parseRetryAfter('3', 0)).toBe(3000);
    expect(parseRetryAfter('Thu, 01 Jan 1970 00:00:10 GMT', 4000)).toBe(6000);
    expect(parseRetryAfter('soon', 0)).toBeUndefined();
    expect(parseRetryAfter(undefined, 0)).toBeUndefined();
  });
});
