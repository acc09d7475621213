import { describe, expect, it } from 'vitest';
import {
  criHostsDirs,
  readCriRegistry,
  removeCriConfigPath,
  setCriConfigPath,
  CRI_DEFAULT_HOSTS_DIRS,
} from '../../../src/host/setup/engine-files/containerd-config.ts';
import { outsideBlock, BLOCK_BEGIN } from '../../../src/host/setup/formats/managed-block.ts';
import { parseContainerdVersion } from '../../../src/host/setup/engines/containerd-version.ts';
import { codeOf } from '../../helpers/error-code.ts';

const DIR = '/etc/containerd/certs.d';
const L = 'config.toml';

// Debian 12's /etc/containerd/config.toml (containerd 1.6): version 2, no registry table.
const DEBIAN_V2 =
  'version = 2\n\n[plugins]\n  [plugins."io.containerd.grpc.v1.cri"]\n    [plugins."io.containerd.grpc.v1.cri".cni]\n      bin_dir = "/usr/lib/cni"\n      conf_dir = "/etc/cni/net.d"\n  [plugins."io.containerd.internal.v1.opt"]\n    path = "/var/lib/containerd/opt"\n';

// What `containerd config default` of 2.1 writes around CRI's registry: version 3, config_path empty.
const STOCK_V3 = [
  'version = 3',
  "root = '/var/lib/containerd'",
  'disabled_plugins = []',
  'imports = []',
  '',
  '[plugins]',
  "  [plugins.'io.containerd.cri.v1.images']",
  "    snapshotter = 'overlayfs'",
  '    max_concurrent_downloads = 3',
  '',
  "    [plugins.'io.containerd.cri.v1.images'.pinned_images]",
  "      sandbox = 'registry.k8s.io/pause:3.10'",
  '',
  "    [plugins.'io.containerd.cri.v1.images'.registry]",
  "      config_path = ''   # set by the image build",
  '',
  "    [plugins.'io.containerd.cri.v1.images'.image_decryption]",
  "      key_model = 'node'",
  '',
].join('\n');

