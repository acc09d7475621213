import { createPrivateKey, createPublicKey, generateKeyPair, type KeyObject } from 'node:crypto';
import { chmod, readdir, readFile, stat } from 'node:fs/promises';
import { atomicWrite } from '../../common/atomic-write.ts';
import { join } from 'node:path';
import { calculateJwkThumbprint, exportJWK } from 'jose';
import { CodedError } from '../../common/errors.ts';
import { makeDirectory } from '../../common/make-directory.ts';
import type { KeyRing, SigningKey } from '../core/ports.ts';

export type KeyAlgorithm = SigningKey['alg'];

export interface LoadKeyRingOptions {
  dataDir: string;
  // Short lower-case name ('instance', 'ticket', 'registry'): file `<name>.pem`, env `DSTACK_REGISTRY_AUTH_<NAME>_KEY_FILE`.
  name: string;
  alg: KeyAlgorithm;
  env?: Record<string, string | undefined>;
}

// The service's signing keys. The current key lives in `<dataDir>/keys/<name>.pem` and is
// generated (PKCS#8, 0600) on first start; `<name>.previous*.pem` still verify, so a key
// rotates without cutting off tokens already out there. Replicas share keys by pointing
// DSTACK_REGISTRY_AUTH_<NAME>_KEY_FILE / _PREVIOUS_KEY_FILES at the same files.
export async function loadKeyRing(options: LoadKeyRingOptions): Promise<KeyRing> {
  if (!/^[a-z][a-z0-9-]*$/.test(options.name)) throw new Error(`bad key ring name ${JSON.stringify(options.name)}`);
  const env = options.env ?? {};
  const prefix = `DSTACK_REGISTRY_AUTH_${options.name.toUpperCase().replace(/-/g, '_')}`;
  const keysDir = join(options.dataDir, 'keys');
  const currentFromEnv = nonEmpty(env[`${prefix}_KEY_FILE`]);
  const previousFromEnv = nonEmpty(env[`${prefix}_PREVIOUS_KEY_FILES`]);

  let currentPem: string;
  let currentPath: string;
  if (currentFromEnv) {
    currentPath = currentFromEnv;
    currentPem = await readKeyFile(currentPath, `${prefix}_KEY_FILE`);
  } else {
    currentPath = join(keysDir, `${options.name}.pem`);
    currentPem = await readOrGenerate(currentPath, keysDir, options.alg);
  }
  const current = await toSigningKey(currentPem, currentPath, options.alg);

  const previousPaths = previousFromEnv
    ? previousFromEnv
        .split(',')
        .map((p) => p.trim())
        .filter(Boolean)
    : await listPreviousKeyFiles(keysDir, options.name);
  const all: SigningKey[] = [current];
  for (const path of previousPaths) {
    const key = await toSigningKey(
      await readKeyFile(path, previousFromEnv ? `${prefix}_PREVIOUS_KEY_FILES` : undefined),
      path,
      options.alg,
    );
    if (!all.some((k) => k.kid === key.kid)) all.push(key);
  }
  return { current, all };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value?.trim() ? value.trim() : undefined;
}

async function listPreviousKeyFiles(keysDir: string, name: string): Promise<string[]> {
  const entries = await readdir(keysDir).catch(() => [] as string[]);
  return (
    entries
      // Certificates kept next to keys (`*.crt.pem`) are not keys.
      .filter((entry) => entry.startsWith(`${name}.previous`) && entry.endsWith('.pem') && !entry.endsWith('.crt.pem'))
      .sort()
      .map((entry) => join(keysDir, entry))
  );
}

