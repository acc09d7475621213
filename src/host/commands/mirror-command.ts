import type { Command } from '../../common/command-context.ts';
import { runMirror } from '../mirror/run-mirror.ts';
import { reportSetupError } from './report-setup-error.ts';

// `docker-credential-dstack mirror`: the host-local registry mirror endpoint, see docs/mirror.md.
export const mirrorCommand: Command = (ctx) =>
  runMirror(ctx).catch((error: unknown) => reportSetupError(ctx, 'mirror', error));
