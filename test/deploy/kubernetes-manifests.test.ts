import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MANIFEST_DIR, nodeAgent, nodeAgentIdentity, readManifest } from '../helpers/kubernetes-manifests.ts';
import { parseMirrorOptions } from '../../src/host/mirror/mirror-options.ts';
import { DEFAULT_CONFIG_PATH, readHelperSettings } from '../../src/host/settings/settings.ts';
import { DEFAULT_KUBERNETES_AUDIENCE } from '../../src/service/identity/kubernetes-config.ts';
import { PROVIDER_API_VERSIONS } from '../../src/host/kubelet/provider-request.ts';

// deploy/kubernetes/ (issue 19, proof 3): every manifest parses, names only what exists (the
// image's binary, the mirror's options, the settings' keys, volumes, the ConfigMap, the
// service account), and the DaemonSet's command line is the one test/e2e/kubernetes runs.
const ROOT = join(MANIFEST_DIR, '..', '..');

describe('deploy/kubernetes', () => {
  it('every .yaml parses (JSON-compatible YAML) and has apiVersion and kind', () => {
    const files = readdirSync(MANIFEST_DIR).filter((f) => f.endsWith('.yaml'));
    expect(files.sort()).toEqual([
      'configmap.yaml',
      'credential-provider-config.yaml',
      'credential-provider-rbac.yaml',
      'daemonset.yaml',
      'namespace.yaml',
      'serviceaccount.yaml',
    ]);
    for (const file of files)
      expect(readManifest(file), file).toMatchObject({ apiVersion: expect.any(String), kind: expect.any(String) });
  });

  it('the DaemonSet runs the binary the Dockerfile installs, tagged with this version, with options the mirror takes', () => {
    const { container, args, pod } = nodeAgent();
    const dockerfile = readFileSync(join(MANIFEST_DIR, 'Dockerfile'), 'utf8');
    const copy = /^COPY dist\/(\S+)-linux-\$\{ARCH\} (\S+)$/m.exec(dockerfile);
    expect(copy, 'the Dockerfile copies a built binary').not.toBeNull();
    expect(copy![1]).toBe('docker-credential-dstack');
    expect(readFileSync(join(ROOT, 'scripts', 'build-binary.mjs'), 'utf8')).toContain(
      ['`$', '{name}-linux-$', '{arch}`'].join(''),
    );
    expect(container.command).toEqual([copy![2]]);
    // src/common/version.ts is filled in at build time from package.json.
    expect(container.image).toBe(
      `docker-credential-dstack:${JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version}`,
    );
    expect(args[0]).toBe('mirror');
    const options = parseMirrorOptions(args.slice(1));
    expect(options).toMatchObject({ listen: '127.0.0.1:8484', allowUids: [] });
    expect(pod.hostNetwork).toBe(true);
    // The probes ask the address the agent listens on.
    for (const probe of [container.readinessProbe, container.livenessProbe])
      expect(`${probe.httpGet.host}:${probe.httpGet.port}`).toBe('127.0.0.1:8484');
  });

  it("the e2e tests run the DaemonSet's command line, not a copy of it", () => {
    const test = readFileSync(join(ROOT, 'test', 'e2e', 'kubernetes', 'node-agent.test.ts'), 'utf8');
    expect(test).toContain('nodeAgent()');
    expect(test).toMatch(/agent\.args/);
  });

  it('mounts are volumes of the pod, and the settings name only mounted paths and known keys', () => {
    const { container, pod, settings } = nodeAgent();
    const volumes = new Map<string, any>(pod.volumes.map((v: any) => [v.name, v]));
    for (const mount of container.volumeMounts) expect(volumes.has(mount.name), mount.name).toBe(true);
    const mountOf = (path: string) =>
      container.volumeMounts.find((m: any) => path === m.mountPath || path.startsWith(`${m.mountPath}/`));
    // The ConfigMap is mounted where the helper reads its config by default.
    const configMount = mountOf(DEFAULT_CONFIG_PATH);
    expect(volumes.get(configMount.name).configMap.name).toBe(readManifest('configmap.yaml').metadata.name);
    expect(Object.keys(readManifest('configmap.yaml').data)).toEqual([
      DEFAULT_CONFIG_PATH.slice(dirname(DEFAULT_CONFIG_PATH).length + 1),
    ]);
    // The token file is the projected volume's `path`, with our audience and a short life.
    const tokenMount = mountOf(settings.serviceAccountTokenFile!);
    const projected = volumes.get(tokenMount.name).projected.sources[0].serviceAccountToken;
    expect(join(tokenMount.mountPath, projected.path)).toBe(settings.serviceAccountTokenFile);
    expect(projected.audience).toBe(DEFAULT_KUBERNETES_AUDIENCE);
    expect(projected.expirationSeconds).toBeGreaterThanOrEqual(600);
    expect(projected.expirationSeconds).not.toBe(3607);
    // The cache is a directory the agent creates inside a writable mount (the emptyDir itself is root's).
    const cacheMount = mountOf(settings.cacheDir!);
    expect(cacheMount.readOnly).not.toBe(true);
    expect(settings.cacheDir).not.toBe(cacheMount.mountPath);
    // The helper's own reader accepts every key, and reads the paths as given.
    const dir = mkdtempSync(join(tmpdir(), 'manifest-settings-'));
    let read;
    try {
      writeFileSync(join(dir, 'config.json'), JSON.stringify(settings));
      read = readHelperSettings({ DOCKER_CREDENTIAL_DSTACK_CONFIG: join(dir, 'config.json') }, { requireServer: true });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(read).toMatchObject({
      server: settings.server,
      serviceAccountTokenFile: settings.serviceAccountTokenFile,
      cacheDir: settings.cacheDir,
    });
    expect(Object.keys(settings).sort()).toEqual(['cacheDir', 'server', 'serviceAccountTokenFile']);
  });

  it('one namespace, one service account, no API token and no RBAC for the node agent', () => {
    const identity = nodeAgentIdentity();
    const sa = readManifest('serviceaccount.yaml');
    expect(identity).toEqual({
      namespace: readManifest('namespace.yaml').metadata.name,
      serviceAccount: sa.metadata.name,
      audience: DEFAULT_KUBERNETES_AUDIENCE,
    });
    expect(sa.metadata.namespace).toBe(identity.namespace);
    expect(readManifest('configmap.yaml').metadata.namespace).toBe(identity.namespace);
    expect(sa.automountServiceAccountToken).toBe(false);
    expect(nodeAgent().pod.automountServiceAccountToken).toBe(false);
    // The only RBAC is the kubelet's, for the provider's audience.
    const rbac = readManifest('credential-provider-rbac.yaml').items;
    expect(rbac.map((i: any) => i.kind)).toEqual(['ClusterRole', 'ClusterRoleBinding']);
    expect(rbac[0].rules).toEqual([
      { apiGroups: [''], resources: [DEFAULT_KUBERNETES_AUDIENCE], verbs: ['request-serviceaccounts-token-audience'] },
    ]);
    expect(rbac[1].subjects).toEqual([{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'system:nodes' }]);
  });

  it('the CredentialProviderConfig names the binary, its subcommand and an API version it speaks', async () => {
    const config = readManifest('credential-provider-config.yaml');
    expect(config).toMatchObject({ apiVersion: 'kubelet.config.k8s.io/v1', kind: 'CredentialProviderConfig' });
    const [provider] = config.providers;
    expect(provider.name).toBe('docker-credential-dstack');
    expect(provider.args).toEqual(['kubelet-credential-provider']);
    const dispatch = readFileSync(join(ROOT, 'src', 'host', 'commands', 'dispatch.ts'), 'utf8');
    expect(dispatch).toContain(`'${provider.args[0]}': async () =>`);
    expect(PROVIDER_API_VERSIONS).toContain(provider.apiVersion);
    expect(provider.tokenAttributes).toEqual({
      serviceAccountTokenAudience: DEFAULT_KUBERNETES_AUDIENCE,
      cacheType: 'ServiceAccount',
      requireServiceAccount: false,
    });
    expect(provider.env).toEqual([{ name: 'DOCKER_CREDENTIAL_DSTACK_CONFIG', value: DEFAULT_CONFIG_PATH }]);
    expect(existsSync(join(ROOT, 'docs', 'kubernetes.md'))).toBe(true);
  });
});
