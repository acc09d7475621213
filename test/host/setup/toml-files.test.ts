import { describe, expect, it } from 'vitest';
import { addContainerdMirrors } from '../../../src/host/setup/engine-files/containerd-hosts.ts';
import { addRegistriesMirrors } from '../../../src/host/setup/engine-files/registries-conf.ts';
import { removeBlock, BLOCK_BEGIN } from '../../../src/host/setup/formats/managed-block.ts';
import { readToml } from '../../../src/host/setup/formats/toml-lite.ts';
import { readTomlTables } from '../../../src/host/setup/formats/toml-read.ts';
import { codeOf } from '../../helpers/error-code.ts';

const MIRROR = 'https://mirror.example';

describe('containerd hosts.toml', () => {
  it('a new file names Docker Hub as server and the mirror as a pull/resolve host', () => {
    const text = addContainerdMirrors(undefined, [MIRROR, 'http://127.0.0.1:5000'], 'hosts.toml');
    const tables = readToml(text, 'x');
    expect(tables[0]!.values.get('server')).toBe('https://registry-1.docker.io');
    expect(tables.slice(1).map((t) => [t.path, t.values.get('capabilities')])).toEqual([
      [
        ['host', MIRROR],
        ['pull', 'resolve'],
      ],
      [
        ['host', 'http://127.0.0.1:5000'],
        ['pull', 'resolve'],
      ],
    ]);
    expect(removeBlock(text)).toBe('');
  });

  it('keeps an existing file and its server, appends our host, and removes exactly it', () => {
    const before =
      '# ours\nserver = "https://docker.io"\n\n[host."https://other.example"]\n  capabilities = ["pull"]\n';
    const text = addContainerdMirrors(before, [MIRROR], 'hosts.toml');
    expect(text.startsWith(before)).toBe(true);
    expect(text).toContain(`[host."${MIRROR}"]`);
    expect(text).not.toMatch(/registry-1/);
    expect(removeBlock(text)).toBe(before);
    expect(addContainerdMirrors(text, [MIRROR], 'hosts.toml')).toBe(text);
  });

  it('adds nothing when the mirror is already listed by someone else', () => {
    const before = `server = "https://registry-1.docker.io"\n[host."${MIRROR}/"]\ncapabilities = ["pull", "resolve"]\n`;
    expect(addContainerdMirrors(before, [MIRROR], 'hosts.toml')).toBe(before);
  });

  it.each(['server = ', '[host."x"\n', '[a]\n[a]\n', 'k = 1\nk = 2\n', 'x = "unterminated\n'])('refuses %j', (bad) => {
    expect(codeOf(() => addContainerdMirrors(bad, [MIRROR], 'hosts.toml'))).toBe('config_invalid');
  });

  // Read with a full TOML parser (smol-toml): valid TOML beyond the old reader is kept, not refused.
  it.each(['note = """multi\nline"""\n', 'checked = 2026-12-04T02:00:00Z\n', 'a.b = 1\n'])(
    'keeps valid TOML the old reader refused: %j',
    (valid) => {
      const text = addContainerdMirrors(valid, [MIRROR], 'hosts.toml');
      expect(text.startsWith(valid)).toBe(true);
      expect(removeBlock(text)).toBe(valid);
      expect(readTomlTables(text, 'x').some((t) => t.path.join('.') === `host.${MIRROR}`)).toBe(true);
    },
  );
});

describe('containers registries.conf.d drop-in', () => {
  it('writes a docker.io [[registry]] with a mirror per URL; http mirrors are insecure', () => {
    const text = addRegistriesMirrors(undefined, [MIRROR, 'http://127.0.0.1:5000/cache'], 'drop-in');
    expect(text.startsWith(BLOCK_BEGIN)).toBe(true);
    const tables = readToml(text, 'x');
    expect(tables[1]).toMatchObject({ path: ['registry'], arrayItem: true });
    expect(Object.fromEntries(tables[1]!.values)).toEqual({ prefix: 'docker.io', location: 'docker.io' });
    expect(tables.slice(2).map((t) => [t.path.join('.'), Object.fromEntries(t.values)])).toEqual([
      ['registry.mirror', { location: 'mirror.example' }],
      ['registry.mirror', { location: '127.0.0.1:5000/cache', insecure: true }],
    ]);
    expect(addRegistriesMirrors(text, [MIRROR, 'http://127.0.0.1:5000/cache'], 'drop-in')).toBe(text);
  });

  it('keeps unrelated registries in the same file and refuses a docker.io entry we do not own', () => {
    const before = '[[registry]]\nlocation = "quay.io"\n';
    const text = addRegistriesMirrors(before, [MIRROR], 'drop-in');
    expect(removeBlock(text)).toBe(before);
    expect(
      codeOf(() =>
        addRegistriesMirrors('[[registry]]\nprefix = "docker.io"\nlocation = "docker.io"\n', [MIRROR], 'drop-in'),
      ),
    ).toBe('config_conflict');
    expect(codeOf(() => addRegistriesMirrors('[[registry]\n', [MIRROR], 'drop-in'))).toBe('config_invalid');
  });

  it('local-name mode: a [[registry]] for the loopback name with insecure = true, alone or after the docker.io one', () => {
    const alone = addRegistriesMirrors(undefined, [], 'drop-in', '127.0.0.1:8484');
    expect(
      readToml(alone, 'x')
        .slice(1)
        .map((t) => [t.path.join('.'), Object.fromEntries(t.values)]),
    ).toEqual([['registry', { location: '127.0.0.1:8484', insecure: true }]]);
    const both = addRegistriesMirrors(alone, ['http://127.0.0.1:8484'], 'drop-in', '127.0.0.1:8484');
    expect(
      readToml(both, 'x')
        .slice(1)
        .map((t) => [t.path.join('.'), Object.fromEntries(t.values)]),
    ).toEqual([
      ['registry', { prefix: 'docker.io', location: 'docker.io' }],
      ['registry.mirror', { location: '127.0.0.1:8484', insecure: true }],
      ['registry', { location: '127.0.0.1:8484', insecure: true }],
    ]);
    // Neither asked for: our block goes; an entry for the name that is not ours is refused.
    expect(addRegistriesMirrors(alone, [], 'drop-in')).toBe('');
    expect(
      codeOf(() =>
        addRegistriesMirrors('[[registry]]\nlocation = "127.0.0.1:8484"\n', [], 'drop-in', '127.0.0.1:8484'),
      ),
    ).toBe('config_conflict');
    // A docker.io entry of theirs does not stop the local name alone.
    const theirs = '[[registry]]\nprefix = "docker.io"\nlocation = "docker.io"\n';
    expect(removeBlock(addRegistriesMirrors(theirs, [], 'drop-in', '127.0.0.1:8484'))).toBe(theirs);
  });
});

describe('TOML this tool does not edit', () => {
  it('is refused as beyond this reader, not called invalid; a broken file is called invalid', () => {
    expect(() => readToml('server = """\nhttps://x\n"""\n', 'hosts.toml')).toThrow(
      /^hosts\.toml uses TOML this tool does not edit \(line 1: a multi-line string\)/,
    );
    expect(() => readToml('created = 1979-05-27T07:32:00Z\n', 'hosts.toml')).toThrow(
      /^hosts\.toml uses TOML this tool does not edit \(line 1: a value this tool does not read/,
    );
    expect(() => readToml('server = "https://x\n', 'hosts.toml')).toThrow(/^hosts\.toml is not valid TOML \(line 1/);
  });
});
