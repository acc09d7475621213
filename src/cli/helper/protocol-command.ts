import type { CommandContext } from '../context.ts';
import { VERSION } from '../../shared/version.ts';
import { serveAction } from '../../protocol/serve-action.ts';
import { createDstackCredentialStore } from '../../helper/dstack-credential-store.ts';
import { readHelperSettings } from '../../helper/settings.ts';
import { createDiagnostics } from '../../helper/diagnostics.ts';

// get/store/erase/list/version: the docker-credential protocol over this command's streams,
// answered from the dstack server through the cache.
export async function runProtocolAction(action: string, ctx: CommandContext): Promise<number> {
  const store = createDstackCredentialStore({
    settings: (options) => readHelperSettings(ctx.env, options),
    diagnostics: (settings) => createDiagnostics(settings, ctx.stderr),
  });
  return serveAction(action, store, { stdin: ctx.stdin, stdout: ctx.stdout }, VERSION);
}
