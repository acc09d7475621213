// Every environment variable the service reads. A misspelt one (…_DEFAULT_SOURCES=issuer,
// …_ADMINTOKEN) would otherwise be ignored without a word and the service would run with
// defaults the operator did not mean; the config file already refuses unknown keys.
const SERVICE_SETTINGS = new Set(
  [
    'CONFIG',
    'LISTEN',
    'DATA_DIR',
    'PLAIN_HTTP',
    'PUBLIC_URL',
    'TLS_CERT',
    'TLS_KEY',
    'ADMIN_TOKEN',
    'ISSUER',
    'INSTANCE_TOKEN_TTL',
    'CREDENTIAL_TTL',
    'TICKET_TTL',
    'REGISTRY_TOKEN_TTL',
    'DATABASE_URL',
    'AUDIT_LOG',
    'DEFAULT_SOURCE',
    'DEFAULT_SERVICE',
    'DEFAULT_MIRROR_URL',
    'DEFAULT_PROJECTS',
    'DEFAULT_UPSTREAM_URL',
    'DEFAULT_LIBRARY',
    'DEFAULT_REALMS',
    'MIRROR_ENDPOINT',
    'REGISTRY_CERT_DIR',
    'ENROLLMENT_CONFIG',
    ...['INSTANCE', 'TICKET', 'REGISTRY'].flatMap((name) => [`${name}_KEY_FILE`, `${name}_PREVIOUS_KEY_FILES`]),
  ].map((name) => `DSTACK_REGISTRY_AUTH_${name}`),
);
const DSTACK_SETTINGS = new Set(
  ['', '_USERNAME', '_PASSWORD'].map((suffix) => `DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY${suffix}`),
);

// The names in `env` that look like this service's settings but are none of them.
export function unknownSettings(env: Record<string, string | undefined>): string[] {
  return Object.keys(env)
    .filter(
      (name) =>
        (name.startsWith('DSTACK_REGISTRY_AUTH_') && !SERVICE_SETTINGS.has(name)) ||
        (name.startsWith('DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY') && !DSTACK_SETTINGS.has(name)),
    )
    .sort();
}
