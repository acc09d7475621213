import { DOCKER_HUB_KEY, normalizeRegistryKey } from './registry-key.ts';
import { CodedError } from '../common/errors.ts';
import { printable } from '../common/printable.ts';

// The registry key of an image reference, by the rule the Docker CLI applies: the first path
// component names a registry when it has a dot or a colon or is "localhost"; otherwise the
// image lives on Docker Hub ("python:3.14", "library/python", "user/app").
export function registryKeyOfImage(image: string): string {
  const ref = image.trim();
  if (ref === '' || /\s/.test(ref)) throw new CodedError('image_invalid', `invalid image reference "${printable(ref)}": expected [registry/]name[:tag][@digest]`);
  const slash = ref.indexOf('/');
  if (slash === -1) return DOCKER_HUB_KEY;
  const first = ref.slice(0, slash);
  if (first.includes('.') || first.includes(':') || first === 'localhost') return normalizeRegistryKey(first);
  return DOCKER_HUB_KEY;
}
