import type { Command } from '../../common/command-context.ts';
import { write } from '../../common/command-context.ts';
import { operatorOptions } from './operator-options.ts';
import { isCodedError, oneLine } from '../../common/errors.ts';
import { loadServiceConfig } from '../config/service-config.ts';
import { checkName } from '../core/instance-names.ts';
import { openRevocationStore } from '../store/open-revocation-store.ts';
import { recordInAuditFile } from './audit-file.ts';
import { ensureDataDir } from '../config/data-dir.ts';

const USAGE = 'usage: dstack-registry-auth revoke --instance ID [--data-dir DIR]';

// `revoke`: records the revocation in the store every replica reads per request (sqlite in
// the data dir, or PostgreSQL with DSTACK_REGISTRY_AUTH_DATABASE_URL), so it takes effect at once.
export const revokeCommand: Command = async (ctx) => {
  const values = await operatorOptions(
    ctx,
    'revoke',
    USAGE,
    { instance: { type: 'string' }, 'data-dir': { type: 'string' } },
    (v) => {
      if (v.instance === undefined) throw new Error('--instance is required');
      checkName(v.instance, 'instance', 'usage');
    },
  );
  if (values === undefined) return 2;
  const instance = values.instance!;
  try {
    const config = await loadServiceConfig(
      ctx.env,
      values['data-dir'] !== undefined ? { dataDir: values['data-dir'] } : {},
    );
    if (!config.databaseUrl) await ensureDataDir(config.dataDir);
    // A store file moved or restored into place is refused: a running service may still read
    // the old one (sqlite-revocation-store.ts). Merged copies are said on stderr.
    const notices: string[] = [];
    const store = await openRevocationStore({
      dataDir: config.dataDir,
      ...(config.databaseUrl ? { databaseUrl: config.databaseUrl } : {}),
      embedded: { foreignFile: 'refuse', notice: (line) => notices.push(line) },
    });
    for (const line of notices) await write(ctx.stderr, `dstack-registry-auth revoke: ${line}\n`);
    const at = new Date();
    try {
      await store.revoke(instance, at);
    } finally {
      await store.close();
    }
    recordInAuditFile(config.auditLogPath, at, { event: 'revoked', outcome: 'granted', instance });
    await write(ctx.stdout, `revoked instance ${instance} at ${at.toISOString()}\n`);
    return 0;
  } catch (error) {
    await write(ctx.stderr, `dstack-registry-auth revoke: ${oneLine(error)}\n`);
    return isCodedError(error) ? 2 : 1;
  }
};
