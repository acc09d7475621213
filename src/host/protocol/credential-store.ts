import type { Secret } from '../../common/secret.ts';

// What `store` receives and `get` answers, with the protocol's own field names.
export interface Credentials {
  ServerURL: string;
  Username: string;
  Secret: Secret;
}

// The four operations behind the protocol (docker-credential-helpers' Helper interface).
// A backend implements these and never sees stdin, stdout or exit codes.
export interface CredentialStore {
  // undefined means "no credential for this server": the protocol prints the not-found line.
  get(serverUrl: string): Promise<Credentials | undefined>;
  store(credentials: Credentials): Promise<void>;
  erase(serverUrl: string): Promise<void>;
  // Server URL → user name; never secrets.
  list(): Promise<Record<string, string>>;
}
