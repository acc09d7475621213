import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

// Loading keys, certificates and the bundle leaves the old generation full of start-up
// garbage; left alone, V8 collects it with a mark-compact a few seconds into the first
// traffic, stalling every request in flight for that pause plus the backlog behind it
// (the p99 at half peak of `npm run bench:server`). One full collection before listening
// moves that pause to start-up, where no request waits for it.
export function compactHeap(): void {
  // Node has no public call for a full collection: expose V8's `gc` to one fresh context,
  // take it, and turn the flag back off so no other context sees it.
  setFlagsFromString('--expose-gc');
  try {
    const gc = runInNewContext('gc') as () => void;
    gc();
  } finally {
    setFlagsFromString('--no-expose-gc');
  }
}
