import { DOCKER_HUB_KEY } from '../../registry/registry-key.ts';

// The keys of the answer's `auth` map, by the kubelet's matching (pkg/credentialprovider
// keyring): a key's host must equal the image's, port included (a key without a port does not
// match an image with one), `*` stands for one DNS label, a path matches by prefix. So the
// key is the image's registry exactly as the image spells it. Docker Hub has two spellings in
// an image (`python:3.14` has none, `docker.io/library/python`): "docker.io" matches the second,
// and "index.docker.io" is the key the kubelet falls back to for names without a registry.
export function authKeysFor(image: string, registryKey: string): string[] {
  const slash = image.indexOf('/');
  const first = slash === -1 ? '' : image.slice(0, slash);
  const named = slash !== -1 && (first.includes('.') || first.includes(':') || first === 'localhost');
  if (registryKey !== DOCKER_HUB_KEY) return [named ? first : registryKey];
  const keys = ['docker.io', 'index.docker.io'];
  if (named && !keys.includes(first)) keys.push(first);
  return keys;
}
