import type { Dockerd } from './dockerd.ts';
import { ENGINE_API, engineImagePull, engineRequest, type EnginePull } from './engine-api.ts';
import { fromImageAndTag } from './dstack-rewrite.ts';

// dstack-shim's pullImage (runner/internal/shim/docker.go), step for step through the Engine
// API: `:latest` is appended only when the name has no ':' at all; `ImageList` with the filter
// `reference=<name>`; the pull is skipped when that lists anything and the name lacks
// `:latest`; else `ImagePull` with no X-Registry-Auth (the Go client sends `tag=latest` for a
// tagless name). So a tagless name with a port (`127.0.0.1:8484/ubuntu`) gets no `:latest`.
export interface ShimPull {
  name: string;
  listed: number;
  skipped: boolean;
  pull?: EnginePull;
}

export async function shimPull(dockerd: Dockerd, imageName: string): Promise<ShimPull> {
  const name = imageName.includes(':') ? imageName : `${imageName}:latest`;
  const filters = encodeURIComponent(JSON.stringify({ reference: { [name]: true } }));
  const list = await engineRequest(dockerd, 'GET', `${ENGINE_API}/images/json?filters=${filters}`);
  if (list.status !== 200) throw new Error(`shimPull: ImageList ${name} → HTTP ${list.status} ${list.body}`);
  const listed = (JSON.parse(list.body) as unknown[]).length;
  if (listed > 0 && !name.includes(':latest')) return { name, listed, skipped: true };
  const { fromImage, tag } = fromImageAndTag(name);
  return { name, listed, skipped: false, pull: await engineImagePull(dockerd, fromImage, tag) };
}
