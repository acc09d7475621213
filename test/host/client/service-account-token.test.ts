import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readServiceAccountToken } from '../../../src/host/client/service-account-token.ts';
import { projectedTokenVolume } from '../../helpers/kubernetes-node.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sa-token-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const JWT_A = 'eyJhbGciOiJSUzI1NiJ9.eyJhIjoxfQ.c2lnLWE';
const JWT_B = 'eyJhbGciOiJSUzI1NiJ9.eyJiIjoyfQ.c2lnLWI';

describe('the projected service-account token file', () => {
  it("is read through the kubelet's links, and a rotation is seen on the next read", async () => {
    const volume = await projectedTokenVolume(join(dir, 'volume'));
    await volume.write(JWT_A);
    expect(readServiceAccountToken(volume.path).reveal()).toBe(JWT_A);
    await volume.write(`${JWT_B}\n`);
    expect(readServiceAccountToken(volume.path).reveal()).toBe(JWT_B);
  });

  it('names the file and the fix, never the content, when it is missing or not a JWT', async () => {
    expect(() => readServiceAccountToken(join(dir, 'absent'))).toThrow(
      /service-account token file .*absent does not exist: mount a projected service-account token there/,
    );
    await writeFile(join(dir, 'instance-token'), 'not-a-jwt-secret-value');
    const error = (() => {
      try {
        readServiceAccountToken(join(dir, 'instance-token'));
      } catch (e) {
        return e as Error;
      }
    })();
    expect(error?.message).toMatch(/does not hold one JWT/);
    expect(error?.message).not.toContain('not-a-jwt-secret-value');
  });
});
