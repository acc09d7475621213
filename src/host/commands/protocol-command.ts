import type { CommandContext } from '../../common/command-context.ts';
import { VERSION } from '../../common/version.ts';
import { serveAction } from '../protocol/serve-action.ts';
import { fdIo } from '../protocol/fd-io.ts';
import { streamIo } from '../protocol/protocol-io.ts';
import { createDstackCredentialStore } from '../credentials/dstack-credential-store.ts';
import { readHelperSettings } from '../settings/settings.ts';
import { createDiagnostics } from '../credentials/diagnostics.ts';

// get/store/erase/list/version: the docker-credential protocol over this command's stdin and
// stdout, answered from the dstack server through the cache.
export async function runProtocolAction(action: string, ctx: CommandContext): Promise<number> {
  const store = createDstackCredentialStore({
    settings: (options) => readHelperSettings(ctx.env, options),
    diagnostics: (settings) => createDiagnostics(settings, () => ctx.stderr),
  });
  const io = ctx.stdio === 'process' ? fdIo(() => ctx.stdin) : streamIo(ctx.stdin, ctx.stdout);
  return serveAction(action, store, io, VERSION);
}
