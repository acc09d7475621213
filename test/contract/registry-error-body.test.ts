import { describe, expect, it } from 'vitest';
import { registryErrorBody, registryErrorMessage } from '../../src/contract/registry-error-body.ts';

describe('the registry error body', () => {
  it('is {"errors":[{"code","message","detail"}]}, as the distribution API writes it', () => {
    expect(JSON.stringify(registryErrorBody('DENIED', 'not for you'))).toBe(
      '{"errors":[{"code":"DENIED","message":"not for you","detail":null}]}',
    );
  });

  it('reads back the first message as one bounded line, and nothing from what is not one', () => {
    expect(registryErrorMessage(JSON.stringify(registryErrorBody('UNAVAILABLE', 'down\nfor now')))).toBe(
      'down for now',
    );
    expect(registryErrorMessage(JSON.stringify(registryErrorBody('UNAVAILABLE', 'x'.repeat(300))))).toHaveLength(200);
    for (const body of ['', 'not json', '{"errors":[]}', '{"errors":[{"message":3}]}', '{"error":"not_found"}'])
      expect(registryErrorMessage(body)).toBeUndefined();
  });
});
