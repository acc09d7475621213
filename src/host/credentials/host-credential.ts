import type { Secret } from '../../common/secret.ts';

// A credential as the host uses it for one pull (docs/contract.md): `basic`, a username and
// secret to send as Basic auth or trade at the registry's realm (static password, issuer pull
// ticket); `bearer`, a registry token for one repository that the service obtained at the
// registry's own realm (broker source), sent as `Authorization: Bearer`.
// `freshUntil`, when known, is the moment the cache would ask the service again (half its life).
export type HostCredential =
  | { kind: 'basic'; username: string; secret: Secret; freshUntil?: Date }
  | { kind: 'bearer'; token: Secret; repository: string; freshUntil?: Date };
