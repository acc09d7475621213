import type { CommandContext } from '../../common/command-context.ts';
import { write } from '../../common/command-context.ts';
import { oneLine } from '../../common/errors.ts';

// Host subcommands talk to a person at a terminal: the one-line cause goes to stderr, exit 1.
export async function reportSetupError(ctx: CommandContext, command: string, error: unknown): Promise<number> {
  await write(ctx.stderr, `docker-credential-dstack ${command}: ${oneLine(error)}\n`);
  return 1;
}
