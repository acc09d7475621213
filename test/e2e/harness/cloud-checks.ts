import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { CloudStack } from './cloud-stack.ts';
import { describeResult, docker, inspectImage, QUIET } from './docker-cli.ts';
import { describePull, engineImageInspect, engineImagePull } from './engine-api.ts';
import { lineMatching, markLog } from './log-match.ts';
import { credentialGrants } from '../../helpers/built-service.ts';
import { DOCKERD_FALLBACK } from './dockerd-fallback.ts';

// The checks every cloud source's end-to-end test makes, in one place.

// Every file under `dir`, concatenated: what a grep of a host's (or an engine's) files sees.
export async function readTree(dir: string): Promise<string> {
  const parts: string[] = [];
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) parts.push(await readFile(join(entry.parentPath, entry.name), 'utf8').catch(() => ''));
  }
  return parts.join('\n');
}

// A vendor refusal as a host sees it: `get` for `registry`, as docker runs it (no debug), prints
// exactly one line on stdout (and the same warning on stderr) matching `line`, naming the
// registry and source, with nothing of the vendor's own text; the service counts `outcome`.
export async function expectVendorRefusal(
  stack: CloudStack,
  options: { registry: string; source: string; line: RegExp; outcome: string; outputs: string[] },
): Promise<void> {
  const got = await stack.host.run(['get'], { input: options.registry, env: QUIET });
  expect(got.exitCode).not.toBe(0);
  const printed = String(got.stdout).trim();
  options.outputs.push(printed, String(got.stderr));
  expect(printed.split('\n'), printed).toHaveLength(1);
  expect(String(got.stderr).trim().split('\n'), String(got.stderr)).toHaveLength(1);
  expect(printed).toMatch(options.line);
  expect(printed).toContain(`registry ${options.registry} (source ${options.source})`);
  // The vendor's message (the stand-ins mark theirs) stays in the service log; nothing is cut.
  expect(printed).not.toMatch(/fixture:|…|\n\s+at /);
  const metrics = await (await fetch(`${stack.service.url}/metrics`)).text();
  const labels = `outcome="${options.outcome}",registry="${options.registry.replace(/\./g, '\\.')}",source="${options.source}"`;
  expect(metrics).toMatch(new RegExp(`^dstack_registry_auth_cloud_token_requests_total\\{${labels}\\} [1-9]`, 'm'));
}

// Asserts that no `secrets` appear anywhere on the host side: its files (settings, token,
// cache, helper log), the endpoint's log, dockerd's log and state, and what the clients printed;
// and that the host does hold the minted registry password (its cache), so the grep can see.
export async function expectNoCloudSecretOnHost(
  stack: CloudStack,
  secrets: string[],
  outputs: string[],
): Promise<void> {
  const places: Record<string, string> = {
    'host files (settings, token, cache, helper log)': await readTree(join(stack.dir, 'host')),
    'mirror endpoint log': await stack.endpoint.log(),
    'dockerd log': await readFile(stack.dockerd.logPath, 'utf8'),
    'engine state': await readTree(join(stack.dir, 'd')),
    'helper and docker output': outputs.join('\n'),
  };
  expect(secrets.length).toBeGreaterThan(0);
  for (const [where, text] of Object.entries(places)) {
    expect(text.length, `${where} was read`).toBeGreaterThan(0);
    for (const secret of secrets) {
      expect(secret.length).toBeGreaterThan(8);
      expect(text.includes(secret), `a cloud secret in ${where}`).toBe(false);
    }
  }
  expect(places['host files (settings, token, cache, helper log)']).toContain(stack.account.password);
}

// `docker pull` of each reference (the registry's own name) through the helper: the image is
// the seeded one, the registry authenticated the minted credential's user for each manifest
// and refused no login, and every credential the service granted came from `source`.
export async function expectHelperPulls(
  stack: CloudStack,
  repositories: string[],
  source: string,
  outputs: string[],
): Promise<void> {
  const user = stack.account.username;
  for (const repositoryTag of repositories) {
    const ref = `${stack.registry.host}/${repositoryTag}`;
    const pull = await docker(stack.dockerd, stack.host, ['pull', ref]);
    outputs.push(String(pull.stdout), String(pull.stderr));
    expect(pull.exitCode, describeResult(pull)).toBe(0);
    const seeded = stack.images.get(repositoryTag)!;
    expect(await inspectImage(stack.dockerd, stack.host, ref)).toEqual({
      id: seeded.configDigest,
      seed: repositoryTag,
    });
    const [repository, tag] = repositoryTag.split(':') as [string, string];
    expect(
      lineMatching(
        await stack.registry.log(),
        new RegExp(
          `msg=GetImageManifest auth\\.user\\.name="?${user}"? .*uri=/v2/${repository}/manifests/${tag.replace(/\./g, '\\.')}`,
        ),
      ),
      `${ref} as ${user}`,
    ).toBeDefined();
  }
  expect(lineMatching(await stack.registry.log(), /authentication failure/), 'no failed login').toBeUndefined();
  const grants = credentialGrants(await stack.service.audit());
  expect(grants.length).toBeGreaterThanOrEqual(1);
  expect(
    grants.every((g) => g.source === source && g.instance === stack.instance),
    JSON.stringify(grants),
  ).toBe(true);
}

// dstack-shim's own call (Engine API ImagePull, no X-Registry-Auth) for python:3.14: dockerd
// asks the mirror endpoint, which forwards to the upstream's path prefix with the minted
// credential; dockerd does not fall back to Docker Hub.
export async function expectEnginePullThroughPrefix(stack: CloudStack, prefix: string): Promise<void> {
  const sinceDockerd = await markLog(() => readFile(stack.dockerd.logPath, 'utf8'));
  const pull = await engineImagePull(stack.dockerd, 'python', '3.14');
  expect(pull.status, describePull(pull)).toBe(200);
  expect(pull.error, describePull(pull)).toBeUndefined();
  expect((await engineImageInspect(stack.dockerd, 'python:3.14')).image?.Config?.Labels?.['e2e.seed']).toBe(
    `${prefix}/library/python:3.14`,
  );
  const registryLog = await stack.registry.log();
  expect(
    lineMatching(
      registryLog,
      new RegExp(
        `msg=GetImageManifest auth\\.user\\.name="?${stack.account.username}"? .*uri=/v2/${prefix}/library/python/manifests/3\\.14`,
      ),
    ),
    registryLog,
  ).toBeDefined();
  expect(
    lineMatching(
      await stack.endpoint.log(),
      new RegExp(`pull .*repository=library/python .*upstream_repository=${prefix}/library/python .*status=200`),
    ),
  ).toBeDefined();
  expect(lineMatching(await sinceDockerd(), DOCKERD_FALLBACK), 'no fallback to Docker Hub').toBeUndefined();
}