describe("containerd config.toml: CRI's config_path", () => {
  it.each([2, 3] as const)('no file: a version %i config with only the key, removed to nothing', (version) => {
    const { text, replacedLine } = setCriConfigPath(undefined, DIR, version, L);
    expect(replacedLine).toBeUndefined();
    expect(text.startsWith(BLOCK_BEGIN)).toBe(true);
    expect(text).toContain(`version = ${version}\n`);
    const cri = readCriRegistry(text, L);
    expect(cri).toMatchObject({ version, configPath: DIR });
    expect(text).toContain(
      version === 2
        ? '[plugins."io.containerd.grpc.v1.cri".registry]\n  config_path = "/etc/containerd/certs.d"\n'
        : '[plugins."io.containerd.cri.v1.images".registry]\n',
    );
    expect(removeCriConfigPath(text, replacedLine)).toBe('');
    // a comment-only file is as good as none: what was there stays
    const commented = '# managed by hand\n';
    const edited = setCriConfigPath(commented, DIR, version, L).text;
    expect(edited.startsWith(commented)).toBe(true);
    expect(removeCriConfigPath(edited, undefined)).toBe(commented);
  });

  it("a version 2 file without the registry table (Debian's): the table appended, the rest byte for byte", () => {
    const { text, replacedLine } = setCriConfigPath(DEBIAN_V2, DIR, 3, L);
    expect(text.startsWith(DEBIAN_V2)).toBe(true);
    expect(text).toContain(
      '[plugins."io.containerd.grpc.v1.cri".registry]\n  config_path = "/etc/containerd/certs.d"\n',
    );
    expect(readCriRegistry(text, L).configPath).toBe(DIR);
    expect(removeCriConfigPath(text, replacedLine)).toBe(DEBIAN_V2);
  });

  it("the stock version 3 file with config_path = '': only that line replaced, in place; unconfigure puts it back", () => {
    const { text, replacedLine } = setCriConfigPath(STOCK_V3, DIR, 3, L);
    expect(replacedLine).toBe("      config_path = ''   # set by the image build\n");
    const at = STOCK_V3.indexOf(replacedLine!);
    expect(text.slice(0, at)).toBe(STOCK_V3.slice(0, at));
    const after = STOCK_V3.slice(at + replacedLine!.length);
    expect(text.endsWith(after)).toBe(true);
    expect(text).toContain(
      `${BLOCK_BEGIN}\n# replaces: config_path = ''   # set by the image build\n      config_path = "/etc/containerd/certs.d"\n# END docker-credential-dstack\n`,
    );
    expect(readCriRegistry(text, L)).toMatchObject({ version: 3, configPath: DIR });
    expect(removeCriConfigPath(text, replacedLine)).toBe(STOCK_V3);
    // a second run with the same directory changes nothing; with another only the key's line
    expect(setCriConfigPath(text, DIR, 3, L).text).toBe(text);
    const moved = setCriConfigPath(text, '/srv/certs.d', 3, L).text;
    expect(moved).toBe(text.replace('"/etc/containerd/certs.d"', '"/srv/certs.d"'));
    expect(removeCriConfigPath(moved, replacedLine)).toBe(STOCK_V3);
  });

  it('a config_path line with CRLF, or last in the file without a newline, goes back exactly', () => {
    for (const before of [
      'version = 2\r\n[plugins."io.containerd.grpc.v1.cri".registry]\r\n  config_path = ""\r\n[x]\r\n',
      'version = 2\n[plugins."io.containerd.grpc.v1.cri".registry]\n  config_path = ""',
    ]) {
      const { text, replacedLine } = setCriConfigPath(before, DIR, 2, L);
      expect(readCriRegistry(text, L).configPath).toBe(DIR);
      expect(removeCriConfigPath(text, replacedLine)).toBe(before);
      expect(removeCriConfigPath(`${text}# later edit\n`, replacedLine)).toBe(`${before}# later edit\n`);
    }
  });

  it('a version 3 file: the version 2 key is ignored there, so the version 3 table is added and the v2 one kept', () => {
    const before =
      'version = 3\n\n[plugins."io.containerd.grpc.v1.cri".registry]\n  config_path = "/etc/containerd/certs.d"\n';
    const cri = readCriRegistry(before, L);
    expect(cri).toMatchObject({ version: 3, configPath: undefined, ignoredV2Key: true });
    expect(criHostsDirs(cri, { major: 2, minor: 1, text: '2.1.4' })).toEqual([]);
    const { text } = setCriConfigPath(before, DIR, 3, L);
    expect(text.startsWith(before)).toBe(true);
    expect(text).toContain(
      '[plugins."io.containerd.cri.v1.images".registry]\n  config_path = "/etc/containerd/certs.d"\n',
    );
    expect(removeCriConfigPath(text, undefined)).toBe(before);
  });

  it('a registry table without the key, CRLF and tabs: the key goes right under its header, the rest is kept', () => {
    const before =
      'version = 2\r\n# site\r\n[plugins."io.containerd.grpc.v1.cri"]\r\n\tsandbox_image = "pause:3.9"\r\n\t[plugins."io.containerd.grpc.v1.cri".registry] # ours\r\n\t\t[plugins."io.containerd.grpc.v1.cri".registry.mirrors]\r\n\t\t[plugins."io.containerd.grpc.v1.cri".registry.configs."r.example".auth]\r\n\t\t\tusername = "u"\r\n';
    const { text, replacedLine } = setCriConfigPath(before, DIR, 2, L);
    const header = '\t[plugins."io.containerd.grpc.v1.cri".registry] # ours\r\n';
    const at = before.indexOf(header) + header.length;
    expect(text).toBe(
      `${before.slice(0, at)}${BLOCK_BEGIN}\n\t  config_path = "${DIR}"\n# END docker-credential-dstack\n${before.slice(at)}`,
    );
    expect(outsideBlock(text)).toBe(before);
    expect(readCriRegistry(text, L).configPath).toBe(DIR);
    expect(removeCriConfigPath(text, replacedLine)).toBe(before);
  });

  it('config_path naming other directories: CRI reads those, in order; a missing key on 2.2 and an empty one on 2.3 take the default', () => {
    const other = readCriRegistry(
      'version = 2\n[plugins."io.containerd.grpc.v1.cri".registry]\nconfig_path = "/srv/a:/srv/b"\n',
      L,
    );
    expect(criHostsDirs(other, undefined)).toEqual(['/srv/a', '/srv/b']);
    const absent = readCriRegistry(DEBIAN_V2, L);
    const empty = readCriRegistry(STOCK_V3, L);
    const v = (text: string) => parseContainerdVersion(text);
    expect(
      criHostsDirs(absent, v('containerd github.com/containerd/containerd 1.6.20~ds1 1.6.20~ds1-1+deb12u3')),
    ).toEqual([]);
    expect(criHostsDirs(absent, v('containerd github.com/containerd/containerd/v2 v2.1.4 75cb2b7'))).toEqual([]);
    expect(criHostsDirs(empty, v('containerd github.com/containerd/containerd/v2 v2.1.4 75cb2b7'))).toEqual([]);
    expect(criHostsDirs(absent, v('containerd github.com/containerd/containerd/v2 v2.2.0 x'))).toEqual(
      CRI_DEFAULT_HOSTS_DIRS,
    );
    expect(criHostsDirs(empty, v('containerd github.com/containerd/containerd/v2 v2.2.0 x'))).toEqual([]);
    expect(criHostsDirs(empty, v('containerd github.com/containerd/containerd/v2 v2.3.1 x'))).toEqual(
      CRI_DEFAULT_HOSTS_DIRS,
    );
    expect(criHostsDirs(empty, undefined)).toEqual([]);
  });

  it("Docker's containerd.io config (no version, CRI disabled): nothing to point at certs.d, no refusal", () => {
    const dockerCe =
      '#   Copyright 2018-2022 Docker Inc.\n\ndisabled_plugins = ["cri"]\n\n#root = "/var/lib/containerd"\n#[grpc]\n#  address = "/run/containerd/containerd.sock"\n';
    expect(readCriRegistry(dockerCe, L)).toMatchObject({ criDisabled: true, configPath: undefined });
    expect(readCriRegistry('version = 2\ndisabled_plugins = ["io.containerd.grpc.v1.cri"]\n', L).criDisabled).toBe(
      true,
    );
  });

  it.each([
    ['version 1 (no version line)', '[plugins.cri.registry]\n  config_path = ""\n', 'config_unsupported'],
    ['an unknown version', 'version = 4\n', 'config_unsupported'],
    [
      'dotted keys',
      'version = 2\n[plugins."io.containerd.grpc.v1.cri"]\nregistry.config_path = ""\n',
      'config_unsupported',
    ],
    [
      'an inline table',
      'version = 3\n[plugins."io.containerd.cri.v1.images"]\nregistry = { config_path = "" }\n',
      'config_unsupported',
    ],
    [
      'config_path not a string',
      'version = 2\n[plugins."io.containerd.grpc.v1.cri".registry]\nconfig_path = 1\n',
      'config_invalid',
    ],
    ['broken TOML', 'version = 2\n[plugins\n', 'config_invalid'],
  ])('refuses %s in one line', (_, text, code) => {
    expect(codeOf(() => setCriConfigPath(text, DIR, 2, L))).toBe(code);
  });

  it('sees deprecated mirrors and configs.tls, which containerd refuses next to config_path; an empty mirrors table is none', () => {
    const mirrors =
      'version = 2\n[plugins."io.containerd.grpc.v1.cri".registry.mirrors."docker.io"]\n  endpoint = ["https://m.example"]\n';
    const tls =
      'version = 2\n[plugins."io.containerd.grpc.v1.cri".registry.configs."r.example".tls]\n  insecure_skip_verify = true\n';
    const emptyTable = 'version = 2\n[plugins."io.containerd.grpc.v1.cri".registry.mirrors]\n';
    expect(readCriRegistry(mirrors, L).legacyMirrors).toBe(true);
    expect(readCriRegistry(tls, L).legacyMirrors).toBe(true);
    expect(readCriRegistry(emptyTable, L).legacyMirrors).toBe(false);
    expect(criHostsDirs(readCriRegistry(mirrors, L), { major: 2, minor: 3, text: '2.3.0' })).toEqual([]);
  });
});
