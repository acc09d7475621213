import { mkdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

// What the kubelet puts on a node for a pod with a projected service-account token volume: the
// file the container reads is `<dir>/token`, a symbolic link to `..data/token`, and `..data` a
// link to a timestamped directory that a rotation replaces (the kubelet's atomic writer). Tests
// write tokens this way so that the reader meets the layout it meets on a node.
export interface ProjectedTokenVolume {
  dir: string;
  // The path a program is given: `<dir>/token`.
  path: string;
  write(token: string): Promise<void>;
}

export async function projectedTokenVolume(dir: string): Promise<ProjectedTokenVolume> {
  await mkdir(dir, { recursive: true });
  let generation = 0;
  const path = join(dir, 'token');
  return {
    dir,
    path,
    async write(token) {
      const next = `..${new Date().toISOString().replace(/[:.]/g, '_')}.${generation++}`;
      await mkdir(join(dir, next));
      await writeFile(join(dir, next, 'token'), token, { mode: 0o600 });
      const tmp = join(dir, '..data_tmp');
      await rm(tmp, { force: true });
      await symlink(next, tmp);
      await rename(tmp, join(dir, '..data'));
      await symlink('..data/token', path).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'EEXIST') throw error;
      });
    },
  };
}

// A CredentialProviderRequest as the kubelet writes it to the plugin's stdin.
export function providerRequest(
  image: string,
  extra: { serviceAccountToken?: string; serviceAccountAnnotations?: Record<string, string>; apiVersion?: string } = {},
): string {
  return JSON.stringify({
    kind: 'CredentialProviderRequest',
    apiVersion: extra.apiVersion ?? 'credentialprovider.kubelet.k8s.io/v1',
    image,
    ...(extra.serviceAccountToken !== undefined ? { serviceAccountToken: extra.serviceAccountToken } : {}),
    ...(extra.serviceAccountAnnotations !== undefined
      ? { serviceAccountAnnotations: extra.serviceAccountAnnotations }
      : {}),
  });
}
