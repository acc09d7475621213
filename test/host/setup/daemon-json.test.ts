import { describe, expect, it } from 'vitest';
import { addRegistryMirrors, removeRegistryMirrors } from '../../../src/host/setup/engine-files/daemon-json.ts';
import { validateMirrorUrl } from '../../../src/registry/url-rules.ts';
import { isCodedError } from '../../../src/common/errors.ts';

const label = 'daemon.json';
const MIRROR = 'https://mirror.example';

describe('addRegistryMirrors', () => {
  const cases: Array<{ name: string; before: string | undefined; expected: unknown; restored: string }> = [
    { name: 'missing file', before: undefined, expected: { 'registry-mirrors': [MIRROR] }, restored: '{}\n' },
    { name: 'empty file', before: '', expected: { 'registry-mirrors': [MIRROR] }, restored: '{}\n' },
    {
      name: 'runtimes, exec-opts and log options kept',
      before:
        '{\n  "exec-opts": [\n    "native.cgroupdriver=systemd"\n  ],\n  "log-driver": "json-file",\n  "runtimes": {\n    "nvidia": {\n      "path": "nvidia-container-runtime"\n    }\n  }\n}\n',
      expected: {
        'exec-opts': ['native.cgroupdriver=systemd'],
        'log-driver': 'json-file',
        runtimes: { nvidia: { path: 'nvidia-container-runtime' } },
        'registry-mirrors': [MIRROR],
      },
      restored:
        '{\n  "exec-opts": [\n    "native.cgroupdriver=systemd"\n  ],\n  "log-driver": "json-file",\n  "runtimes": {\n    "nvidia": {\n      "path": "nvidia-container-runtime"\n    }\n  }\n}\n',
    },
    {
      name: 'existing mirrors kept first',
      before: '{\n  "registry-mirrors": [\n    "https://other.example"\n  ]\n}\n',
      expected: { 'registry-mirrors': ['https://other.example', MIRROR] },
      restored: '{\n  "registry-mirrors": [\n    "https://other.example"\n  ]\n}\n',
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const edit = addRegistryMirrors(c.before, [MIRROR], label);
      expect(JSON.parse(edit.text)).toEqual(c.expected);
      expect(removeRegistryMirrors(edit.text, edit.owned, label)).toBe(c.restored);
    });
  }

  it('adds nothing when the mirror is present (with or without a trailing slash)', () => {
    const before = '{"registry-mirrors": ["https://mirror.example/"]}';
    const edit = addRegistryMirrors(before, [MIRROR], label);
    expect(edit.text).toBe(before);
    expect(edit.owned.added).toEqual([]);
  });

  it('refuses invalid JSON and a registry-mirrors that is not a list', () => {
    for (const bad of ['{', '{"registry-mirrors": "https://x"}', 'null', '{"registry-mirrors": [1]}']) {
      expect(() => addRegistryMirrors(bad, [MIRROR], label)).toThrow(/daemon.json/);
    }
  });
});

describe('validateMirrorUrl', () => {
  it.each([
    ['https://mirror.example/', 'https://mirror.example'],
    ['http://127.0.0.1:5000', 'http://127.0.0.1:5000'],
    ['https://mirror.example/path/', 'https://mirror.example/path'],
  ])('accepts %s', (input, expected) => {
    expect(validateMirrorUrl(input)).toBe(expected);
  });
  it.each([
    'mirror.example',
    'ftp://mirror.example',
    'https://user:pw@mirror.example',
    'https://mirror.example/?a=1',
    'https://mirror.example/#x',
    'https://',
  ])('refuses %s', (input) => {
    let caught: unknown;
    try {
      validateMirrorUrl(input);
    } catch (error) {
      caught = error;
    }
    expect(isCodedError(caught, 'mirror_invalid')).toBe(true);
    expect(String((caught as Error).message)).not.toContain('pw');
  });
});
