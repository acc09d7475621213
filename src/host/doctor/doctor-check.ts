import { isCodedError } from '../../common/errors.ts';
import type { HelperSettings } from '../settings/settings.ts';
import type { HostConfig, ServiceClient } from '../client/service-client.ts';
import type { DockerInfo } from '../setup/engines/docker-engine.ts';
import type { HostSetup } from '../setup/host-config-source.ts';
import type { DoctorOptions } from './doctor-options.ts';

// `skip`: the check could not run (its input is missing, or there is nothing to check here);
// it is neither a problem (warn) nor a pass.
export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skip';
export interface CheckResult {
  status: CheckStatus;
  name: string;
  detail: string;
  fix?: string;
}

// What earlier checks learnt, for the later ones; a check whose input is missing says so and skips.
export interface DoctorContext {
  env: Record<string, string | undefined>;
  options: DoctorOptions;
  now: () => Date;
  settings?: HelperSettings;
  client?: ServiceClient;
  hostConfig?: HostConfig;
  // What configure would set up from that host config, or why it cannot.
  setup?: HostSetup;
  setupError?: string;
  info?: DockerInfo;
  endpointUp?: boolean;
}

export type Check = (ctx: DoctorContext) => Promise<CheckResult | CheckResult[]>;

export function skipped(name: string, why: string): CheckResult {
  return { status: 'skip', name, detail: why };
}

export function message(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0]!;
}

// What to do about a failure of the service client, by its code and by what this host
// authenticates with (an instance token file, or a Kubernetes node's projected token).
export function fixFor(error: unknown, settings: { serviceAccountTokenFile?: string | undefined } | undefined): string {
  // A Kubernetes node's token is the kubelet's to renew.
  if (isCodedError(error) && /^token_|^forbidden$/.test(error.code) && settings?.serviceAccountTokenFile !== undefined)
    return "check the projected token's audience and the dstack server's kubernetes settings (docs/kubernetes.md)";
  if (isCodedError(error) && /^token_/.test(error.code))
    return 'ask the dstack operator for a new instance token and write it to the token file';
  if (isCodedError(error, 'forbidden'))
    return "this instance's project may not use that registry; ask the dstack operator";
  if (isCodedError(error, 'not_found'))
    return 'the server has no credential for that registry; ask the dstack operator';
  return 'check the server (see the server check above)';
}

// The engine mirrors to expect, or a skip/fail result saying why there is nothing to compare.
export function expectedMirrors(ctx: DoctorContext, name: string): string[] | CheckResult {
  if (ctx.setupError)
    return {
      status: 'fail',
      name,
      detail: `the server's host config: ${ctx.setupError}`,
      fix: "ask the dstack operator to fix the server's mirror URL",
    };
  if (!ctx.setup) return skipped(name, 'no host config');
  if (ctx.setup.engineMirrors.length === 0) return skipped(name, 'no mirror to expect (the host config names none)');
  return ctx.setup.engineMirrors;
}
