import type { Command, CommandContext } from '../../common/command-context.ts';
import { reportSetupError } from './report-setup-error.ts';
import { write } from '../../common/command-context.ts';
import { DOCTOR_CHECKS } from '../doctor/doctor-checks.ts';
import { DOCTOR_USAGE, parseDoctorOptions } from '../doctor/doctor-options.ts';
import type { CheckResult, DoctorContext } from '../doctor/doctor-check.ts';

// `doctor`: one line per check, `ok`/`warn`/`fail`/`skip` with the fix; exit 1 when any check fails.
async function runDoctor(ctx: CommandContext): Promise<number> {
  const options = parseDoctorOptions(ctx.argv, ctx.env);
  if (options.help) {
    await write(ctx.stdout, DOCTOR_USAGE);
    return 0;
  }
  const doctor: DoctorContext = { env: ctx.env, options, now: () => new Date() };
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
  const fix = result.fix && (result.status === 'warn' || result.status === 'fail') ? ` (fix: ${result.fix})` : '';
  return `${result.status.padEnd(4)} ${result.name}: ${result.detail}${fix}\n`;
}

// `docker-credential-dstack doctor`: see docs/host-setup.md.
export const doctorCommand: Command = (ctx) =>
  runDoctor(ctx).catch((error: unknown) => reportSetupError(ctx, 'doctor', error));
