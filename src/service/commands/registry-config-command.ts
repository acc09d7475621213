import { join, resolve } from 'node:path';
import type { Command } from '../../common/command-context.ts';
import { write } from '../../common/command-context.ts';
import { operatorOptions } from './operator-options.ts';
import { CodedError, isCodedError, oneLine } from '../../common/errors.ts';
import { atomicWrite } from '../../common/atomic-write.ts';
import { makeDirectory } from '../../common/make-directory.ts';
import { ensureDataDir } from '../config/data-dir.ts';
import { normalizeRegistryKey } from '../../registry/registry-key.ts';
import { listenUrl, loadServiceConfig, type ServiceConfig } from '../config/service-config.ts';
import type { RegistryEntry } from '../core/ports.ts';
import { certificateBundle, loadRegistrySigningKeys } from '../token/registry-signing-keys.ts';

export const BUNDLE_FILE = 'dstack-registry-auth-bundle.pem';
const USAGE = 'usage: dstack-registry-auth registry-config --registry HOST [--out DIR] [--data-dir DIR] [--realm URL]';

// `registry-config`: everything an operator pastes into a registry to make this service its
// token realm. Writes the certificate bundle (every registry signing key, current and
// previous, so a rotation needs no registry downtime) and prints the `auth: token:` section.
// It loads the keys exactly as `serve` does, so run it with the same data dir and environment.
export const registryConfigCommand: Command = async (ctx) => {
  const flags = await operatorOptions(
    ctx,
    'registry-config',
    USAGE,
    {
      registry: { type: 'string' },
      out: { type: 'string' },
      'data-dir': { type: 'string' },
      realm: { type: 'string' },
    },
    (v) => {
      if (!v.registry) throw new Error('--registry HOST is required');
    },
  );
  if (flags === undefined) return 2;
  try {
    const config = await loadServiceConfig(
      ctx.env,
      flags['data-dir'] !== undefined ? { dataDir: flags['data-dir'] } : {},
    );
    const registry = issuerRegistry(config, flags.registry!);
    await ensureDataDir(config.dataDir);
    const keys = await loadRegistrySigningKeys({
      dataDir: config.dataDir,
      env: ctx.env,
      issuerName: config.issuerName,
    });
    const outDir = resolve(ctx.cwd, flags.out ?? '.');
    const bundlePath = join(outDir, BUNDLE_FILE);
    await makeDirectory(outDir, 0o755).catch((error: NodeJS.ErrnoException) => {
      throw new CodedError(
        'config_invalid',
        `--out: cannot create ${outDir} (${error.code ?? 'error'}); choose a directory this user can create and write`,
      );
    });
    await atomicWrite(bundlePath, certificateBundle(keys), { mode: 0o644 });
    const realm = flags.realm ?? `${config.publicUrl.replace(/\/+$/, '')}/v1/token`;
    await write(
      ctx.stdout,
      authSnippet({
        registry: registry.key,
        realm,
        service: registry.issuer!.service,
        issuer: config.issuerName,
        rootcertbundle: bundlePath,
      }),
    );
    await write(
      ctx.stderr,
      `wrote ${bundlePath} (${keys.all.length} certificate${keys.all.length === 1 ? '' : 's'}); restart the registry after replacing it\n`,
    );
    if (
      flags.realm === undefined &&
      config.publicUrl === listenUrl(config.listen, config.tls !== undefined) &&
      !ctx.env.DSTACK_REGISTRY_AUTH_PUBLIC_URL
    ) {
      await write(
        ctx.stderr,
        `note: the realm is the listen address ${config.publicUrl}; set DSTACK_REGISTRY_AUTH_PUBLIC_URL (or --realm) to the URL registries and engines reach this service at\n`,
      );
    }
    return 0;
  } catch (error) {
    if (!isCodedError(error)) throw error;
    await write(ctx.stderr, `dstack-registry-auth registry-config: ${oneLine(error)}\n`);
    return 2;
  }
};

function issuerRegistry(config: ServiceConfig, requested: string): RegistryEntry {
  const key = normalizeRegistryKey(requested);
  const entry = config.registries.find((r) => r.key === key) ?? config.registries.find((r) => r.aliases.includes(key));
  const how = `set DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY=${key} with DSTACK_REGISTRY_AUTH_DEFAULT_SOURCE=issuer, or list it in DSTACK_REGISTRY_AUTH_CONFIG with "source": "issuer"`;
  if (!entry) throw new CodedError('registry_unknown', `registry ${key} is not configured for this service; ${how}`);
  if (entry.source !== 'issuer' || !entry.issuer)
    throw new CodedError('registry_not_issuer', `registry ${key} uses the ${entry.source} source, not issuer; ${how}`);
  return entry;
}

// JSON strings are valid YAML double-quoted scalars, so any path or URL pastes safely.
export function authSnippet(values: {
  registry: string;
  realm: string;
  service: string;
  issuer: string;
  rootcertbundle: string;
}): string {
  return [
    `# Token auth for ${values.registry} by dstack-registry-auth: paste into the registry's config.yml`,
    'auth:',
    '  token:',
    `    realm: ${JSON.stringify(values.realm)}`,
    `    service: ${JSON.stringify(values.service)}`,
    `    issuer: ${JSON.stringify(values.issuer)}`,
    `    rootcertbundle: ${JSON.stringify(values.rootcertbundle)}`,
    '',
  ].join('\n');
}
