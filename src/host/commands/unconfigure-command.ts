import type { Command } from '../../common/command-context.ts';
import { runUnconfigure } from '../setup/run-unconfigure.ts';
import { reportSetupError } from '../setup/report-setup-error.ts';

// `docker-credential-dstack unconfigure`: see docs/host-setup.md.
export const unconfigureCommand: Command = (ctx) => runUnconfigure(ctx).catch((error: unknown) => reportSetupError(ctx, 'unconfigure', error));
