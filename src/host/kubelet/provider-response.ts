import type { ProviderApiVersion } from './provider-request.ts';

export interface ProviderAuth {
  username: string;
  password: string;
}

// A CredentialProviderResponse, as the kubelet decodes it (strictly: no field of our own).
export interface ProviderResponse {
  kind: 'CredentialProviderResponse';
  apiVersion: ProviderApiVersion;
  cacheKeyType: 'Registry';
  cacheDuration: string;
  auth: Record<string, ProviderAuth>;
}

// `cacheKeyType: Registry`: the credential is the registry's, whatever the image. `cacheDuration`
// is half the life left, so the kubelet asks again while the last answer still works; under a
// second it is "0s", which the kubelet takes as "do not cache".
export function providerResponse(
  apiVersion: ProviderApiVersion,
  keys: string[],
  auth: ProviderAuth,
  remainingMs: number,
): ProviderResponse {
  return {
    kind: 'CredentialProviderResponse',
    apiVersion,
    cacheKeyType: 'Registry',
    cacheDuration: goDuration(Math.max(0, Math.floor(remainingMs / 2000))),
    auth: Object.fromEntries(keys.map((key) => [key, auth])),
  };
}

// Go's time.Duration text (metav1.Duration): "1h2m3s", "4m0s", "30s", "0s".
export function goDuration(seconds: number): string {
  if (seconds === 0) return '0s';
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  if (h > 0) return `${h}h${m}m${s}s`;
  if (m > 0) return `${m}m${s}s`;
  return `${s}s`;
}
