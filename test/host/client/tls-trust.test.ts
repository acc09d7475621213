import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isCodedError } from '../../../src/common/errors.ts';
import { isTlsErrorCode, readCaBundle, tlsFailureText, trustedCas } from '../../../src/host/client/tls-trust.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tls-trust-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

describe("the host clients' TLS trust", () => {
  it("adds the bundle to the system store, and leaves Node's default without one", async () => {
    await writeFile(join(dir, 'ca.pem'), '-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n');
    const cas = trustedCas(join(dir, 'ca.pem'))!;
    expect(cas.at(-1)).toContain('BEGIN CERTIFICATE');
    expect(cas.length).toBeGreaterThan(1);
    expect(trustedCas(undefined)).toBeUndefined();
  });

  it('refuses a FIFO at once and a missing file, as tls errors naming the setting', () => {
    execFileSync('mkfifo', [join(dir, 'fifo')]);
    for (const [path, why] of [
      [join(dir, 'fifo'), 'a FIFO, not a regular file'],
      [join(dir, 'none'), 'ENOENT'],
    ] as const) {
      const failure = (() => {
        try {
          return readCaBundle(path);
        } catch (error) {
          return error;
        }
      })();
      expect(isCodedError(failure, 'tls')).toBe(true);
      expect((failure as Error).message).toBe(
        `cannot read CA bundle ${path} (${why}): fix DOCKER_CREDENTIAL_DSTACK_CA_FILE`,
      );
    }
  });

  it("knows Node's TLS codes from network ones, and words a failure one way", () => {
    for (const code of [
      'DEPTH_ZERO_SELF_SIGNED_CERT',
      'CERT_HAS_EXPIRED',
      'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
      'ERR_TLS_CERT_ALTNAME_INVALID',
      'ERR_SSL_WRONG_VERSION_NUMBER',
    ])
      expect(isTlsErrorCode(code)).toBe(true);
    for (const code of ['ECONNREFUSED', 'ENOTFOUND', 'ETIMEDOUT', undefined]) expect(isTlsErrorCode(code)).toBe(false);
    expect(tlsFailureText('to https://r.example', 'CERT_HAS_EXPIRED')).toBe(
      'TLS to https://r.example failed (CERT_HAS_EXPIRED): set DOCKER_CREDENTIAL_DSTACK_CA_FILE to the CA bundle that signed its certificate',
    );
  });
});
