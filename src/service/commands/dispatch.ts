import type { Command, CommandContext } from '../../common/command-context.ts';
import { write } from '../../common/command-context.ts';
import { VERSION } from '../../common/version.ts';

export const SERVER_USAGE = `Usage: dstack-registry-auth <command> [options]
  serve [--listen HOST:PORT] [--data-dir DIR] [--plain-http]   run the HTTP service
  issue-token --instance ID [--project P] [--ttl DURATION] [--data-dir DIR]
  revoke --instance ID [--data-dir DIR]
  registry-config --registry HOST [--out DIR]                   wire a registry's token auth to this service
  check [--registry HOST]                                       can each registry's credential be minted now?
  --help | --version`;

const COMMANDS: Record<string, () => Promise<Command>> = {
  serve: async () => (await import('./serve-command.ts')).serveCommand,
  'issue-token': async () => (await import('./issue-token-command.ts')).issueTokenCommand,
  revoke: async () => (await import('./revoke-command.ts')).revokeCommand,
  'registry-config': async () => (await import('./registry-config-command.ts')).registryConfigCommand,
  check: async () => (await import('./check-command.ts')).checkCommand,
};

// `serve` resolves only after a signal has shut the service down.
export async function runServerCli(ctx: CommandContext): Promise<number> {
  const [first, ...rest] = ctx.argv;
  if (first === '--help' || first === '-h') {
    await write(ctx.stdout, `${SERVER_USAGE}\n`);
    return 0;
  }
  if (first === '--version' || first === '-v') {
    await write(ctx.stdout, `dstack-registry-auth ${VERSION}\n`);
    return 0;
  }
  const load = first === undefined ? undefined : COMMANDS[first];
  if (!load) {
    await write(ctx.stderr, `${SERVER_USAGE}\n`);
    return 2;
  }
  return (await load())({ ...ctx, argv: rest });
}
