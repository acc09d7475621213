import { parseArgs } from 'node:util';
import type { Command } from '../../common/command-context.ts';
import { write } from '../../common/command-context.ts';
import { isCodedError, oneLine } from '../../common/errors.ts';
import { loadHelperSettings } from '../settings/settings.ts';
import { CLOUDS, enrollHost, type Cloud } from '../enroll/enroll-host.ts';
import { createMetadataFetch, DEFAULT_METADATA_URL, METADATA_URL_VARIABLE } from '../enroll/metadata-client.ts';

const USAGE = `usage: docker-credential-dstack enroll --cloud ${CLOUDS.join('|')}`;

// `enroll`: a host with no token file trades its cloud identity for an instance token (run at
// boot by docker-credential-dstack-enroll.service, before the endpoint serves). Exit 0 when the
// host holds a token afterwards, 1 when enrollment failed, 2 for bad usage or settings.
export const enrollCommand: Command = async (ctx) => {
  let cloud: Cloud;
  try {
    const { values } = parseArgs({
      args: ctx.argv,
      options: { cloud: { type: 'string' } },
      strict: true,
      allowPositionals: false,
    });
    if (values.cloud === undefined || !(CLOUDS as readonly string[]).includes(values.cloud))
      throw new Error(`--cloud must be one of ${CLOUDS.join(', ')}`);
    cloud = values.cloud as Cloud;
  } catch (error) {
    await write(ctx.stderr, `docker-credential-dstack enroll: ${oneLine(error)}\n${USAGE}\n`);
    return 2;
  }
  try {
    const settings = await loadHelperSettings(ctx.env);
    const metadata = createMetadataFetch(
      ctx.env[METADATA_URL_VARIABLE]?.trim() || DEFAULT_METADATA_URL,
      settings.timeoutMs,
    );
    const result = await enrollHost(cloud, settings, metadata);
    if (result.kind === 'already_enrolled') {
      await write(ctx.stdout, `already enrolled: instance token file ${result.tokenFile} exists; nothing to do\n`);
    } else {
      await write(
        ctx.stdout,
        `enrolled as ${result.instance} (project ${result.project}); instance token written to ${result.tokenFile}, valid until ${result.expiresAt}\n`,
      );
    }
    return 0;
  } catch (error) {
    await write(ctx.stderr, `docker-credential-dstack enroll: ${oneLine(error)}\n`);
    return isCodedError(error, 'config_invalid') ||
      isCodedError(error, 'not_configured') ||
      isCodedError(error, 'config_unreadable')
      ? 2
      : 1;
  }
};
