import type { Command } from '../../common/command-context.ts';
import { runMirrorCert } from '../mirror-cert/run-mirror-cert.ts';
import { reportSetupError } from './report-setup-error.ts';

// `docker-credential-dstack mirror-cert`: a CA and certificate for the endpoint's TLS listener.
export const mirrorCertCommand: Command = (ctx) =>
  runMirrorCert(ctx).catch((error: unknown) => reportSetupError(ctx, 'mirror-cert', error));
