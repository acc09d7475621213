import { describe, expect, it } from 'vitest';
import { X509Certificate } from 'node:crypto';
import { readdir, readFile, rename, stat } from 'node:fs/promises';
import { join } from 'node:path';
import {
  certificateBundle,
  certificatePath,
  loadRegistrySigningKeys,
} from '../../../src/service/token/registry-signing-keys.ts';
import { loadKeyRing } from '../../../src/service/token/key-ring.ts';
import { useTempDirs } from '../../helpers/temp-dirs.ts';

const tempDir = useTempDirs('registry-keys-');

describe('loadRegistrySigningKeys', () => {
  it('makes an ES256 key and a self-signed certificate for it on first start, and reuses both', async () => {
    const dataDir = await tempDir();
    const first = await loadRegistrySigningKeys({ dataDir, issuerName: 'dstack-registry-auth' });
    expect(first.current.alg).toBe('ES256');
    const path = certificatePath(join(dataDir, 'keys'), first.current.kid);
    const pem = await readFile(path, 'utf8');
    expect(first.certificates.get(first.current.kid)).toBe(pem);
    const cert = new X509Certificate(pem);
    expect(cert.verify(first.current.publicKey)).toBe(true);
    expect(cert.publicKey.export({ format: 'der', type: 'spki' })).toEqual(
      first.current.publicKey.export({ format: 'der', type: 'spki' }),
    );
    expect(cert.subject).toContain('dstack-registry-auth registry token signing');
    expect(cert.ca).toBe(true);
    expect(cert.validToDate.getTime() - Date.now()).toBeGreaterThan(5 * 365 * 86400e3);
    expect((await stat(path)).mode & 0o777).toBe(0o644);
    const again = await loadRegistrySigningKeys({ dataDir, issuerName: 'dstack-registry-auth' });
    expect(again.current.kid).toBe(first.current.kid);
    expect(again.certificates.get(again.current.kid)).toBe(pem);
  });

  it('is a key of its own, not the ticket or instance key', async () => {
    const dataDir = await tempDir();
    const registry = await loadRegistrySigningKeys({ dataDir, issuerName: 'x' });
    const ticket = await loadKeyRing({ dataDir, name: 'ticket', alg: 'EdDSA' });
    expect(registry.current.kid).not.toBe(ticket.current.kid);
    expect((await readdir(join(dataDir, 'keys'))).sort()).toEqual(
      [`registry-${registry.current.kid}.crt.pem`, 'registry.pem', 'ticket.pem'].sort(),
    );
  });

  it('replaces a certificate that does not fit its key', async () => {
    const dataDir = await tempDir();
    const first = await loadRegistrySigningKeys({ dataDir, issuerName: 'x' });
    const otherDir = await tempDir();
    const other = await loadRegistrySigningKeys({ dataDir: otherDir, issuerName: 'x' });
    const path = certificatePath(join(dataDir, 'keys'), first.current.kid);
    await rename(certificatePath(join(otherDir, 'keys'), other.current.kid), path);
    expect(new X509Certificate(await readFile(path, 'utf8')).verify(first.current.publicKey)).toBe(false);
    const again = await loadRegistrySigningKeys({ dataDir, issuerName: 'x' });
    expect(new X509Certificate(again.certificates.get(first.current.kid)!).verify(first.current.publicKey)).toBe(true);
  });

  it('rotates: the previous key stays in the bundle, the new one signs', async () => {
    const dataDir = await tempDir();
    const old = await loadRegistrySigningKeys({ dataDir, issuerName: 'x' });
    await rename(join(dataDir, 'keys', 'registry.pem'), join(dataDir, 'keys', 'registry.previous-1.pem'));
    const rotated = await loadRegistrySigningKeys({ dataDir, issuerName: 'x' });
    expect(rotated.current.kid).not.toBe(old.current.kid);
    expect(rotated.all.map((k) => k.kid)).toEqual([rotated.current.kid, old.current.kid]);
    expect(rotated.certificates.get(old.current.kid)).toBe(old.certificates.get(old.current.kid));
    const bundle = certificateBundle(rotated);
    const pems = bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
    expect(pems).toHaveLength(2);
    expect(new X509Certificate(pems[0]!).verify(rotated.current.publicKey)).toBe(true);
    expect(new X509Certificate(pems[1]!).verify(old.current.publicKey)).toBe(true);
  });

  it('keeps certificates in DSTACK_REGISTRY_AUTH_REGISTRY_CERT_DIR when set (replicas share them)', async () => {
    const dataDir = await tempDir();
    const certDir = join(await tempDir(), 'certs');
    const keys = await loadRegistrySigningKeys({
      dataDir,
      issuerName: 'x',
      env: { DSTACK_REGISTRY_AUTH_REGISTRY_CERT_DIR: certDir },
    });
    expect(await readFile(certificatePath(certDir, keys.current.kid), 'utf8')).toBe(
      keys.certificates.get(keys.current.kid),
    );
  });
});
