import type { KeyObject } from 'node:crypto';
import type { Secret } from '../../common/secret.ts';
import type { LibraryMode } from '../../contract/library-mode.ts';

// The seams of the service. Routes, credential sources and the token realm depend on these
// interfaces only; src/service/build-service.ts picks the implementations.

export type Clock = () => Date;

// Who is asking, as proven by a verified instance token.
export interface InstanceIdentity {
  instance: string;
  project: string;
  issuedAt: Date;
  expiresAt: Date;
}

export interface CredentialRequest {
  identity: InstanceIdentity;
  // The normalised key the client asked for (may be the Docker Hub key when the registry is the mirror).
  requestedKey: string;
  registry: RegistryEntry;
  now: Date;
  // The repository the client is about to pull (distribution grammar, already checked), when it
  // named one: the broker source needs it, the others ignore it.
  repository?: string;
}

// `basic`: a username and secret (static password, issuer pull ticket). `bearer`: a registry
// token for one repository, pull only (broker). docs/contract.md has both answers.
export type IssuedCredential =
  | { kind: 'basic'; username: string; secret: Secret; expiresAt: Date }
  | { kind: 'bearer'; repository: string; token: Secret; expiresAt: Date };

// One way of producing a credential for a registry: `static`, `issuer`, `broker`, and the cloud
// sources `ecr`, `gar`, `acr` (src/service/sources/cloud/).
export interface CredentialSource {
  readonly kind: string;
  issue(request: CredentialRequest): Promise<IssuedCredential>;
}

export type SourceKind = 'static' | 'issuer' | 'broker' | CloudSourceKind;

// Sources whose credential the service mints with a cloud identity it holds (docs/cloud-registries.md).
export type CloudSourceKind = 'ecr' | 'gar' | 'acr';

// How the host-local mirror endpoint names Docker Hub's official images (the contract's).
export type { LibraryMode };

// A registry the service serves credentials for, after configuration has been resolved.
export interface RegistryEntry {
  // Normalised registry key (host[:port], or the Docker Hub key).
  key: string;
  source: SourceKind;
  // Projects whose instances may use it; ['*'] means all.
  projects: string[];
  // Extra keys served with this registry's credential: the default registry is also served
  // under the Docker Hub key, because dockerd sends Docker Hub's credential to the mirror.
  aliases: string[];
  // URL with scheme for the engine's registry-mirrors, when this registry is a Docker Hub mirror;
  // it may carry a path prefix (a Harbor proxy project), which only the mirror endpoint can use.
  mirrorUrl?: string;
  // Docker Hub mirrors: how the mirror endpoint asks this registry for official images.
  library?: LibraryMode;
  // Where the registry's API answers (scheme, host, port): the broker asks `GET /v2/` there for
  // the token challenge, and the mirror endpoint forwards there for Docker Hub itself.
  // Default: the mirror URL's origin, else https://<key> (http on loopback), Docker Hub's API host.
  upstreamUrl?: string;
  // Token realm hosts (host[:port]) the registry's credential may go to besides its API host
  // (src/registry/realm-binding.ts): the broker's discovery accepts them, and host-config
  // hands them to the mirror endpoint with the upstream.
  realms?: string[];
  static?: { username: string; password: Secret; ttlSeconds: number };
  // The account the service trades at the registry's own realm for repository pull tokens.
  broker?: { username: string; password: Secret };
  // ECR: the account and region GetAuthorizationToken is asked for (read from the registry name,
  // or configured for a registry reached under another name).
  ecr?: { account: string; region: string };
  // Artifact Registry / gcr.io: a service-account key file, else the metadata server's identity;
  // `tokenUrl` replaces Google's token endpoint (a Private Service Connect endpoint).
  gar?: { keyFile?: string; tokenUrl?: string };
  // ACR: the Entra ID tenant named in the token exchange (default: the identity's own); the
  // exchange goes to `<upstreamUrl>/oauth2/exchange`. `tokens: 'repository'`: the refresh token
  // stays on the service, which trades it at the registry's realm for one repository's pull
  // token per request, as the broker does with a password (cloud-sources.ts).
  acr?: { tenant?: string; tokens?: 'repository' };
  issuer?: {
    // The `service` the registry names in its challenge and expects as the token `aud`.
    service: string;
    ticketTtlSeconds: number;
    tokenTtlSeconds: number;
    anonymousPull: boolean;
    // Repository patterns per project ('*' key for all projects); glob with '*'. Default: everything.
    repositories: Record<string, string[]>;
  };
}

// Shared state across replicas: which instances were revoked, and when.
export interface RevocationStore {
  revoke(instance: string, at: Date): Promise<void>;
  revokedAt(instance: string): Promise<Date | undefined>;
  close(): Promise<void>;
}

export interface AuditEvent {
  event: 'credential' | 'realm' | 'token_issued' | 'revoked' | 'enrolled';
  outcome: 'granted' | 'denied' | 'error';
  instance?: string;
  project?: string;
  registry?: string;
  repository?: string;
  source?: string;
  reason?: string;
  scope?: string;
  service?: string;
}

// JSON lines, one per decision; never a secret.
export interface AuditLog {
  record(event: AuditEvent): void;
}

export interface Metrics {
  increment(name: string, labels?: Record<string, string>, by?: number): void;
  observe(name: string, seconds: number, labels?: Record<string, string>): void;
  render(): string;
}

export interface SigningKey {
  // RFC 7638 thumbprint of the public key.
  kid: string;
  alg: 'EdDSA' | 'ES256' | 'RS256';
  privateKey: KeyObject;
  publicKey: KeyObject;
}

// current signs; every key in `all` (current first) verifies, so keys rotate without downtime.
export interface KeyRing {
  current: SigningKey;
  all: SigningKey[];
}
