import { describe, expect, it } from 'vitest';
import { addCredHelpers, removeCredHelpers } from '../../../src/host/setup/engine-files/docker-client-config.ts';
import { isCodedError } from '../../../src/common/errors.ts';

const HUB = 'https://index.docker.io/v1/';
const label = 'config.json';

describe('addCredHelpers', () => {
  const cases: Array<{ name: string; before: string | undefined; expected: unknown }> = [
    {
      name: 'missing file',
      before: undefined,
      expected: { credHelpers: { [HUB]: 'dstack', 'mirror.example': 'dstack' } },
    },
    { name: 'empty file', before: '', expected: { credHelpers: { [HUB]: 'dstack', 'mirror.example': 'dstack' } } },
    {
      name: 'unrelated keys kept',
      before:
        '{\n\t"auths": {"ghcr.io": {"auth": "eDp5"}},\n\t"credHelpers": {"gcr.io": "gcloud"},\n\t"psFormat": "table"\n}\n',
      expected: {
        auths: { 'ghcr.io': { auth: 'eDp5' } },
        credHelpers: { 'gcr.io': 'gcloud', [HUB]: 'dstack', 'mirror.example': 'dstack' },
        psFormat: 'table',
      },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const edit = addCredHelpers(c.before, [HUB, 'mirror.example'], { force: false, label });
      expect(JSON.parse(edit.text)).toEqual(c.expected);
      expect(edit.owned.added).toEqual([HUB, 'mirror.example']);
      expect(edit.text.endsWith('\n')).toBe(true);
      // The pure inverse gives back the same document; byte-identical restores come from the backup.
      expect(JSON.parse(removeCredHelpers(edit.text, edit.owned, label))).toEqual(JSON.parse(c.before || '{}'));
    });
  }

  it("keeps the file's indentation (spaces) and adds nothing when the entries are present", () => {
    const before = '{\n    "credHelpers": {\n        "https://index.docker.io/v1/": "dstack"\n    }\n}\n';
    const edit = addCredHelpers(before, [HUB], { force: false, label });
    expect(edit.text).toBe(before);
    expect(edit.owned.added).toEqual([]);
    const more = addCredHelpers(before, [HUB, 'reg.example:5000'], { force: false, label });
    expect(more.text).toBe(
      '{\n    "credHelpers": {\n        "https://index.docker.io/v1/": "dstack",\n        "reg.example:5000": "dstack"\n    }\n}\n',
    );
  });

  it('refuses invalid JSON and non-object documents', () => {
    for (const bad of ['{"credHelpers": ', '[1]', '"x"', '{"credHelpers": []}']) {
      let caught: unknown;
      try {
        addCredHelpers(bad, [HUB], { force: false, label });
      } catch (error) {
        caught = error;
      }
      expect(isCodedError(caught, 'config_invalid')).toBe(true);
    }
  });

  it('an invalid file is refused without quoting it (V8 would quote the passwords in `auths`)', () => {
    const cases: Array<[string, RegExp]> = [
      ['{"auths": {"r": {"auth": c2VjcmV0LXBhc3N3b3Jk}}}', /\(syntax error\)/],
      ['{"auths": {"r": {"auth": "c2VjcmV0LXBhc3N3b3Jk"}} "x": 1}', /\(syntax error at line 1 column \d+\)/],
    ];
    for (const [bad, place] of cases) {
      expect(() => addCredHelpers(bad, [HUB], { force: false, label })).toThrow(place);
      expect(() => addCredHelpers(bad, [HUB], { force: false, label })).not.toThrow(/c2VjcmV0/);
    }
  });

  it('warns and skips a conflicting entry without --force; replaces and restores it with --force', () => {
    const before =
      '{\n\t"credHelpers": {\n\t\t"https://index.docker.io/v1/": "ecr-login"\n\t},\n\t"credsStore": "pass"\n}\n';
    const soft = addCredHelpers(before, [HUB], { force: false, label });
    expect(soft.text).toBe(before);
    expect(soft.skipped).toEqual([HUB]);
    expect(soft.warnings.join('\n')).toMatch(/credsStore "pass"/);
    expect(soft.warnings.join('\n')).toMatch(/--force/);
    const forced = addCredHelpers(before, [HUB], { force: true, label });
    expect(JSON.parse(forced.text).credHelpers[HUB]).toBe('dstack');
    expect(forced.owned.replaced).toEqual({ [HUB]: 'ecr-login' });
    expect(removeCredHelpers(forced.text, forced.owned, label)).toBe(before);
  });

  it('removes only our entries when the file changed since', () => {
    const edit = addCredHelpers('{}\n', [HUB], { force: false, label });
    const changed = `${JSON.stringify({ ...JSON.parse(edit.text), credHelpers: { ...JSON.parse(edit.text).credHelpers, 'quay.io': 'other' }, extra: 1 }, null, '\t')}\n`;
    expect(JSON.parse(removeCredHelpers(changed, edit.owned, label))).toEqual({
      credHelpers: { 'quay.io': 'other' },
      extra: 1,
    });
  });
});
