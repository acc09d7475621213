import type { FileRecord, Ownership } from './journal/setup-state.ts';

// One file's change, decided before anything is written: configure and unconfigure both make
// a list of these, print it (--dry-run) or apply it.
export interface PlannedFile {
  label: string;
  path: string;
  target: string;
  before: string | undefined;
  after: string | undefined;
  newMode: number;
  ownership?: Ownership;
  restoreFrom?: string;
  record?: FileRecord;
  summary: string;
}

export function isChange(file: PlannedFile): boolean {
  return file.before !== file.after;
}
