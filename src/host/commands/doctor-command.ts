import { parseArgs } from 'node:util';
import { join } from 'node:path';
import type { Command, CommandContext } from '../../common/command-context.ts';
import { reportSetupError } from './report-setup-error.ts';
import { write } from '../../common/command-context.ts';
import { CodedError } from '../../common/errors.ts';
import { rootHome } from '../setup/setup-options.ts';
import { DOCTOR_CHECKS, type CheckResult, type DoctorContext } from '../setup/doctor-checks.ts';

// `doctor`: one line per check, `ok`/`warn`/`fail` with the fix; exit 1 when any check fails.
async function runDoctor(ctx: CommandContext): Promise<number> {
  let values;
  try {
    values = parseArgs({ args: ctx.argv, strict: true, options: { 'docker-config': { type: 'string' }, help: { type: 'boolean', short: 'h' } } }).values;
  } catch (error) {
    throw new CodedError('usage', `${(error as Error).message.split('\n')[0]}; usage: doctor [--docker-config DIR]`);
  }
  if (values.help) {
    await write(ctx.stdout, 'Usage: docker-credential-dstack doctor [--docker-config DIR]\n');
    return 0;
  }
  const doctor: DoctorContext = {
    env: ctx.env,
    dockerConfigDir: values['docker-config'] ?? ctx.env.DOCKER_CONFIG ?? join(rootHome(), '.docker'),
    now: () => new Date(),
  };
  let failed = 0;
  for (const check of DOCTOR_CHECKS) {
    const results = [await check(doctor)].flat();
    for (const result of results) {
      if (result.status === 'fail') failed++;
      await write(ctx.stdout, formatResult(result));
    }
  }
  await write(ctx.stdout, failed === 0 ? 'doctor: all checks passed\n' : `doctor: ${failed} check(s) failed\n`);
  return failed === 0 ? 0 : 1;
}

function formatResult(result: CheckResult): string {
  const fix = result.fix && result.status !== 'ok' ? ` (fix: ${result.fix})` : '';
  return `${result.status.padEnd(4)} ${result.name}: ${result.detail}${fix}\n`;
}

// `docker-credential-dstack doctor`: see docs/host-setup.md.
export const doctorCommand: Command = (ctx) => runDoctor(ctx).catch((error: unknown) => reportSetupError(ctx, 'doctor', error));
