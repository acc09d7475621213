import type { Command } from '../../common/command-context.ts';
import { write } from '../../common/command-context.ts';
import { operatorOptions } from './operator-options.ts';
import { isCodedError, oneLine } from '../../common/errors.ts';
import { parseDuration } from '../../common/duration.ts';
import { loadServiceConfig } from '../config/service-config.ts';
import { checkName, DEFAULT_PROJECT } from '../core/instance-names.ts';
import { loadKeyRing } from '../token/key-ring.ts';
import { checkInstanceTokenTtl, mintInstanceToken } from '../token/instance-token.ts';
import { recordInAuditFile } from './audit-file.ts';
import { ensureDataDir } from '../config/data-dir.ts';

const USAGE = 'usage: dstack-registry-auth issue-token --instance ID [--project P] [--ttl DURATION] [--data-dir DIR]';

// `issue-token`: prints an instance token alone on stdout, for the dstack server to install
// on a new instance as a root-only file. Uses (or generates) the instance key in the data dir.
export const issueTokenCommand: Command = async (ctx) => {
  const values = await operatorOptions(
    ctx,
    'issue-token',
    USAGE,
    {
      instance: { type: 'string' },
      project: { type: 'string' },
      ttl: { type: 'string' },
      'data-dir': { type: 'string' },
    },
    (v) => {
      if (v.instance === undefined) throw new Error('--instance is required');
      checkName(v.instance, 'instance', 'usage');
      if (v.project !== undefined) checkName(v.project, 'project', 'usage');
    },
  );
  if (values === undefined) return 2;
  try {
    const config = await loadServiceConfig(
      ctx.env,
      values['data-dir'] !== undefined ? { dataDir: values['data-dir'] } : {},
    );
    const ttlSeconds =
      values.ttl === undefined
        ? config.instanceTokenTtlSeconds
        : checkInstanceTokenTtl(parseDuration(values.ttl, '--ttl'), '--ttl', 'config_invalid');
    await ensureDataDir(config.dataDir);
    const keys = await loadKeyRing({ dataDir: config.dataDir, name: 'instance', alg: 'EdDSA', env: ctx.env });
    const claims = {
      instance: values.instance!,
      project: values.project ?? DEFAULT_PROJECT,
      ttlSeconds,
      issuer: config.issuerName,
    };
    const now = new Date();
    const { token } = await mintInstanceToken(keys, claims, now);
    recordInAuditFile(config.auditLogPath, now, {
      event: 'token_issued',
      outcome: 'granted',
      instance: claims.instance,
      project: claims.project,
    });
    await write(ctx.stdout, `${token}\n`);
    return 0;
  } catch (error) {
    await write(ctx.stderr, `dstack-registry-auth issue-token: ${oneLine(error)}\n`);
    return isCodedError(error) ? 2 : 1;
  }
};
