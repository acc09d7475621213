import type { CommandContext } from '../../common/command-context.ts';
import { write } from '../../common/command-context.ts';
import { CodedError } from '../../common/errors.ts';
import { registryKeyOfImage, repositoryOfImage } from '../../registry/image-reference.ts';
import { loadHelperSettings } from '../settings/settings.ts';
import { createDiagnostics } from '../credentials/diagnostics.ts';
import { resolveCredential } from '../credentials/resolve-credential.ts';
import { encodeRegistryAuth } from './registry-auth-header.ts';

const USAGE =
  'Usage: docker-credential-dstack auth-header IMAGE\n  prints the base64url X-Registry-Auth value for the registry of IMAGE (Docker Hub for unqualified names)\n';

// `auth-header IMAGE`: for Engine-API clients (the dstack shim) that must send credentials
// themselves, since dockerd never calls a credential helper. Prints only the header value
// (username/password, or `registrytoken` for a brokered registry);
// with no credential for that registry it prints nothing and exits 1, so the caller pulls
// anonymously or stops, by its own choice.
export async function runAuthHeader(ctx: CommandContext): Promise<number> {
  if (ctx.argv[0] === '--help' || ctx.argv[0] === '-h') {
    await write(ctx.stdout, USAGE);
    return 0;
  }
  if (ctx.argv.length !== 1) throw new CodedError('usage', 'expected exactly one IMAGE, e.g. auth-header python:3.14');
  const key = registryKeyOfImage(ctx.argv[0]!);
  const repository = repositoryOfImage(ctx.argv[0]!);
  const settings = await loadHelperSettings(ctx.env);
  // With the repository, a brokered registry answers with a registry token for it.
  const credential = await resolveCredential(
    { registry: key, repository },
    settings,
    createDiagnostics(settings, ctx.stderr),
  );
  if (!credential) {
    await write(
      ctx.stderr,
      `docker-credential-dstack auth-header: no credential for ${key}; pull anonymously or ask the dstack server's operator to configure that registry\n`,
    );
    return 1;
  }
  await write(ctx.stdout, `${encodeRegistryAuth(credential, key)}\n`);
  return 0;
}
