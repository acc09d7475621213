import { takeGc } from '../../common/v8-gc.ts';

// Loading keys, certificates and the bundle leaves the old generation full of start-up
// garbage; left alone, V8 collects it with a mark-compact a few seconds into the first
// traffic, stalling every request in flight for that pause plus the backlog behind it
// (the p99 at half peak of `npm run bench:server`). One full collection before listening
// moves that pause to start-up, where no request waits for it.
export function compactHeap(): void {
  takeGc()?.();
}
