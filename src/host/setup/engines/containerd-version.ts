import { findOnPath } from './detect-engines.ts';
import { runProgram } from './run-program.ts';

export interface ContainerdVersion {
  major: number;
  minor: number;
  text: string;
}

// The installed containerd's version, from `containerd --version` ("containerd
// github.com/containerd/containerd/v2 v2.1.4 …", Debian: "… 1.6.20~ds1 …"); undefined when it
// is not installed or says something else. Which config version a new config.toml may use and
// which hosts directories CRI reads by default depend on it.
export async function containerdVersion(
  env: Record<string, string | undefined>,
): Promise<ContainerdVersion | undefined> {
  const program = await findOnPath('containerd', env);
  if (!program) return undefined;
  const result = await runProgram(program, ['--version'], env, 5000);
  return result.code === 0 ? parseContainerdVersion(result.stdout) : undefined;
}

export function parseContainerdVersion(output: string): ContainerdVersion | undefined {
  const match = /^containerd\s+\S+\s+v?(\d+)\.(\d+)(\S*)/m.exec(output);
  if (!match) return undefined;
  return { major: Number(match[1]), minor: Number(match[2]), text: `${match[1]}.${match[2]}${match[3]}` };
}
