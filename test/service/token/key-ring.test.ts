import { chmod, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadKeyRing } from '../../../src/service/token/key-ring.ts';
import { mintInstanceToken, verifyInstanceToken } from '../../../src/service/token/instance-token.ts';
import type { RevocationStore } from '../../../src/service/core/ports.ts';
import { useTempDirs } from '../../helpers/temp-dirs.ts';

const tempDir = useTempDirs('key-ring-');

const noRevocations: RevocationStore = {
  revoke: async () => {},
  revokedAt: async () => undefined,
  close: async () => {},
};
const now = new Date('2026-11-26T21:00:00Z');
const claims = { instance: 'i-1', project: 'main', ttlSeconds: 3600, issuer: 'dstack-registry-auth' };
const verify = (token: string, keys: Awaited<ReturnType<typeof loadKeyRing>>) =>
  verifyInstanceToken(token, keys, { issuer: 'dstack-registry-auth', now, revocations: noRevocations });

function pkcs8(type: 'ed25519' | 'ec' | 'rsa'): string {
  const encoding = {
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  } as const;
  if (type === 'ec') return generateKeyPairSync('ec', { namedCurve: 'P-256', ...encoding }).privateKey;
  if (type === 'rsa') return generateKeyPairSync('rsa', { modulusLength: 2048, ...encoding }).privateKey;
  return generateKeyPairSync('ed25519', encoding).privateKey;
}

