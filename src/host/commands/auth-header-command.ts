import type { Command } from '../../common/command-context.ts';
import { runAuthHeader } from '../auth-header/run-auth-header.ts';
import { reportSetupError } from './report-setup-error.ts';

// `docker-credential-dstack auth-header IMAGE`: see docs/host-setup.md.
export const authHeaderCommand: Command = (ctx) =>
  runAuthHeader(ctx).catch((error: unknown) => reportSetupError(ctx, 'auth-header', error));
