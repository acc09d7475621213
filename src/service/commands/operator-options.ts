import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import type { CommandContext } from '../../common/command-context.ts';
import { write } from '../../common/command-context.ts';
import { oneLine } from '../../common/errors.ts';

type Values<O extends ParseArgsOptionsConfig> = ReturnType<
  typeof parseArgs<{ options: O; strict: true; allowPositionals: false }>
>['values'];

// The options of an operator command (issue-token, revoke, registry-config, check), read one
// way: strictly, no positionals, `check` for what parseArgs cannot say (a required option, a
// name's grammar). Anything wrong is one line naming it, then the command's usage, on stderr;
// undefined is returned and the command exits 2.
export async function operatorOptions<O extends ParseArgsOptionsConfig>(
  ctx: CommandContext,
  command: string,
  usage: string,
  options: O,
  check: (values: Values<O>) => void = () => {},
): Promise<Values<O> | undefined> {
  try {
    const { values } = parseArgs({ args: ctx.argv, options, strict: true, allowPositionals: false });
    check(values as Values<O>);
    return values as Values<O>;
  } catch (error) {
    await write(ctx.stderr, `dstack-registry-auth ${command}: ${oneLine(error)}\n${usage}\n`);
    return undefined;
  }
}