// A private key readable by others is refused, as ssh does: a leaked signing key mints
// tokens for every instance, and failing loudly at start-up is cheap to fix.
async function readKeyFile(path: string, setting?: string): Promise<string> {
  const where = setting ? ` (from ${setting})` : '';
  const info = await stat(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT')
      throw new CodedError(
        'key_file_missing',
        `key file ${path}${where} does not exist; create it or unset the setting to use a generated key`,
      );
    throw new CodedError(
      'key_file_unreadable',
      `cannot read key file ${path}${where} (${error.code ?? 'error'}); check its path and permissions`,
    );
  });
  if (!info.isFile())
    throw new CodedError(
      'key_file_invalid',
      `key file ${path}${where} is not a regular file; point the setting at a PEM file`,
    );
  if ((info.mode & 0o077) !== 0) {
    const mode = (info.mode & 0o777).toString(8).padStart(4, '0');
    throw new CodedError(
      'key_file_permissions',
      `key file ${path} is readable by group or others (mode ${mode}); run chmod 600 ${path}`,
    );
  }
  return readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => {
    throw new CodedError(
      'key_file_unreadable',
      `cannot read key file ${path}${where} (${error.code ?? 'error'}); check its permissions`,
    );
  });
}

async function readOrGenerate(path: string, keysDir: string, alg: KeyAlgorithm): Promise<string> {
  const exists = await stat(path).then(
    () => true,
    () => false,
  );
  if (exists) return readKeyFile(path);
  await ensurePrivateDir(keysDir);
  const pem = await generatePem(alg);
  await createExclusive(path, pem);
  // Another process may have won the race to create it: whatever is there now is the key.
  return readKeyFile(path);
}

async function ensurePrivateDir(dir: string): Promise<void> {
  const existed = await stat(dir).then(
    () => true,
    () => false,
  );
  await makeDirectory(dir, 0o700);
  if (!existed) await chmod(dir, 0o700);
}

// Exclusive: two processes starting at once never overwrite each other's key; the loser
// reads the winner's.
async function createExclusive(path: string, content: string): Promise<void> {
  await atomicWrite(path, content, { mode: 0o600, exclusive: true });
}

function generatePem(alg: KeyAlgorithm): Promise<string> {
  const encoding = {
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  } as const;
  return new Promise((resolve, reject) => {
    const done = (error: Error | null, _publicKey: string, privateKey: string) =>
      error ? reject(error) : resolve(privateKey);
    if (alg === 'EdDSA') generateKeyPair('ed25519', encoding, done);
    else if (alg === 'ES256') generateKeyPair('ec', { namedCurve: 'P-256', ...encoding }, done);
    else generateKeyPair('rsa', { modulusLength: 2048, ...encoding }, done);
  });
}

async function toSigningKey(pem: string, path: string, alg: KeyAlgorithm): Promise<SigningKey> {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: pem, format: 'pem' });
  } catch {
    throw new CodedError(
      'key_file_invalid',
      `key file ${path} is not a PEM private key; replace it with a PKCS#8 ${describe(alg)} key, or delete it to have one generated`,
    );
  }
  if (!matches(privateKey, alg)) {
    throw new CodedError(
      'key_file_invalid',
      `key file ${path} holds a ${privateKey.asymmetricKeyType ?? 'unknown'} key, not ${describe(alg)}; replace it with a ${describe(alg)} key, or delete it to have one generated`,
    );
  }
  const publicKey = createPublicKey(privateKey);
  const kid = await calculateJwkThumbprint(await exportJWK(publicKey), 'sha256');
  return { kid, alg, privateKey, publicKey };
}

function matches(key: KeyObject, alg: KeyAlgorithm): boolean {
  const details = key.asymmetricKeyDetails ?? {};
  if (alg === 'EdDSA') return key.asymmetricKeyType === 'ed25519';
  if (alg === 'ES256') return key.asymmetricKeyType === 'ec' && details.namedCurve === 'prime256v1';
  return key.asymmetricKeyType === 'rsa' && (details.modulusLength ?? 0) >= 2048;
}

function describe(alg: KeyAlgorithm): string {
  return alg === 'EdDSA' ? 'Ed25519' : alg === 'ES256' ? 'EC P-256' : 'RSA (2048 bits or more)';
}
