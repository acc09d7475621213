// How the host-local mirror endpoint names Docker Hub's official images on an upstream
// (docs/contract.md, /v1/host-config): dockerd asks a mirror for `library/python`; keep it
// (pull-through caches), strip it (`python`, a registry where `python:3.14` was pushed as
// `python`), or try `library/…` first and the bare name on a 404 (both).
export type LibraryMode = 'keep' | 'strip' | 'both';

export const LIBRARY_MODES: readonly LibraryMode[] = ['keep', 'strip', 'both'];

export function isLibraryMode(value: unknown): value is LibraryMode {
  return typeof value === 'string' && (LIBRARY_MODES as readonly string[]).includes(value);
}
