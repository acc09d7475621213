import { expect, it } from 'vitest';
import { unifiedDiff } from '../../src/setup/unified-diff.ts';

it('shows additions with context and file headers, nothing for equal texts', () => {
  const before = 'a\nb\nc\nd\ne\nf\ng\nh\n';
  const after = 'a\nb\nc\nd\nX\ne\nf\ng\nh\n';
  expect(unifiedDiff('/etc/x', before, after)).toBe('--- a/etc/x\n+++ b/etc/x\n@@ -2,6 +2,7 @@\n b\n c\n d\n+X\n e\n f\n g\n');
  expect(unifiedDiff('/etc/x', before, before)).toBe('');
});

it('shows a new file against /dev/null and a removed one the other way', () => {
  expect(unifiedDiff('/etc/n', undefined, 'x\n')).toBe('--- /dev/null\n+++ b/etc/n\n@@ -0,0 +1,1 @@\n+x\n');
  expect(unifiedDiff('/etc/n', 'x\n', undefined)).toBe('--- a/etc/n\n+++ /dev/null\n@@ -1,1 +0,0 @@\n-x\n');
});
