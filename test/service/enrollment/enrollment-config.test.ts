import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadEnrollmentConfig, GOOGLE_CERTIFICATES_URL } from '../../../src/service/enrollment/enrollment-config.ts';

describe('the enrollment config file', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dcd-enroll-config-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  async function load(content: unknown) {
    const path = join(dir, `c-${Math.random().toString(36).slice(2)}.json`);
    await writeFile(path, typeof content === 'string' ? content : JSON.stringify(content));
    return loadEnrollmentConfig({ DSTACK_REGISTRY_AUTH_ENROLLMENT_CONFIG: path });
  }
  const failure = (run: Promise<unknown>) =>
    run.then(
      () => 'no error',
      (error: Error) => error.message,
    );

  it('is off without the variable, and fills in the defaults', async () => {
    expect(await loadEnrollmentConfig({})).toBeUndefined();
    const config = await load({
      aws: { accounts: [{ accountId: '123456789012', project: 'gpu' }] },
      gcp: { projects: [{ projectId: 'my-project-1', project: 'main' }] },
    });
    expect(config).toEqual({
      nonceTtlSeconds: 300,
      aws: {
        accounts: [{ accountId: '123456789012', project: 'gpu', regions: [], reenroll: [] }],
        pendingTimeWindowSeconds: 900,
        additionalTrustAnchors: [],
      },
      gcp: {
        projects: [{ projectId: 'my-project-1', project: 'main', zones: [], reenroll: [] }],
        certificatesUrl: GOOGLE_CERTIFICATES_URL,
        additionalTrustAnchors: undefined,
      },
    });
  });

  it('refuses with one line naming the key: a misspelt key, a bad account id, a duplicate account, an anchors file with no certificate', async () => {
    expect(await failure(load({ aws: { acounts: [] } }))).toMatch(
      /: aws: unknown key "acounts"; known keys: accounts, pendingTimeWindow, additionalTrustAnchors$/,
    );
    expect(await failure(load({ aws: { accounts: [{ accountId: '1234', project: 'gpu' }] } }))).toMatch(
      /aws\.accounts\[0\]\.accountId must be a 12-digit AWS account id$/,
    );
    expect(
      await failure(
        load({
          aws: {
            accounts: [
              { accountId: '123456789012', project: 'a' },
              { accountId: '123456789012', project: 'b' },
            ],
          },
        }),
      ),
    ).toMatch(/account 123456789012 is listed twice/);
    await writeFile(join(dir, 'empty.pem'), 'nothing here\n');
    expect(
      await failure(
        load({
          aws: {
            accounts: [{ accountId: '123456789012', project: 'gpu' }],
            additionalTrustAnchors: join(dir, 'empty.pem'),
          },
        }),
      ),
    ).toMatch(/holds no PEM certificate$/);
    expect(
      await failure(load({ azure: { subscriptions: [{ subscriptionId: 'not-a-uuid', project: 'gpu' }] } })),
    ).toMatch(/subscriptionId must be a subscription id \(a UUID\)$/);
    expect(await failure(load('{not json'))).toMatch(/is not valid JSON; fix the file$/);
    expect(
      await failure(loadEnrollmentConfig({ DSTACK_REGISTRY_AUTH_ENROLLMENT_CONFIG: join(dir, 'missing.json') })),
    ).toMatch(/cannot read DSTACK_REGISTRY_AUTH_ENROLLMENT_CONFIG \(.*missing\.json\) \(ENOENT\)/);
  });
});
