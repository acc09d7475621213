import { request } from 'node:http';
import type { Dockerd } from './dockerd.ts';

// The Docker Engine API on the private engine's socket, called the way dstack-shim calls it:
// `POST /v1.41/images/create?fromImage=…&tag=…`, with `X-Registry-Auth` only when given
// (the shim sends it only for a run's own registry_auth). API v1.41 is what dockerd 20.10 speaks.
export const ENGINE_API = '/v1.41';

export interface EnginePull {
  status: number;
  // The answer as dockerd wrote it, and that progress stream (one JSON object per line).
  body: string;
  messages: Record<string, unknown>[];
  // The stream's final `error`, when the pull failed after the 200.
  error?: string;
  ms: number;
}

export interface RegistryAuth {
  username: string;
  password: string;
  serveraddress?: string;
}

export async function engineImagePull(
  dockerd: Dockerd,
  fromImage: string,
  tag: string,
  options: { registryAuth?: RegistryAuth } = {},
): Promise<EnginePull> {
  const headers: Record<string, string> = {};
  // URL-safe base64 with its padding: dockerd 20.10 decodes it with Go's base64.URLEncoding.
  if (options.registryAuth)
    headers['x-registry-auth'] = Buffer.from(JSON.stringify(options.registryAuth))
      .toString('base64')
      .replace(/\+/g, '-')
      .replace(/\//g, '_');
  const path = `${ENGINE_API}/images/create?fromImage=${encodeURIComponent(fromImage)}&tag=${encodeURIComponent(tag)}`;
  const started = performance.now();
  const { status, body } = await engineRequest(dockerd, 'POST', path, headers);
  const messages = body
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      try {
        return JSON.parse(line) as Record<string, unknown>;
      } catch {
        return { raw: line };
      }
    });
  const failed = messages.find((m) => typeof m.error === 'string');
  const error = status !== 200 ? body.trim() : (failed?.error as string | undefined);
  return { status, body, messages, ms: performance.now() - started, ...(error !== undefined ? { error } : {}) };
}

// `GET /images/NAME/json`: the engine's record of an image (200), or its 404.
export async function engineImageInspect(
  dockerd: Dockerd,
  name: string,
): Promise<{
  status: number;
  image?: { Id: string; RepoDigests?: string[]; Config?: { Labels?: Record<string, string> } };
}> {
  const { status, body } = await engineRequest(dockerd, 'GET', `${ENGINE_API}/images/${name}/json`);
  return status === 200 ? { status, image: JSON.parse(body) } : { status };
}

export async function engineImageRemove(dockerd: Dockerd, name: string): Promise<number> {
  return (await engineRequest(dockerd, 'DELETE', `${ENGINE_API}/images/${name}?force=1`)).status;
}

// The seed label of an image the engine holds (see seed-image.ts), or undefined.
export async function seedLabel(dockerd: Dockerd, name: string): Promise<string | undefined> {
  return (await engineImageInspect(dockerd, name)).image?.Config?.Labels?.['e2e.seed'];
}

export function describePull(pull: EnginePull): string {
  return `HTTP ${pull.status}${pull.error ? `, error: ${pull.error}` : ''}\n${pull.messages
    .slice(-5)
    .map((m) => JSON.stringify(m))
    .join('\n')}`;
}

// Any other Engine API call on the private socket: its status and the body as written.
export function engineRequest(
  dockerd: Dockerd,
  method: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: dockerd.socket, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}
