// One file per registry key. The key is hashed so that any key (ports, brackets, the slashes
// of Docker Hub's URL) makes a safe, fixed-length file name. The hash needs no cryptographic
// strength (the entry names its own key and is checked on read; only its owner can write the
// directory), and node:crypto would cost a cache hit several milliseconds of start-up, so it
// is 128-bit FNV-1a in plain JavaScript.
const FNV_PRIME = 0x0000000001000000000000000000013bn;
const FNV_OFFSET = 0x6c62272e07bb014262b821756295c58dn;
const MASK = (1n << 128n) - 1n;

export function entryFileName(registryKey: string): string {
  let hash = FNV_OFFSET;
  for (const byte of Buffer.from(registryKey, 'utf8')) {
    hash = ((hash ^ BigInt(byte)) * FNV_PRIME) & MASK;
  }
  return `${hash.toString(16).padStart(32, '0')}.json`;
}

export function lockFileName(registryKey: string): string {
  return entryFileName(registryKey).replace(/\.json$/, '.lock');
}

export function failureFileName(registryKey: string): string {
  return entryFileName(registryKey).replace(/\.json$/, '.fail');
}
