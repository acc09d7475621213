import { open, readFile, rm, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { atomicWrite } from '../../../common/atomic-write.ts';
import { makeDirectory } from '../../../common/make-directory.ts';
import { CodedError } from '../../../common/errors.ts';
import { STATE_FILE, type FileRecord } from './setup-state.ts';

export const JOURNAL_FILE = 'setup-journal.json';

// Files and directories to remove once a step is settled one way or the other.
export interface StepCleanup {
  files: string[];
  dirs: string[];
}

// One file step of configure or unconfigure, on disk (fsync) before the step writes anything
// and removed once the state file records its outcome. A run killed in between leaves it for
// the next configure or unconfigure, which finishes the step when the file holds the new bytes
// and rolls it back when it still holds the old ones (sha256; null: no file).
export interface JournalStep {
  version: 1;
  command: 'configure' | 'unconfigure';
  writer: ProcessIdentity;
  label: string;
  path: string;
  target: string;
  beforeSha256: string | null;
  afterSha256: string | null;
  // Where the bytes before the step are kept, when they are: named to the person if the file
  // was changed by someone else meanwhile.
  backup?: string;
  recordBefore: FileRecord | null;
  recordAfter: FileRecord | null;
  onFinish: StepCleanup;
  onRollback: StepCleanup;
}

// A pid with its start time (/proc/<pid>/stat), so a reused pid is not taken for the writer.
export interface ProcessIdentity {
  pid: number;
  started: string;
}

export function journalPath(stateDir: string): string {
  return join(stateDir, JOURNAL_FILE);
}

export async function writeJournal(stateDir: string, step: JournalStep): Promise<void> {
  await makeDirectory(stateDir, 0o700, 0o755);
  await atomicWrite(journalPath(stateDir), `${JSON.stringify(step, null, 2)}\n`, { mode: 0o600 });
}

export async function readJournal(stateDir: string): Promise<JournalStep | undefined> {
  const path = journalPath(stateDir);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CodedError(
      'state_unreadable',
      `cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? 'error'}; run as root`,
    );
  }
  try {
    const step = JSON.parse(text) as JournalStep;
    if (step.version !== 1 || typeof step.target !== 'string' || typeof step.writer?.pid !== 'number')
      throw new Error('unknown layout');
    return step;
  } catch {
    throw new CodedError(
      'state_invalid',
      `${path} is not a setup journal this version understands; move it away after checking the files it names`,
    );
  }
}

// Removes the journal durably (a journal that came back after a power cut would be settled
// again against files that moved on), and the state directory once nothing is left in it.
export async function clearJournal(stateDir: string): Promise<void> {
  await rm(journalPath(stateDir), { force: true });
  const dir = await open(stateDir, 'r').catch(() => undefined);
  if (dir) {
    await dir.sync().catch(() => {});
    await dir.close();
  }
  const state = await readFile(join(stateDir, STATE_FILE)).then(
    () => true,
    () => false,
  );
  if (!state) await rmdir(stateDir).catch(() => {});
}

export async function processIdentity(pid: number = process.pid): Promise<ProcessIdentity | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  // Field 22 (start time); the command name before it is in parentheses and may hold spaces.
  const started = stat?.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  return started === undefined ? undefined : { pid, started };
}

export async function isRunning(writer: ProcessIdentity): Promise<boolean> {
  const now = await processIdentity(writer.pid);
  return now !== undefined && now.started === writer.started;
}
