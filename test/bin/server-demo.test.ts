import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { execa } from 'execa';
import { assertServiceBinaryBuilt } from '../service/http/service-process.ts';

const root = join(import.meta.dirname, '..', '..');

describe('npm run demo (scripts/demo.mjs)', () => {
  it('runs the service, issue-token and the real helper end to end, printing secrets masked only', async () => {
    assertServiceBinaryBuilt();
    const result = await execa(process.execPath, [join(root, 'scripts', 'demo.mjs')], { reject: false, cwd: root, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, extendEnv: false });
    const out = String(result.stdout);
    expect(result.exitCode, `${out}\n${String(result.stderr)}`).toBe(0);
    expect(out).toMatch(/dstack-registry-auth listening on http:\/\/127\.0\.0\.1:\d+/);
    expect(out).toMatch(/"Username":"docker-user","Secret":"demo…\(\d+ chars\)"/);
    expect(out).toContain('demo finished: OK');
    // The demo password is demo-<24 hex>; the token is a JWT: neither appears in full.
    expect(out).not.toMatch(/demo-[0-9a-f]{24}/);
    expect(out).not.toMatch(/eyJ[\w-]{20,}\.[\w-]{20,}\./);
  });
});
