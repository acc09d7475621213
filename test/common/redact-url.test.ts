import { describe, expect, it } from 'vitest';
import { redactUrl, redactUrlsIn } from '../../src/common/redact-url.ts';

describe('redactUrl: one URL value', () => {
  it.each([
    ['https://alice:S3cret@host.example/v2', 'https://***@host.example/v2'],
    ['https://token@host.example', 'https://***@host.example'],
    ['https://alice:S3/cr@t@host.example', 'https://***@host.example'],
    ['alice:S3cret@host.example/v2', '***@host.example/v2'],
    ['postgres://app:pa ss@db:5432/x?sslmode=disable', 'postgres://***@db:5432/x?sslmode=disable'],
    ['postgres://db/x?password=S3cret&application_name=a', 'postgres://db/x?password=***&application_name=a'],
    ['https://host.example/v2?access_token=S3cret', 'https://host.example/v2?access_token=***'],
    ['https://host.example:8443/base', 'https://host.example:8443/base'],
    ['unix:/run/dstack.sock', 'unix:/run/dstack.sock'],
  ])('%j → %j', (input, expected) => {
    expect(redactUrl(input)).toBe(expected);
  });
});

describe('redactUrlsIn: free text', () => {
  it('hides the user info of every URL in a line and leaves the rest', () => {
    expect(
      redactUrlsIn(
        'cannot reach https://alice:S3cret@a.example (ECONNREFUSED); mirror "http://bob:pw@m.example/x" too',
      ),
    ).toBe('cannot reach https://***@a.example (ECONNREFUSED); mirror "http://***@m.example/x" too');
  });

  it('leaves text without URLs alone, e-mail addresses included', () => {
    expect(redactUrlsIn('ask ops@example.com about it')).toBe('ask ops@example.com about it');
  });
});
