import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'vitest';
import { isCodedError } from '../../src/common/errors.ts';
import { useTempDirs } from './temp-dirs.ts';

// The service's configuration file (DSTACK_REGISTRY_AUTH_CONFIG) for the config tests: each
// call writes one (JSON, or the text as given) in a temp dir removed after the test. Call at
// the top of the file.
export function useServiceConfigFiles(prefix: string): {
  file(content: unknown): Promise<string>;
  env(content: unknown): Promise<Record<string, string>>;
} {
  const tempDir = useTempDirs(prefix);
  const file = async (content: unknown) => {
    const path = join(await tempDir(), 'config.json');
    await writeFile(path, typeof content === 'string' ? content : JSON.stringify(content));
    return path;
  };
  return { file, env: async (content) => ({ DSTACK_REGISTRY_AUTH_CONFIG: await file(content) }) };
}

// The refusal a configuration load ends in: a config_invalid CodedError, or the test fails.
export async function configRefusal(loading: Promise<unknown>): Promise<Error> {
  const error = await loading.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isCodedError(error, 'config_invalid'), String(error)).toBe(true);
  return error as Error;
}
