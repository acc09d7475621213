import type { Command, CommandContext } from '../../common/command-context.ts';
import { write } from '../../common/command-context.ts';
import { VERSION } from '../../common/version.ts';
import { isProtocolAction } from '../protocol/wire.ts';

export const HELPER_USAGE =
  'Usage: docker-credential-dstack <store|get|erase|list|version> | configure | unconfigure | doctor | auth-header IMAGE | mirror [--listen HOST:PORT] [--upstream URL]… [--tls-cert FILE --tls-key FILE] | mirror-cert --out DIR | kubelet-credential-provider | enroll --cloud aws|gcp|azure | --help | --version';

// Protocol actions take exactly one argument (docker-credential-helpers' rule); host
// subcommands take options. Each is imported only when chosen, so a cache-hit `get`
// evaluates nothing of configure/doctor and no HTTP client.
const HOST_COMMANDS: Record<string, () => Promise<Command>> = {
  configure: async () => (await import('./configure-command.ts')).configureCommand,
  unconfigure: async () => (await import('./unconfigure-command.ts')).unconfigureCommand,
  doctor: async () => (await import('./doctor-command.ts')).doctorCommand,
  'auth-header': async () => (await import('./auth-header-command.ts')).authHeaderCommand,
  mirror: async () => (await import('./mirror-command.ts')).mirrorCommand,
  'mirror-cert': async () => (await import('./mirror-cert-command.ts')).mirrorCertCommand,
  'kubelet-credential-provider': async () =>
    (await import('./kubelet-credential-provider-command.ts')).kubeletCredentialProviderCommand,
  enroll: async () => (await import('./enroll-command.ts')).enrollCommand,
};

export async function runHelper(ctx: CommandContext): Promise<number> {
  const [first, ...rest] = ctx.argv;
  if (first === '--help' || first === '-h') {
    await write(ctx.stdout, `${HELPER_USAGE}\n`);
    return 0;
  }
  if ((first === '--version' || first === '-v') && rest.length === 0) {
    await write(ctx.stdout, `docker-credential-dstack ${VERSION}\n`);
    return 0;
  }
  if (first !== undefined && isProtocolAction(first) && rest.length === 0) {
    const { runProtocolAction } = await import('./protocol-command.ts');
    return runProtocolAction(first, ctx);
  }
  const host = first === undefined ? undefined : HOST_COMMANDS[first];
  if (host) return (await host())({ ...ctx, argv: rest });
  await write(ctx.stdout, `${HELPER_USAGE}\n`);
  return 1;
}
