import { REPO_ROOT } from '../../helpers/repo-root.ts';
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { execa } from 'execa';
import { assertServiceBinaryBuilt } from '../../helpers/service-process.ts';
import { dockerRegistryAvailable } from '../../helpers/registry.ts';

const root = REPO_ROOT;

describe('npm run demo (scripts/demo.mjs)', () => {
  it('runs the service, issue-token, the real helper and the mirror endpoint end to end, printing secrets masked only', async () => {
    assertServiceBinaryBuilt();
    const result = await execa(process.execPath, [join(root, 'scripts', 'demo.mjs')], {
      reject: false,
      cwd: root,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
      extendEnv: false,
    });
    const out = String(result.stdout);
    expect(result.exitCode, `${out}\n${String(result.stderr)}`).toBe(0);
    expect(out).toMatch(/dstack-registry-auth listening on http:\/\/127\.0\.0\.1:\d+/);
    expect(out).toMatch(/"Username":"docker-user","Secret":"demo…\(\d+ chars\)"/);
    expect(out).toContain('demo finished: OK');
    // The demo password is demo-<24 hex>; the token is a JWT: neither appears in full.
    expect(out).not.toMatch(/demo-[0-9a-f]{24}/);
    expect(out).not.toMatch(/eyJ[\w-]{20,}\.[\w-]{20,}\./);
    // The last step: the mirror endpoint serves a manifest from a real token-auth registry.
    if (dockerRegistryAvailable()) {
      expect(out).toMatch(/anonymous: HTTP 401\n/);
      expect(out).toMatch(
        /an engine's GET http:\/\/127\.0\.0\.1:\d+\/v2\/library\/hello\/manifests\/1 \(no credentials\) → HTTP 200, Docker-Content-Digest sha256:[0-9a-f]{64}\n/,
      );
      expect(out).toMatch(
        /endpoint log: pull method=GET kind=manifest repository=library\/hello ref=1 upstream=http:\/\/127\.0\.0\.1:\d+ status=200/,
      );
      expect(out).toMatch(/audit: .*"event":"realm","outcome":"granted".*"scope":"repository:library\/hello:pull"/);
    } else {
      expect(out).toContain('skipped: this machine has no docker-registry');
    }
  });

  it('says plainly what it skipped where the machine has no docker-registry', async () => {
    const result = await execa(process.execPath, [join(root, 'scripts', 'demo.mjs')], {
      reject: false,
      cwd: root,
      env: { PATH: join(root, 'no-such-dir') },
      extendEnv: false,
    });
    const out = String(result.stdout);
    expect(result.exitCode, `${out}\n${String(result.stderr)}`).toBe(0);
    expect(out).toContain(
      'skipped: this machine has no docker-registry (Debian package docker-registry; scripts/e2e/install-packages.sh installs it),',
    );
    expect(out).toContain('demo finished: OK');
  });
});
