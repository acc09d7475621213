import type { Command } from '../../common/command-context.ts';
import { runCredentialProvider } from '../kubelet/run-credential-provider.ts';
import { reportSetupError } from './report-setup-error.ts';

// `docker-credential-dstack kubelet-credential-provider`: the kubelet's exec plugin
// (docs/kubernetes.md). A failure is exit 1 and one line on stderr; stdout carries only a response.
export const kubeletCredentialProviderCommand: Command = (ctx) =>
  runCredentialProvider(ctx).catch((error: unknown) => reportSetupError(ctx, 'kubelet-credential-provider', error));
