import type { Command } from '../../common/command-context.ts';
import { runDoctor } from '../setup/run-doctor.ts';
import { reportSetupError } from '../setup/report-setup-error.ts';

// `docker-credential-dstack doctor`: see docs/host-setup.md.
export const doctorCommand: Command = (ctx) => runDoctor(ctx).catch((error: unknown) => reportSetupError(ctx, 'doctor', error));
