import { sameMirror } from '../../registry/mirror-url.ts';
import { detectEngines } from '../setup/engines/detect-engines.ts';
import { dockerInfo, describeImageStore } from '../setup/engines/docker-engine.ts';
import { daemonJsonMirrors } from './engine-files.ts';
import { expectedMirrors, message, skipped, type Check, type CheckResult } from './doctor-check.ts';

// The running dockerd against daemon.json: which one names the mirror, and which wins next.
// A SIGHUP reload applies the file's registry-mirrors, but leaves the running list as it is
// when the key is absent; a restart takes the file as it is.
export const dockerdMirrors: Check = async (ctx) => {
  const name = 'dockerd mirrors';
  const engines = ctx.options.engines ?? (await detectEngines(ctx.env));
  if (!engines.includes('docker'))
    return skipped(name, `docker is not installed${ctx.options.engines ? ' (not in --engines)' : ''}`);
  try {
    ctx.info = await dockerInfo(ctx.env);
  } catch (error) {
    return {
      status: 'warn',
      name,
      detail: message(error),
      fix: 'start dockerd, or leave docker out with --engines on hosts without it',
    };
  }
  const running = ctx.info.mirrors;
  const expected = expectedMirrors(ctx, name);
  if (!Array.isArray(expected))
    return expected.status === 'skip'
      ? skipped(name, `${expected.detail}; docker info shows ${running.join(', ') || '(none)'}`)
      : expected;
  let file: string[] | undefined;
  try {
    file = await daemonJsonMirrors(ctx.options.daemonJson);
  } catch (error) {
    return { status: 'fail', name, detail: message(error), fix: 'fix daemon.json: dockerd will not start with it' };
  }
  const inRunning = expected.every((m) => running.some((r) => sameMirror(r, m)));
  const inFile = file !== undefined && expected.every((m) => file!.some((f) => sameMirror(f, m)));
  const shown = expected.join(', ');
  if (inRunning && inFile)
    return { status: 'ok', name, detail: `docker info shows ${shown}, as ${ctx.options.daemonJson} does` };
  if (inRunning) {
    const reload =
      file === undefined
        ? 'a reload keeps it (the key is absent, so dockerd leaves its list alone), '
        : "a reload drops it (SIGHUP applies the file's list), ";
    return drift(
      name,
      `the running dockerd uses ${shown}, but ${ctx.options.daemonJson} does not list it: ${reload}and the next restart drops it, and pulls then go to Docker Hub`,
    );
  }
  if (inFile) {
    return {
      status: 'fail',
      name,
      detail: `${ctx.options.daemonJson} lists ${shown}, but the running dockerd uses ${running.join(', ') || 'no mirror'}: the file wins at the next reload or restart`,
      fix: 'reload dockerd: systemctl reload docker (or kill -HUP its pid)',
    };
  }
  return {
    status: 'fail',
    name,
    detail: `neither ${ctx.options.daemonJson} nor the running dockerd (${running.join(', ') || 'no mirror'}) names ${shown}`,
    fix: 'run docker-credential-dstack configure (it reloads dockerd)',
  };
};

function drift(name: string, detail: string): CheckResult {
  return {
    status: 'fail',
    name,
    detail: `drift: ${detail}`,
    fix: 'run docker-credential-dstack configure, which writes daemon.json and reloads dockerd',
  };
}

// With the containerd image store dockerd sends mirrors no credentials: fine for the endpoint
// (it authenticates upstream itself), a problem for an authenticated mirror named directly.
export const imageStore: Check = async (ctx) => {
  if (!ctx.info) return skipped('image store', 'no docker info');
  if (!ctx.info.containerdStore) return { status: 'ok', name: 'image store', detail: describeImageStore(ctx.info) };
  if (ctx.setup?.endpoint) return { status: 'ok', name: 'image store', detail: describeImageStore(ctx.info, true) };
  return {
    status: 'warn',
    name: 'image store',
    detail: describeImageStore(ctx.info),
    fix: 'use the mirror endpoint (configure --mirror-endpoint), the reference-rewrite path, or the classic image store',
  };
};
