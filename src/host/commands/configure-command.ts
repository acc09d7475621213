import { dirname } from 'node:path';
import type { Command, CommandContext } from '../../common/command-context.ts';
import { reportSetupError } from './report-setup-error.ts';
import { write } from '../../common/command-context.ts';
import { parseSetupOptions, SETUP_USAGE, type SetupOptions } from '../setup/setup-options.ts';
import { withSetupLock } from '../setup/with-setup-lock.ts';
import { resolveHostSetup } from '../setup/host-config-source.ts';
import { detectEngines } from '../setup/engines/detect-engines.ts';
import { dockerPreflight, type DockerState } from '../setup/docker-preflight.ts';
import { planConfigure } from '../setup/configure-plan.ts';
import { printPlan, printConfigureSideFiles, applyConfigurePlan } from '../setup/apply-plan.ts';
import { settleInterruptedRun, describeInterruptedRun } from '../setup/journal/interrupted-run.ts';
import { isChange, type PlannedFile } from '../setup/planned-file.ts';
import { dockerdCanValidate, validateDaemonJson, describeImageStore } from '../setup/engines/docker-engine.ts';
import { reloadAndConfirm, RELOAD_REJECTED_LOG } from '../setup/engines/reload-dockerd.ts';
import { loadSetupState } from '../setup/journal/setup-state.ts';
import { endpointAnswers } from '../setup/engines/endpoint-health.ts';
import { containerdVersion } from '../setup/engines/containerd-version.ts';
import { CONTAINERD_CONFIG_LABEL } from '../setup/cri-config-plan.ts';

// `configure`: plan every file, refuse before writing anything when one cannot be handled,
// then write, reload dockerd and confirm the mirror in `docker info`.
async function runConfigure(ctx: CommandContext): Promise<number> {
  const options = parseSetupOptions(ctx.argv, ctx.env);
  if (options.help) {
    await write(ctx.stdout, `Usage: docker-credential-dstack configure [options]\n${SETUP_USAGE}`);
    return 0;
  }
  // One run at a time from here on (a dry run changes nothing and takes no lock).
  return withSetupLock(options, 'configure', ctx, () => configureUnderLock(ctx, options));
}

async function configureUnderLock(ctx: CommandContext, options: SetupOptions): Promise<number> {
  const setup = await resolveHostSetup(options, ctx.env);
  if (setup.keys.length === 0 && setup.engineMirrors.length === 0 && !options.localName) {
    await write(
      ctx.stderr,
      `nothing to configure: ${setup.source} names no mirror and no registry; pass --mirror URL, --registry KEY or --local-name HOST:PORT\n`,
    );
    return 1;
  }
  const engines = options.engines ?? (await detectEngines(ctx.env));
  const via = setup.endpoint ? ` through the mirror endpoint ${setup.endpoint}` : '';
  const chosen = options.engines ? '' : ' (those installed here; --engines chooses)';
  const localName = options.localName ? `; local name ${options.localName}` : '';
  await write(
    ctx.stdout,
    `configuring from ${setup.source}: mirrors ${list(setup.mirrors)}${via}; helper for ${list(setup.keys)}${localName}; engines ${list(engines)}${chosen}\n`,
  );
  if (setup.endpointNote) await write(ctx.stdout, `note: ${setup.endpointNote}\n`);
  // A run killed half-way is finished or rolled back before this one reads any file.
  if (options.dryRun) {
    const note = await describeInterruptedRun(options.stateDir);
    if (note) await write(ctx.stdout, `${note}\n`);
  } else await settleInterruptedRun(options.stateDir, ctx.stdout);

  const mirrors = setup.engineMirrors;
  let docker: DockerState | undefined;
  if (engines.includes('docker') && mirrors.length > 0) docker = await dockerPreflight(options, ctx.env);
  const { files: owned } = await loadSetupState(options.stateDir);
  const containerd =
    engines.includes('containerd') && mirrors.length > 0 ? await containerdVersion(ctx.env) : undefined;
  const plan = await planConfigure({
    options,
    keys: setup.keys,
    mirrors,
    ...(options.localName ? { localName: options.localName } : {}),
    engines,
    dockerContainerdStore: docker?.info?.containerdStore ?? false,
    endpoint: setup.endpoint !== undefined,
    containerd,
    owned,
  });
  for (const warning of plan.warnings) await write(ctx.stderr, `warning: ${warning}\n`);
  for (const note of docker?.notes ?? []) await write(ctx.stderr, `${note}\n`);

  const daemonJson = plan.files.find((f) => f.ownership?.kind === 'daemon-json');
  if (daemonJson && isChange(daemonJson) && daemonJson.after !== undefined) {
    if (await dockerdCanValidate(ctx.env)) {
      const copy = await validateDaemonJson(daemonJson.after, ctx.env);
      await write(
        ctx.stdout,
        `${daemonJson.label} ${daemonJson.path}: accepted by dockerd --validate (it read a copy, ${copy}, removed since)\n`,
      );
    } else
      await write(
        ctx.stdout,
        'note: this dockerd has no --validate (before Docker 23); daemon.json was checked as JSON only\n',
      );
  }
  if (options.dryRun) {
    await printPlan(plan.files, ctx.stdout);
    await printConfigureSideFiles(plan.files, options.stateDir, ctx.stdout);
    await write(ctx.stdout, 'dry run: nothing was changed\n');
    return 0;
  }
  const changed = await applyConfigurePlan(plan.files, options.stateDir, ctx.stdout);
  const dockerInEffect = await reportDocker(
    ctx,
    docker,
    daemonJson,
    mirrors,
    options.noReload,
    setup.endpoint !== undefined,
  );
  await reportEngines(ctx, plan.files);
  if (options.localName) await reportLocalName(ctx, options.localName, engines);
  if (setup.endpoint && !(await endpointAnswers(setup.endpoint))) {
    await write(
      ctx.stderr,
      `warning: nothing answers at ${setup.endpoint}/healthz yet: until the endpoint runs, every pull falls back to Docker Hub. Enable docker-credential-dstack-mirror.socket (scripts/install.sh does) or run \`docker-credential-dstack mirror\` (docs/mirror.md)\n`,
    );
  }
  if (!dockerInEffect) {
    await write(
      ctx.stderr,
      `not in effect: the running dockerd does not use the mirror ${mirrors.join(', ')} after the reload; the files are written. Its log (journalctl -u docker) says why at the time of the SIGHUP, as ${RELOAD_REJECTED_LOG}; fix that and rerun\n`,
    );
    return 1;
  }
  if (plan.skippedKeys.length > 0) {
    await write(
      ctx.stderr,
      `not fully configured: credHelpers for ${plan.skippedKeys.join(', ')} name another helper; rerun with --force to replace them\n`,
    );
    return 1;
  }
  await write(ctx.stdout, changed === 0 ? 'already configured: nothing changed\n' : 'configured\n');
  return 0;
}

