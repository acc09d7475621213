import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export type Gc = (options?: { type?: 'minor' | 'major'; execution?: 'sync' | 'async' }) => void;

// Node has no public call for a garbage collection: expose V8's `gc` to one fresh context,
// take it, and turn the flag back off so no other context sees it. undefined where the
// runtime refuses (the caller then simply does without).
export function takeGc(): Gc | undefined {
  try {
    setFlagsFromString('--expose-gc');
    return runInNewContext('gc') as Gc;
  } catch {
    return undefined;
  } finally {
    setFlagsFromString('--no-expose-gc');
  }
}
