import type { Secret } from '../../common/secret.ts';

// The X-Registry-Auth value Engine-API clients send with POST /images/create: base64url of the
// JSON auth config, padded as the docker CLI's base64.URLEncoding writes it.
export function encodeRegistryAuth(credential: { username: string; secret: Secret }, serverAddress: string): string {
  const json = JSON.stringify({ username: credential.username, password: credential.secret.reveal(), serveraddress: serverAddress });
  const raw = Buffer.from(json, 'utf8').toString('base64url');
  return raw + '='.repeat((4 - (raw.length % 4)) % 4);
}
