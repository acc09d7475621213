import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/repo-root.ts';

// One helpers folder (docs/architecture.md "Tests"): a test module that is not a test file lives
// in test/helpers/, in test/e2e/harness/ (what drives engines) or in test/fixtures/ (stand-ins
// for other people's services), never beside the tests of one room, where other rooms and
// projects would reach into it.
const HELPER_ROOTS = ['test/helpers/', 'test/e2e/harness/', 'test/fixtures/'];

function moduleFiles(dir: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...moduleFiles(path));
    else if (/\.(ts|mts|mjs)$/.test(entry.name) && !/\.test\.ts$/.test(entry.name)) found.push(path);
  }
  return found;
}

describe('test helpers', () => {
  it('live in the one helpers folder (or the e2e harness, or fixtures)', () => {
    const stray = moduleFiles(join(REPO_ROOT, 'test'))
      .map((file) => relative(REPO_ROOT, file))
      .filter((file) => !HELPER_ROOTS.some((root) => file.startsWith(root)));
    expect(stray).toEqual([]);
  });
});
