import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
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

  it('the e2e harness is reached from e2e tests only: unit and binary tests and the helpers do without engines', () => {
    const crossing: string[] = [];
    for (const file of moduleFiles(join(REPO_ROOT, 'test')).concat(testFiles(join(REPO_ROOT, 'test')))) {
      const from = relative(REPO_ROOT, file);
      if (from.startsWith('test/e2e/')) continue;
      for (const match of readFileSync(file, 'utf8').matchAll(
        /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(['"])(\.{1,2}\/[^'"]+)\1/g,
      )) {
        const target = relative(REPO_ROOT, resolve(dirname(file), match[2]!));
        if (target.startsWith('test/e2e/')) crossing.push(`${from} imports ${target}`);
      }
    }
    expect(crossing).toEqual([]);
  });
});

function testFiles(dir: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...testFiles(path));
    else if (entry.name.endsWith('.test.ts')) found.push(path);
  }
  return found;
}
