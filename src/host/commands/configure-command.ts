import type { Command } from '../../common/command-context.ts';
import { runConfigure } from '../setup/run-configure.ts';
import { reportSetupError } from '../setup/report-setup-error.ts';

// `docker-credential-dstack configure`: see docs/host-setup.md.
export const configureCommand: Command = (ctx) => runConfigure(ctx).catch((error: unknown) => reportSetupError(ctx, 'configure', error));
