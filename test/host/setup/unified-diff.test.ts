import { expect, it } from 'vitest';
import { redactLine, unifiedDiff } from '../../../src/host/setup/formats/unified-diff.ts';

it('shows additions with context and file headers, nothing for equal texts', () => {
  const before = 'a\nb\nc\nd\ne\nf\ng\nh\n';
  const after = 'a\nb\nc\nd\nX\ne\nf\ng\nh\n';
  expect(unifiedDiff('/etc/x', before, after)).toBe(
    '--- a/etc/x\n+++ b/etc/x\n@@ -2,6 +2,7 @@\n b\n c\n d\n+X\n e\n f\n g\n',
  );
  expect(unifiedDiff('/etc/x', before, before)).toBe('');
});

it('shows a new file against /dev/null and a removed one the other way', () => {
  expect(unifiedDiff('/etc/n', undefined, 'x\n')).toBe('--- /dev/null\n+++ b/etc/n\n@@ -0,0 +1,1 @@\n+x\n');
  expect(unifiedDiff('/etc/n', 'x\n', undefined)).toBe('--- a/etc/n\n+++ /dev/null\n@@ -1,1 +0,0 @@\n-x\n');
});

it('never shows a secret another program keeps in the file, in a changed line or in the context', () => {
  const before =
    '{\n\t"auths": {\n\t\t"ghcr.io": {\n\t\t\t"auth": "dXNlcjpodW50ZXIy",\n\t\t\t"identitytoken": "idtok-hunter2"\n\t\t}\n\t}\n}\n';
  const after =
    '{\n\t"auths": {\n\t\t"ghcr.io": {\n\t\t\t"auth": "dXNlcjpodW50ZXIy",\n\t\t\t"identitytoken": "idtok-hunter2"\n\t\t}\n\t},\n\t"credHelpers": {}\n}\n';
  const diff = unifiedDiff('/root/.docker/config.json', before, after);
  expect(diff).toContain('\t\t\t"auth": "[redacted]",\n');
  expect(diff).toContain('+\t"credHelpers": {}\n');
  expect(diff).not.toMatch(/dXNlcjpodW50ZXIy|hunter2/);
  expect(unifiedDiff('/c.json', undefined, '{"auths":{"r":{"auth":"c2VjcmV0","password":"p\\"w"}}}')).not.toMatch(
    /c2VjcmV0|p\\"w/,
  );
  expect(redactLine('  Authorization = ["Basic c2VjcmV0"]')).toBe('  Authorization = "[redacted]"');
  expect(redactLine('[host."https://mirror.example"]')).toBe('[host."https://mirror.example"]');
  expect(redactLine('\t"credsStore": "pass",')).toBe('\t"credsStore": "pass",');
});
