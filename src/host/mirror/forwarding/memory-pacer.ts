import { takeGc } from '../../../common/v8-gc.ts';

// Blob bodies arrive as 64 KiB buffers that become garbage once written to the engine, but V8
// collects them only when its heap asks for it: with 8 streams the endpoint's anonymous memory
// grew by 100+ MiB of dead buffers (the plain Node proxy does the same). A young-generation
// collection after every `everyBytes` piped frees them as they die, at the cost of a scavenge
// of a small heap (well under a millisecond) per that many bytes.
export function createMemoryPacer(everyBytes: number): (bytes: number) => void {
  const gc = takeGc();
  if (!gc || everyBytes <= 0) return () => {};
  let since = 0;
  const collect = gc;
  return (bytes) => {
    since += bytes;
    if (since < everyBytes) return;
    since = 0;
    collect({ type: 'minor' });
  };
}
