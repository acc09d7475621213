import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isKnownErrorCode, KNOWN_ERROR_CODES } from '../../src/common/error-code.ts';
import { CodedError, isCodedError } from '../../src/common/errors.ts';
import { ERROR_STATUS } from '../../src/contract/error-codes.ts';
import { SRC, sourceFiles } from '../helpers/source-files.ts';

// Literal codes as src writes them: `new CodedError('x'`, a subclass's `super('x'`, a named
// subclass such as `new TicketRejected('x'`, and `isCodedError(e, 'x')`.
const CODE_SITES = [
  /new CodedError\(\s*'([a-z_]+)'/g,
  /new TicketRejected\(\s*'([a-z_]+)'/g,
  /\bsuper\(\s*'([a-z_]+)'/g,
  /isCodedError\([^,()]+,\s*'([a-z_]+)'\)/g,
];

describe('error codes', () => {
  it('lists every code that src gives a CodedError (add a new one to src/common/error-code.ts)', () => {
    const unknown: string[] = [];
    let seen = 0;
    for (const file of sourceFiles(SRC)) {
      const text = readFileSync(file, 'utf8');
      for (const site of CODE_SITES) {
        for (const match of text.matchAll(site)) {
          seen++;
          if (!isKnownErrorCode(match[1])) unknown.push(`${relative(SRC, file)}: ${match[1]}`);
        }
      }
    }
    expect(seen).toBeGreaterThan(100);
    expect(unknown).toEqual([]);
  });

  it("holds each code once, the contract's among them", () => {
    expect(new Set(KNOWN_ERROR_CODES).size).toBe(KNOWN_ERROR_CODES.length);
    for (const code of Object.keys(ERROR_STATUS)) expect(isKnownErrorCode(code), code).toBe(true);
    expect(isKnownErrorCode('no_such_code')).toBe(false);
  });

  it('stays open: a code not yet listed still makes a CodedError', () => {
    const error = new CodedError('added_on_another_branch', 'x');
    expect(isCodedError(error, 'added_on_another_branch')).toBe(true);
    expect(isCodedError(error, 'usage')).toBe(false);
  });
});
