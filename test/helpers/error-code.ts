import { isCodedError } from '../../src/common/errors.ts';

// The code a call throws: its CodedError code, 'other' for any other throw, undefined when it
// does not throw. For tests that check a refusal by its code, not its words.
export function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return isCodedError(error) ? error.code : 'other';
  }
  return undefined;
}
