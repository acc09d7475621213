import { readTarget } from './target-file.ts';
import type { PlannedFile } from './planned-file.ts';

// A TOML file whose additions are our marked block (hosts.toml, the podman drop-in).
export async function planTomlFile(label: string, path: string, edit: (text: string | undefined, label: string) => string): Promise<PlannedFile> {
  const file = await readTarget(path, label);
  const after = edit(file.text, file.shownPath);
  return {
    label, path: file.shownPath, target: file.target, before: file.text, after: unlessNothing(file.text, after), newMode: 0o644,
    ownership: { kind: 'toml-block' },
    summary: after === (file.text ?? '') ? 'mirror already listed' : 'docker.io mirror',
  };
}

// A missing file stays missing when the edit added nothing.
export function unlessNothing(before: string | undefined, after: string): string | undefined {
  if (before === undefined && after === '') return undefined;
  return after;
}
