import { readFileSync } from 'node:fs';
import { join } from 'node:path';

// The manifests of deploy/kubernetes/, read the way the tests read them: JSON-compatible YAML,
// whose only YAML-only syntax is whole-line `#` comments (kubectl reads them as YAML).
export const MANIFEST_DIR = join(import.meta.dirname, '..', '..', 'deploy', 'kubernetes');

export function readManifest(name: string): any {
  const text = readFileSync(join(MANIFEST_DIR, name), 'utf8');
  return JSON.parse(
    text
      .split('\n')
      .filter((line) => !/^\s*#/.test(line))
      .join('\n'),
  );
}

// The node agent as the DaemonSet runs it: its container, its command line (after the
// binary), and the helper settings of its ConfigMap.
export function nodeAgent(): {
  container: any;
  args: string[];
  listen: string;
  settings: Record<string, string>;
  pod: any;
} {
  const daemonSet = readManifest('daemonset.yaml');
  const pod = daemonSet.spec.template.spec;
  const container = pod.containers[0];
  const args = container.args as string[];
  const listen = args[args.indexOf('--listen') + 1]!;
  const settings = JSON.parse(readManifest('configmap.yaml').data['config.json']) as Record<string, string>;
  return { container, args, listen, settings, pod };
}

// The (namespace, service account) the node agent's projected token names, and its audience.
export function nodeAgentIdentity(): { namespace: string; serviceAccount: string; audience: string } {
  const { pod } = nodeAgent();
  const daemonSet = readManifest('daemonset.yaml');
  const volume = pod.volumes.find((v: any) => v.projected);
  return {
    namespace: daemonSet.metadata.namespace,
    serviceAccount: pod.serviceAccountName,
    audience: volume.projected.sources[0].serviceAccountToken.audience,
  };
}
