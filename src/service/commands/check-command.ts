import type { Command } from '../../common/command-context.ts';
import { write } from '../../common/command-context.ts';
import { operatorOptions } from './operator-options.ts';
import { isCodedError, oneLine } from '../../common/errors.ts';
import { loadServiceConfig } from '../config/service-config.ts';
import { normalizeRegistryKey } from '../../registry/registry-key.ts';
import type { RegistryEntry } from '../core/ports.ts';
import { createMetrics } from '../observability/metrics.ts';
import { createCloudSources } from '../sources/cloud/cloud-sources.ts';
import type { CloudSource } from '../sources/cloud/minting-source.ts';

const USAGE = 'usage: dstack-registry-auth check [--registry HOST]';

// `check`: with the service's own configuration and environment, says per registry in one line
// whether a credential can be handed out now; a cloud source mints one (past any cache) and
// says until when it lives, or why it cannot (no credentials, access denied, wrong region).
// Exit 0 when every registry can, 1 when one cannot, 2 for a configuration that does not load.
export const checkCommand: Command = async (ctx) => {
  const flags = await operatorOptions(ctx, 'check', USAGE, { registry: { type: 'string' } });
  if (flags === undefined) return 2;
  let registries: RegistryEntry[];
  try {
    registries = (await loadServiceConfig(ctx.env, {})).registries;
    if (flags.registry !== undefined) {
      const key = normalizeRegistryKey(flags.registry);
      registries = registries.filter((entry) => entry.key === key || entry.aliases.includes(key));
      if (registries.length === 0)
        throw new Error(
          `registry ${key} is not configured for this service; check the name, or list it in DSTACK_REGISTRY_AUTH_CONFIG`,
        );
    }
  } catch (error) {
    if (!isCodedError(error) && !(error instanceof Error)) throw error;
    await write(ctx.stderr, `dstack-registry-auth check: ${oneLine(error)}\n`);
    return 2;
  }
  if (registries.length === 0) {
    await write(ctx.stdout, 'no registries are configured: hosts pull anonymously\n');
    return 0;
  }
  const cloud = createCloudSources({
    registries,
    env: ctx.env,
    clock: () => new Date(),
    metrics: createMetrics(),
    log: () => {},
  });
  let failed = 0;
  for (const entry of registries) {
    const line = await checkEntry(entry, cloud[entry.source as keyof typeof cloud]);
    if (line.startsWith('FAIL')) failed++;
    await write(ctx.stdout, `${line}\n`);
  }
  return failed > 0 ? 1 : 0;
};

async function checkEntry(entry: RegistryEntry, source: CloudSource | undefined): Promise<string> {
  const name = `${entry.key} (${entry.source})`;
  if (source === undefined) return `ok    ${name}: ${NOTHING_TO_MINT[entry.source] ?? 'nothing to mint'}`;
  try {
    const { expiresAt, username } = await source.check(entry);
    const hours = (expiresAt.getTime() - Date.now()) / 3_600_000;
    return `ok    ${name}: minted a credential for ${username}, valid until ${expiresAt.toISOString()} (${hours >= 1 ? `${hours.toFixed(1)} h` : `${Math.round(hours * 60)} min`})`;
  } catch (error) {
    return `FAIL  ${name}: ${oneLine(error).replace(`registry ${entry.key} (source ${entry.source}): `, '')}`;
  }
}

const NOTHING_TO_MINT: Record<string, string> = {
  static: 'hands out the configured password',
  issuer: 'pull tickets are signed by this service',
  broker: "pull tokens come from the registry's realm at each pull (its realm is discovered at start-up)",
};
