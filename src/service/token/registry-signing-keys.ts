import { readFile } from 'node:fs/promises';
import { atomicWrite } from '../../common/atomic-write.ts';
import { join } from 'node:path';
import { CodedError } from '../../common/errors.ts';
import { makeDirectory } from '../../common/make-directory.ts';
import type { KeyRing, SigningKey } from '../core/ports.ts';
import { loadKeyRing } from './key-ring.ts';
import { certificateFits, createSelfSignedCertificate } from './certificate.ts';

// The registry-token signing keys with a certificate for each: tokens carry the current
// key's certificate in `x5c`, and the bundle a registry trusts holds them all.
export interface RegistryKeyRing extends KeyRing {
  certificates: Map<string, string> /* kid → PEM certificate */;
}

export interface LoadRegistrySigningKeysOptions {
  dataDir: string;
  env?: Record<string, string | undefined>;
  issuerName: string;
  // For tests; defaults to the wall clock.
  now?: Date;
}

// A key distinct from the instance and ticket keys (ES256, name 'registry', rotated like the
// others). Each key's self-signed certificate is made on first start and kept as
// `registry-<kid>.crt.pem` in `<dataDir>/keys/`, or in DSTACK_REGISTRY_AUTH_REGISTRY_CERT_DIR
// so replicas that share keys also share certificates: a registry verifies the `x5c`
// certificate against its bundle, so `serve` and `registry-config` must use the same file.
export async function loadRegistrySigningKeys(options: LoadRegistrySigningKeysOptions): Promise<RegistryKeyRing> {
  const env = options.env ?? {};
  const ring = await loadKeyRing({ dataDir: options.dataDir, name: 'registry', alg: 'ES256', env });
  const certDir = env.DSTACK_REGISTRY_AUTH_REGISTRY_CERT_DIR?.trim() || join(options.dataDir, 'keys');
  const now = options.now ?? new Date();
  const certificates = new Map<string, string>();
  for (const key of ring.all)
    certificates.set(key.kid, await loadOrCreateCertificate(key, certDir, options.issuerName, now));
  return { current: ring.current, all: ring.all, certificates };
}

export function certificatePath(certDir: string, kid: string): string {
  return join(certDir, `registry-${kid}.crt.pem`);
}

// Reuses the stored certificate while it fits the key; otherwise makes and stores a new one.
// Two processes starting at once (serve and registry-config) must end up with one file, so
// a missing certificate is created with link() (fails if another won) and then re-read.
async function loadOrCreateCertificate(
  key: SigningKey,
  certDir: string,
  issuerName: string,
  now: Date,
): Promise<string> {
  const path = certificatePath(certDir, key.kid);
  const stored = await readFile(path, 'utf8').catch(() => undefined);
  if (stored !== undefined && certificateFits(stored, key, now)) return stored;
  const pem = await createSelfSignedCertificate(key, issuerName, now);
  try {
    await makeDirectory(certDir, 0o700);
    // A stale certificate (other key, expired) is replaced; a missing one is created exclusively.
    await atomicWrite(path, pem, { mode: 0o644, exclusive: stored === undefined });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw new CodedError(
      'certificate_unwritable',
      `cannot store the registry signing certificate ${path} (${code}); make its directory writable or set DSTACK_REGISTRY_AUTH_REGISTRY_CERT_DIR`,
    );
  }
  const winner = await readFile(path, 'utf8');
  if (!certificateFits(winner, key, now))
    throw new CodedError(
      'certificate_invalid',
      `registry signing certificate ${path} does not match its key; delete it to have it made again`,
    );
  return winner;
}

// Every certificate of the ring, current first: the `rootcertbundle` a registry needs to
// accept tokens signed by any of these keys (so rotation needs no registry downtime).
export function certificateBundle(keys: RegistryKeyRing): string {
  return `${keys.all.map((key) => keys.certificates.get(key.kid)!.trim()).join('\n')}\n`;
}