describe('loadKeyRing', () => {
  it('generates a PKCS#8 key 0600 in a 0700 keys directory and reuses it on restart', async () => {
    const dataDir = await tempDir();
    const first = await loadKeyRing({ dataDir, name: 'instance', alg: 'EdDSA' });
    const file = join(dataDir, 'keys', 'instance.pem');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await stat(join(dataDir, 'keys'))).mode & 0o777).toBe(0o700);
    expect(await readFile(file, 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(first.current.kid).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(first.all).toEqual([first.current]);
    const second = await loadKeyRing({ dataDir, name: 'instance', alg: 'EdDSA' });
    expect(second.current.kid).toBe(first.current.kid);
  });

  it('generates ES256 and RS256 keys of the right type', async () => {
    const dataDir = await tempDir();
    const es = await loadKeyRing({ dataDir, name: 'registry', alg: 'ES256' });
    expect(es.current.privateKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    const rs = await loadKeyRing({ dataDir, name: 'legacy', alg: 'RS256' });
    expect(rs.current.privateKey.asymmetricKeyType).toBe('rsa');
    expect(es.current.kid).not.toBe(rs.current.kid);
  });

  it('two processes starting at once end up with the same key', async () => {
    const dataDir = await tempDir();
    const rings = await Promise.all([1, 2, 3, 4].map(() => loadKeyRing({ dataDir, name: 'ticket', alg: 'EdDSA' })));
    expect(new Set(rings.map((r) => r.current.kid)).size).toBe(1);
  });

  it('rotation: old tokens verify with the previous key, new tokens use the new key, a removed key stops verifying', async () => {
    const dataDir = await tempDir();
    const keysDir = join(dataDir, 'keys');
    const before = await loadKeyRing({ dataDir, name: 'instance', alg: 'EdDSA' });
    const oldToken = (await mintInstanceToken(before, claims, now)).token;

    await rename(join(keysDir, 'instance.pem'), join(keysDir, 'instance.previous-1.pem'));
    await writeFile(join(keysDir, 'instance.previous-1.crt.pem'), '-----BEGIN CERTIFICATE-----\n', { mode: 0o644 });
    const after = await loadKeyRing({ dataDir, name: 'instance', alg: 'EdDSA' });
    expect(after.current.kid).not.toBe(before.current.kid);
    expect(after.all.map((k) => k.kid)).toEqual([after.current.kid, before.current.kid]);
    await expect(verify(oldToken, after)).resolves.toMatchObject({ instance: 'i-1' });
    const newToken = (await mintInstanceToken(after, claims, now)).token;
    const header = JSON.parse(Buffer.from(newToken.split('.')[0]!, 'base64url').toString());
    expect(header.kid).toBe(after.current.kid);

    await rm(join(keysDir, 'instance.previous-1.pem'));
    const pruned = await loadKeyRing({ dataDir, name: 'instance', alg: 'EdDSA' });
    await expect(verify(oldToken, pruned)).rejects.toMatchObject({ code: 'token_invalid' });
    await expect(verify(newToken, pruned)).resolves.toMatchObject({ project: 'main' });
  });

  it('replicas share keys through DSTACK_REGISTRY_AUTH_<NAME>_KEY_FILE and _PREVIOUS_KEY_FILES', async () => {
    const shared = await tempDir();
    const currentFile = join(shared, 'current.pem');
    const oldFile = join(shared, 'old.pem');
    await writeFile(currentFile, pkcs8('ed25519'), { mode: 0o600 });
    await writeFile(oldFile, pkcs8('ed25519'), { mode: 0o600 });
    const env = {
      DSTACK_REGISTRY_AUTH_INSTANCE_KEY_FILE: currentFile,
      DSTACK_REGISTRY_AUTH_INSTANCE_PREVIOUS_KEY_FILES: ` ${oldFile} ,`,
    };
    const a = await loadKeyRing({ dataDir: await tempDir(), name: 'instance', alg: 'EdDSA', env });
    const b = await loadKeyRing({ dataDir: await tempDir(), name: 'instance', alg: 'EdDSA', env });
    expect(a.current.kid).toBe(b.current.kid);
    expect(a.all).toHaveLength(2);
    const token = (await mintInstanceToken(a, claims, now)).token;
    await expect(verify(token, b)).resolves.toMatchObject({ instance: 'i-1' });
  });

  it('a configured key file that does not exist is an error, not a silently generated key', async () => {
    const dataDir = await tempDir();
    const env = { DSTACK_REGISTRY_AUTH_TICKET_KEY_FILE: join(dataDir, 'nope.pem') };
    await expect(loadKeyRing({ dataDir, name: 'ticket', alg: 'EdDSA', env })).rejects.toMatchObject({
      code: 'key_file_missing',
      message: expect.stringContaining('DSTACK_REGISTRY_AUTH_TICKET_KEY_FILE'),
    });
  });

  it('rejects a file that is not a key, naming the file and what to do', async () => {
    const dataDir = await tempDir();
    await loadKeyRing({ dataDir, name: 'instance', alg: 'EdDSA' });
    const file = join(dataDir, 'keys', 'instance.pem');
    await writeFile(file, 'not a key\n');
    const error = await loadKeyRing({ dataDir, name: 'instance', alg: 'EdDSA' }).catch((e) => e);
    expect(error).toMatchObject({ code: 'key_file_invalid' });
    expect(error.message).toContain(file);
    expect(error.message).toMatch(/replace it .* or delete it/);
  });

  it('rejects a key of another algorithm (RSA where ES256 is expected)', async () => {
    const dataDir = await tempDir();
    const file = join(dataDir, 'rsa.pem');
    await writeFile(file, pkcs8('rsa'), { mode: 0o600 });
    await expect(
      loadKeyRing({ dataDir, name: 'registry', alg: 'ES256', env: { DSTACK_REGISTRY_AUTH_REGISTRY_KEY_FILE: file } }),
    ).rejects.toMatchObject({
      code: 'key_file_invalid',
      message: expect.stringContaining('holds a rsa key, not EC P-256'),
    });
    const ecFile = join(dataDir, 'ec.pem');
    await writeFile(ecFile, pkcs8('ec'), { mode: 0o600 });
    await expect(
      loadKeyRing({
        dataDir,
        name: 'instance',
        alg: 'EdDSA',
        env: { DSTACK_REGISTRY_AUTH_INSTANCE_PREVIOUS_KEY_FILES: ecFile },
      }),
    ).rejects.toMatchObject({ code: 'key_file_invalid', message: expect.stringContaining(ecFile) });
  });

  it('refuses a key file readable by group or others', async () => {
    const dataDir = await tempDir();
    await loadKeyRing({ dataDir, name: 'instance', alg: 'EdDSA' });
    const file = join(dataDir, 'keys', 'instance.pem');
    await chmod(file, 0o644);
    await expect(loadKeyRing({ dataDir, name: 'instance', alg: 'EdDSA' })).rejects.toMatchObject({
      code: 'key_file_permissions',
      message: `key file ${file} is readable by group or others (mode 0644); run chmod 600 ${file}`,
    });
  });
});
