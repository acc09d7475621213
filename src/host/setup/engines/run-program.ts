import { execFile } from 'node:child_process';

export interface ProgramResult {
  code: number;
  stdout: string;
  stderr: string;
}

// Runs a host program (docker, dockerd) with the caller's environment, so DOCKER_HOST and PATH
// apply; never throws for a non-zero exit, and a missing program is code 127.
export function runProgram(
  file: string,
  args: string[],
  env: Record<string, string | undefined>,
  timeoutMs = 20_000,
): Promise<ProgramResult> {
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      { env: env as NodeJS.ProcessEnv, timeout: timeoutMs, maxBuffer: 8 * 1024 * 1024, encoding: 'utf8' },
      (error, stdout, stderr) => {
        if (!error) return resolve({ code: 0, stdout, stderr });
        const err = error as NodeJS.ErrnoException & { code?: string | number };
        const code = err.code === 'ENOENT' ? 127 : typeof err.code === 'number' ? err.code : 1;
        resolve({ code, stdout: stdout ?? '', stderr: stderr || err.message });
      },
    );
  });
}