// Reports what the engine does with the mirror. False only when a running dockerd that was
// just reloaded demonstrably does not use it: the operator must not read "configured" then.
// A dockerd that is not running, not reloaded on request, or whose info cannot be read is
// reported, not failed.
async function reportDocker(
  ctx: CommandContext,
  docker: DockerState | undefined,
  daemonJson: PlannedFile | undefined,
  mirrors: string[],
  noReload: boolean,
  endpoint: boolean,
): Promise<boolean> {
  if (!docker || !daemonJson) return true;
  let info = docker.info;
  let inEffect = true;
  if (isChange(daemonJson)) {
    if (noReload)
      await write(
        ctx.stdout,
        'dockerd: not reloaded (--no-reload); the mirror applies after `systemctl reload docker` or SIGHUP\n',
      );
    else if (docker.pid === undefined)
      await write(ctx.stdout, 'dockerd: not running; the mirror applies when it starts\n');
    else {
      const reload = await reloadAndConfirm(ctx, docker.pid, mirrors, 'present');
      info = reload.info;
      inEffect = reload.info === undefined || reload.confirmed;
    }
  } else if (info) {
    const missing = mirrors.filter((m) => !info!.mirrors.some((seen) => seen.replace(/\/+$/, '') === m));
    await write(
      ctx.stdout,
      missing.length === 0
        ? 'dockerd: mirror in effect (docker info)\n'
        : `dockerd: daemon.json lists the mirror but docker info does not show ${missing.join(', ')}; reload dockerd\n`,
    );
  }
  if (info) await write(ctx.stdout, `image store: ${describeImageStore(info, endpoint)}\n`);
  else if (docker.infoError) await write(ctx.stdout, `dockerd: could not read docker info (${docker.infoError})\n`);
  return inEffect;
}

// containerd reads certs.d on each pull, but config.toml only when it starts: CRI (the
// kubelet's pulls) uses a new config_path after a restart, which is the operator's to do.
async function reportEngines(ctx: CommandContext, files: PlannedFile[]): Promise<void> {
  const hosts = files.find((f) => f.label === 'containerd hosts.toml');
  if (!hosts) return;
  const config = files.find((f) => f.label === CONTAINERD_CONFIG_LABEL);
  if (config && isChange(config))
    await write(
      ctx.stdout,
      `containerd: restart it for CRI to read the new config_path: systemctl restart containerd\n`,
    );
  await write(
    ctx.stdout,
    `note: ctr reads ${dirname(dirname(hosts.path))} only with --hosts-dir; nerdctl reads it by default; no restart needed for hosts.toml changes\n`,
  );
}

// What local-name mode needs per engine, measured (docs/with-dstack.md): said, so that
// "nothing written" for dockerd and containerd reads as a decision, not an omission.
async function reportLocalName(ctx: CommandContext, name: string, engines: readonly string[]): Promise<void> {
  if (engines.includes('docker'))
    await write(
      ctx.stdout,
      `local name ${name}, dockerd: nothing to write (it takes 127.0.0.0/8 as an insecure registry: https without verification, then http)\n`,
    );
  if (engines.includes('containerd'))
    await write(
      ctx.stdout,
      `local name ${name}, containerd: nothing to write (its default host config speaks plain http to a loopback name with a port; no hosts.toml for ${name})\n`,
    );
  if (engines.includes('podman'))
    await write(ctx.stdout, `local name ${name}, podman: insecure = true for ${name} in the registries.conf drop-in\n`);
  if (!(await endpointAnswers(`http://${name}`))) {
    await write(
      ctx.stderr,
      `warning: nothing answers at http://${name}/healthz yet: until the endpoint listens there, every pull of ${name}/… fails. Run the endpoint on that address (docker-credential-dstack mirror --listen ${name}, or its socket unit)\n`,
    );
  }
}

function list(items: readonly string[]): string {
  return items.length === 0 ? '(none)' : items.join(', ');
}

// `docker-credential-dstack configure`: see docs/host-setup.md.
export const configureCommand: Command = (ctx) =>
  runConfigure(ctx).catch((error: unknown) => reportSetupError(ctx, 'configure', error));
