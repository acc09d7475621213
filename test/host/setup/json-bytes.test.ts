import { describe, expect, it } from 'vitest';
import {
  addRegistryMirrors,
  removeRegistryMirrors,
  mirrorsClearedForReload,
} from '../../../src/host/setup/engine-files/daemon-json.ts';
import { addCredHelpers, removeCredHelpers } from '../../../src/host/setup/engine-files/docker-client-config.ts';

const MIRROR = 'https://mirror.example';
const HUB = 'https://index.docker.io/v1/';
const BIG = '{"x": 1e400, "y": 12345678901234567890}';

// Every byte outside the member we edit stays: JSON.parse + stringify would turn 1e400 into
// null, round 12345678901234567890, drop a duplicate key, a BOM and CRLF line endings.
describe('daemon.json: only registry-mirrors changes', () => {
  it('keeps numbers beyond double precision, on one line', () => {
    const edit = addRegistryMirrors(BIG, [MIRROR], 'daemon.json');
    expect(edit.text).toBe('{"x": 1e400, "y": 12345678901234567890, "registry-mirrors": ["https://mirror.example"]}');
    expect(removeRegistryMirrors(edit.text, edit.owned, 'daemon.json')).toBe(BIG);
  });

  it('keeps a BOM, CRLF line endings, the indentation and a duplicate key elsewhere', () => {
    const before = '\uFEFF{\r\n    "x": 1e400,\r\n    "y": 12345678901234567890,\r\n    "y": 2\r\n}\r\n';
    const edit = addRegistryMirrors(before, [MIRROR], 'daemon.json');
    expect(edit.text).toBe(
      '\uFEFF{\r\n    "x": 1e400,\r\n    "y": 12345678901234567890,\r\n    "y": 2,\r\n    "registry-mirrors": [\r\n        "https://mirror.example"\r\n    ]\r\n}\r\n',
    );
    expect(removeRegistryMirrors(edit.text, edit.owned, 'daemon.json')).toBe(before);
  });

  it('appends to an existing list in its own layout and takes only ours out again', () => {
    const before =
      '{\n  "registry-mirrors": [\n    "https://a.example",\n    "https://b.example"\n  ],\n  "x": 1e400\n}';
    const edit = addRegistryMirrors(before, [MIRROR], 'daemon.json');
    expect(edit.text).toBe(
      '{\n  "registry-mirrors": [\n    "https://a.example",\n    "https://b.example",\n    "https://mirror.example"\n  ],\n  "x": 1e400\n}',
    );
    expect(removeRegistryMirrors(edit.text, edit.owned, 'daemon.json')).toBe(before);
  });

  it('round-trips byte for byte whatever the layout', () => {
    const layouts = [
      '{}',
      '{}\n',
      '{ }',
      '{\n}\n',
      '{"a":1}',
      '{"a": {"b": [1, 2]}}\n',
      '{\n\t"a": 1,\n\t"b": "\\u00e9\\""\n}\n',
      '{\r\n  "a": [\r\n    1\r\n  ]\r\n}',
      '  {  "a" : 1 ,  "b" : 2  }  \n',
      '{"registry-mirrors": []}',
      '{\n  "registry-mirrors": ["https://a.example"]\n}\n',
    ];
    for (const before of layouts) {
      const edit = addRegistryMirrors(before, [MIRROR, 'http://127.0.0.1:5000'], 'daemon.json');
      expect(JSON.parse(edit.text)['registry-mirrors']).toEqual([
        ...(JSON.parse(before)['registry-mirrors'] ?? []),
        MIRROR,
        'http://127.0.0.1:5000',
      ]);
      const back = removeRegistryMirrors(edit.text, edit.owned, 'daemon.json');
      // An empty container we filled comes back empty, without the spacing it had inside.
      expect(back, before).toBe(before.replace('{ }', '{}').replace('{\n}', '{}'));
    }
  });

  it('refuses, in one line, a registry-mirrors given twice', () => {
    expect(() =>
      addRegistryMirrors(
        '{"registry-mirrors": [], "registry-mirrors": ["https://a.example"]}',
        [MIRROR],
        '/etc/docker/daemon.json',
      ),
    ).toThrow(/^\/etc\/docker\/daemon\.json has "registry-mirrors" 2 times; keep one by hand, nothing was changed$/);
  });

  it('for a reload, keeps the key with our mirrors taken out (or adds it empty)', () => {
    const edit = addRegistryMirrors('{\n  "debug": true\n}\n', [MIRROR], 'daemon.json');
    expect(mirrorsClearedForReload(edit.text, edit.owned, 'daemon.json')).toEqual({
      text: '{\n  "debug": true,\n  "registry-mirrors": []\n}\n',
      createdKey: false,
    });
    expect(mirrorsClearedForReload('{\n  "debug": true\n}\n', edit.owned, 'daemon.json')).toEqual({
      text: '{\n  "debug": true,\n  "registry-mirrors": []\n}\n',
      createdKey: true,
    });
    expect(removeRegistryMirrors('{\n  "debug": true,\n  "registry-mirrors": []\n}\n', edit.owned, 'daemon.json')).toBe(
      '{\n  "debug": true\n}\n',
    );
  });
});

describe('client config.json: only credHelpers entries change', () => {
  it('keeps numbers, a duplicate key, a BOM and CRLF', () => {
    const before =
      '\uFEFF{\r\n\t"x": 1e400,\r\n\t"y": 12345678901234567890,\r\n\t"auths": {},\r\n\t"auths": {"r.example": {"auth": "dTpw"}}\r\n}\r\n';
    const edit = addCredHelpers(before, [HUB, 'mirror.example'], { force: false, label: 'config.json' });
    expect(edit.text).toBe(
      '\uFEFF{\r\n\t"x": 1e400,\r\n\t"y": 12345678901234567890,\r\n\t"auths": {},\r\n\t"auths": {"r.example": {"auth": "dTpw"}},\r\n\t"credHelpers": {\r\n\t\t"https://index.docker.io/v1/": "dstack",\r\n\t\t"mirror.example": "dstack"\r\n\t}\r\n}\r\n',
    );
    expect(removeCredHelpers(edit.text, edit.owned, 'config.json')).toBe(before);
  });

  it('adds to an existing section in its layout; --force replaces a value in place and puts it back', () => {
    const before =
      '{"credHelpers": {"gcr.io": "gcloud", "https://index.docker.io/v1/": "ecr-login"}, "y": 12345678901234567890}';
    const edit = addCredHelpers(before, [HUB, 'mirror.example'], { force: true, label: 'config.json' });
    expect(edit.text).toBe(
      '{"credHelpers": {"gcr.io": "gcloud", "https://index.docker.io/v1/": "dstack", "mirror.example": "dstack"}, "y": 12345678901234567890}',
    );
    expect(removeCredHelpers(edit.text, edit.owned, 'config.json')).toBe(before);
  });

  it('refuses a credHelpers given twice, and an entry we would edit given twice', () => {
    expect(() =>
      addCredHelpers('{"credHelpers": {}, "credHelpers": {}}', [HUB], { force: false, label: 'config.json' }),
    ).toThrow(/^config\.json has "credHelpers" 2 times; keep one by hand, nothing was changed$/);
    expect(() =>
      addCredHelpers(`{"credHelpers": {"${HUB}": "a", "${HUB}": "b"}}`, [HUB], { force: true, label: 'config.json' }),
    ).toThrow(/has "https:\/\/index\.docker\.io\/v1\/" 2 times/);
  });
});
