import { readTarget } from './journal/target-file.ts';
import type { PlannedFile } from './planned-file.ts';

// A TOML file whose additions are our marked block (hosts.toml, the podman drop-in).
// `what`: the summary line's words for the change (the mirror, and what else the block holds).
export async function planTomlFile(
  label: string,
  path: string,
  edit: (text: string | undefined, label: string) => string,
  what = 'docker.io mirror',
): Promise<PlannedFile> {
  const file = await readTarget(path, label);
  const after = edit(file.text, file.shownPath);
  return {
    label,
    path: file.shownPath,
    target: file.target,
    before: file.text,
    after: unlessNothing(file.text, after),
    newMode: 0o644,
    ownership: { kind: 'toml-block' },
    summary:
      after === (file.text ?? '')
        ? what === 'docker.io mirror'
          ? 'mirror already listed'
          : `already there: ${what}`
        : what,
  };
}

// A missing file stays missing when the edit added nothing.
export function unlessNothing(before: string | undefined, after: string): string | undefined {
  if (before === undefined && after === '') return undefined;
  return after;
}
