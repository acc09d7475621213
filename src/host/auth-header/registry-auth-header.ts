import type { HostCredential } from '../credentials/host-credential.ts';

// The X-Registry-Auth value Engine-API clients send with POST /images/create: base64url of
// Docker's AuthConfig JSON, padded as the docker CLI's base64.URLEncoding writes it. A basic
// credential goes as username/password; a registry token (broker source) as `registrytoken`,
// which dockerd sends to the registry as `Authorization: Bearer` without a token dance.
export function encodeRegistryAuth(credential: HostCredential, serverAddress: string): string {
  const config =
    credential.kind === 'basic'
      ? { username: credential.username, password: credential.secret.reveal(), serveraddress: serverAddress }
      : { registrytoken: credential.token.reveal(), serveraddress: serverAddress };
  const raw = Buffer.from(JSON.stringify(config), 'utf8').toString('base64url');
  return raw + '='.repeat((4 - (raw.length % 4)) % 4);
}
