import { DOCKER_HUB_KEY, normalizeRegistryKey } from './registry-key.ts';
import { repositoryProblem } from './distribution-grammar.ts';
import { CodedError } from '../common/errors.ts';
import { printable } from '../common/printable.ts';

// The registry key of an image reference, by the rule the Docker CLI applies: the first path
// component names a registry when it has a dot or a colon or is "localhost"; otherwise the
// image lives on Docker Hub ("python:3.14", "library/python", "user/app").
export function registryKeyOfImage(image: string): string {
  return splitImage(image).registry;
}

// The repository an image reference names, as its registry names it: Docker Hub's official
// images live under `library/` (`python:3.14` is `library/python`); tag and digest dropped.
export function repositoryOfImage(image: string): string {
  const { ref, remainder } = splitImage(image);
  const repository = remainder.replace(/@.*$/, '').replace(/:[^/:]*$/, '');
  const problem = repositoryProblem(repository);
  if (problem) throw new CodedError('image_invalid', `invalid image reference "${ref.slice(0, 200)}": ${problem}`);
  return repository;
}

function splitImage(image: string): { ref: string; registry: string; remainder: string } {
  const ref = image.trim();
  if (ref === '' || /\s/.test(ref))
    throw new CodedError(
      'image_invalid',
      `invalid image reference "${printable(ref)}": expected [registry/]name[:tag][@digest]`,
    );
  const slash = ref.indexOf('/');
  const first = slash === -1 ? '' : ref.slice(0, slash);
  const named = slash !== -1 && (first.includes('.') || first.includes(':') || first === 'localhost');
  const registry = named ? normalizeRegistryKey(first) : DOCKER_HUB_KEY;
  const remainder = named ? ref.slice(slash + 1) : ref;
  // Docker Hub: a single-component name is an official image under library/.
  return {
    ref,
    registry,
    remainder: registry === DOCKER_HUB_KEY && !remainder.includes('/') ? `library/${remainder}` : remainder,
  };
}
