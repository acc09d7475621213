import type { CommandContext } from '../../common/command-context.ts';
import { write } from '../../common/command-context.ts';
import { CodedError } from '../../common/errors.ts';
import { registryKeyOfImage } from '../../registry/image-reference.ts';
import { readInput } from '../protocol/read-input.ts';
import { createServiceClient } from '../client/service-client.ts';
import { NoCredentialError } from '../client/service-errors.ts';
import { readHelperSettings } from '../settings/settings.ts';
import { parseProviderRequest } from './provider-request.ts';
import { providerResponse } from './provider-response.ts';
import { authKeysFor } from './auth-keys.ts';

const USAGE =
  "Usage: docker-credential-dstack kubelet-credential-provider\n  the kubelet's exec credential provider (credentialprovider.kubelet.k8s.io/v1): a CredentialProviderRequest on stdin,\n  the CredentialProviderResponse on stdout; settings as for get (docs/kubernetes.md)\n";

// A request is an image name and maybe a token: a few KiB at most.
const MAX_REQUEST_BYTES = 64 * 1024;
// How long an empty answer (the service has no credential for that registry) is kept by the
// kubelet: short, so a registry configured later is picked up soon.
const NO_CREDENTIAL_CACHE_MS = 60_000;

// `kubelet-credential-provider`: one CredentialProviderRequest on stdin, one
// CredentialProviderResponse on stdout (docs/kubernetes.md). Who asks: the pod, by its own
// service-account token when the kubelet passes one (KEP-4412), so a pod of namespace A never
// pulls with namespace B's rights; else the node (its service-account token file or instance
// token, from the helper settings). Nothing is cached here: an answer belongs to the identity
// that asked, and the kubelet caches it for cacheDuration.
export async function runCredentialProvider(ctx: CommandContext): Promise<number> {
  if (ctx.argv.length === 1 && (ctx.argv[0] === '--help' || ctx.argv[0] === '-h')) {
    await write(ctx.stdout, USAGE);
    return 0;
  }
  if (ctx.argv.length > 0)
    throw new CodedError(
      'usage',
      `takes no arguments (got "${ctx.argv[0]!.slice(0, 40)}"); list none under "args" in the CredentialProviderConfig`,
    );
  const request = parseProviderRequest(
    await readInput(ctx.stdin, MAX_REQUEST_BYTES).catch(() => {
      throw new CodedError(
        'request_invalid',
        `the request on stdin is larger than ${MAX_REQUEST_BYTES} bytes; the kubelet sends one CredentialProviderRequest`,
      );
    }),
  );
  const registry = registryKeyOfImage(request.image);
  const settings = readHelperSettings(ctx.env, { requireServer: true });
  const client = createServiceClient({
    ...settings,
    ...(request.serviceAccountToken ? { serviceAccountToken: request.serviceAccountToken } : {}),
  });
  const keys = authKeysFor(request.image.trim(), registry);
  let credential;
  try {
    credential = await client.getCredential(registry);
  } catch (error) {
    if (!(error instanceof NoCredentialError)) throw error;
    // An answer, not a failure: an empty auth map, and the kubelet pulls anonymously.
    await write(
      ctx.stdout,
      `${JSON.stringify(providerResponse(request.apiVersion, [], { username: '', password: '' }, 2 * NO_CREDENTIAL_CACHE_MS))}\n`,
    );
    return 0;
  }
  if (credential.kind !== 'basic') {
    throw new CodedError(
      'unsupported',
      `registry ${registry} answers with per-repository registry tokens (broker source), which a kubelet credential provider cannot pass; use the node agent (docker-credential-dstack mirror) for it`,
    );
  }
  const receivedAt = Date.now();
  const remainingMs = credential.serviceDate
    ? credential.expiresAt.getTime() - credential.serviceDate.getTime()
    : credential.expiresAt.getTime() - receivedAt;
  const response = providerResponse(
    request.apiVersion,
    keys,
    { username: credential.username, password: credential.secret.reveal() },
    remainingMs,
  );
  await write(ctx.stdout, `${JSON.stringify(response)}\n`);
  return 0;
}
